from imu.cli import entry

entry()
