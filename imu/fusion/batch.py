"""Batch fusion of a whole recording, with start-up alignment and gap handling."""

from __future__ import annotations

import numpy as np

from imu.fusion.registry import DEFAULT_FILTER, make_filter
from imu.quat import multiply, rotate

#: dropouts up to this long (s) are bridged inside the filter; longer gaps restart it
MAX_BRIDGE_S = 0.25


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


def initial_quat(acc: np.ndarray, rate_hz: float = 0.0, window_s: float = 0.0) -> np.ndarray:
    """Start orientation from the specific force of the first sample (or the mean of the first
    ``window_s`` seconds).

    The default, one sample, is causal, so the streaming path (:class:`TimedFilter`) starts
    exactly as the batch path; accelerometer noise of a consumer part moves a single sample's
    inclination by a few hundredths of a degree.

    Returns ``q_ES`` (4,): inclination from the accelerometer, heading zero (shortest arc).
    """
    acc = np.asarray(acc, dtype=float).reshape(-1, 3)
    m = max(1, int(round(window_s * rate_hz)))
    k = m  # look only as far as the first m finite rows (a run is long)
    while True:
        head = acc[:k][np.all(np.isfinite(acc[:k]), axis=1)]
        if len(head) >= m or k >= len(acc):
            break
        k = 4 * k + 64
    acc = head
    if len(acc) == 0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    a = np.mean(acc[:m], axis=0)
    if not np.all(np.isfinite(a)) or np.linalg.norm(a) == 0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    return tilt_quat(a)


def heading_part(q: np.ndarray) -> np.ndarray:
    """The rotation about earth z in ``q = q_z ⊗ q_xy`` (q_xy about a horizontal axis)."""
    q = np.asarray(q, dtype=float)
    h = np.stack([q[..., 0], np.zeros_like(q[..., 0]), np.zeros_like(q[..., 0]), q[..., 3]], -1)
    n = np.linalg.norm(h, axis=-1, keepdims=True)
    return h / np.where(n > 0, n, 1.0)


def _z_quat(angle_rad) -> np.ndarray:
    """Rotation about earth +z by ``angle_rad`` (``w, x, y, z``)."""
    return np.array([np.cos(0.5 * angle_rad), 0.0, 0.0, np.sin(0.5 * angle_rad)])


#: a heading axis is usable while its horizontal part is at least this long (unit axis)
_MIN_HORIZONTAL = 0.5


def restart_quat(acc: np.ndarray, prev_q: np.ndarray | None,
                 heading_axes_S: np.ndarray | None = None) -> np.ndarray:
    """Where a (re)started run begins: the accelerometer's inclination (first sample) and the
    heading of the last estimate before the gap (``prev_q``; heading zero if None).

    Parameters
    ----------
    acc : ndarray, shape (n, 3)
        Specific force after the gap (the first row is used), sensor frame.
    prev_q : ndarray, shape (4,), optional
        Last ``q_ES`` before the gap.
    heading_axes_S : ndarray, shape (k, 3) or (3,), optional
        Sensor-frame axes, in order of preference, whose heading (direction of the horizontal
        part, about earth z) is carried across the gap: the first axis that is far enough from
        vertical (horizontal part ≥ 0.5) both before and after the gap. The pipeline passes the
        segment's mediolateral axis first: flexion, the usual motion during a gap, turns the
        segment about that axis, so its heading is unchanged by it. Without axes (or when none
        qualifies) the heading part of ``prev_q`` in ``q = q_z ⊗ q_tilt`` is kept, which depends
        on how the sensor is mounted: a sensor that tilts during the gap comes back with a
        heading error of up to the tilt.

    Returns
    -------
    ndarray, shape (4,)
        ``q_ES`` to restart from.
    """
    q0 = initial_quat(acc)
    if prev_q is None or not np.all(np.isfinite(prev_q)):
        return q0
    if heading_axes_S is not None:
        for ax in np.asarray(heading_axes_S, dtype=float).reshape(-1, 3):
            v0 = rotate(prev_q, ax)
            v1 = rotate(q0, ax)
            n0, n1 = np.hypot(v0[0], v0[1]), np.hypot(v1[0], v1[1])
            norm = np.linalg.norm(ax)
            if norm > 0 and min(n0, n1) >= _MIN_HORIZONTAL * norm:
                turn = np.arctan2(v0[1], v0[0]) - np.arctan2(v1[1], v1[0])
                return multiply(_z_quat(turn), q0)
    return multiply(heading_part(prev_q), q0)


