"""Body and sensor simulator: a seeded person performing the SPEC §4 calibration and the
exercises while wearing IMUs, with the exact ground truth. See :func:`simulate`."""

from imu.sim.error_model import ErrorModel
from imu.sim.programs import PROGRAMS
from imu.sim.simulator import SimResult, simulate

__all__ = ["simulate", "SimResult", "ErrorModel", "PROGRAMS"]
