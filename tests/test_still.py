"""One definition of "still" (imu.kinematics.still), and the live gyro-bias tracker using it as
the batch does."""

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


def _bias_after(quiet_s: float, ramp_rad_s2: float, bias_z: float, rate_hz: float = 100.0):
    """The live tracker's bias after quiet standing, then a slow movement starting (its rate
    growing linearly about x, as a slow hinge begins)."""
    from imu.kinematics.standing import StandingBiasStream

    stream = StandingBiasStream({"sacrum": np.array([0.0, 1.0, 0.0])}, {"sacrum": rate_hz})
    t = np.arange(0.0, quiet_s + 2.0, 1.0 / rate_hz)
    gyr = np.zeros((len(t), 3))
    gyr[:, 2] = bias_z
    gyr[:, 0] = ramp_rad_s2 * np.clip(t - quiet_s, 0.0, None)
    acc = np.tile([0.0, 9.81, 0.0], (len(t), 1))
    for i0 in range(0, len(t), 10):          # blocks, as BLE notifications come
        stream.correct("sacrum", t[i0:i0 + 10], acc[i0:i0 + 10], gyr[i0:i0 + 10])
    return stream.bias["sacrum"]


def test_the_live_bias_never_takes_in_the_onset_of_a_movement():
    """The smoothed rate crosses the still threshold a few tenths of a second after a slow
    movement began; the stretch's end is trimmed by that lag, so the bias stays the bias."""
    for quiet_s in (2.6, 3.1, 4.4):
        b = _bias_after(quiet_s, 0.2, 0.01)
        assert abs(np.degrees(b[0])) < 0.05, (quiet_s, np.degrees(b))
        assert abs(np.degrees(b[2] - 0.01)) < 0.05, (quiet_s, np.degrees(b))
