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
velocity change is zero) and agree with the next rest's gravity; at every rest it is gravity,
whose magnitude is known. With the offset ``b`` and scale error ``s`` (``acc = (1 + s)·f + b``)
the first two conditions are linear in ``b, s`` and the third is, linearised about the estimate
(``u`` the direction of the rest's specific force):

    ∫ R(t)·(a − b − diag(a)·s) dt = T·(a_A − b − diag(a_A)·s)          (velocity)
    R_B·(a_B − b − diag(a_B)·s) = a_A − b − diag(a_A)·s                  (next rest)
    u·(a_A − b − diag(a_A)·s) = g                                        (gravity, each rest)

The first two are homogeneous in the specific force ``f = (a − b)/(1 + s)``: a common factor
on it (an isotropic scale error, with the offset scaled alike) leaves their exact part as it is
and scales their noise and model error with it, so without the third a least-squares fit shrank
``f`` to shrink its residuals, held back by the scale's prior alone, whose weight does not grow
with the recording: on a simulated hour (every sensor error on) the scale came out 0.87–0.92
where the truth is 1 ± 0.01, and the offset shrank with it (2–6 mg). The gravity condition ties
the isotropic scale to standard gravity (``gravity_m_s2``): local gravity differs from it by up
to ±0.3 %, which no recording can tell from a scale error, and the estimate makes the rests'
specific force read standard gravity.

``R(t)`` is the turn since rest A from the bias-corrected gyro; each interval also has its own
small gyro-bias error as a nuisance unknown (marginalised). A rest is not quite still: the gyro
bias is each rest's mean rate less the turn its accelerometer sees (gravity turning in the
sensor frame; a lifted leg drifting with the pelvis at 0.01–0.02 rad/s was taken for bias and
turned the next intervals' gravity by as much). An interval whose model still does not hold (a rest
that moves) counts less: with ``c`` its chi-square (3 degrees of freedom) and ``c₀`` the
typical interval's (the median's, over a chi-square's median, at least 1), its weight is
``1 / (1 + c / (c₀ · robust_chi2))`` (Cauchy, made again from each solution). Any motion that turns the sensor about
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
from imu.fusion.batch import all_finite
from imu.kinematics.heading import runs
from imu.kinematics.still import smoothed_rate_norm, window_means
from imu.log import get_logger

log = get_logger(__name__)

