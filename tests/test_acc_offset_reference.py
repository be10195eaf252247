"""The vectorised accelerometer-offset estimate (imu.kinematics.acc_offset) gives the same
result, up to floating-point rounding, as the straightforward one it replaced."""

import numpy as np
import pytest

from imu import quat as Q
from imu.kinematics.acc_offset import _prefix_product, _rotvec_quat


@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 1000, 4097])
def test_blocked_prefix_product_equals_the_running_product(n):
    rng = np.random.default_rng(n)
    dq = _rotvec_quat(rng.normal(scale=0.05, size=(n, 3)))
    ref = np.empty((n, 4))
    q = np.array([1.0, 0.0, 0.0, 0.0])
    for k in range(n):
        q = Q.multiply(q, dq[k])
        ref[k] = q
    np.testing.assert_allclose(_prefix_product(dq), Q.normalize(ref), rtol=0, atol=1e-13)
