"""What "still" means: the one definition every stillness test of the project uses.

A sensor is **still** while the norm of its angular rate (rad/s), smoothed over a fraction of a
second (each caller says over how long), stays below a threshold: :func:`is_still`. The
thresholds live here, named by what they guard:

- :data:`STILL_RAD_S` (0.10): the calibration protocol's still phases
  (``imu.calibration.phases``);
- :data:`STILL_HEADING_RAD_S` (0.12): the heading hold's re-zeroing anchors at quiet standing
  (:mod:`imu.kinematics.heading`; its rate norm is 0.25 s smoothed);
- :data:`STILL_BIAS_RAD_S` (0.06): the quiet standing whose mean angular rate *is* the gyro
  bias measurement (:mod:`imu.kinematics.standing`, batch and live): it must be stricter, since
  any slow sway it admits goes straight into the bias.

One threshold for all three was tried: the batch angles moved by at most 0.006° on the bundled
recordings, but the live path's bias tracker (0.06 → 0.10) moved the demo's hinge peaks by up to
2°, so the three stay distinct until a benchmark shows which value serves the bias best.
"""

from __future__ import annotations

import numpy as np

#: still (rad/s, smoothed rate norm): the calibration protocol's still phases
STILL_RAD_S = 0.10
#: still enough for a heading-hold anchor (0.25 s smoothed rate norm, rad/s)
STILL_HEADING_RAD_S = 0.12
#: still enough for the quiet standing that measures the gyro bias (0.5 s smoothed, rad/s)
STILL_BIAS_RAD_S = 0.06


def is_still(rate_norm_rad_s, threshold_rad_s: float = STILL_RAD_S) -> np.ndarray:
    """Stillness (bool, same shape) of smoothed angular-rate norms in rad/s; NaN is not still."""
    g = np.asarray(rate_norm_rad_s, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(g) & (g < threshold_rad_s)
