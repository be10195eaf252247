"""Orientation fusion: conventions, streaming == batch, gaps (synthetic truth)."""

import numpy as np
import pytest

from imu import quat as Q
from imu.fusion import DEFAULT_FILTER, FILTERS, fuse, initial_quat, make_filter

RATE_HZ = 100.0


def inclination_error_deg(q_est, q_true):
    """BROAD's measure: inclination part of q_est ⊗ conj(q_true), degrees."""
    e = Q.multiply(q_est, Q.conj(q_true))
    return np.degrees(2 * np.arccos(np.clip(np.sqrt(e[..., 0] ** 2 + e[..., 3] ** 2), 0, 1)))


def rotating_sensor(n=1500, rate_hz=RATE_HZ, still_s=1.0):
    """A sensor still for ``still_s`` then turning at a varying rate; exact acc and gyr."""
    t = np.arange(n) / rate_hz
    w = np.stack([0.8 * np.sin(1.3 * t), 0.6 * np.cos(0.7 * t), 0.5 * np.sin(2.1 * t + 1)], 1)
    w[t < still_s] = 0.0
    q0 = Q.from_rotvec(np.array([0.3, -0.2, 0.4]))
    q = np.empty((n, 4))
    q[0] = q0
    for i in range(1, n):  # exact integration of a rate constant over each step
        q[i] = Q.multiply(q[i - 1], Q.from_rotvec(w[i] / rate_hz))
    acc = Q.rotate(Q.conj(q), np.array([0.0, 0.0, 9.81]))
    return t, acc, w, q


@pytest.mark.parametrize("name", list(FILTERS))
def test_every_filter_tracks_inclination_of_rotating_sensor(name):
    _, acc, gyr, q_true = rotating_sensor()
    q = fuse(acc, gyr, RATE_HZ, name=name)
    assert q.shape == (len(acc), 4)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-6)
    assert np.max(inclination_error_deg(q, q_true)) < 1.5


@pytest.mark.parametrize("name", list(FILTERS))
def test_streaming_equals_batch(name):
    _, acc, gyr, _ = rotating_sensor(n=400)
    rng = np.random.default_rng(1)
    acc = acc + rng.normal(0, 0.05, acc.shape)
    gyr = gyr + rng.normal(0, 0.01, gyr.shape) + 0.02
    q_batch = fuse(acc, gyr, RATE_HZ, name=name)
    f = make_filter(name, RATE_HZ)
    f.reset(initial_quat(acc, RATE_HZ))
    q_stream = np.array([f.update(a, g) for a, g in zip(acc, gyr)])
    np.testing.assert_allclose(q_stream, q_batch, atol=1e-9)


def test_default_filter_is_offered():
    assert DEFAULT_FILTER in FILTERS


def test_unknown_filter_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="vqf"):
        make_filter("nope", RATE_HZ)


def test_vqf_estimates_gyro_bias_at_rest():
    n = int(20 * RATE_HZ)
    rng = np.random.default_rng(2)
    bias = np.array([0.02, -0.015, 0.01])
    acc = np.tile([0.0, 0.0, 9.81], (n, 1)) + rng.normal(0, 0.02, (n, 3))
    gyr = bias + rng.normal(0, 0.002, (n, 3))
    f = make_filter("vqf", RATE_HZ)
    f.update_block(acc, gyr)
    np.testing.assert_allclose(f.gyr_bias_rad_s, bias, atol=0.002)


def test_short_dropout_is_bridged_with_measured_rate():
    t, acc, gyr, q_true = rotating_sensor()
    keep = np.ones(len(t), bool)
    keep[600:603] = False  # 3 samples lost
    q = fuse(acc[keep], gyr[keep], RATE_HZ, name="vqf_basic", t_s=t[keep])
    err = inclination_error_deg(q, q_true[keep])
    assert np.max(err) < 0.5


def test_long_gap_restarts_from_accelerometer_and_keeps_heading():
    t, acc, gyr, q_true = rotating_sensor(n=2000)
    keep = np.ones(len(t), bool)
    keep[800:1300] = False  # 5 s gap: the motion inside it is unknown
    q = fuse(acc[keep], gyr[keep], RATE_HZ, name="vqf", t_s=t[keep])
    err = inclination_error_deg(q, q_true[keep])
    i_after = np.flatnonzero(t[keep] >= t[1300])[0]
    assert err[i_after] < 2.0  # inclination right again at once after the gap
    assert np.max(err) < 2.0
    # without t_s the filter would integrate across the gap as if nothing happened
    q_naive = fuse(acc[keep], gyr[keep], RATE_HZ, name="vqf_basic")
    assert inclination_error_deg(q_naive, q_true[keep])[i_after] > err[i_after]


