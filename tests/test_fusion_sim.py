"""Fusion, clock model, intrinsics and gaps against the body simulator's truth (errors on)."""

import numpy as np
import pytest

from imu import quat as Q
from imu.fusion import fuse
from imu.intrinsics import IntrinsicCorrection, detect_still, estimate_gyro_bias
from imu.kinematics.frames import R_WE
from imu.timing import (common_time_base, find_gaps, fit_clock, resample_quat, session_times)

RATE_HZ = 104.0


@pytest.fixture(scope="module")
def sim():
    from imu.sim import simulate

    return simulate("hinge", rate_hz=RATE_HZ, seed=7, reps=3)


def true_q_ES(res, role):
    return Q.from_matrix(R_WE.T @ res.truth_segments[role] @ res.mounts[role])


def incl_err_deg(q_est, q_true):
    e = Q.multiply(q_est, Q.conj(q_true))
    return np.degrees(2 * np.arccos(np.clip(np.sqrt(e[..., 0] ** 2 + e[..., 3] ** 2), 0, 1)))


def test_clock_model_recovers_simulated_drift_and_offset(sim):
    for role, d in sim.session.sensors.items():
        m = fit_clock(d)
        c = sim.clock[role]
        true_drift = 1.0 / (1.0 + c["drift_ppm"] * 1e-6) - 1.0
        assert abs(m.drift - true_drift) < 2e-6, role
        err = m.to_session(d.t_sensor_s) - sim.sample_true_times(role)
        # constant lateness = the link's minimum latency (unobservable one-way), no spread
        assert abs(np.mean(err) - sim.error_model.latency_s) < 0.002, role
        assert np.ptp(err) < 0.001, role


def test_fused_inclination_matches_truth_once_accelerometer_errors_are_removed(sim):
    for role, d in sim.session.sensors.items():
        e = sim.sensor_errors[role]
        acc, gyr = IntrinsicCorrection(np.zeros(3), e["acc_offset_m_s2"],
                                       1 / (1 + np.asarray(e["acc_scale"]))).apply(d.acc, d.gyr)
        t = session_times(d, latency_s=sim.error_model.latency_s)
        q = fuse(acc, gyr, RATE_HZ, t_s=t)
        qe = resample_quat(t, q, sim.truth_time_s, max_gap_s=5 / RATE_HZ)
        ok = np.all(np.isfinite(qe), axis=1)
        inc = incl_err_deg(qe[ok], true_q_ES(sim, role)[ok])
        assert np.sqrt(np.mean(inc ** 2)) < 0.6, role
        assert np.max(inc) < 2.5, role


def test_fused_inclination_with_every_error_stays_within_accelerometer_offset_budget(sim):
    for role, d in sim.session.sensors.items():
        t = sim.sample_true_times(role)
        q = fuse(d.acc, d.gyr, RATE_HZ, t_s=t)
        qe = resample_quat(t, q, sim.truth_time_s, max_gap_s=5 / RATE_HZ)
        ok = np.all(np.isfinite(qe), axis=1)
        inc = incl_err_deg(qe[ok], true_q_ES(sim, role)[ok])
        off = np.linalg.norm(sim.sensor_errors[role]["acc_offset_m_s2"])
        budget_deg = np.degrees(np.arctan2(off, 9.81)) + 0.6
        assert np.sqrt(np.mean(inc ** 2)) < budget_deg, role


def test_gyro_bias_from_still_periods_matches_simulated_bias(sim):
    for role, d in sim.session.sensors.items():
        still = detect_still(d.acc, d.gyr, RATE_HZ)
        assert still.mean() > 0.2
        b = estimate_gyro_bias(d.gyr, still)
        assert np.max(np.abs(np.degrees(b - sim.sensor_errors[role]["gyro_bias_rad_s"]))) < 0.1


def test_dropped_packets_are_found_and_stay_nan_on_the_common_time_base(sim):
    times = {r: session_times(d) for r, d in sim.session.sensors.items()}
    base = common_time_base(times, RATE_HZ)
    n_found = 0
    for role, d in sim.session.sensors.items():
        gaps = find_gaps(times[role], RATE_HZ, seq=d.seq)
        assert sum(g.n_missing for g in gaps) == sim.sensor_errors[role]["dropped_samples"]
        q = fuse(d.acc, d.gyr, RATE_HZ, t_s=times[role])
        qr = resample_quat(times[role], q, base, max_gap_s=3.5 / RATE_HZ)
        for g in gaps:
            if g.n_missing >= 3:
                inside = (base > g.start_s + 1e-6) & (base < g.end_s - 1e-6)
                assert inside.any() and np.all(np.isnan(qr[inside]))
                n_found += 1
        assert np.isfinite(qr).all(axis=1).mean() > 0.95
    assert n_found > 0  # this seed drops notifications; the test would be empty otherwise
