"""Quiet standing found in raw samples (imu.kinematics.standing), as the batch fusion uses it."""

import numpy as np

from imu.calibration import calibrate_session
from imu.intrinsics import IntrinsicCorrection
from imu.kinematics.pipeline import corrected_acc, corrected_samples, sensor_times_s
from imu.kinematics.standing import standing_windows
from imu.sim import simulate


def test_judging_only_the_sampled_rows_corrected_finds_the_same_stretches():
    res = simulate("demo", rate_hz=104.0, seed=4242, errors=True, reps=2)
    s = res.session
    prof = calibrate_session(s)
    al = prof.alignment()
    roles = ["sacrum", "left_thigh", "right_thigh"]
    # a visible correction: offsets, scales and a gyro bias far from zero
    corr = {r: IntrinsicCorrection(gyr_bias_rad_s=np.array([0.01, -0.02, 0.015]),
                                   acc_offset_m_s2=np.array([0.3, -0.2, 0.1]),
                                   acc_scale=np.array([1.01, 0.99, 1.02])) for r in roles}
    rec = {r: al.acc_corrections.get(r) for r in roles}
    times = {r: sensor_times_s(s.sensors[r]) for r in roles}
    up = {r: al.R_BS[r][1] for r in roles}
    fixed = {r: corrected_samples(corr[r], rec[r], s.sensors[r].acc, s.sensors[r].gyr)
             for r in roles}
    whole = standing_windows(times, {r: fixed[r][0] for r in roles},
                             {r: fixed[r][1] for r in roles}, up, {r: np.zeros(3) for r in roles})
    rows = standing_windows(times, {r: s.sensors[r].acc for r in roles},
                            {r: s.sensors[r].gyr for r in roles}, up,
                            {r: corr[r].gyr_bias_rad_s for r in roles},
                            acc_correction={r: (lambda a, r=r: corrected_acc(corr[r], rec[r], a))
                                            for r in roles})
    assert len(whole) >= 3  # the calibration's standing and the pauses between sets
    assert rows == whole  # the same stretches, to the bit
    # and the correction matters: without it the stretches differ
    plain = standing_windows(times, {r: s.sensors[r].acc for r in roles},
                             {r: s.sensors[r].gyr for r in roles}, up,
                             {r: np.zeros(3) for r in roles})
    assert plain != whole


def test_removing_the_bias_block_by_block_gives_the_tracked_bias_numbers():
    from imu.kinematics.standing import remove_gyro_bias, track_gyro_bias

    rng = np.random.default_rng(7)
    n = 70_000  # several blocks of rows
    t = np.arange(n) / 100.0
    gyr = rng.normal(0.0, 0.05, (n, 3)) + np.array([0.01, -0.02, 0.005])
    gyr[:, 0] += 1e-5 * t  # a bias that drifts
    windows = [(10.0, 20.0), (200.0, 215.0), (500.0, 512.0)]
    bias = track_gyro_bias(t, gyr, windows, np.zeros(3))
    assert np.ptp(bias[:, 0]) > 1e-5  # the tracked bias moves over the recording
    want = gyr - bias
    assert np.array_equal(remove_gyro_bias(t, gyr, windows, np.zeros(3)), want)
    mine = gyr.copy()
    got = remove_gyro_bias(t, mine, windows, np.zeros(3), in_place=True)
    assert got is mine and np.array_equal(mine, want)
    # no usable stretch: the given bias everywhere
    b0 = np.array([0.1, 0.2, 0.3])
    assert np.array_equal(remove_gyro_bias(t, gyr, [], b0), gyr - b0)
