"""What "still" means: the one definition every stillness test of the project uses.

A sensor is **still** while the norm of its angular rate (bias removed where the caller knows
the bias), smoothed over a fraction of a second, stays below :data:`STILL_RAD_S`
(0.10 rad/s, 5.7 °/s): :func:`is_still`. Postural sway in quiet standing stays well below it;
the slowest deliberate movement of the protocol and the exercises (a slow hip hinge) exceeds
it within a few tenths of a second.

What differs between callers is *over how long* the rate is smoothed and *for how long* it must
stay still, never the threshold:

- the calibration protocol's still phases (``imu.calibration.phases``): 0.5 s moving mean,
  each still pause at least ``min_still_s``;
- the heading hold's anchors at quiet standing (:mod:`imu.kinematics.heading`): 0.25 s
  smoothing, at least ``min_anchor_s``;
- the quiet standing whose mean angular rate measures the gyro bias
  (:mod:`imu.kinematics.standing`): 0.5 s smoothing, at least ``min_s``;
- the calibration wizard's "standing still" (:mod:`imu.live.motion`): the RMS over the last
  second.

Batch code smooths with :func:`smoothed_rate_norm` (centred); streaming code with
:class:`StillStream` (causal, exponential). Two stillness tests elsewhere are not this one, on
purpose: the intrinsic calibration's rest detection (``imu.intrinsics.detect_still``) runs on a
raw sensor before any bias is known (a bias of up to 0.2 rad/s is allowed), so it tests the
*variation* of the rate, not its size; and a rep's standing baseline (``imu.analysis``) is
found in the angle it measures (a window whose range stays within ``quiet_range_deg``), since
the analysis sees angles, not angular rates.
"""

from __future__ import annotations

import math

import numpy as np

#: still: smoothed angular-rate norm below this, rad/s (the one threshold)
STILL_RAD_S = 0.10


def smoothed_rate_norm(gyr: np.ndarray, rate_hz: float, window_s: float = 0.25,
                       at: np.ndarray | None = None, bias: np.ndarray | None = None
                       ) -> np.ndarray:
    """Centred moving-average norm of the angular rate (N,) rad/s over ``window_s``; NaN rows
    stay NaN (and are left out of their neighbours' means). ``at``: sample indices (M,) where
    the values are wanted (the same values as ``smoothed_rate_norm(...)[at]``, without
    computing the others). ``bias`` (3,): of ``gyr - bias`` (the same values, without a copy
    of the samples)."""
    gyr = np.asarray(gyr, dtype=float)
    m = len(gyr)
    w = max(1, int(round(window_s * rate_hz)))
    if w == 1 or m < w:
        n = _rate_norms(gyr, bias)
        return n if at is None else n[at]
    c, cb = rate_norm_sums(gyr, bias)
    # centred windows [i - w//2, i - w//2 + w) clipped to the samples
    if at is None and cb is None:  # every sample: the full windows as one slice difference
        return window_means(c, w)
    return rate_norm_at(c, cb, w, np.arange(m) if at is None else np.asarray(at))


def _rate_norms(gyr: np.ndarray, bias, out: np.ndarray | None = None) -> np.ndarray:
    """Norms (N,) of the rows of ``gyr`` (minus ``bias`` if not None), a block of rows at a
    time (= imu.quat.row_norm), into ``out``."""
    m = len(gyr)
    n = np.empty(m) if out is None else out
    b = None if bias is None else np.asarray(bias, dtype=float)
    for r0 in range(0, m, _NORM_ROWS):
        g = gyr[r0:r0 + _NORM_ROWS] if b is None else gyr[r0:r0 + _NORM_ROWS] - b
        np.sqrt(np.einsum("...i,...i->...", g, g, out=n[r0:r0 + _NORM_ROWS]),
                out=n[r0:r0 + _NORM_ROWS])
    return n


