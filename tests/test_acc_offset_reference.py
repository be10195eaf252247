"""The vectorised accelerometer-offset estimate (imu.kinematics.acc_offset) gives the same
result, up to floating-point rounding, as the straightforward one it replaced."""

from dataclasses import replace

import numpy as np
import pytest

from imu import quat as Q
from imu.intrinsics import IntrinsicCorrection
from imu.kinematics.acc_offset import (STORED_PRIOR, AccOffsetEstimator, AccOffsetSettings,
                                       _prefix_product, correct)
from imu.kinematics.heading import runs
from imu.kinematics.pipeline import sensor_times_s
from imu.kinematics.still import smoothed_rate_norm
from imu.sim import simulate


@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 1000, 4097])
def test_blocked_prefix_product_equals_the_running_product(n):
    rng = np.random.default_rng(n)
    dq = _old_rotvec_quat(rng.normal(scale=0.05, size=(n, 3)))
    ref = np.empty((n, 4))
    q = np.array([1.0, 0.0, 0.0, 0.0])
    for k in range(n):
        q = Q.multiply(q, dq[k])
        ref[k] = q
    np.testing.assert_allclose(_prefix_product(dq.T).T, ref, rtol=0, atol=1e-13)


def test_rotation_vectors_to_quaternions_components_first():
    rv = np.random.default_rng(3).normal(scale=0.05, size=(50, 3))
    rv[:5] = 0.0  # no turn
    rv[5:10] *= 1e-14
    np.testing.assert_allclose(Q.from_rotvec_parts(rv.T).T, _old_rotvec_quat(rv), rtol=0, atol=1e-16)


# ------------------------------------------------------------------ the estimate it replaced
def _old_prefix_product(dq):
    q = dq.copy()
    k = 1
    while k < len(q):
        q[k:] = Q.multiply(q[:-k], q[k:])
        k *= 2
    return Q.normalize(q)


def _old_moving_mean(x, m):
    c = np.cumsum(np.concatenate([np.zeros((1,) + x.shape[1:]), x]), axis=0)
    i = np.arange(len(x))
    lo = np.clip(i - m // 2, 0, len(x))
    hi = np.clip(lo + m, 0, len(x))
    return (c[hi] - c[lo]) / (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))


def _old_skew(v):
    z = np.zeros(v.shape[:-1])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([np.stack([z, -w, y], -1), np.stack([w, z, -x], -1),
                     np.stack([-y, x, z], -1)], -2)


def _old_rotvec_quat(rv):
    a = np.linalg.norm(rv, axis=1)
    k = np.where(a > 1e-12, np.sin(0.5 * a) / np.maximum(a, 1e-12), 0.5)
    return np.column_stack([np.cos(0.5 * a), rv * k[:, None]])


