"""Time alignment: clock model, unwrapping, resampling, gaps (synthetic truth)."""

import numpy as np

from imu import quat as Q
from imu.timing import (ClockModel, common_time_base, find_gaps, resample_quat, resample_vec,
                        session_times, unwrap_counter, unwrap_sensor_time)
from imu.types import SensorData, SensorInfo


def ble_arrivals(duration_s=600.0, rate_hz=104.0, offset_s=12.345, drift=40e-6, batch=6, seed=0):
    """Sensor stamps, and host arrivals with BLE batching and heavy-tailed latency."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * rate_hz)
    t_sensor = np.arange(n) / rate_hz + 3.0
    t_true_host = offset_s + (1 + drift) * t_sensor
    # a batch is sent when its last sample exists; all its samples arrive together
    last = np.minimum((np.arange(n) // batch + 1) * batch - 1, n - 1)
    lat = 0.008 + rng.exponential(0.015, n // batch + 1)[np.arange(n) // batch]
    lat[rng.random(len(lat)) < 0.02] += 0.3  # occasional radio retries
    t_host = t_true_host[last] + lat
    return t_sensor, t_host, offset_s + 0.008, drift


def test_clock_model_recovers_offset_and_drift_under_batching_and_jitter():
    s, h, offset, drift = ble_arrivals()
    m = ClockModel.fit(s, h)
    assert abs(m.drift - drift) < 2e-6
    # the fitted line is the earliest arrival: true time + minimum latency (8 ms)
    t_true = offset + (1 + drift) * s
    assert np.max(np.abs(m.to_session(s) - t_true)) < 0.003


def test_least_squares_would_be_biased_envelope_is_not():
    s, h, offset, drift = ble_arrivals(seed=3)
    b, a = np.polyfit(s, h - s, 1)
    m = ClockModel.fit(s, h)
    t_true = offset + (1 + drift) * s
    err_ls = np.mean(np.abs(a + (1 + b) * s - t_true))
    err_env = np.mean(np.abs(m.to_session(s) - t_true))
    assert err_env < err_ls / 5


def test_clock_model_survives_a_host_time_outlier():
    s, h, offset, drift = ble_arrivals(duration_s=120, seed=5)
    h[5000] -= 5.0  # one corrupt receive time far too early
    m = ClockModel.fit(s, h)
    assert np.max(np.abs(m.to_session(s) - (offset + (1 + drift) * s))) < 0.005


def test_sensor_timestamp_wrap_is_undone():
    rate = 100.0
    t = 4290.0 + np.arange(2000) / rate
    wrapped = np.mod(t, 2.0 ** 32 * 1e-6)
    assert np.any(np.diff(wrapped) < 0)
    np.testing.assert_allclose(unwrap_sensor_time(wrapped), t, atol=1e-9)


def test_sequence_counter_wrap_is_undone():
    seq = np.arange(65000, 66000) % 65536
    np.testing.assert_array_equal(unwrap_counter(seq, 65536), np.arange(65000, 66000))


def test_session_times_of_sensor_data_follow_the_true_clock():
    s, h, offset, drift = ble_arrivals(duration_s=60)
    n = len(s)
    d = SensorData(SensorInfo("x", "sacrum", rate_hz=104.0), np.arange(n), s, h,
                   np.zeros((n, 3)), np.zeros((n, 3)))
    t = session_times(d)
    assert np.max(np.abs(t - (offset + (1 + drift) * s))) < 0.003
    assert np.all(np.diff(t) > 0)


def test_common_time_base_covers_overlap_on_whole_grid():
    a = np.arange(0.013, 10.0, 0.01)
    b = np.arange(0.5, 12.0, 0.0096)
    t = common_time_base([a, b], 50.0)
    assert t[0] >= 0.5 and t[-1] <= a[-1]
    assert t[0] - 0.5 < 0.02 and a[-1] - t[-1] < 0.02
    np.testing.assert_allclose(np.round(t * 50), t * 50, atol=1e-9)


def test_resample_quat_slerps_a_constant_rotation_exactly():
    t = np.arange(0, 2, 0.01)
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    q = Q.from_rotvec(np.outer(1.7 * t, axis))
    t_dst = np.arange(0.005, 1.99, 1 / 60)
    qr = resample_quat(t, q, t_dst, max_gap_s=0.05)
    expected = Q.from_rotvec(np.outer(1.7 * t_dst, axis))
    assert np.max(Q.angle_deg(qr, expected)) < 1e-4  # arccos resolution


def test_gap_stays_nan_and_short_steps_are_bridged():
    t = np.arange(0, 10, 0.01)
    keep = (t < 4.0) | (t > 5.0)  # a 1 s gap
    keep[200:202] = False  # two samples lost: bridged
    q = Q.from_rotvec(np.outer(t, [0, 0, 0.5]))
    t_dst = np.arange(0, 9.99, 0.02)
    qr = resample_quat(t[keep], q[keep], t_dst, max_gap_s=0.05)
    inside = (t_dst > 3.995) & (t_dst < 5.005)  # between the last sample before and the first after
    assert np.all(np.isnan(qr[inside]))
    assert not np.any(np.isnan(qr[~inside]))
    vr = resample_vec(t[keep], t[keep, None], t_dst, max_gap_s=0.05)
    assert np.all(np.isnan(vr[inside]))
    np.testing.assert_allclose(vr[~inside, 0], t_dst[~inside], atol=1e-9)


def test_targets_outside_the_source_span_are_nan():
    t = np.arange(1, 2, 0.01)
    q = np.tile([1.0, 0, 0, 0], (len(t), 1))
    qr = resample_quat(t, q, np.array([0.5, 1.5, 2.5]), max_gap_s=0.05)
    assert np.isnan(qr[0, 0]) and np.isnan(qr[2, 0]) and qr[1, 0] == 1.0


def test_find_gaps_counts_missing_samples_from_sequence_numbers():
    seq = np.array([0, 1, 2, 5, 6, 20, 21])
    t = seq / 100.0
    gaps = find_gaps(t, 100.0, seq=seq)
    assert [(g.n_missing, round(g.start_s, 2), round(g.end_s, 2)) for g in gaps] == \
        [(2, 0.02, 0.05), (13, 0.06, 0.2)]
    assert [g.n_missing for g in find_gaps(t, 100.0, min_missing=5)] == [13]


def test_sensor_clock_restart_gets_its_own_segment():
    # 30 s, then the sensor reboots (clock restarts near 0) during a 5 s disconnection
    s1, h1, off1, _ = ble_arrivals(duration_s=30, drift=0.0, seed=8)
    s2 = np.arange(int(30 * 104)) / 104.0 + 0.2
    true2 = h1.max() + 5.0 + s2  # host time of the second segment's samples
    h2 = true2 + 0.008 + np.random.default_rng(9).exponential(0.01, len(s2))
    n1, n2 = len(s1), len(s2)
    d = SensorData(SensorInfo("x", "sacrum", rate_hz=104.0), np.arange(n1 + n2),
                   np.concatenate([s1, s2]), np.concatenate([h1, h2]),
                   np.zeros((n1 + n2, 3)), np.zeros((n1 + n2, 3)))
    t = session_times(d)
    assert np.max(np.abs(t[:n1] - (off1 + s1))) < 0.003
    assert np.max(np.abs(t[n1:] - (true2 + 0.008))) < 0.003


def test_a_clock_restart_that_jumps_back_by_about_a_counter_period_is_not_a_wrap():
    """A DOT reset 510.9 s into its clock (back to 0.45 s) jumps back by ~512 s, the period of
    a 2^24 / 32768 counter: still a restart (the samples either side would be 1.5 s apart once
    'unwrapped', 90 steps), so each clock segment gets its own offset; a real wrap with a
    short gap is still undone."""
    rate = 60.0
    s1 = 509.4 + np.arange(int(1.5 * rate)) / rate          # ends at ~510.9 s
    s2 = 0.45 + np.arange(int(2.5 * rate)) / rate
    h1 = 10.0 + (s1 - s1[0]) + 0.02
    true2 = h1[-1] + 0.48 + (s2 - s2[0])
    h2 = true2 + 0.02
    n1, n2 = len(s1), len(s2)
    d = SensorData(SensorInfo("x", "trunk", rate_hz=rate), np.arange(n1 + n2),
                   np.concatenate([s1, s2]), np.concatenate([h1, h2]),
                   np.zeros((n1 + n2, 3)), np.zeros((n1 + n2, 3)))
    t = session_times(d)      # (a constant latency stays in: each sample at its arrival)
    assert np.max(np.abs(t[:n1] - h1)) < 1e-6
    assert np.max(np.abs(t[n1:] - h2)) < 1e-6
    wrap = 2.0 ** 24 / 32768.0
    w = np.mod(505.0 + np.r_[np.arange(400), np.arange(405, 900)] / rate, wrap)   # 5 lost
    assert np.all(np.diff(unwrap_sensor_time(w)) > 0)


def test_clock_fit_without_latency_statistics_gives_the_same_line():
    rng = np.random.default_rng(9)
    s = np.cumsum(rng.uniform(0.004, 0.006, 20000))
    h = s * (1 + 4e-5) + 3.0 + rng.exponential(0.02, len(s))
    for order in (np.arange(len(s)), rng.permutation(len(s))):  # in order, and shuffled
        full = ClockModel.fit(s[order], h[order])
        lean = ClockModel.fit(s[order], h[order], latency=False)
        assert (lean.offset_s, lean.drift) == (full.offset_s, full.drift)
        assert lean.latency_median_s == 0.0 and full.latency_median_s > 0.0
        assert abs(full.drift - 4e-5) < 2e-6 and abs(full.offset_s - 3.0) < 0.01


def test_bracket_search_in_the_stretch_the_targets_span_finds_the_same_samples():
    from imu.timing import _first_at_or_after

    rng = np.random.default_rng(5)
    src = np.cumsum(rng.uniform(0.004, 0.006, 5000))
    src[100:103] = src[100]  # repeated times
    for dst in (np.arange(0.01, src[-1] + 0.1, 0.005), src[50:400].copy(),
                np.r_[-1.0, src[:90]], np.full(100, src[100]), np.r_[src[:80], np.nan],
                src[300:200:-1].copy()):
        assert np.array_equal(_first_at_or_after(src, dst), np.searchsorted(src, dst)), dst[:3]


def test_clock_model_to_session_into_an_array_gives_the_same_numbers():
    from imu.timing import ClockModel

    t = np.random.default_rng(2).uniform(0, 4000, 1000)
    m = ClockModel(offset_s=-123.456789, drift=37e-6)
    out = np.empty_like(t)
    assert m.to_session(t, out=out) is out
    assert np.array_equal(out, m.to_session(t))
    assert np.array_equal(out, m.offset_s + (1.0 + m.drift) * t)
