"""Accelerometer offset and scale of a strapped-on sensor, estimated from the recording itself.

Why: a consumer accelerometer's offset (±20–40 mg per axis, :mod:`imu.sim.error_model`) tilts
the vertical each fused orientation is built on. The calibration takes the tilt in the quiet
standing as part of the mounting rotation, so angles are right at standing, but the tilt is an
earth-frame error and the mounting a segment-frame one: once the segment turns (a hinge at 40–65°
of pelvic tilt, a squat at 90–110° of hip flexion) the offset's component along the segment's
mediolateral axis reappears as pelvis rotation / obliquity and hip adduction / rotation (about
``offset/g · sin(flexion)``). The calibration protocol cannot tell that component from a
standing obliquity (its hinges and swings turn about that very axis), so it has to come from the
rest of the recording.

How: between two moments of rest (zero velocity) the gyroscope gives the sensor's turn, and the
specific force integrated in the rest's frame must add up to gravity over the interval (the
velocity change is zero) and agree with the next rest's gravity. With the offset ``b`` and scale
error ``s`` (``acc = (1 + s)·f + b``) both conditions are linear in ``b, s``:

    ∫ R(t)·(a − b − diag(a)·s) dt = T·(a_A − b − diag(a_A)·s)          (velocity)
    R_B·(a_B − b − diag(a_B)·s) = a_A − b − diag(a_A)·s                  (next rest)

``R(t)`` is the turn since rest A from the bias-corrected gyro; each interval also has its own
small gyro-bias error as a nuisance unknown (marginalised). Any motion that turns the sensor about
more than one axis makes ``b`` observable; what a recording cannot show (a sensor only ever
turned about one axis) stays at the prior, zero: the estimate is the maximum a posteriori one
with the datasheet spread as prior, so it never does worse than no correction by more than its
own uncertainty. Measured against the simulator's truth (every sensor error on): see
``tests/test_acc_offset.py`` and ``python -m bench analysis``.

Applied: the calibration solves each mounting on the corrected specific force and keeps the
correction in the profile (:class:`~imu.calibration.Profile` ``acc_recording``); every path that
fuses with that profile's alignment (batch, replay, live) applies the same correction
(:attr:`imu.kinematics.alignment.SegmentAlignment.acc_corrections`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu import quat as Q
from imu.kinematics.heading import runs
from imu.kinematics.still import smoothed_rate_norm
from imu.log import get_logger

log = get_logger(__name__)

G_M_S2 = 9.80665


@dataclass(frozen=True)
class AccOffsetSettings:
    """Settings of :class:`AccOffsetEstimator` (units in the names).

    ``still_rad_s`` / ``rest_rad_s``: a rest is where the 0.5 s smoothed rate norm is below
    ``still_rad_s`` and, with the gyro bias removed, below ``rest_rad_s``, and the specific
    force's 0.5 s spread below ``acc_spread_m_s2`` (a sensor that does not turn may still move:
    the trunk going down in a squat), for at least ``min_rest_s``. Intervals between rests longer
    than ``max_interval_s`` or with a gap longer than ``max_gap_s`` are not used (over a longer
    turn the gyroscope's own scale and axis errors, which the model leaves out, add up: on the
    real BROAD trial 04, intervals up to 30 s gave a 23 mg offset that doubled its fusion's
    inclination error; up to 10 s, 2 mg and no change).
    ``prior_offset_m_s2`` / ``prior_scale``: 1σ of the prior (the datasheet spread).
    ``velocity_sigma_m_s`` / ``rest_sigma_m_s2``: noise of the two conditions;
    ``shared_bias_sigma_rad_s``: 1σ of the error of the gyro bias the rests give, common to every
    interval; ``gyro_bias_sigma_rad_s``: 1σ of an interval's own gyro-bias error besides.
    ``max_offset_m_s2``: an estimate larger than this is not believed (not applied).
    ``work_rate_hz``: samples are averaged in blocks down to about this rate first.
    """

    still_rad_s: float = 0.06
    rest_rad_s: float = 0.02
    acc_spread_m_s2: float = 0.05
    min_rest_s: float = 0.5
    max_interval_s: float = 10.0
    max_gap_s: float = 0.25
    bias_smooth_s: float = 60.0
    prior_offset_m_s2: float = 0.2
    prior_scale: float = 0.01
    velocity_sigma_m_s: float = 0.003
    rest_sigma_m_s2: float = 0.005
    gyro_bias_sigma_rad_s: float = 0.001
    shared_bias_sigma_rad_s: float = 0.01
    max_offset_m_s2: float = 0.8
    work_rate_hz: float = 50.0


#: prior for the remainder after a stored multi-pose accelerometer fit (:mod:`imu.intrinsics`):
#: its offset drifts by a few mg with temperature, its scale hardly
STORED_PRIOR = AccOffsetSettings(prior_offset_m_s2=0.05, prior_scale=0.002)


def _skew(v: np.ndarray) -> np.ndarray:
    z = np.zeros(v.shape[:-1])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([np.stack([z, -w, y], -1), np.stack([w, z, -x], -1),
                     np.stack([-y, x, z], -1)], -2)


def _rotvec_quat(rv: np.ndarray) -> np.ndarray:
    """Rotation vectors (N, 3) → quaternions (N, 4) ``w, x, y, z`` (numpy only)."""
    a = np.linalg.norm(rv, axis=1)
    k = np.where(a > 1e-12, np.sin(0.5 * a) / np.maximum(a, 1e-12), 0.5)
    return np.column_stack([np.cos(0.5 * a), rv * k[:, None]])


def _mul_parts(a, b):
    """Hamilton product of quaternions given as component arrays ``(w, x, y, z)`` (any shapes
    that broadcast), as a tuple of the four components."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw)