def _reference_estimate(t, acc, gyr, rate_hz, st):
    """The per-interval loop of the estimate before it was vectorised (commit 63db261):
    ``(offset, scale, sd, intervals, chi2_per_dof, applied)``."""
    none = (np.zeros(3), np.ones(3), np.full(3, st.prior_offset_m_s2), 0, float("nan"), False)
    t, acc, gyr = (np.asarray(x, dtype=float) for x in (t, acc, gyr))
    ok = np.isfinite(t) & np.all(np.isfinite(acc), 1) & np.all(np.isfinite(gyr), 1)
    t, acc, gyr = t[ok], acc[ok], gyr[ok]
    k = max(1, int(rate_hz // st.work_rate_hz))
    if k > 1:
        n = len(t) // k * k
        t, acc, gyr = (x[:n].reshape((n // k, k) + x.shape[1:]).mean(axis=1)
                       for x in (t, acc, gyr))
        rate_hz = rate_hz / k
    m = max(1, int(round(0.5 * rate_hz)))
    if len(t) < 4 * m:
        return none
    mu = _old_moving_mean(acc, m)
    spread = np.sqrt(_old_moving_mean(np.sum((acc - mu) ** 2, axis=1), m))
    still = (smoothed_rate_norm(gyr, rate_hz, 0.5) < st.still_rad_s) & (spread < st.acc_spread_m_s2)
    if still.sum() < m:
        return none
    bias0 = np.median(gyr[still], axis=0)
    still &= smoothed_rate_norm(gyr - bias0, rate_hz, 0.5) < st.rest_rad_s
    rests = [(a, b) for a, b in runs(still) if t[b - 1] - t[a] >= st.min_rest_s]
    if len(rests) < 2:
        return none
    cen = np.array([0.5 * (t[a] + t[b - 1]) for a, b in rests])
    dur = np.array([t[b - 1] - t[a] for a, b in rests])
    raw = np.array([gyr[a:b].mean(axis=0) for a, b in rests])
    for i, (a, b) in enumerate(rests):  # the turn a rest's accelerometer sees is not bias
        am = acc[a:b].mean(axis=0)
        raw[i] += np.cross(am, np.polyfit(t[a:b], acc[a:b], 1)[0]) / (am @ am)
    wk = dur[None, :] * np.exp(-0.5 * ((cen[:, None] - cen[None, :]) / st.bias_smooth_s) ** 2)
    bias = wk @ raw / wk.sum(axis=1, keepdims=True)
    w = gyr - np.stack([np.interp(t, cen, bias[:, i]) for i in range(3)], axis=1)
    dt = np.diff(t, prepend=t[0])
    wm = np.concatenate([w[:1], 0.5 * (w[1:] + w[:-1])])
    R = Q.to_matrix(_old_prefix_product(_old_rotvec_quat(wm * dt[:, None])))
    H = np.diag([1 / st.prior_offset_m_s2 ** 2] * 3 + [1 / st.prior_scale ** 2] * 3
                + [1 / st.shared_bias_sigma_rad_s ** 2] * 3)
    h = np.zeros(9)
    Pe = np.eye(3) / st.gyro_bias_sigma_rad_s ** 2
    blocks, used = [], set()
    for i, ((a0, a1), (b0, b1)) in enumerate(zip(rests[:-1], rests[1:])):
        T = t[b0] - t[a1 - 1]
        if T > st.max_interval_s or T <= 0 or np.max(dt[a1:b0 + 1]) > st.max_gap_s:
            continue
        used |= {i, i + 1}
        R0T = R[a1 - 1].T
        Rk = R0T @ R[a1 - 1:b0 + 1]
        d = np.diff(t[a1 - 1:b0 + 1])
        aA = np.einsum("kij,kj->i", R0T @ R[a0:a1], acc[a0:a1]) / (a1 - a0)
        aA_s = acc[a0:a1].mean(axis=0)
        RB = R0T @ R[b0:b1]
        aB = np.einsum("kij,kj->i", RB, acc[b0:b1]) / (b1 - b0)
        aB_s = acc[b0:b1].mean(axis=0)
        RBm = RB.mean(axis=0)
        Rm = 0.5 * (Rk[1:] + Rk[:-1])
        Ra = 0.5 * (np.einsum("kij,kj->ki", Rk[1:], acc[a1:b0 + 1])
                    + np.einsum("kij,kj->ki", Rk[:-1], acc[a1 - 1:b0]))
        RA = 0.5 * (Rk[1:] * acc[a1:b0 + 1][:, None, :] + Rk[:-1] * acc[a1 - 1:b0][:, None, :])
        SR = np.einsum("kij,k->ij", Rm, d)
        Jv = np.hstack([T * np.eye(3) - SR, T * np.diag(aA_s) - np.einsum("kij,k->ij", RA, d)])
        rv = T * aA - Ra.T @ d
        Js = np.hstack([RBm - np.eye(3), RBm * aB_s[None, :] - np.diag(aA_s)])
        rs = aB - aA
        C = np.cumsum(Rm * d[:, None, None], axis=0)
        Ev = np.einsum("kli,k->il", np.cross(Ra[:, None, :], np.swapaxes(C, 1, 2)), d)
        Es = _old_skew(aB[None])[0] @ C[-1]
        sv, ss = st.velocity_sigma_m_s, st.rest_sigma_m_s2
        Ae = np.vstack([Ev / sv, -Es / ss])
        A = np.hstack([np.vstack([Jv / sv, Js / ss]), Ae])
        r = np.concatenate([rv / sv, rs / ss])
        P = np.linalg.inv(Ae.T @ Ae + Pe)
        blocks.append((A, Ae, r, P, A.T @ A - A.T @ Ae @ P @ Ae.T @ A,
                       A.T @ r - A.T @ Ae @ P @ Ae.T @ r))
    if not blocks:
        return none

    def chi2_of(x, A, Ae, r, P):
        e = P @ Ae.T @ (r - A @ x)
        return float(np.sum((r - A @ x - Ae @ e) ** 2) + np.sum((e * st.gyro_bias_sigma_rad_s ** -1) ** 2))

    # gravity's magnitude at each rest of the intervals: |a − b − diag(a)·s| = g, linearised
    # about x (first zero, then the last solution); the intervals' Cauchy weights from the last
    # solution's chi-squares
    x = np.zeros(9)
    wts = np.ones(len(blocks))
    for it in range(st.robust_iterations + 1):
        Hg, hg = H.copy(), h.copy()
        for wi, (_, _, _, _, Hi, hi) in zip(wts, blocks):
            Hg += wi * Hi
            hg += wi * hi
        for i in sorted(used):
            a, b = rests[i]
            am = acc[a:b].mean(axis=0)
            f = am - x[:3] - am * x[3:6]
            u = f / np.linalg.norm(f)
            Jg = np.concatenate([-u, -u * am, np.zeros(3)]) / st.rest_sigma_m_s2
            rg = (st.gravity_m_s2 - u @ am) / st.rest_sigma_m_s2
            Hg += np.outer(Jg, Jg)
            hg += Jg * rg
        x = np.linalg.solve(Hg, hg)
        c = np.array([chi2_of(x, *b[:4]) for b in blocks])
        if it < st.robust_iterations:
            wts = 1 / (1 + c / (max(1.0, np.median(c) / 2.366) * st.robust_chi2))
    H = Hg
    chi2 = np.median(c) / 2.366  # the typical interval's chi-square per degree of freedom
    sd = np.sqrt(np.diag(np.linalg.inv(H))[:3] * max(1.0, chi2))
    if not np.all(np.isfinite(x)) or np.linalg.norm(x[:3]) > st.max_offset_m_s2:
        return none[:3] + (len(blocks), chi2, False)
    return x[:3], 1.0 / (1.0 + x[3:6]), sd, len(blocks), chi2, True


@pytest.fixture(scope="module")
def recording():
    return simulate(["single_leg_hinge", "squat"], rate_hz=200.0, seed=47, errors=True,
                    roles=("sacrum", "right_thigh"), reps=3)


def _check_same(t, acc, gyr, rate_hz, settings):
    est = AccOffsetEstimator(settings).estimate(t, acc, gyr, rate_hz)
    off, scale, sd, n, chi2, applied = _reference_estimate(t, acc, gyr, rate_hz, settings)
    assert est.intervals_ == n and est.applied_ == applied
    assert n >= 10
    for got, want in ((est.offset_m_s2_, off), (est.scale_, scale), (est.sd_m_s2_, sd),
                      (est.chi2_per_dof_, chi2)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("settings", [AccOffsetSettings(), STORED_PRIOR])
def test_estimate_equals_the_per_interval_loop(recording, settings):
    for role in ("sacrum", "right_thigh"):
        d = recording.session.sensors[role]
        _check_same(sensor_times_s(d), d.acc, d.gyr, 200.0, settings)


def test_estimate_equals_the_per_interval_loop_with_gaps_and_bad_samples(recording):
    d = recording.session.sensors["right_thigh"]
    t, acc, gyr = sensor_times_s(d), np.array(d.acc, dtype=float), np.array(d.gyr, dtype=float)
    acc[1000:1003] = np.nan  # non-finite samples are left out
    gyr[5000, 1] = np.inf
    # a 0.5 s gap in the middle of the recording: the interval over it is not used
    keep = np.ones(len(t), bool)
    keep[len(t) // 2:len(t) // 2 + 100] = False
    # blocks of 8, 6 and 2 samples, and a rate below twice the working rate: no block means
    for rate, sl in ((200.0, slice(None)), (150.0, slice(None)), (60.0, slice(None, None, 3)),
                     (40.0, slice(None, None, 5))):
        _check_same(t[keep][sl], acc[keep][sl], gyr[keep][sl], rate, AccOffsetSettings())


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 1001])
def test_corrections_equal_the_plain_expression(n):
    rng = np.random.default_rng(n)
    acc, gyr = rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 3))
    corr = IntrinsicCorrection(gyr_bias_rad_s=np.array([0.01, -0.02, 0.03]),
                               acc_offset_m_s2=np.array([0.3, -0.2, 0.1]),
                               acc_scale=np.array([1.01, 0.99, 1.0]))
    want = (np.asarray(acc, dtype=float) - corr.acc_offset_m_s2) * corr.acc_scale
    a, g = corr.apply(acc, gyr)
    np.testing.assert_array_equal(a, want)
    np.testing.assert_array_equal(g, gyr - corr.gyr_bias_rad_s)
    np.testing.assert_array_equal(correct(acc[::2], (corr.acc_offset_m_s2, corr.acc_scale)),
                                  want[::2])
    if n:  # one vector (3,)
        np.testing.assert_array_equal(corr.apply(acc[0], gyr[0])[0], want[0])


def test_estimate_equals_the_per_interval_loop_on_a_real_recording():
    """BROAD trial 04 (real sensor, 285.7 Hz, rests between rotations), at a 50 Hz working rate
    (blocks of 5 samples): there the sensor noise breaks each rest into pieces, with intervals
    between them to compare (at 25 Hz its rests are whole, 25-29 s apart: no interval)."""
    from bench.bench_broad import load_trial, trial_paths

    paths = [p for p in trial_paths() if "04_undisturbed_slow_rotation_with_breaks" in p]
    if not paths:
        pytest.skip("BROAD trials not available")
    tr = load_trial(paths[0])
    t = np.arange(len(tr["acc"])) / tr["rate_hz"]
    for settings in (AccOffsetSettings(), STORED_PRIOR):
        _check_same(t, tr["acc"], tr["gyr"], tr["rate_hz"], replace(settings, work_rate_hz=50.0))