def finite_rows(*arrays) -> np.ndarray | None:
    """None when every value of ``arrays`` (each (N,) or (N, k), None skipped) is finite (one
    flat pass each, the usual case), else the (N,) mask of rows finite in all of them."""
    arrays = [np.asarray(x) for x in arrays if x is not None]
    if all_finite(*arrays):
        return None
    good = np.ones(len(arrays[0]), bool)
    for x in arrays:
        f = np.isfinite(x)
        good &= f.all(axis=1) if f.ndim > 1 else f
    return good


def all_finite(*arrays) -> bool:
    """Whether every value of ``arrays`` (None skipped) is finite: from each one's sum where
    that is finite (a NaN or an infinity makes the sum NaN or infinite; one pass, no
    temporary), else value by value (a sum of finite values may overflow)."""
    for x in arrays:
        if x is None:
            continue
        x = np.asarray(x, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.add.reduce(x, axis=None)):
                continue
        if not np.isfinite(x).all():
            return False
    return True


def split_at_gaps(t_s: np.ndarray, rate_hz: float, max_bridge_s: float = MAX_BRIDGE_S):
    """Split samples into runs at gaps, and place each sample on its run's sample grid.

    Parameters
    ----------
    t_s : ndarray, shape (N,)
        Sample times, seconds (one clock).
    rate_hz : float
        Nominal sample rate, Hz.
    max_bridge_s : float
        A step longer than this (or a step backwards, or a non-finite time) ends a run.

    Returns
    -------
    runs : list of (start, stop)
        Index ranges of runs (stop exclusive).
    pos : ndarray, shape (N,), int
        Each sample's position on the nominal-period grid of its run (0 for a run's first
        sample; consecutive samples differ by 1 unless samples were dropped in between).
    """
    t = np.asarray(t_s, dtype=float)
    n = len(t)
    if n < 2:
        return ([(0, n)] if n else []), np.zeros(n, dtype=np.int64)
    dt = np.diff(t)
    ok = dt > 0  # (one mask, made in place)
    ok &= dt <= max(max_bridge_s, 1.5 / rate_hz)
    brk = np.flatnonzero(np.logical_not(ok, out=ok))
    bounds = np.concatenate([[0], brk + 1, [n]])
    runs = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    # periods per step (at least one), then their running count: two arrays the length of the
    # samples, made in place (a step that is not finite or not forward ends a run, so its
    # count, zeroed below, does not matter)
    dt *= rate_hz
    np.rint(dt, out=dt)
    np.fmax(dt, 1.0, out=dt)
    pos = np.empty(n, dtype=np.int64)
    pos[0] = 0
    with np.errstate(invalid="ignore"):
        pos[1:] = dt
    pos[bounds[:-1]] = 0
    np.cumsum(pos, out=pos)
    for a, b in runs[1:]:  # each run counts from its first sample
        pos[a:b] -= pos[a]
    return runs, pos


