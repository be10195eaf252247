"""Quiet neutral standing found in raw signals, and the gyro bias measured there.

The calibration pose (quiet standing, docs/calibration.md) recurs between exercise sets and between reps.
There every sensor is still and every segment upright, so the mean angular rate of each sensor
is its gyro bias (plus the small mean rate of postural sway). Measuring the bias at every such
stretch and smoothing it over time tracks slow bias drift without mistaking slow real motion —
a pelvis drifting down in single-leg stance, say — for bias, which a filter's own rest detector
does (it sees any slow motion as rest).

Upright is judged from the accelerometer alone: the measured specific force within
``upright_deg`` of the sensor's standing vertical (from the calibration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.kinematics.heading import runs
from imu.kinematics.still import (STILL_RAD_S, StillStream, is_still, rate_norm_at,
                                  rate_norm_sums, smoothed_rate_norm)
from imu.quat import row_norm

GRID_HZ = 50.0
#: trimmed at each end of a quiet stretch before its mean rate measures the bias, seconds
TRIM_S = 0.25


@dataclass
class StandingSettings:
    """Thresholds of the quiet-standing detector and the bias smoother.

    Attributes
    ----------
    still_rad_s : float
        Smoothed (0.5 s) rate norm below which a sensor is still (the one threshold of
        :mod:`imu.kinematics.still`).
    smoothing_s : float
        Over how long the rate norm is smoothed (batch: centred mean, live: exponential),
        seconds.
    upright_deg : float
        Largest angle between specific force and the sensor's standing vertical.
    min_s : float
        Shortest stretch used, seconds (0.25 s trimmed at each end).
    sway_deg : float
        Typical change of a segment's angle across a stretch from postural sway (sets the
        weight of a short stretch's bias measurement), degrees.
    bias_walk_deg_s_per_sqrt_s : float
        Bias random walk assumed by the smoother, deg/s/√s.
    max_jump_deg_s : float
        A stretch whose bias differs from the median of all stretches by more than this is not
        used.
    """

    still_rad_s: float = STILL_RAD_S
    smoothing_s: float = 0.5
    upright_deg: float = 10.0
    min_s: float = 1.5
    sway_deg: float = 0.3
    bias_walk_deg_s_per_sqrt_s: float = 0.002
    max_jump_deg_s: float = 0.3


def standing_windows(times: dict, acc: dict, gyr: dict, up_S: dict, bias0: dict,
                     settings: StandingSettings = StandingSettings(),
                     acc_correction: dict | None = None) -> list[tuple[float, float]]:
    """Stretches ``[(t0, t1), ...]`` (session clock, s) where every sensor is still and upright.

    Parameters
    ----------
    times, acc, gyr : dict
        Role → sample times (N,), specific force (N, 3) m/s², angular rate (N, 3) rad/s.
    up_S : dict
        Role → the segment's vertical in the sensor frame (3,) (row 1 of ``R_BS``).
    bias0 : dict
        Role → gyro bias from the calibration (3,) rad/s (zeros if unknown).
    acc_correction : dict, optional
        Role → a function that corrects rows (k, 3) of that sensor's specific force, applied to
        the rows judged (the same numbers as correcting every sample first, for a
        correction that works row by row).

    Notes
    -----
    The parts, for callers that judge each sensor elsewhere (in its own worker):
    :func:`standing_grid`, :func:`standing_mask` per sensor, :func:`windows_from_mask` of
    their ``&``.
    """
    grid = standing_grid(times)
    if grid is None:
        return []
    ok = np.ones(len(grid), bool)
    fix = acc_correction or {}

    def role_ok(r):  # per sensor (numpy releases the GIL: one thread each)
        return standing_mask(grid, times[r], acc[r], gyr[r], up_S[r], bias0[r], settings,
                             fix.get(r))

    from imu.workers import pool_map

    for r_ok in pool_map(role_ok, list(times)):
        ok &= r_ok
    return windows_from_mask(grid, ok, settings)


def standing_grid(times: dict) -> np.ndarray | None:
    """The grid (s, :data:`GRID_HZ`) over the time every sensor of ``times`` (role → sample
    times) covers, on which :func:`standing_mask` judges them; None when they share none."""
    roles = list(times)
    t0 = max(float(np.nanmin(times[r])) for r in roles)
    t1 = min(float(np.nanmax(times[r])) for r in roles)
    if not t1 > t0:
        return None
    from imu.timing import check_grid

    check_grid(t1 - t0, GRID_HZ, sum(len(times[r]) for r in roles))
    return np.arange(t0, t1, 1.0 / GRID_HZ)


def standing_mask(grid: np.ndarray, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray,
                  up_S: np.ndarray, bias0: np.ndarray,
                  settings: StandingSettings = StandingSettings(),
                  acc_correction=None) -> np.ndarray:
    """Whether one sensor is still and upright at each point of ``grid`` (bool, like it): the
    sample nearest each point (within 0.1 s) judged; arguments as :func:`standing_windows`
    for one role."""
    s = settings
    cos_up = np.cos(np.radians(s.upright_deg))
    t = np.asarray(t_s, float)
    rate = len(t) / max(t[-1] - t[0], 1e-9)
    b0 = np.asarray(bias0, float)
    g_in = np.asarray(gyr, float)
    acc, up = np.asarray(acc, float), np.asarray(up_S, float)
    bias = b0 if np.any(b0) else None
    w = max(1, int(round(s.smoothing_s * rate)))
    # the rate norms' running sums once; then a block of grid points at a time (the
    # temporaries stay in the cache): the sample nearest each point, its smoothed rate norm
    # (:func:`smoothed_rate_norm` there) and its specific force
    sums = rate_norm_sums(g_in, bias) if 1 < w <= len(g_in) else None
    ok = np.empty(len(grid), bool)
    for k0 in range(0, len(grid), _MASK_ROWS):
        gk = grid[k0:k0 + _MASK_ROWS]
        # a grid point counts if the nearest sample says so: only those samples are judged
        j = np.clip(np.searchsorted(t, gk), 1, len(t) - 1)
        j = np.where(np.abs(t[j - 1] - gk) < np.abs(t[j] - gk), j - 1, j)
        g = (rate_norm_at(*sums, w, j) if sums is not None
             else smoothed_rate_norm(g_in, rate, s.smoothing_s, at=j, bias=bias))
        o = ok[k0:k0 + _MASK_ROWS]
        np.less(np.abs(t[j] - gk), 0.1, out=o)
        o &= is_still(g, s.still_rad_s)
        a = acc[j]
        if acc_correction is not None:
            a = acc_correction(a)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = (a @ up) / row_norm(a)
        o &= c > cos_up
    return ok


#: grid points per block of :func:`standing_mask`
_MASK_ROWS = 8192


def windows_from_mask(grid: np.ndarray, ok: np.ndarray,
                      settings: StandingSettings = StandingSettings()) -> list:
    """The stretches ``[(t0, t1), ...]`` of :func:`standing_windows` from the ``&`` of every
    sensor's :func:`standing_mask` on ``grid``."""
    out = []
    for a, b in runs(ok):
        ta, tb = grid[a] + TRIM_S, grid[b - 1] - TRIM_S
        if tb - ta >= settings.min_s - 0.5:
            out.append((float(ta), float(tb)))
    return out


