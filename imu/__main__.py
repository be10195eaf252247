import sys

from imu.cli import main

sys.exit(main())
