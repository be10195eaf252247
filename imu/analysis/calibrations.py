"""Which calibration is in force when: a session may be calibrated several times.

Each exercise set is analysed with the calibration in force when it was done: the most recent
accepted calibration that ended before it, else (a set before the first accepted one) the next
accepted one. A calibration given on the command line (``--calibration PROFILE``) or stored in
the recording without a calibration phase in the data applies to the whole session.

This module is plain bookkeeping over times; solving the calibrations is the ``calibration``
package's job (:class:`imu.chain.Calibrate` wires the two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from imu.types import AngleTable


@dataclass
class CalibrationUse:
    """One calibration of a session.

    Attributes
    ----------
    name : str
        Short name shown to people and in the JSON, e.g. ``"calibration 2 (232.0-262.4 s)"``,
        ``"profile p.json"``, ``"profile stored in the recording"``.
    source : str
        ``"session"`` (solved from the session's own protocol phase), ``"stored"`` (the profile
        stored in the recording) or ``"file"`` (``--calibration PROFILE``).
    window_s : (float, float) or None
        The calibration phase on the session clock (None: applies everywhere).
    profile : object or None
        The calibration profile; None when the calibration was refused.
    reason : str or None
        Why it was refused.
    """

    name: str
    source: str
    window_s: tuple[float, float] | None = None
    profile: object | None = None
    reason: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.profile is not None

    def to_json(self) -> dict:
        d = {"name": self.name, "source": self.source}
        if self.window_s is not None:
            d["start_s"] = _num(self.window_s[0])
            d["end_s"] = _num(self.window_s[1])
        d["accepted"] = self.accepted
        if self.reason:
            d["reason"] = self.reason
        created = getattr(self.profile, "created", None)
        if created:
            d["created"] = str(created)
        return d


def _num(x: float):
    return round(float(x), 3) if math.isfinite(x) else None


def in_force_index(t_s: float, cals: list[CalibrationUse]) -> int | None:
    """Index of the calibration in force at ``t_s`` (None if no calibration is accepted)."""
    acc = [k for k, c in enumerate(cals) if c.accepted]
    if not acc:
        return None
    everywhere = [k for k in acc if cals[k].window_s is None]
    if everywhere:
        return everywhere[-1]
    before = [k for k in acc if cals[k].window_s[1] <= t_s + 1e-9]
    if before:
        return max(before, key=lambda k: cals[k].window_s[1])
    return min(acc, key=lambda k: cals[k].window_s[0])


def in_force(time_s: np.ndarray, cals: list[CalibrationUse]) -> np.ndarray:
    """Index of the calibration in force at every time (``-1`` where none is), shape (N,)."""
    t = np.asarray(time_s, dtype=float)
    out = np.full(len(t), -1, dtype=int)
    acc = [k for k, c in enumerate(cals) if c.accepted]
    if not acc:
        return out
    first = in_force_index(-np.inf, cals)
    out[:] = first
    if cals[first].window_s is None:
        return out
    for k in sorted(acc, key=lambda k: cals[k].window_s[1]):
        out[t >= cals[k].window_s[1] - 1e-9] = k
    return out


def splice_angles(tables: dict[int, AngleTable], time_s: np.ndarray, which: np.ndarray
                  ) -> AngleTable:
    """One angle table whose row ``i`` comes from ``tables[which[i]]`` (all on the time base
    ``time_s``); rows with no calibration (``-1``) are NaN."""
    first = next(iter(tables.values()))
    cols = {c: np.full(len(time_s), np.nan) for c in first.columns}
    conf = {c: np.full(len(time_s), np.nan) for c in first.confidence}
    for k, tab in tables.items():
        m = which == k
        for c in cols:
            if c in tab.columns:
                cols[c][m] = np.asarray(tab.columns[c], dtype=float)[m]
        for c in conf:
            if c in tab.confidence:
                conf[c][m] = np.asarray(tab.confidence[c], dtype=float)[m]
    return AngleTable(np.asarray(time_s, dtype=float), cols, conf)
