"""One definition of "still" (imu.kinematics.still)."""

from __future__ import annotations

import numpy as np

from imu.kinematics.still import STILL_RAD_S, StillStream, is_still, smoothed_rate_norm


def test_every_stillness_test_uses_the_one_threshold():
    from imu.calibration.phases import PhaseSettings
    from imu.kinematics.heading import HeadingHoldSettings
    from imu.kinematics.standing import StandingSettings
    from imu.live import motion

    assert HeadingHoldSettings().still_gyr_rad_s == STILL_RAD_S
    assert StandingSettings().still_rad_s == STILL_RAD_S
    assert PhaseSettings().still_rad_s == STILL_RAD_S
    deg = np.degrees(STILL_RAD_S)
    assert motion.classify_rates({"sacrum": deg * 0.99, "right_thigh": 1.0}) == "still"
    assert motion.classify_rates({"sacrum": deg * 1.01, "right_thigh": 1.0}) != "still"


def test_the_streaming_and_batch_smoothing_agree_on_a_steady_rate():
    rate_hz = 100.0
    g = np.zeros((300, 3))
    g[:, 2] = 0.08
    g[150:, 2] = 0.12
    batch = is_still(smoothed_rate_norm(g, rate_hz, 0.5))
    s = StillStream(rate_hz, 0.5)
    live = []
    for row in g:
        s.update(float(np.linalg.norm(row)))
        live.append(s.still)
    assert batch[:120].all() and not batch[180:].any()
    assert all(live[:150]) and not any(live[260:])
    # NaN is skipped by the stream and never still in the batch
    assert not is_still(np.array([np.nan]))[0]
    assert np.isfinite(s.update(float("nan")))