def track_gyro_bias(t_s: np.ndarray, gyr: np.ndarray, windows: list[tuple[float, float]],
                    bias0: np.ndarray, settings: StandingSettings = StandingSettings()) -> np.ndarray:
    """Gyro bias over time (N, 3) rad/s from its means over quiet-standing stretches.

    Each stretch gives a measurement whose uncertainty is the sway (``sway_deg`` / duration);
    the estimate at time t is their average weighted by the inverse of that uncertainty plus
    the bias random walk since the stretch (a kernel form of a random-walk smoother). Without
    any stretch, ``bias0`` everywhere.
    """
    t = np.asarray(t_s, float)
    g = np.asarray(gyr, float)
    curve = _bias_curve(t, g, windows, settings)
    if curve is None:
        return np.broadcast_to(np.asarray(bias0, float), g.shape).copy()
    tg, bg = curve
    out = np.empty((len(t), 3))
    for k in range(3):
        out[:, k] = np.interp(t, tg, bg[:, k])
    return out


def remove_gyro_bias(t_s: np.ndarray, gyr: np.ndarray, windows: list[tuple[float, float]],
                     bias0: np.ndarray, settings: StandingSettings = StandingSettings(), *,
                     in_place: bool = False) -> np.ndarray:
    """``gyr`` (N, 3) rad/s minus :func:`track_gyro_bias` (the same numbers), made a block of
    rows at a time (no array of the bias the length of the recording); ``in_place``: into
    ``gyr`` itself (a float64 array the caller owns)."""
    t = np.asarray(t_s, float)
    g = np.asarray(gyr, float)
    out = g if in_place else np.empty(g.shape)
    curve = _bias_curve(t, g, windows, settings)
    if curve is None:
        return np.subtract(g, np.asarray(bias0, float), out=out)
    tg, bg = curve
    for b0 in range(0, len(t), _BIAS_BLOCK_ROWS):
        b1 = min(len(t), b0 + _BIAS_BLOCK_ROWS)
        for k in range(3):
            np.subtract(g[b0:b1, k], np.interp(t[b0:b1], tg, bg[:, k]), out=out[b0:b1, k])
    return out