@pytest.mark.parametrize("name", ["vqf", "imufusion", "ahrs_mahony"])
def test_timed_streaming_equals_batch_across_dropouts_and_gaps(name):
    from imu.fusion import TimedFilter

    t, acc, gyr, _ = rotating_sensor(n=1200)
    keep = np.ones(len(t), bool)
    keep[300:304] = False  # dropout: bridged
    keep[600:800] = False  # 2 s gap: restart
    t, acc, gyr = t[keep], acc[keep], gyr[keep]
    q_batch = fuse(acc, gyr, RATE_HZ, name=name, t_s=t)
    tf = TimedFilter(name, RATE_HZ)
    q_stream = np.array([tf.update(ti, a, g) for ti, a, g in zip(t, acc, gyr)])
    np.testing.assert_allclose(q_stream, q_batch, atol=1e-9)
    assert tf.n_restarts == 1 and tf.n_bridged == 4


def test_non_finite_samples_are_nan_rows_and_treated_as_dropped():
    _, acc, gyr, q_true = rotating_sensor()
    acc = acc.copy()
    acc[500, 1] = np.nan
    gyr = gyr.copy()
    gyr[900] = np.inf
    q = fuse(acc, gyr, RATE_HZ)
    assert np.isnan(q[500]).all() and np.isnan(q[900]).all()
    ok = np.isfinite(q).all(axis=1)
    assert ok.sum() == len(q) - 2
    assert np.max(inclination_error_deg(q[ok], q_true[ok])) < 1.5


def test_timed_streaming_skips_non_finite_samples_like_batch():
    from imu.fusion import TimedFilter

    t, acc, gyr, _ = rotating_sensor(n=500)
    acc = acc.copy()
    acc[200] = np.nan
    q_batch = fuse(acc, gyr, RATE_HZ, name="vqf", t_s=t)
    tf = TimedFilter("vqf", RATE_HZ)
    q_stream = tf.update_block(t, acc, gyr)
    np.testing.assert_allclose(q_stream, q_batch, atol=1e-9)
    assert np.isnan(q_stream[200]).all()


def test_restart_keeps_the_heading_of_the_given_axis_when_the_sensor_tilts_about_it():
    from imu.fusion.batch import restart_quat

    # a sensor mounted askew on a segment that flexes 50° about the segment's horizontal
    # mediolateral axis during a gap: that axis keeps its heading, and so must the restart
    mount = Q.from_rotvec(np.array([0.7, -0.4, 1.1]))  # sensor → segment
    heading = Q.from_rotvec(np.array([0.0, 0.0, 0.9]))
    ml_S = Q.rotate(Q.conj(mount), np.array([0.0, 1.0, 0.0]))  # segment axis, sensor frame
    before = Q.multiply(heading, mount)
    flex = Q.multiply(heading, Q.multiply(Q.from_rotvec(np.radians([0.0, 50.0, 0.0])), mount))
    acc_after = Q.rotate(Q.conj(flex), np.array([0.0, 0.0, 9.81]))[None]
    q = restart_quat(acc_after, before, ml_S)
    assert np.degrees(2 * np.arccos(min(1.0, abs(np.dot(q, flex))))) < 1e-6
    # without the axis only the sensor's own tilt-heading split is kept: wrong by tens of degrees
    q_plain = restart_quat(acc_after, before)
    assert np.degrees(2 * np.arccos(min(1.0, abs(np.dot(q_plain, flex))))) > 5.0


@pytest.mark.parametrize("name", ["vqf", "ahrs_mahony"])
def test_timed_blocks_equal_batch_across_dropouts_gaps_and_damaged_samples(name):
    from imu.fusion import TimedFilter

    t, acc, gyr, _ = rotating_sensor(n=1200)
    keep = np.ones(len(t), bool)
    keep[300:304] = False
    keep[600:800] = False
    t, acc, gyr = t[keep], acc[keep].copy(), gyr[keep]
    acc[50] = np.nan
    q_batch = fuse(acc, gyr, RATE_HZ, name=name, t_s=t)
    tf = TimedFilter(name, RATE_HZ)
    q_blocks = np.concatenate([tf.update_block(t[i:i + 16], acc[i:i + 16], gyr[i:i + 16])
                               for i in range(0, len(t), 16)])
    np.testing.assert_allclose(q_blocks, q_batch, atol=1e-9)
    assert tf.n_restarts == 1 and tf.n_bridged == 5  # 4 lost + the damaged one


def test_all_finite_and_finite_rows_see_nan_inf_and_sums_that_overflow():
    from imu.fusion.batch import all_finite, finite_rows

    ok = np.ones((5, 3))
    big = np.full((4, 3), 1e308)  # every value finite, their sum is not
    assert all_finite(ok, None, np.arange(5.0)) and all_finite(big)
    assert finite_rows(ok, big[:1].repeat(5, 0)) is None
    for bad in (np.nan, np.inf, -np.inf):
        x = ok.copy()
        x[2, 1] = bad
        assert not all_finite(ok, x)
        assert finite_rows(ok, x).tolist() == [True, True, False, True, True]
