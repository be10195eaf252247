"""The streaming detector interface shared by every exercise.

A detector analyses one set of one exercise. It is fed one angle row at a time::

    det = make_detector("hinge", settings, side=None, columns=table.names(), set_start_s=t0)
    for t, row in rows:
        for rep in det.update(t, row):      # newly completed reps / holds (plain dicts)
            ...
    tail = det.finish()                      # whatever completes at the end of the set
    fields = det.set_fields()                # set-level metrics (posture) and a summary

The live dashboard and the batch analysis (:func:`imu.analysis.analyze_angles`) run the very same
objects, so they give the same reps by construction. Rows are ``dict[str, float]`` keyed by SPEC
§6 angle column names (degrees); a missing key or NaN is a gap.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from imu.analysis.segmentation import SampleBuffer
from imu.analysis.settings import Settings
from imu.types import SIDES

NAN = float("nan")


def num(x) -> float | None:
    """A JSON-friendly float: ``None`` for NaN/inf, else rounded to 3 decimals."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return round(x, 3)


def _finite_reduce(x, reduce) -> float:
    """``reduce`` over the finite values of ``x``; NaN when there are none."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(reduce(x)) if len(x) else NAN


def nanmean(x: np.ndarray) -> float:
    return _finite_reduce(x, np.mean)


def nanmedian(x: np.ndarray) -> float:
    return _finite_reduce(x, np.median)


def nanmax(x: np.ndarray) -> float:
    return _finite_reduce(x, np.max)


def nanmin(x: np.ndarray) -> float:
    return _finite_reduce(x, np.min)


def nanrange(x: np.ndarray) -> float:
    return nanmax(x) - nanmin(x)


def first_finite(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    ok = np.flatnonzero(np.isfinite(x))
    return float(x[ok[0]]) if len(ok) else NAN


def sides_in(columns) -> list[str]:
    """Instrumented sides (those with a ``<side>_hip_flexion`` column), SPEC order."""
    cols = set(columns)
    return [s for s in SIDES if f"{s}_hip_flexion" in cols]


class Detector:
    """Base class: owns a :class:`SampleBuffer` of derived columns and one segmenter.

    Subclasses define ``exercise``, ``kind`` (``"reps"``, ``"holds"`` or ``"none"``),
    :meth:`_derive` (row -> stored values), :meth:`_measure` (segment -> result dict) and build
    ``self.seg`` in ``__init__``.

    Parameters
    ----------
    settings : Settings
    side : str or None
        ``"left"``/``"right"`` where the exercise has one (single-leg work: the stance leg).
    columns : list of str
        The angle columns the session has (decides which sides are instrumented).
    set_start_s : float
        Time the set starts (seconds).
    """

    exercise = ""
    kind = "reps"
    stored: list[str] = []

    def __init__(self, settings: Settings, side: str | None, columns, set_start_s: float):
        self.settings = settings
        self.side = side
        self.columns = list(columns)
        self.sides = sides_in(self.columns)
        self.set_start_s = float(set_start_s)
        self.buf = SampleBuffer(self.stored)
        self.seg = None
        self.results: list[dict] = []
        self.t_last_s = NAN
        self._trim_every = 256
        self._n = 0
        self._offsets: dict[str, list[float]] = {}

    # -- interface -----------------------------------------------------------------------------
    def update(self, t_s: float, row: Mapping[str, float],
               confidence: Mapping[str, float] | None = None) -> list[dict]:
        """Feed one angle row (degrees) at time ``t_s``; returns newly completed reps/holds."""
        t_s = float(t_s)
        self.t_last_s = t_s
        vals = self._derive(row, confidence or {})
        i = self.buf.append(t_s, vals)
        self._n += 1
        out = []
        seg = None
        if self.seg is not None:
            k = self._seg_col
            seg = self.seg.step(i, None if k is None else vals[k], t_s)
        if seg is not None:
            r = self._measure(seg)
            if r is not None:
                out.append(self._number(r))
        if self._n % self._trim_every == 0:
            self.buf.drop_before(self.keep_from())
        return out

    def finish(self) -> list[dict]:
        """End of the set; returns reps/holds completed by it."""
        out = []
        seg = self.seg.finish() if self.seg is not None else None
        if seg is not None:
            r = self._measure(seg)
            if r is not None:
                out.append(self._number(r))
        return out

    def set_fields(self) -> dict:
        """Set-level fields added to the set's JSON (summary, posture metrics)."""
        return {}

    @property
    def preroll_s(self) -> float:
        """Seconds before the set's start the detector wants to see (the rep baseline search);
        rows before ``set_start_s`` are stored, never segmented. 0 for holds and posture."""
        lookback = getattr(self.seg, "baseline_lookback_s", None)  # segmenters that search it
        return float(lookback) + 0.5 if self.kind == "reps" and lookback is not None else 0.0

    def live_state(self) -> dict:
        """What the dashboard may show right now (signal values, whether a rep is under way)."""
        return {"in_rep": bool(getattr(self.seg, "active", False)), "count": len(self.results)}

    # -- helpers -------------------------------------------------------------------------------
    @property
    def _seg_col(self) -> int | None:
        """Index of the segmented signal in :meth:`_derive`'s values (None: no signal)."""
        col = getattr(self.seg, "column", None)
        if col is None:
            return None
        idx = self.__dict__.get("_seg_col_cache")
        if idx is None:
            idx = self.stored.index(col)
            self.__dict__["_seg_col_cache"] = idx
        return idx

    def keep_from(self) -> int:
        return self.seg.keep_from if self.seg is not None else self.buf.offset

    def _number(self, r: dict) -> dict:
        self.results.append(r)
        r = {"index": len(self.results), **r}
        self.results[-1] = r
        return r

    def _get(self, row: Mapping[str, float], name: str) -> float:
        v = row.get(name)
        return NAN if v is None else float(v)

    def _side_mean(self, row: Mapping[str, float], suffix: str) -> float:
        """Mean of the instrumented sides' ``<side>_<suffix>``.

        While one side is in a gap (a thigh sensor's link outage), the mean is carried by the
        other side minus its last known offset from the mean, so a split squat (front hip at
        100°, back hip at 5°) does not jump to one leg's value for the length of the gap.
        """
        vals = [row.get(s + "_" + suffix) for s in self.sides]
        ok = [v is not None and v == v for v in vals]
        offsets = self._offsets.setdefault(suffix, [NAN] * len(vals))
        if all(ok):
            m = sum(vals) / len(vals)
            for k, v in enumerate(vals):
                offsets[k] = v - m
            return m
        est = [vals[k] - offsets[k] for k in range(len(vals)) if ok[k] and offsets[k] == offsets[k]]
        return sum(est) / len(est) if est else NAN

    def _derive(self, row, confidence) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _measure(self, seg) -> dict | None:  # pragma: no cover - abstract
        raise NotImplementedError