#: rows per block in :func:`remove_gyro_bias`
_BIAS_BLOCK_ROWS = 32768


def _bias_curve(t: np.ndarray, g: np.ndarray, windows, settings: StandingSettings):
    """``(tg, bg)``: the bias (M, 3) on a 1 s grid ``tg`` (M,) that :func:`track_gyro_bias`
    interpolates; None without any usable quiet-standing stretch."""
    s = settings
    tk, bk, rk = [], [], []
    from imu.fusion.batch import all_finite

    finite = all_finite(g)
    order_ok = len(t) < 2 or bool(np.all(t[1:] >= t[:-1]))  # (no array of the steps)
    if order_ok and len(windows) and finite:
        # every window's mean from one pass over the rows (sums between consecutive indices:
        # the even segments are the windows)
        ab = np.asarray(windows, dtype=float).reshape(-1, 2)
        i0, i1 = np.searchsorted(t, ab[:, 0]), np.searchsorted(t, ab[:, 1])
        cnt = i1 - i0
        use = cnt >= 10
        if use.any():
            idx = np.column_stack([i0[use], i1[use]]).ravel()
            tail = idx[-1] == len(g)  # the last window ends with the samples
            sums = np.add.reduceat(g, idx[:-1] if tail else idx, axis=0)[0::2]
            tk = list(0.5 * (ab[use, 0] + ab[use, 1]))
            bk = list(sums / cnt[use, None])
            rk = list((np.radians(s.sway_deg) / (ab[use, 1] - ab[use, 0])) ** 2)
        windows = []
    fin = None if finite or not len(windows) else np.all(np.isfinite(g), axis=1)
    for a, b in windows:
        if order_ok:
            i0, i1 = np.searchsorted(t, [a, b], side="left")
            gg = g[i0:i1] if fin is None else g[i0:i1][fin[i0:i1]]
        else:
            gg = g[(t >= a) & (t <= b) & (True if fin is None else fin)]
        if len(gg) < 10:
            continue
        tk.append(0.5 * (a + b))
        bk.append(gg.mean(axis=0))
        rk.append((np.radians(s.sway_deg) / (b - a)) ** 2)
    if tk:
        # outliers (a stretch that was not quiet after all) against the median of all stretches
        keep = np.degrees(np.linalg.norm(np.array(bk) - np.median(bk, axis=0), axis=1)) \
            <= s.max_jump_deg_s
        tk, bk, rk = (np.array(x)[keep] for x in (tk, bk, rk))
    if not len(tk):
        return None
    q = np.radians(s.bias_walk_deg_s_per_sqrt_s) ** 2
    # evaluate on a coarse grid (1 s) and interpolate: the bias is smooth
    tg = np.arange(t[0], t[-1] + 1.0, 1.0) if len(t) else t
    # w = 1 / (rk + q·|tg − tk|), a block of grid points at a time (in place, in the cache:
    # the whole would be grid points × stretches, ~10 MB of fresh memory for an hour)
    bg = np.empty((len(tg), 3))
    for i0 in range(0, len(tg), _CURVE_ROWS):
        w = np.subtract.outer(tg[i0:i0 + _CURVE_ROWS], tk)
        np.abs(w, out=w)
        w *= q
        w += rk[None, :]
        np.divide(1.0, w, out=w)
        np.divide(w @ bk, w.sum(axis=1, keepdims=True), out=bg[i0:i0 + _CURVE_ROWS])
    return tg, bg


