"""One module per ``imu`` subcommand (see :mod:`imu.cli`)."""