def _fill_dropouts(pos: np.ndarray, *xs: np.ndarray, room=None) -> tuple:
    """Samples (n, 3) at grid positions ``pos`` → (pos[-1] + 1, 3) each, dropouts filled by
    linear interpolation between the samples either side (where the dropouts are is worked
    out once for every array of ``xs``). ``room``: for each of ``xs``, an array (m, 3) whose
    first n rows are that array itself (or None): where m ≥ pos[-1] + 1 the samples are filled
    there in place (moved up to their positions, the last first: no new array)."""
    # the samples go to their positions as they are; only the missing positions are
    # interpolated, with np.interp's arithmetic (so the numbers are np.interp's)
    n_out = int(pos[-1]) + 1
    if n_out == len(pos):  # nothing missing
        return xs
    # the samples between dropouts are copied block by block (a few memcpy), not scattered
    jumps = np.flatnonzero(np.diff(pos) > 1)  # sample jumps[k] is followed by a dropout
    blocks = list(zip(np.concatenate([[0], jumps + 1]).tolist(),
                      np.concatenate([jumps + 1, [len(pos)]]).tolist()))
    have = np.zeros(n_out, bool)
    have[pos] = True
    g = np.flatnonzero(~have)
    j = np.searchsorted(pos, g, side="right") - 1
    span = (pos[j + 1] - pos[j])[:, None]
    into = (g - pos[j])[:, None]
    outs = []
    for k, x in enumerate(xs):
        buf = None if room is None else room[k]
        if _holds(buf, x, n_out):  # in place: each block moves up (rows as one flat run each,
            # so an overlapping move is numpy's backward copy, not a temporary)
            out, flat = buf[:n_out], buf.reshape(-1)
            w = x.shape[1]
            for a, b in reversed(blocks):
                if pos[a] != a:
                    flat[w * int(pos[a]):w * (int(pos[a]) + b - a)] = flat[w * a:w * b]
            left, right = out[pos[j]], out[pos[j + 1]]
        else:
            out = np.empty((n_out, x.shape[1]))
            for a, b in blocks:
                out[pos[a]:pos[a] + (b - a)] = x[a:b]
            left, right = x[j], x[j + 1]
        if len(g):
            slope = (right - left) / span
            out[g] = slope * into + left
        outs.append(out)
    return tuple(outs)


def _holds(buf, x: np.ndarray, rows: int) -> bool:
    """Whether ``buf`` (or None) is a C-contiguous float64 array of at least ``rows`` rows
    whose first rows are ``x`` itself."""
    return (isinstance(buf, np.ndarray) and buf.dtype == np.float64 and buf.flags.c_contiguous
            and buf.flags.writeable and buf.ndim == 2 and buf.shape[1:] == x.shape[1:]
            and len(buf) >= rows and x.flags.c_contiguous
            and x.__array_interface__["data"][0] == buf.__array_interface__["data"][0])