def rate_norm_sums(gyr: np.ndarray, bias: np.ndarray | None = None):
    """The parts of :func:`smoothed_rate_norm` that every window reads: ``(c, cb)``, the
    running sum (N + 1,) of the rate norms (of ``gyr - bias``) with NaN rows as 0, and the
    running count (N + 1,) of NaN rows (None when there are none). :func:`rate_norm_at` gives
    the windows' means from them (for callers that want them a few at a time)."""
    gyr = np.asarray(gyr, dtype=float)
    m = len(gyr)
    # the norms are made in the running sum's own array, which then sums them in place (one
    # array the length of the samples instead of two); a block of rows at a time
    c = np.empty(m + 1)
    c[0] = 0.0
    n = _rate_norms(gyr, bias, out=c[1:])
    bad = ~np.isfinite(n)
    any_bad = bool(bad.any())
    if any_bad:
        n[bad] = 0.0
    np.cumsum(n, out=n)
    return c, (np.concatenate([[0], np.cumsum(bad)]) if any_bad else None)


def rate_norm_at(c: np.ndarray, cb: np.ndarray | None, w: int, idx: np.ndarray) -> np.ndarray:
    """:func:`smoothed_rate_norm` at sample indices ``idx`` for a window of ``w`` samples (≥ 2,
    at most the samples), from :func:`rate_norm_sums`' ``(c, cb)``."""
    m = len(c) - 1
    lo = np.clip(idx - w // 2, 0, m)
    hi = np.minimum(lo + w, m)
    if cb is None:
        return (c[hi] - c[lo]) / (hi - lo)
    cnt = hi - lo - (cb[hi] - cb[lo])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (c[hi] - c[lo]) / cnt
    out[(cb[idx + 1] > cb[idx]) | (cnt == 0)] = np.nan
    return out


#: rows per block of the norms in :func:`smoothed_rate_norm`
_NORM_ROWS = 32768


def is_still(rate_norm_rad_s, threshold_rad_s: float = STILL_RAD_S) -> np.ndarray:
    """Stillness (bool, same shape) of smoothed angular-rate norms in rad/s; NaN is not still."""
    g = np.asarray(rate_norm_rad_s, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(g) & (g < threshold_rad_s)


class StillStream:
    """Causal stillness of one sensor: the rate norm smoothed exponentially over
    ``smoothing_s``, compared with the threshold.

    Parameters
    ----------
    rate_hz : float
        Rate of the values fed, Hz.
    smoothing_s : float
        Time constant of the smoothing, seconds.
    threshold_rad_s : float
        :data:`STILL_RAD_S` unless a caller's settings say otherwise.

    Attributes
    ----------
    rate_rad_s : float or None
        The smoothed rate norm (None before the first finite value).
    """

    def __init__(self, rate_hz: float, smoothing_s: float,
                 threshold_rad_s: float = STILL_RAD_S):
        self.alpha = 1.0 / max(1.0, float(smoothing_s) * float(rate_hz))
        self.threshold_rad_s = float(threshold_rad_s)
        self.rate_rad_s: float | None = None

    def update(self, norm_rad_s: float) -> float:
        """Feed one rate norm (rad/s; NaN is skipped); returns the smoothed norm (NaN before
        any finite value)."""
        g = float(norm_rad_s)
        if math.isfinite(g):
            r = self.rate_rad_s
            self.rate_rad_s = g if r is None else r + self.alpha * (g - r)
        return math.nan if self.rate_rad_s is None else self.rate_rad_s

    @property
    def still(self) -> bool:
        return self.rate_rad_s is not None and self.rate_rad_s < self.threshold_rad_s


def window_means(c: np.ndarray, w: int) -> np.ndarray:
    """Centred moving means from running sums: for each sample i along the last axis, the mean
    over the ``w`` samples from ``lo = i - w // 2`` clipped to the start (the first full window
    there) and cut short at the end: ``(c[hi] - c[lo]) / (hi - lo)`` with ``hi = min(lo + w,
    n)``. ``c`` (…, n + 1) is the running sum with ``c[..., 0] = 0``; ``n >= w``. The full
    windows come from two slices of ``c`` (no gathers)."""
    n, h = c.shape[-1] - 1, w // 2
    out = np.empty(c.shape[:-1] + (n,))
    full = out[..., h:n - w + h + 1]  # the windows that start at 0 … n - w
    np.subtract(c[..., w:], c[..., :n - w + 1], out=full)
    full /= w
    out[..., :h] = full[..., :1]
    end = np.arange(n - w + 1, n - h)  # later windows run to the end
    out[..., n - w + h + 1:] = (c[..., n:] - c[..., end]) / (n - end)
    return out
