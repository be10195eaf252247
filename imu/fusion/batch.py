"""Batch fusion of a whole recording, with start-up alignment and gap handling."""

from __future__ import annotations

import numpy as np

from imu.fusion.registry import DEFAULT_FILTER, make_filter

#: a timestamp step longer than this many nominal sample periods is a gap that restarts the filter
GAP_SAMPLES = 5


def tilt_quat(acc: np.ndarray) -> np.ndarray:
    """Quaternion(s) of the smallest rotation that turns the measured specific force to +z.

    Parameters
    ----------
    acc : ndarray, shape (3,) or (N, 3)
        Specific force (gravity reaction) in the sensor frame, any unit.

    Returns
    -------
    ndarray, shape (4,) or (N, 4)
        ``q_ES`` with zero z component (heading of the shortest arc), ``w, x, y, z``.
    """
    a = np.asarray(acc, dtype=float)
    n = np.linalg.norm(a, axis=-1, keepdims=True)
    a = a / np.where(n > 0, n, 1.0)
    # q = normalize([1 + a·z, a × z]) ; a × z = (a_y, -a_x, 0)
    w = 1.0 + a[..., 2]
    q = np.stack([w, a[..., 1], -a[..., 0], np.zeros_like(w)], axis=-1)
    qn = np.linalg.norm(q, axis=-1, keepdims=True)
    flip = qn[..., 0] < 1e-9  # upside down: 180° about x
    q = q / np.where(qn > 1e-9, qn, 1.0)
    if np.ndim(flip) == 0:
        return np.array([0.0, 1.0, 0.0, 0.0]) if flip else q
    q[flip] = [0.0, 1.0, 0.0, 0.0]
    return q


def initial_quat(acc: np.ndarray, rate_hz: float, window_s: float = 0.1) -> np.ndarray:
    """Start orientation from the mean specific force of the first ``window_s`` seconds.

    Returns ``q_ES`` (4,): inclination from the accelerometer, heading zero (shortest arc).
    """
    acc = np.asarray(acc, dtype=float).reshape(-1, 3)
    if len(acc) == 0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    m = max(1, int(round(window_s * rate_hz)))
    a = np.nanmean(acc[:m], axis=0)
    if not np.all(np.isfinite(a)) or np.linalg.norm(a) == 0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    return tilt_quat(a)


def heading_part(q: np.ndarray) -> np.ndarray:
    """The rotation about earth z in ``q = q_z ⊗ q_xy`` (q_xy about a horizontal axis)."""
    q = np.asarray(q, dtype=float)
    h = np.stack([q[..., 0], np.zeros_like(q[..., 0]), np.zeros_like(q[..., 0]), q[..., 3]], -1)
    n = np.linalg.norm(h, axis=-1, keepdims=True)
    return h / np.where(n > 0, n, 1.0)


def split_at_gaps(t_s: np.ndarray, rate_hz: float, gap_samples: float = GAP_SAMPLES):
    """Split sample indices into contiguous runs and count the steps of short dropouts.

    Parameters
    ----------
    t_s : ndarray, shape (N,)
        Sample times, seconds (one clock).
    rate_hz : float
        Nominal sample rate, Hz.
    gap_samples : float
        A step longer than ``gap_samples`` nominal periods ends a run (a gap).

    Returns
    -------
    runs : list of (start, stop)
        Index ranges of contiguous runs (stop exclusive).
    steps : ndarray, shape (N,), int
        Number of nominal periods each sample stands for inside its run (1 normally; k when
        k−1 samples were dropped just before it). The first sample of a run has 1.
    """
    t = np.asarray(t_s, dtype=float)
    n = len(t)
    steps = np.ones(n, dtype=np.int64)
    if n < 2:
        return ([(0, n)] if n else []), steps
    dt = np.diff(t) * rate_hz
    brk = np.flatnonzero(~(dt <= gap_samples))  # NaN and backwards steps also break
    brk = brk[np.isfinite(dt[brk]) | True]
    bounds = np.concatenate([[0], brk + 1, [n]])
    runs = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    k = np.rint(dt).astype(np.int64, copy=False) if np.all(np.isfinite(dt)) else \
        np.rint(np.nan_to_num(dt, nan=1.0)).astype(np.int64)
    k = np.clip(k, 1, int(gap_samples))
    steps[1:] = k
    steps[bounds[:-1]] = 1
    return runs, steps