def fuse(acc: np.ndarray, gyr: np.ndarray, rate_hz: float, name: str = DEFAULT_FILTER,
         t_s: np.ndarray | None = None, max_bridge_s: float = MAX_BRIDGE_S,
         init: bool = True, heading_axes_S: np.ndarray | None = None,
         causal: bool = True, restarts_out: list | None = None, return_index: bool = False,
         room=None, **settings):
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
    max_bridge_s : float
        With ``t_s``: dropouts up to this long are bridged, longer gaps restart the filter.
    init : bool
        Start from the accelerometer's inclination (first sample) instead of identity, so
        the output is right from the first sample.
    heading_axes_S : ndarray, shape (k, 3), optional
        Sensor-frame axes whose heading a restart after a long gap carries across it (see
        :func:`restart_quat`); the angle pipeline passes the segment's mediolateral axis.
    causal : bool
        True (the default here): the streaming filter's estimate, each sample from the samples
        up to it (what the live view shows). False: the non-causal estimate of a recording
        (:mod:`imu.fusion.offline`: vqf's ``offlineVQF``, or a forward–backward smoother for
        the other filters), run per gap-free run with the same gap handling and time base.
    restarts_out : list, optional
        With ``t_s``: receives the time (s) of the first sample of every run after the first,
        where the filter restarted after a gap.
    return_index : bool
        Return ``(q_rows, index)`` instead, where the result is ``q_rows[index]`` (``index``
        None: ``q_rows`` itself): with dropouts bridged, the filter's rows on its sample grid
        and each sample's row, without the gathered copy (a caller that looks rows up anyway,
        such as resampling, maps its indices through ``index``).
    room : tuple of two ndarrays, optional
        Arrays (M, 3) whose first N rows are ``acc`` and ``gyr`` themselves (M ≥ N, e.g.
        from :func:`imu.kinematics.pipeline.corrected_samples` with ``rows``): the non-causal
        estimate of a recording without long gaps bridges its dropouts there, in place, when M
        rows are enough, instead of in new arrays; ``acc`` and ``gyr`` may then be
        overwritten (the filter's working values go in ``acc``'s rows once read).
    **settings
        Filter settings (see :func:`imu.fusion.make_filter`).

    Returns
    -------
    ndarray, shape (N, 4)
        ``q_ES`` after each sample, ``w, x, y, z``. Rows whose input is not finite are NaN
        (the sample counts as dropped).

    Notes
    -----
    Gaps (with ``t_s``):

    - A dropout up to ``max_bridge_s`` (lost BLE notifications) is bridged inside the filter:
      its missing periods are fed the linear interpolation of the measured samples on either
      side, so the rotation over the dropout comes from the measured rates at its ends. No
      output row is made for the missing samples (resampling leaves them NaN).
    - A longer gap restarts the integration: the filter starts again at the inclination of the
      accelerometer after the gap, keeps its gyro-bias estimate, and continues the heading of
      the last estimate before the gap (of ``heading_axes_S`` when given) (the heading over a gap is unknowable in 6D; no motion is
      invented). The returned array has one row per input sample; time bases with NaN rows
      inside gaps come from :func:`imu.timing.resample_quat`.

    The streaming path gives the same numbers: :class:`imu.fusion.TimedFilter` (with
    timestamps, same gap handling), or without gaps ``make_filter(name, rate_hz, **settings)``,
    ``f.reset(initial_quat(acc))`` and ``f.update(acc[i], gyr[i])`` per sample.
    """
    acc = np.ascontiguousarray(acc, dtype=np.float64).reshape(-1, 3)
    gyr = np.ascontiguousarray(gyr, dtype=np.float64).reshape(-1, 3)
    if acc.shape != gyr.shape:
        raise ValueError(f"acc {acc.shape} and gyr {gyr.shape} differ in shape")
    n = len(acc)
    if t_s is not None:
        t_s = np.asarray(t_s, dtype=float).reshape(-1)
        if len(t_s) != n:
            raise ValueError(f"t_s has {len(t_s)} samples, acc/gyr {n}")
    good = finite_rows(acc, gyr, t_s)
    if good is not None:  # a damaged sample is a dropped one: NaN out, bridged or a gap inside
        t = np.arange(n) / float(rate_hz) if t_s is None else t_s
        out = np.full((n, 4), np.nan)
        out[good] = fuse(acc[good], gyr[good], rate_hz, name=name, t_s=t[good],
                         max_bridge_s=max_bridge_s, init=init, heading_axes_S=heading_axes_S,
                         causal=causal, restarts_out=restarts_out, **settings)
        return (out, None) if return_index else out
    f = make_filter(name, rate_hz, **settings)  # also checks the name and settings
    if not causal:
        from imu.fusion.offline import offline_run
    out = np.empty((n, 4))
    if n == 0:
        return (out, None) if return_index else out
    if t_s is None:
        runs, pos = [(0, n)], None
    else:
        runs, pos = split_at_gaps(t_s, rate_hz, max_bridge_s)
        if restarts_out is not None:
            restarts_out.extend(float(t_s[a]) for a, _ in runs[1:])
    if not causal and len(runs) == 1:  # one run: its estimate is the result (no copy)
        q0 = restart_quat(acc, None, heading_axes_S)
        if pos is None or pos[-1] == n - 1:
            q = np.asarray(offline_run(name, rate_hz, acc, gyr, q0,
                                       overwrite_acc=room is not None, **settings), dtype=float)
            return (q, None) if return_index else q
        qq = offline_run(name, rate_hz, *_fill_dropouts(pos, acc, gyr, room=room), q0,
                         overwrite_acc=room is not None, **settings)
        return (qq, pos) if return_index else np.take(qq, pos, axis=0)
    prev_q = None
    for a, b in runs:
        if causal:
            if init or prev_q is not None:
                f.reset(restart_quat(acc[a:b], prev_q, heading_axes_S))
            run = f.update_block
        else:  # each run on its own; its heading continues the last estimate before the gap
            q0 = restart_quat(acc[a:b], prev_q, heading_axes_S)
            def run(x, y, q0=q0):
                return offline_run(name, rate_hz, x, y, q0, **settings)
        if pos is None or pos[b - 1] == b - 1 - a:
            out[a:b] = run(acc[a:b], gyr[a:b])
        else:
            p = pos[a:b]
            qq = run(*_fill_dropouts(p, acc[a:b], gyr[a:b]))
            np.take(qq, p, axis=0, out=out[a:b])
        prev_q = out[b - 1]
    return (out, None) if return_index else out
