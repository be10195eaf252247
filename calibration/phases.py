"""Automatic detection of the docs/calibration.md calibration protocol phases in a session.

The protocol: (1) 5 s quiet standing; (2) 3 slow hip hinges; (3) 2 s still, then 3 forward/back
leg swings with each instrumented leg; (4) 2 s still.

Detection works on the angular rate alone, on a common 50 Hz grid: each sensor's rate norm
(its rough bias removed, 0.5 s moving average) says who moves. Stretches where every sensor is
still separate *activity windows*; a window belongs to the sensor that dominates it (the sacrum
for hinges, one thigh for its swings). ``calibration_start``/``calibration_end`` events narrow
the search when present; without them the first occurrence of the pattern is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.kinematics.heading import runs
from imu.kinematics.still import STILL_RAD_S, is_still, smoothed_rate_norm
from imu.types import Session, role_side

GRID_HZ = 50.0


@dataclass
class PhaseSettings:
    """Thresholds of the phase detector (rad/s, seconds)."""

    still_rad_s: float = STILL_RAD_S  # every sensor below: still (imu.kinematics.still)
    active_rad_s: float = 0.25      # the dominant sensor above: moving on purpose
    dominance: float = 1.5          # dominant sensor's activity / the next one's
    min_standing_s: float = 3.0     # shortest usable quiet standing (5 s asked for)
    min_still_s: float = 1.0        # shortest still pause between phases (2 s asked for)
    max_gap_in_phase_s: float = 3.0  # pauses inside the hinges / swings shorter than this merge


@dataclass
class Phases:
    """Time windows (session clock, seconds) of the protocol phases that were found.

    ``swings`` maps a thigh role to its window. Missing phases are ``None`` / absent.
    """

    window: tuple[float, float]
    standing: tuple[float, float] | None = None
    hinges: tuple[float, float] | None = None
    still_before_swings: tuple[float, float] | None = None
    swings: dict[str, tuple[float, float]] = field(default_factory=dict)
    still_end: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        d = {"window": list(self.window)}
        for k in ("standing", "hinges", "still_before_swings", "still_end"):
            v = getattr(self, k)
            d[k] = None if v is None else [float(v[0]), float(v[1])]
        d["swings"] = {r: [float(a), float(b)] for r, (a, b) in self.swings.items()}
        return d


def in_order(t: np.ndarray) -> bool:
    """Whether the times ``t`` (N,) never go back (NaN: not in order)."""
    return len(t) < 2 or bool(np.all(t[1:] >= t[:-1]))  # (no array of the steps)


def rows_between(t: np.ndarray, lo: float, hi: float, ordered: bool | None = None):
    """The rows of ``t`` (N,) with ``lo <= t <= hi``: a slice when the times are in order
    (``ordered``, else :func:`in_order` finds out; two binary searches instead of a pass over
    every sample), else a boolean mask (N,). The same rows either way."""
    if not (in_order(t) if ordered is None else ordered):
        return (t >= lo) & (t <= hi)
    i0 = int(np.searchsorted(t, lo, "left"))
    return slice(i0, max(i0, int(np.searchsorted(t, hi, "right"))))


def row_count(rows) -> int:
    """How many rows :func:`rows_between` picked."""
    return rows.stop - rows.start if isinstance(rows, slice) else int(np.count_nonzero(rows))


def activity(session: Session, roles, t0: float, t1: float, times: dict | None = None):
    """Per-role activity (bias-free angular-rate norm, rad/s) on a 50 Hz grid over [t0, t1].

    Returns ``(grid_s, {role: (M,)})``.
    """
    from imu.timing import check_grid

    check_grid(t1 - t0, GRID_HZ, sum(len(session.sensors[r]) for r in roles))
    grid = np.arange(t0, t1, 1.0 / GRID_HZ)
    act = {}
    for role in roles:
        d = session.sensors[role]
        t = np.asarray(times[role] if times else d.t_host_s, dtype=float)
        sel = rows_between(t, t0 - 1.0, t1 + 1.0)
        t, g = t[sel], np.asarray(d.gyr, dtype=float)[sel]
        if len(t) < 2:
            act[role] = np.full(len(grid), np.nan)
            continue
        norm = np.linalg.norm(g, axis=1)
        quiet = norm <= np.nanpercentile(norm, 20)
        bias = np.median(g[quiet], axis=0) if quiet.sum() > 10 else np.zeros(3)
        rate = len(t) / max(t[-1] - t[0], 1e-9)
        n = smoothed_rate_norm(g - bias, rate, 0.5)
        a = np.interp(grid, t, n)
        # samples far from any measurement are unknown
        j = np.searchsorted(t, grid)
        near = np.minimum(np.abs(grid - t[np.clip(j - 1, 0, len(t) - 1)]),
                          np.abs(t[np.clip(j, 0, len(t) - 1)] - grid))
        a[near > 0.2] = np.nan
        act[role] = a
    return grid, act


def calibration_window(session: Session) -> tuple[float, float]:
    """Where to look: between calibration events if present, else from the start to the first
    set start (or the end of the session)."""
    from imu.session.validate import roles_in_use

    # the sensors in use (one with too few samples is left out); NaN times are no start or end
    spans = [session.sensors[r].host_span_s() for r in roles_in_use(session, session.roles)]
    spans = [sp for sp in spans if np.isfinite(sp[0])] or [
        session.sensors[r].host_span_s() for r in session.roles if len(session.sensors[r])]
    if not spans:
        return 0.0, 0.0
    t0, t1 = max(sp[0] for sp in spans), min(sp[1] for sp in spans)
    ev = sorted(session.events, key=lambda e: e.t_s)
    cs = [e.t_s for e in ev if e.kind == "calibration_start"]
    if cs:
        ce = [e.t_s for e in ev if e.kind == "calibration_end" and e.t_s > cs[0]]
        return max(t0, cs[0]), min(t1, ce[0]) if ce else t1
    ss = [e.t_s for e in ev if e.kind == "set_start" and e.t_s > t0]
    return t0, min(t1, ss[0]) if ss else t1


def detect_phases(session: Session, settings: PhaseSettings = PhaseSettings(),
                  times: dict | None = None) -> Phases:
    """Find the protocol phases. Phases that are not found stay ``None``/absent.

    Parameters
    ----------
    session : Session
    settings : PhaseSettings
    times : dict, optional
        Role → sample times on the session clock (default: host receive times).
    """
    s = settings
    from imu.session.validate import roles_in_use

    roles = roles_in_use(session, [r for r in session.roles
                                   if r in ("sacrum", "right_thigh", "left_thigh")])
    thighs = [r for r in roles if role_side(r)]
    w0, w1 = calibration_window(session)
    ph = Phases(window=(w0, w1))
    if "sacrum" not in roles or w1 - w0 < s.min_standing_s:
        return ph
    grid, act = activity(session, roles, w0, w1, times)
    A = np.stack([act[r] for r in roles])  # (R, M)
    with np.errstate(invalid="ignore"):
        still = np.all(is_still(A, s.still_rad_s), axis=0)
    dt = 1.0 / GRID_HZ
    still_runs = [(a, b) for a, b in runs(still) if (b - a) * dt >= s.min_still_s]
    # 1. quiet standing: the first still stretch long enough
    stand = next(((a, b) for a, b in still_runs if (b - a) * dt >= s.min_standing_s), None)
    if stand is None:
        return ph
    ph.standing = (float(grid[stand[0]]), float(grid[stand[1] - 1]))

    # activity windows between still stretches, after standing, labelled by the dominant sensor
    owner = _dominant(A, roles, s)
    windows = [(a, b, roles[k]) for a, b, k in _windows(owner, still_runs, stand[1], len(grid))]

    def first_block(label, start):
        """Merge consecutive windows owned by ``label`` from the first one at/after ``start``."""
        idx = [k for k, w in enumerate(windows) if w[2] == label and w[0] >= start]
        if not idx:
            return None
        k = idx[0]
        a, b = windows[k][0], windows[k][1]
        for j in range(k + 1, len(windows)):
            if windows[j][2] != label or (windows[j][0] - b) * dt > s.max_gap_in_phase_s:
                break
            b = windows[j][1]
        return a, b

    hin = first_block("sacrum", stand[1])
    if hin is None:
        return ph
    ph.hinges = (float(grid[hin[0]]), float(grid[hin[1] - 1]))
    after = hin[1]
    pause = next(((a, b) for a, b in still_runs if a >= after - 1), None)
    if pause is not None:
        ph.still_before_swings = (float(grid[pause[0]]), float(grid[pause[1] - 1]))
    last_end = after
    for role in thighs:
        blk = first_block(role, after)
        if blk is not None:
            ph.swings[role] = (float(grid[blk[0]]), float(grid[blk[1] - 1]))
            last_end = max(last_end, blk[1])
    if ph.swings:
        fin = next(((a, b) for a, b in still_runs if a >= last_end - 1), None)
        if fin is not None:
            ph.still_end = (float(grid[fin[0]]), float(grid[fin[1] - 1]))
    return ph


def _dominant(A: np.ndarray, roles: list[str], s: PhaseSettings) -> np.ndarray:
    """Per grid sample: index of the dominant active role, or -1."""
    with np.errstate(invalid="ignore"):
        B = np.nan_to_num(A, nan=0.0)
        order = np.argsort(-B, axis=0)
        top = order[0]
        first = np.take_along_axis(B, order[:1], 0)[0]
        second = np.take_along_axis(B, order[1:2], 0)[0] if len(roles) > 1 else np.zeros_like(first)
        ok = (first > s.active_rad_s) & (first > s.dominance * second)
    return np.where(ok, top, -1)


def _windows(owner: np.ndarray, still_runs, start: int, n: int):
    """Activity windows ``(a, b, role_label)`` between still stretches after ``start``."""
    bounds = [(a, b) for a, b in still_runs if b > start]
    edges = [start] + [x for a, b in bounds for x in (a, b)] + [n]
    out = []
    for a, b in zip(edges[0::2], edges[1::2]):
        if b <= a:
            continue
        lab = owner[a:b]
        lab = lab[lab >= 0]
        if len(lab) < 0.2 * GRID_HZ:
            continue
        out.append((a, b, int(np.bincount(lab).argmax())))
    return out