def fuse(acc: np.ndarray, gyr: np.ndarray, rate_hz: float, name: str = DEFAULT_FILTER,
         t_s: np.ndarray | None = None, gap_samples: float = GAP_SAMPLES,
         init: bool = True, **settings) -> np.ndarray:
    """Orientation of one sensor over a whole recording (batch path).

    Parameters
    ----------
    acc : ndarray, shape (N, 3)
        Specific force, sensor frame, m/s².
    gyr : ndarray, shape (N, 3)
        Angular rate, sensor frame, rad/s.
    rate_hz : float
        Nominal sample rate, Hz.
    name : str
        Filter name (see :data:`imu.fusion.FILTERS`).
    t_s : ndarray, shape (N,), optional
        Sample times, seconds. Without it the samples are taken as evenly spaced.
    gap_samples : float
        With ``t_s``: a step longer than this many sample periods is a gap.
    init : bool
        Start from the accelerometer's inclination (mean of the first 0.1 s) instead of
        identity, so the output is right from the first sample.
    **settings
        Filter settings (see :func:`imu.fusion.make_filter`).

    Returns
    -------
    ndarray, shape (N, 4)
        ``q_ES`` after each sample, ``w, x, y, z``.

    Notes
    -----
    Gaps (with ``t_s``):

    - A short dropout (up to ``gap_samples`` periods) is bridged by holding the next measured
      sample for the missing periods, so the integrated rotation over the dropout comes from the
      measured rate, not from nothing.
    - A longer gap restarts the integration: the filter starts again at the inclination of the
      accelerometer after the gap, keeps its gyro-bias estimate, and continues the heading of
      the last estimate before the gap (the heading over a gap is unknowable in 6D; no motion is
      invented). The returned array has one row per input sample; time bases with NaN rows
      inside gaps come from :func:`imu.timing.resample_quat`.

    The streaming path gives the same numbers: ``make_filter(name, rate_hz, **settings)``, then
    ``f.reset(initial_quat(acc, rate_hz))`` and ``f.update(acc[i], gyr[i])`` per sample.
    """
    acc = np.ascontiguousarray(acc, dtype=np.float64).reshape(-1, 3)
    gyr = np.ascontiguousarray(gyr, dtype=np.float64).reshape(-1, 3)
    if acc.shape != gyr.shape:
        raise ValueError(f"acc {acc.shape} and gyr {gyr.shape} differ in shape")
    n = len(acc)
    f = make_filter(name, rate_hz, **settings)
    out = np.empty((n, 4))
    if n == 0:
        return out
    if t_s is None:
        runs, steps = [(0, n)], None
    else:
        t_s = np.asarray(t_s, dtype=float).reshape(-1)
        if len(t_s) != n:
            raise ValueError(f"t_s has {len(t_s)} samples, acc/gyr {n}")
        runs, steps = split_at_gaps(t_s, rate_hz, gap_samples)
    prev_q = None
    for a, b in runs:
        if init or prev_q is not None:
            q0 = initial_quat(acc[a:b], rate_hz)
            if prev_q is not None:
                from imu.quat import multiply
                q0 = multiply(heading_part(prev_q), q0)
            f.reset(q0)
        if steps is None or np.all(steps[a:b] == 1):
            out[a:b] = f.update_block(acc[a:b], gyr[a:b])
        else:
            idx = np.repeat(np.arange(a, b), steps[a:b])
            qq = f.update_block(acc[idx], gyr[idx])
            last = np.cumsum(steps[a:b]) - 1
            out[a:b] = qq[last]
        prev_q = out[b - 1]
    return out