#: grid points per block of the weights in :func:`_bias_curve`
_CURVE_ROWS = 256


class StandingBiasStream:
    """Streaming counterpart of :func:`track_gyro_bias` (causal, for live use).

    Each sensor's samples pass through :meth:`correct`, which returns the angular rate with the
    current bias estimate removed. Whenever every sensor has been still and upright for
    ``min_s`` (checked on each sensor's latest sample), each sensor's mean rate over that
    stretch updates its bias by a scalar Kalman step (random-walk process noise, sway-limited
    measurement noise); a measurement far from a converged estimate is ignored.

    Parameters
    ----------
    up_S : dict
        Role → the segment's vertical in the sensor frame (row 1 of ``R_BS``).
    rates_hz : dict
        Role → sample rate, Hz.
    prior_sigma_deg_s : float
        Uncertainty of the starting bias (0, or the intrinsic calibration's), deg/s.
    """

    def __init__(self, up_S: dict, rates_hz: dict, settings: StandingSettings = StandingSettings(),
                 prior_sigma_deg_s: float = 1.0):
        self.s = settings
        self.roles = list(up_S)
        self.up = {r: np.asarray(up_S[r], float) / np.linalg.norm(up_S[r]) for r in self.roles}
        self.bias = {r: np.zeros(3) for r in self.roles}
        self.var = {r: np.radians(prior_sigma_deg_s) ** 2 for r in self.roles}
        self._still = {r: StillStream(float(rates_hz[r]), settings.smoothing_s,
                                     settings.still_rad_s)
                       for r in self.roles}
        self._since = {r: None for r in self.roles}
        self._samples = {r: [] for r in self.roles}
        self._latest = {r: -np.inf for r in self.roles}
        self._t_meas = None
        self._cos_up = np.cos(np.radians(settings.upright_deg))

    def correct(self, role: str, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
        """Angular rate (n, 3) of one sensor's block with the bias removed (and learnt from)."""
        s = self.s
        out = np.empty_like(np.asarray(gyr, float))
        still = self._still[role]
        up = self.up[role]
        for i in range(len(t_s)):
            t = float(t_s[i])
            g = gyr[i]
            gc = g - self.bias[role]
            out[i] = gc
            still.update(float(np.sqrt(gc @ gc)))
            an = float(np.sqrt(acc[i] @ acc[i]))
            quiet = bool(still.still and an > 0 and (acc[i] @ up) / an > self._cos_up)
            if quiet:
                if self._since[role] is None:
                    self._since[role] = t
                    self._samples[role] = []
                self._samples[role].append((t, g))
            else:
                self._since[role] = None
                self._samples[role] = []
            self._latest[role] = t
            self._maybe_measure(t)
        return out

    def _maybe_measure(self, t_now: float) -> None:
        s = self.s
        if any(self._since[r] is None for r in self.roles):
            return
        T = max(self._since.values())
        if min(self._latest.values()) - T < s.min_s:
            return
        # 0.25 s trimmed at the start as in the batch, but not at the end: the stretch has not
        # ended yet. (The smoothed rate reveals a movement's onset a few tenths of a second
        # late, so a measurement just before a movement takes some of it in; waiting that
        # long before each measurement was tried and starves the tracker in sessions whose
        # pauses between reps are short: live pelvis rotation 0.9 -> 4.4 deg RMSE.)
        t0 = T + TRIM_S
        for r in self.roles:
            g = np.array([x for tk, x in self._samples[r] if tk >= t0])
            if len(g) < 10:
                continue
            m = g.mean(axis=0)
            d = max(self._latest[r] - t0, 1e-3)
            if self._t_meas is not None:
                self.var[r] += np.radians(s.bias_walk_deg_s_per_sqrt_s) ** 2 * (t_now - self._t_meas)
            converged = np.degrees(np.sqrt(self.var[r])) < 0.1
            if converged and np.degrees(np.linalg.norm(m - self.bias[r])) > s.max_jump_deg_s:
                continue
            rr = (np.radians(s.sway_deg) / d) ** 2
            k = self.var[r] / (self.var[r] + rr)
            self.bias[r] = self.bias[r] + k * (m - self.bias[r])
            self.var[r] = (1.0 - k) * self.var[r]
        self._t_meas = t_now
        for r in self.roles:  # the next measurement needs another full stretch
            self._since[r] = t_now
            self._samples[r] = []