def _prefix_product(dq: np.ndarray, block: int = 64) -> np.ndarray:
    """``q_k = dq_0 ⊗ … ⊗ dq_k`` for (N, 4) quaternions, normalised.

    A blocked scan: the running product within blocks of ``block`` samples, every block at once
    (one vectorised step per position in the block), then the running product of the block
    totals, then one pass that puts each block behind the product of the blocks before it (about
    three passes over the samples instead of log2(N))."""
    n = len(dq)
    if n == 0:
        return Q.normalize(dq)
    nb = -(-n // block)
    x = np.zeros((nb * block, 4))
    x[:, 0] = 1.0
    x[:n] = dq
    c = np.ascontiguousarray(x.reshape(nb, block, 4).transpose(2, 1, 0))  # (4, block, nb)
    for i in range(1, block):
        c[:, i] = _mul_parts(c[:, i - 1], c[:, i])
    tot = c[:, -1].copy()  # (4, nb): each block's product
    k = 1
    while k < nb:
        tot[:, k:] = _mul_parts(tot[:, :-k], tot[:, k:])
        k *= 2
    c[:, :, 1:] = _mul_parts(tot[:, None, :-1], c[:, :, 1:])
    return Q.normalize(c.transpose(2, 1, 0).reshape(-1, 4)[:n])


def _rot(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``M[i] @ v[i]`` for stacks of matrices (n, p, q) and vectors (n, q)."""
    return (M @ v[..., None])[..., 0]


def _segment_reduce(ufunc, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``ufunc`` over ``x[lo[i]:hi[i]]`` along axis 0 for each i (ranges ascending, not
    overlapping, none empty)."""
    idx = np.column_stack([lo, hi]).ravel()
    if idx[-1] >= len(x):
        idx = idx[:-1]  # the last range runs to the end
    return ufunc.reduceat(x, idx, axis=0)[::2]


def _segment_sums(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of ``x[lo[i]:hi[i]]`` for each i (each on its own: no running total over the
    recording, whose rounding would swamp a 10 s interval's figures)."""
    return _segment_reduce(np.add, x, lo, hi)


def _cross_running_sums(a: np.ndarray, m: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                        rows: int = 1 << 17) -> np.ndarray:
    """``Σ_k [a_k]× C_k`` over each range ``lo[i] … hi[i] - 1`` (n, 3, 3), ``C_k`` the range's
    running sum of the matrices ``m`` (rows of 9) up to k.

    The ranges are laid side by side, padded with zeros to the longest of a batch (ranges of
    about the same length batched together, at most ``rows`` samples a batch), so each running
    sum starts at its range."""
    n = len(lo)
    length = hi - lo
    order = np.argsort(length, kind="stable")
    out = np.empty((n, 3, 9))
    per = max(1, rows // max(1, int(length.max())))
    for s in range(0, n, per):
        sel = order[s:s + per]
        L = length[sel]
        pos = np.arange(L.max())
        valid = pos[None, :] < L[:, None]
        idx = np.where(valid, lo[sel, None] + pos[None, :], 0)
        C = np.cumsum(m[idx] * valid[..., None], axis=1)
        out[sel] = np.swapaxes(a[idx] * valid[..., None], 1, 2) @ C  # Σ_k a_k ⊗ C_k
    M = out.reshape(n, 3, 3, 3)  # [i, j, k, l] = Σ a_j C_kl
    return np.stack([M[:, 1, 2] - M[:, 2, 1], M[:, 2, 0] - M[:, 0, 2],
                     M[:, 0, 1] - M[:, 1, 0]], axis=1)


def _moving_mean(x: np.ndarray, m: int) -> np.ndarray:
    c = np.cumsum(np.concatenate([np.zeros((1,) + x.shape[1:]), x]), axis=0)
    i = np.arange(len(x))
    lo = np.clip(i - m // 2, 0, len(x))
    hi = np.clip(lo + m, 0, len(x))
    return (c[hi] - c[lo]) / (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))


class AccOffsetEstimator:
    """Accelerometer offset and scale of one sensor from a recording (see the module docstring).

    Parameters
    ----------
    settings : AccOffsetSettings, optional

    Attributes (after :meth:`estimate`)
    ----------
    offset_m_s2_ : ndarray, shape (3,)
        Offset ``b`` in the sensor frame, m/s² (zero when not believed).
    scale_ : ndarray, shape (3,)
        Factor per axis that undoes the scale error: ``f = (acc − b)·scale_``.
    sd_m_s2_ : ndarray, shape (3,)
        Posterior 1σ of the offset, m/s².
    intervals_ : int
        Intervals between rests used.
    applied_ : bool
        Whether the estimate is believed (else offset zero, scale one).
    chi2_per_dof_ : float
        Residuals against the assumed noise (1 when they match); ``sd_m_s2_`` is scaled by its
        root when above 1.
    """

    def __init__(self, settings: AccOffsetSettings | None = None):
        self.settings = settings or AccOffsetSettings()

    def estimate(self, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray,
                 rate_hz: float) -> "AccOffsetEstimator":
        """Estimate from one sensor's samples.

        Parameters
        ----------
        t_s : ndarray, shape (N,)
            Sample times, seconds (the sensor's samples on one clock).
        acc : ndarray, shape (N, 3)
            Specific force, m/s², sensor frame.
        gyr : ndarray, shape (N, 3)
            Angular rate, rad/s, sensor frame.
        rate_hz : float
            Nominal sample rate, Hz.
        """
        st = self.settings
        self.offset_m_s2_ = np.zeros(3)
        self.scale_ = np.ones(3)
        self.sd_m_s2_ = np.full(3, st.prior_offset_m_s2)
        self.intervals_ = 0
        self.applied_ = False
        self.chi2_per_dof_ = float("nan")
        t = np.asarray(t_s, dtype=float)
        acc = np.asarray(acc, dtype=float)
        gyr = np.asarray(gyr, dtype=float)
        ok = np.isfinite(t) & np.all(np.isfinite(acc), 1) & np.all(np.isfinite(gyr), 1)
        t, acc, gyr = t[ok], acc[ok], gyr[ok]
        # body motion needs no more than ~50 Hz here: block means of k samples (a fifth of the
        # work at 200 Hz; the same figures, measured on the drills at 104 and 200 Hz)
        k = max(1, int(rate_hz // st.work_rate_hz))
        if k > 1:
            n = len(t) // k * k
            t, acc, gyr = (x[:n].reshape((n // k, k) + x.shape[1:]).mean(axis=1)
                           for x in (t, acc, gyr))
            rate_hz = rate_hz / k
        m = max(1, int(round(0.5 * rate_hz)))
        if len(t) < 4 * m:
            return self
        mu = _moving_mean(acc, m)
        spread = np.sqrt(_moving_mean(np.sum((acc - mu) ** 2, axis=1), m))
        still = (smoothed_rate_norm(gyr, rate_hz, 0.5) < st.still_rad_s) & (spread < st.acc_spread_m_s2)
        if still.sum() < m:
            return self
        bias0 = np.median(gyr[still], axis=0)
        still &= smoothed_rate_norm(gyr - bias0, rate_hz, 0.5) < st.rest_rad_s
        spans = np.array(runs(still), dtype=int).reshape(-1, 2)
        spans = spans[t[spans[:, 1] - 1] - t[spans[:, 0]] >= st.min_rest_s]
        if len(spans) < 2:
            return self
        r0, r1 = spans[:, 0], spans[:, 1]  # the rests: samples r0 … r1 - 1
        nr = (r1 - r0)[:, None]
        # the gyro bias changes slowly: per rest, a duration- and time-weighted mean of the rests'
        # mean rates (a single short rest's sway would otherwise be taken for bias)
        cen = 0.5 * (t[r0] + t[r1 - 1])
        dur = t[r1 - 1] - t[r0]
        raw = _segment_sums(gyr, r0, r1) / nr
        wk = dur[None, :] * np.exp(-0.5 * ((cen[:, None] - cen[None, :]) / st.bias_smooth_s) ** 2)
        bias = wk @ raw / wk.sum(axis=1, keepdims=True)
        w = gyr - np.stack([np.interp(t, cen, bias[:, i]) for i in range(3)], axis=1)
        dt = np.diff(t, prepend=t[0])
        wm = np.concatenate([w[:1], 0.5 * (w[1:] + w[:-1])])
        R = Q.to_matrix(_prefix_product(_rotvec_quat(wm * dt[:, None])))  # frame k -> frame 0

        # an interval runs from the last sample of a rest (A) to the first of the next rest (B);
        # every sum over its samples is taken in frame 0 and turned into the frame of A's last
        # sample once (R0ᵀ·Σ R[k]·… = Σ R0ᵀR[k]·…): the intervals all at once
        a1, b0 = r1[:-1], r0[1:]
        T = t[b0] - t[a1 - 1]
        gap = _segment_reduce(np.maximum, dt, a1, b0 + 1)
        use = ~((T > st.max_interval_s) | (T <= 0) | (gap > st.max_gap_s))
        iA = np.flatnonzero(use)
        if not len(iA):
            return self
        iB, a1, b0, T = iA + 1, a1[iA], b0[iA], T[iA]
        Ra = np.einsum("kij,kj->ki", R, acc)  # specific force in frame 0
        rest_Ra = _segment_sums(Ra, r0, r1) / nr
        rest_acc = _segment_sums(acc, r0, r1) / nr
        rest_R = _segment_sums(R.reshape(-1, 9), r0, r1).reshape(-1, 3, 3) / nr[:, :, None]
        # trapezoid terms of the step from sample k - 1 to k, times its duration (row k - 1)
        d = dt[1:, None]
        Rm = (0.5 * (R[1:] + R[:-1])).reshape(-1, 9) * d
        Ram = 0.5 * (Ra[1:] + Ra[:-1]) * d
        RAm = (0.5 * (R[1:] * acc[1:, None, :] + R[:-1] * acc[:-1, None, :])).reshape(-1, 9) * d
        lo, hi = a1 - 1, b0  # rows of the steps a1 … b0
        R0T = np.swapaxes(R[a1 - 1], 1, 2)
        SR = R0T @ _segment_sums(Rm, lo, hi).reshape(-1, 3, 3)
        Sa = _rot(R0T, _segment_sums(Ram, lo, hi))
        SA = R0T @ _segment_sums(RAm, lo, hi).reshape(-1, 3, 3)
        # an error e of the gyro bias over the interval: R_true·a ≈ R·a + [R·a]× C(t)·e with
        # C(t) the interval's running sum of Rm (cross products turn with the frame)
        Ev = R0T @ _cross_running_sums(Ram, Rm, lo, hi)
        aA = _rot(R0T, rest_Ra[iA])
        aB = _rot(R0T, rest_Ra[iB])
        aA_s, aB_s = rest_acc[iA], rest_acc[iB]
        RBm = R0T @ rest_R[iB]
        eye = np.eye(3)
        TI = T[:, None, None] * eye
        diag_aA = aA_s[:, None, :] * eye
        Jv = np.concatenate([TI - SR, T[:, None, None] * diag_aA - SA], axis=2)
        rv = T[:, None] * aA - Sa
        Js = np.concatenate([RBm - eye, RBm * aB_s[:, None, :] - diag_aA], axis=2)
        rs = aB - aA
        Es = _skew(aB) @ SR
        sv = st.velocity_sigma_m_s
        ss = st.rest_sigma_m_s2
        Ae = np.concatenate([Ev / sv, -Es / ss], axis=1)  # (n, 6, 3)
        A = np.concatenate([np.concatenate([Jv / sv, Js / ss], axis=1), Ae], axis=2)  # (n, 6, 9)
        r = np.concatenate([rv / sv, rs / ss], axis=1)  # (n, 6)
        AT = np.swapaxes(A, 1, 2)
        AeT = np.swapaxes(Ae, 1, 2)
        # unknowns: offset (3), scale error (3), an error of the rests' gyro bias shared by every
        # interval (3); each interval has its own bias error besides (marginalised)
        P = np.linalg.inv(AeT @ Ae + np.eye(3) / st.gyro_bias_sigma_rad_s ** 2)
        AtAe = AT @ Ae
        H = np.diag([1 / st.prior_offset_m_s2 ** 2] * 3 + [1 / st.prior_scale ** 2] * 3
                    + [1 / st.shared_bias_sigma_rad_s ** 2] * 3)
        H = H + np.sum(AT @ A - AtAe @ P @ np.swapaxes(AtAe, 1, 2), axis=0)
        h = np.sum(_rot(AT, r) - _rot(AtAe @ P, _rot(AeT, r)), axis=0)
        self.intervals_ = len(iA)
        x = np.linalg.solve(H, h)
        # the stated uncertainty follows the residuals when they are larger than the noise
        # assumed (chi-square per degree of freedom; the estimate itself does not change)
        res = r - A @ x
        e = _rot(P, _rot(AeT, res))
        chi2 = float(np.sum((res - _rot(Ae, e)) ** 2) + np.sum((e * st.gyro_bias_sigma_rad_s ** -1) ** 2))
        dof = max(1, 3 * len(iA) - 9)
        self.chi2_per_dof_ = chi2 / dof
        sd = np.sqrt(np.diag(np.linalg.inv(H))[:3] * max(1.0, self.chi2_per_dof_))
        if not np.all(np.isfinite(x)) or np.linalg.norm(x[:3]) > st.max_offset_m_s2:
            log.info("accelerometer offset from the recording not believed (%s m/s²)",
                     np.round(x[:3], 3).tolist())
            return self
        self.offset_m_s2_ = x[:3]
        self.scale_ = 1.0 / (1.0 + x[3:6])
        self.sd_m_s2_ = sd
        self.applied_ = True
        return self

    def to_dict(self) -> dict:
        """The estimate as stored in a calibration profile (``acc_recording`` per sensor)."""
        return {"acc_offset_m_s2": self.offset_m_s2_.tolist(), "acc_scale": self.scale_.tolist(),
                "offset_sd_m_s2": self.sd_m_s2_.tolist(), "intervals": int(self.intervals_),
                "chi2_per_dof": float(self.chi2_per_dof_),
                "applied": bool(self.applied_)}


def correct(acc: np.ndarray, correction) -> np.ndarray:
    """``acc`` (…, 3) with a stored correction (``(offset_m_s2, scale)`` or None) removed."""
    if correction is None:
        return acc
    off, scale = correction
    return (np.asarray(acc, dtype=float) - off) * scale


def estimate_sensor(data, t_s: np.ndarray, acc: np.ndarray,
                    settings: AccOffsetSettings | None = None) -> AccOffsetEstimator | None:
    """The estimate for one sensor of a session (``data``: its :class:`~imu.types.SensorData`,
    ``t_s`` its sample times on the session clock, ``acc`` its specific force after any stored
    correction); None for a sensor without raw samples (orientation only)."""
    if not getattr(data, "has_raw", True):
        return None
    from imu.kinematics.pipeline import nominal_rate_hz

    rate = nominal_rate_hz(t_s, data.info.rate_hz)
    return AccOffsetEstimator(settings).estimate(t_s, acc, data.gyr, rate)