G_M_S2 = 9.80665
#: the median of a chi-square distribution of 3 degrees of freedom (an interval's residual)
_CHI2_3_MEDIAN = 2.366


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
    ``work_rate_hz``: samples are averaged in blocks down to about this rate first (25 Hz: on
    84 simulated sensors (drills, squats, airplanes and the demo at 60, 104 and 200 Hz, every
    error on) the offset's error along the segment's mediolateral axis was 1.18 mg on average,
    2.44 mg at the 90th percentile, against 1.20 and 2.52 mg at 50 Hz, for half the work).
    ``gravity_m_s2``: the magnitude of the specific force at every rest (standard gravity; a
    rest's condition has the noise ``rest_sigma_m_s2``). ``robust_chi2`` /
    ``robust_iterations``: the intervals' Cauchy weights (module docstring) and how often they
    are made again (0: every interval counts fully).
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
    work_rate_hz: float = 25.0
    gravity_m_s2: float = G_M_S2
    robust_chi2: float = 4.0
    robust_iterations: int = 3


#: prior for the remainder after a stored multi-pose accelerometer fit (:mod:`imu.intrinsics`):
#: its offset drifts by a few mg with temperature, its scale hardly
STORED_PRIOR = AccOffsetSettings(prior_offset_m_s2=0.05, prior_scale=0.002)


def _skew(v: np.ndarray) -> np.ndarray:
    z = np.zeros(v.shape[:-1])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([np.stack([z, -w, y], -1), np.stack([w, z, -x], -1),
                     np.stack([-y, x, z], -1)], -2)


def _block_scan(dq: np.ndarray, block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The first two steps of the running product ``q_k = dq_0 ⊗ … ⊗ dq_k`` of quaternions
    given components first (4, N), as a blocked scan: the running product within blocks of
    ``block`` samples, every block at once (one vectorised step per position in the block), and
    the running product of the block totals. Returns ``(c, before)``: ``c`` (4, block, blocks)
    the running product within each block, ``before`` (4, blocks) the product of the blocks
    before each (:func:`_scan_range` puts the two together for a range of samples)."""
    n = dq.shape[1]
    nb = max(1, -(-n // block))
    full = n // block
    c = np.empty((4, block, nb))  # c[:, i, j]: sample j·block + i
    by_block = c.transpose(0, 2, 1)
    by_block[:, :full] = dq[:, :full * block].reshape(4, full, block)
    if full < nb:  # the last block, filled up with the identity
        by_block[:, full] = np.array([1.0, 0.0, 0.0, 0.0])[:, None]
        by_block[:, full, :n - full * block] = dq[:, full * block:]
    for i in range(1, block):
        c[:, i] = Q.multiply_parts(c[:, i - 1], c[:, i])
    before = np.zeros((4, nb))
    before[0] = 1.0
    before[:, 1:] = c[:, -1, :-1]  # each block's product, then their running product
    k = 1
    while k < nb - 1:
        before[:, k + 1:] = Q.multiply_parts(before[:, 1:-k], before[:, k + 1:])
        k *= 2
    return c, before


def _scan_range(c: np.ndarray, before: np.ndarray, s0: int, s1: int) -> np.ndarray:
    """``q_k`` for the samples ``s0 … s1 - 1`` (4, s1 - s0) from :func:`_block_scan`'s
    result; not normalised."""
    block = c.shape[1]
    b0, b1 = s0 // block, -(-s1 // block)
    parts = Q.multiply_parts(before[:, None, b0:b1], c[:, :, b0:b1])  # (block, blocks) each
    out = np.empty((4, b1 - b0, block))
    for i in range(4):
        out[i] = parts[i].T
    return out.reshape(4, -1)[:, s0 - b0 * block:s1 - b0 * block]


def _prefix_product(dq: np.ndarray, block: int = 64) -> np.ndarray:
    """``q_k = dq_0 ⊗ … ⊗ dq_k`` for quaternions given components first (4, N); not
    normalised (a blocked scan: about three passes over the samples instead of log2(N))."""
    return _scan_range(*_block_scan(dq, block), 0, dq.shape[1])


def _rot(M: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``M[i] @ v[i]`` for stacks of matrices (n, p, q) and vectors (n, q)."""
    return (M @ v[..., None])[..., 0]


def _segment_reduce(ufunc, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``ufunc`` over ``x[..., lo[i]:hi[i]]`` along the last axis for each i (ranges ascending,
    not overlapping, none empty): (…, n)."""
    idx = np.column_stack([lo, hi]).ravel()
    if idx[-1] >= x.shape[-1]:
        idx = idx[:-1]  # the last range runs to the end
    return ufunc.reduceat(x, idx, axis=-1)[..., ::2]


def _segment_sums(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of ``x[..., lo[i]:hi[i]]`` for each i, (…, n) (each on its own: no running total over
    the recording, whose rounding would swamp a 10 s interval's figures)."""
    return _segment_reduce(np.add, x, lo, hi)


def _interval_sums(scan: tuple, aT: np.ndarray, dt: np.ndarray, r0: np.ndarray,
                   r1: np.ndarray, iA: np.ndarray, chunk: int = 8192) -> tuple:
    """The sums over each interval's samples in frame 0 (the turn since the first sample, as
    :func:`_block_scan` gives it), for the intervals from rest ``iA[i]`` to rest ``iA[i] + 1``
    (rests: samples ``r0 … r1 - 1``).

    Returns ``R0`` (the turn at the interval's start, the last sample of rest A), the mean
    specific force of rest A and of rest B, the mean turn over rest B, and over the steps from
    A's last sample to B's first (trapezoid, times their durations): Σ R, Σ R·a, Σ R·diag(a)
    and Σ [R·a]× C with C the running Σ R — shapes (n, 3, 3) and (n, 3). Consecutive intervals
    are taken together in runs of about ``chunk`` samples (the matrices of a run stay in the
    processor's cache)."""
    n = len(iA)
    R0, RB, SR, SA, Ev = (np.empty((n, 3, 3)) for _ in range(5))
    RaA, RaB, Sa = (np.empty((n, 3)) for _ in range(3))
    start_s, stop_s = r0[iA], r1[iA + 1]  # samples of interval i: start_s … stop_s - 1
    c0 = 0
    while c0 < n:
        c1 = max(c0 + 1, int(np.searchsorted(stop_s, start_s[c0] + chunk, side="right")))
        j = iA[c0:c1]
        rests = np.union1d(j, j + 1)
        s0, s1 = r0[rests[0]], r1[rests[-1]]
        R = Q.matrix_elements(tuple(_scan_range(*scan, s0, s1)))  # (3, 3, L)
        RA = R * aT[:, s0:s1]  # R[i, j]·a[j]
        Ra = RA.sum(axis=1)  # specific force in frame 0
        lo_r, hi_r = r0[rests] - s0, r1[rests] - s0
        cnt = hi_r - lo_r
        rest_Ra = _segment_sums(Ra, lo_r, hi_r) / cnt
        rest_R = _segment_sums(R, lo_r, hi_r) / cnt
        pa, pb = np.searchsorted(rests, j), np.searchsorted(rests, j + 1)
        RaA[c0:c1] = rest_Ra[:, pa].T
        RaB[c0:c1] = rest_Ra[:, pb].T
        RB[c0:c1] = np.moveaxis(rest_R[..., pb], -1, 0)
        # trapezoid terms of the step from sample k - 1 to k, times its duration (column
        # k - 1 - s0); the interval's steps run from A's last sample + 1 to B's first
        hd = 0.5 * dt[s0 + 1:s1]
        Rm = R[..., 1:] + R[..., :-1]
        Rm *= hd
        Ram = Ra[:, 1:] + Ra[:, :-1]
        Ram *= hd
        RAm = RA[..., 1:] + RA[..., :-1]
        RAm *= hd
        last_A = r1[j] - 1 - s0
        lo, hi = last_A, r0[j + 1] - s0
        R0[c0:c1] = np.moveaxis(R[..., last_A], -1, 0)
        SR[c0:c1] = np.moveaxis(_segment_sums(Rm, lo, hi), -1, 0)
        Sa[c0:c1] = _segment_sums(Ram, lo, hi).T
        SA[c0:c1] = np.moveaxis(_segment_sums(RAm, lo, hi), -1, 0)
        # Σ_k [Ra_k]× C_k over the interval, C_k its running sum of Rm up to k, is
        # Σ_q [D_q]× Rm_q with D_q the sum of Ra from q to the interval's end: that sum is
        # S(end) − S(q) with S the running sum of Ra over the run before each step (no longer
        # than a run: its rounding stays that of the interval's figures), so
        # Σ [Ra]× C = [S(end)]× Σ Rm − Σ [S(q)]× Rm_q
        S = np.empty((3, Ram.shape[1] + 1))
        S[:, 0] = 0.0
        np.cumsum(Ram, axis=-1, out=S[:, 1:])
        Y = np.stack([S[1, :-1] * Rm[2] - S[2, :-1] * Rm[1], S[2, :-1] * Rm[0] - S[0, :-1] * Rm[2],
                      S[0, :-1] * Rm[1] - S[1, :-1] * Rm[0]])
        Ev[c0:c1] = (_skew(S[:, hi].T) @ SR[c0:c1]
                     - np.moveaxis(_segment_sums(Y, lo, hi), -1, 0))
        c0 = c1
    return R0, RaA, RaB, RB, SR, Sa, SA, Ev


def _block_means(x: np.ndarray, k: int) -> np.ndarray:
    """Means of ``k`` consecutive samples along the last axis (an incomplete last block left
    out)."""
    b = x[..., :x.shape[-1] // k * k].reshape(x.shape[:-1] + (-1, k))
    out = b[..., 0] + b[..., 1]
    for i in range(2, k):
        out += b[..., i]  # = b.mean(axis=-1): the same additions in the same order
    out /= k
    return out


def _block_means_rows(x: np.ndarray, k: int) -> np.ndarray:
    """Means of ``k`` consecutive rows of ``x`` (N, 3) (an incomplete last block left out), as
    (3, N // k): one matrix product over the rows ``k`` at a time, (3, 3k) @ (3k, N // k)."""
    n = len(x) // k * k
    pick = np.tile(np.eye(3), (1, k))  # (3, 3k): column 3i + j adds component j of the i-th
    out = pick @ x[:n].reshape(-1, 3 * k).T
    out /= k
    return out


def _corrected_block_means(acc: np.ndarray, k: int, correction: tuple,
                           rows: int = 32768, finite: bool = False) -> np.ndarray | None:
    """:func:`_block_means_rows` of ``correct(acc, correction)`` (the same numbers), a block of
    ``rows`` rows (a multiple of ``k``) corrected at a time; None where the samples are not
    all finite or a corrected value is not (the caller then corrects every sample first).
    ``finite``: the samples are known to be finite (not looked at again)."""
    if not finite and not all_finite(acc):
        return None
    rows = max(k, rows // k * k)
    n = len(acc) // k * k
    out = np.empty((3, n // k))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        out[:, r0 // k:r1 // k] = _block_means_rows(correct(acc[r0:r1], correction), k)
    return out if all_finite(out) else None


def _moving_mean(x: np.ndarray, m: int) -> np.ndarray:
    """Mean over the ``m`` samples from ``i - m // 2`` (clipped to the ends) along the last
    axis for each sample i (the window shrinks at the end only); ``x.shape[-1] >= m``
    (:func:`imu.kinematics.still.window_means` of the running sum)."""
    c = np.empty(x.shape[:-1] + (x.shape[-1] + 1,))
    c[..., 0] = 0.0
    np.cumsum(x, axis=-1, out=c[..., 1:])
    return window_means(c, m)


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
    scale_sd_ : ndarray, shape (3,)
        Posterior 1σ of ``scale_`` (an axis the recording hardly shows keeps about the prior's).
    intervals_ : int
        Intervals between rests used.
    applied_ : bool
        Whether the estimate is believed (else offset zero, scale one).
    chi2_per_dof_ : float
        Residuals against the assumed noise: the typical (median) interval's chi-square per
        degree of freedom (1 when they match); ``sd_m_s2_`` and ``scale_sd_`` are scaled by its
        root when above 1.
    weights_ : ndarray, shape (intervals_,)
        Weight of each interval used (1: fully; less where its residuals were far above the
        typical interval's).
    """

    def __init__(self, settings: AccOffsetSettings | None = None):
        self.settings = settings or AccOffsetSettings()

    def estimate(self, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray,
                 rate_hz: float, acc_correction: tuple | None = None,
                 finite: bool = False) -> "AccOffsetEstimator":
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
        acc_correction : tuple, optional
            ``(offset_m_s2, scale)`` removed from ``acc`` first (:func:`correct`): the same
            estimate as of ``correct(acc, acc_correction)``, without a corrected copy of every
            sample (each block of rows is corrected as it is averaged).
        finite : bool
            Every time and sample is known to be finite (the samples
            :func:`imu.session.validate.usable_sensor` gives, and their times): not looked
            at again.
        """
        st = self.settings
        k = max(1, int(rate_hz // st.work_rate_hz))
        if acc_correction is not None:
            finite = finite or all_finite(t_s, gyr)
            means = (_corrected_block_means(np.asarray(acc, dtype=float), k, acc_correction,
                                            finite=finite)
                     if k > 1 and finite else None)
            if means is None:  # every sample corrected first (the same numbers)
                return self.estimate(t_s, correct(acc, acc_correction), gyr, rate_hz)
            return self._estimate(t_s, acc, gyr, rate_hz, means, True)
        return self._estimate(t_s, acc, gyr, rate_hz, None, finite)

    def _estimate(self, t_s, acc, gyr, rate_hz, acc_means, finite=False) -> "AccOffsetEstimator":
        """:meth:`estimate`; ``acc_means``: the corrected specific force's block means (3, M)
        where made already (``acc`` is then the raw samples, used for nothing else);
        ``finite``: every value is known to be finite."""
        st = self.settings
        self.offset_m_s2_ = np.zeros(3)
        self.scale_ = np.ones(3)
        self.sd_m_s2_ = np.full(3, st.prior_offset_m_s2)
        self.scale_sd_ = np.full(3, st.prior_scale)
        self.intervals_ = 0
        self.weights_ = np.zeros(0)
        self.applied_ = False
        self.chi2_per_dof_ = float("nan")
        t = np.asarray(t_s, dtype=float)
        acc = np.asarray(acc, dtype=float)
        gyr = np.asarray(gyr, dtype=float)
        if not finite and not all_finite(t, acc, gyr):
            assert acc_means is None  # (made only from all-finite samples: estimate())
            ok = np.isfinite(t) & np.all(np.isfinite(acc), 1) & np.all(np.isfinite(gyr), 1)
            t, acc, gyr = t[ok], acc[ok], gyr[ok]
        # body motion needs no more than ~25 Hz here (``work_rate_hz``): block means of k
        # samples (an eighth of the work at 200 Hz); from here on components first (3, N), each
        # contiguous (``acc`` and ``gyr``: (N, 3) views)
        k = max(1, int(rate_hz // st.work_rate_hz))
        if k > 1:
            t = _block_means(t, k)
            aT = _block_means_rows(acc, k) if acc_means is None else acc_means
            gT = _block_means_rows(gyr, k)
            rate_hz = rate_hz / k
        else:
            aT, gT = (np.ascontiguousarray(x.T) for x in (acc, gyr))
        acc, gyr = aT.T, gT.T
        m = max(1, int(round(0.5 * rate_hz)))
        if len(t) < 4 * m:
            return self
        dev = _moving_mean(aT, m)
        np.subtract(aT, dev, out=dev)
        dev *= dev
        spread = np.sqrt(_moving_mean(dev[0] + dev[1] + dev[2], m))  # = np.sum(…, axis=1)
        still = (smoothed_rate_norm(gyr, rate_hz, 0.5) < st.still_rad_s) & (spread < st.acc_spread_m_s2)
        if still.sum() < m:
            return self
        bias0 = np.median(gT[:, still], axis=1, overwrite_input=True)  # a copy already
        still &= smoothed_rate_norm(gyr, rate_hz, 0.5, bias=bias0) < st.rest_rad_s
        spans = np.array(runs(still), dtype=int).reshape(-1, 2)
        spans = spans[t[spans[:, 1] - 1] - t[spans[:, 0]] >= st.min_rest_s]
        if len(spans) < 2:
            return self
        r0, r1 = spans[:, 0], spans[:, 1]  # the rests: samples r0 … r1 - 1
        nr = r1 - r0
        # the gyro bias changes slowly: per rest, a duration- and time-weighted mean of the rests'
        # mean rates (a single short rest's sway would otherwise be taken for bias)
        cen = 0.5 * (t[r0] + t[r1 - 1])
        dur = t[r1 - 1] - t[r0]
        raw = (_segment_sums(gT, r0, r1) / nr).T
        rest_acc = (_segment_sums(aT, r0, r1) / nr).T
        # a rest may still turn slowly (a lifted leg drifting with the pelvis, 0.01–0.02 rad/s:
        # taken for bias, it turned the next intervals' gravity by as much): the part of its
        # turn the accelerometer sees (gravity turning in the sensor frame, df/dt = −ω × f) is
        # not bias. The specific force's slope over each rest, least squares on time:
        St = _segment_sums(t, r0, r1)
        Stt = _segment_sums(t * t, r0, r1) - St * St / nr
        Sta = _segment_sums(aT * t, r0, r1) - St * rest_acc.T
        slope = (Sta / Stt).T  # (n_rests, 3)
        raw += np.cross(rest_acc, slope) / np.sum(rest_acc * rest_acc, axis=1, keepdims=True)
        # wk = dur · exp(-½ ((cen_i - cen_j) / bias_smooth_s)²), made in one array (the same
        # operations in the same order, in place)
        wk = np.subtract.outer(cen, cen)
        wk /= st.bias_smooth_s
        np.square(wk, out=wk)
        wk *= -0.5
        np.exp(wk, out=wk)
        wk *= dur[None, :]
        bias = wk @ raw / wk.sum(axis=1, keepdims=True)
        w = np.empty(gT.shape)
        for i in range(3):
            np.subtract(gT[i], np.interp(t, cen, bias[:, i]), out=w[i])
        dt = np.diff(t, prepend=t[0])
        wm = np.empty_like(w)
        wm[:, 0] = w[:, 0]
        np.add(w[:, 1:], w[:, :-1], out=wm[:, 1:])
        wm[:, 1:] *= 0.5
        wm *= dt
        # the turn from frame k to frame 0
        scan = _block_scan(Q.from_rotvec_parts(wm))

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
        iB, T = iA + 1, T[iA]
        aA_s, aB_s = rest_acc[iA], rest_acc[iB]
        R0, RaA, RaB, RB, SR, Sa, SA, Ev = _interval_sums(scan, aT, dt, r0, r1, iA)
        R0T = np.swapaxes(R0, 1, 2)
        SR = R0T @ SR
        Sa = _rot(R0T, Sa)
        SA = R0T @ SA
        Ev = R0T @ Ev
        aA = _rot(R0T, RaA)
        aB = _rot(R0T, RaB)
        RBm = R0T @ RB
        eye = np.eye(3)
        TI = T[:, None, None] * eye
        diag_aA = aA_s[:, None, :] * eye
        Jv = np.concatenate([TI - SR, T[:, None, None] * diag_aA - SA], axis=2)
        rv = T[:, None] * aA - Sa
        Js = np.concatenate([RBm - eye, RBm * aB_s[:, None, :] - diag_aA], axis=2)
        rs = aB - aA
        # an error e of the gyro bias over the interval: R_true·a ≈ R·a + [R·a]× C(t)·e with C(t)
        # the running Σ Rm: its effect on the velocity (Ev) and on the next rest (Es)
        Es = _skew(aB) @ SR
        ss = st.rest_sigma_m_s2
        sv = st.velocity_sigma_m_s
        Ae = np.concatenate([Ev / sv, -Es / ss], axis=1)  # (n, 6, 3)
        A = np.concatenate([np.concatenate([Jv / sv, Js / ss], axis=1), Ae], axis=2)  # (n, 6, 9)
        r = np.concatenate([rv / sv, rs / ss], axis=1)  # (n, 6)
        AT = np.swapaxes(A, 1, 2)
        AeT = np.swapaxes(Ae, 1, 2)
        # unknowns: offset (3), scale error (3), an error of the rests' gyro bias shared by every
        # interval (3); each interval has its own bias error besides (marginalised)
        P = np.linalg.inv(AeT @ Ae + np.eye(3) / st.gyro_bias_sigma_rad_s ** 2)
        AtAe = AT @ Ae
        H0 = np.diag([1 / st.prior_offset_m_s2 ** 2] * 3 + [1 / st.prior_scale ** 2] * 3
                     + [1 / st.shared_bias_sigma_rad_s ** 2] * 3)
        Hi = AT @ A - AtAe @ P @ np.swapaxes(AtAe, 1, 2)
        hi = _rot(AT, r) - _rot(AtAe @ P, _rot(AeT, r))
        self.intervals_ = len(iA)
        # gravity's magnitude at the rests (|f| = g, linearised about the estimate: first about
        # no correction, then about the last solution), and the intervals' weights: where an
        # interval's model does not hold (a rest that moves: its chi-square c, 3 degrees of
        # freedom, far above the typical interval's) it counts less, 1 / (1 + c / (c_typ ·
        # robust_chi2)) (Cauchy), c_typ the median interval's c over the median of a
        # chi-square of 3 degrees of freedom (2.366), at least 1
        ag = rest_acc[np.union1d(iA, iB)]
        x = np.zeros(9)
        wts = np.ones(len(iA))
        for it in range(st.robust_iterations + 1):
            fg = ag - x[:3] - ag * x[3:6]
            u = fg / np.linalg.norm(fg, axis=1, keepdims=True)
            Ag = np.concatenate([-u, -u * ag, np.zeros_like(u)], axis=1) / ss
            rg = (st.gravity_m_s2 - np.sum(u * ag, axis=1)) / ss
            H = H0 + np.einsum("n,nij->ij", wts, Hi) + Ag.T @ Ag
            x = np.linalg.solve(H, wts @ hi + Ag.T @ rg)
            res = r - A @ x
            e = _rot(P, _rot(AeT, res))
            ci = (np.sum((res - _rot(Ae, e)) ** 2, axis=1)
                  + np.sum((e * st.gyro_bias_sigma_rad_s ** -1) ** 2, axis=1))
            if it < st.robust_iterations:
                c0 = max(1.0, float(np.median(ci)) / _CHI2_3_MEDIAN)
                wts = 1.0 / (1.0 + ci / (c0 * st.robust_chi2))
        self.weights_ = wts
        # the stated uncertainty follows the residuals when they are larger than the noise
        # assumed (the typical interval's chi-square per degree of freedom, as the weights'
        # c₀: the weighted sum of all would understate it; the estimate itself does not change)
        self.chi2_per_dof_ = float(np.median(ci)) / _CHI2_3_MEDIAN
        sd = np.sqrt(np.diag(np.linalg.inv(H))[:6] * max(1.0, self.chi2_per_dof_))
        if not np.all(np.isfinite(x)) or np.linalg.norm(x[:3]) > st.max_offset_m_s2:
            log.info("accelerometer offset from the recording not believed (%s m/s²)",
                     np.round(x[:3], 3).tolist())
            return self
        self.offset_m_s2_ = x[:3]
        self.scale_ = 1.0 / (1.0 + x[3:6])
        self.sd_m_s2_ = sd[:3]
        self.scale_sd_ = sd[3:] * self.scale_ ** 2
        self.applied_ = True
        return self

    def to_dict(self) -> dict:
        """The estimate as stored in a calibration profile (``acc_recording`` per sensor)."""
        return {"acc_offset_m_s2": self.offset_m_s2_.tolist(), "acc_scale": self.scale_.tolist(),
                "offset_sd_m_s2": self.sd_m_s2_.tolist(), "scale_sd": self.scale_sd_.tolist(),
                "intervals": int(self.intervals_),
                "chi2_per_dof": float(self.chi2_per_dof_),
                "applied": bool(self.applied_)}


def compose(first, then):
    """The one ``(offset_m_s2, scale)`` that removes ``first`` and then ``then`` (each such a
    pair or None): ``((a - o1)·s1 - o2)·s2 = (a - (o1 + o2/s1))·(s1·s2)``; None for neither."""
    if first is None or then is None:
        return then if first is None else first
    o1, s1 = (np.asarray(v, dtype=float) for v in first)
    o2, s2 = (np.asarray(v, dtype=float) for v in then)
    return o1 + o2 / s1, s1 * s2


def correct(acc: np.ndarray, *corrections) -> np.ndarray:
    """``acc`` (…, 3) with the corrections removed in order (each ``(offset_m_s2, scale)`` or
    None: a stored multi-pose fit, then the recording's own estimate), in one pass."""
    c = None
    for x in corrections:
        c = compose(c, x)
    if c is None:
        return acc
    from imu.intrinsics import affine_rows

    return affine_rows(acc, *c)


def estimate_sensor(data, t_s: np.ndarray, acc: np.ndarray,
                    settings: AccOffsetSettings | None = None,
                    acc_correction: tuple | None = None,
                    finite: bool = False) -> AccOffsetEstimator | None:
    """The estimate for one sensor of a session (``data``: its :class:`~imu.types.SensorData`,
    ``t_s`` its sample times on the session clock, ``acc`` its specific force, with the stored
    correction ``acc_correction`` (``(offset_m_s2, scale)``, if any) still to be removed;
    ``finite``: as :meth:`AccOffsetEstimator.estimate`'s); None for a sensor without raw
    samples (orientation only)."""
    if not getattr(data, "has_raw", True):
        return None
    from imu.kinematics.pipeline import nominal_rate_hz

    rate = nominal_rate_hz(t_s, data.info.rate_hz)
    return AccOffsetEstimator(settings).estimate(t_s, acc, data.gyr, rate,
                                                 acc_correction=acc_correction, finite=finite)
