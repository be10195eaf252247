"""Walking: strides from hip-flexion peaks, per-stride and per-side metrics (docs/metrics.md "Walking").

A stride of one leg runs from one hip-flexion peak of that leg (late swing, just before its
heel strike) to the next. Peaks are found causally with a hysteresis (a peak is confirmed once
the flexion has fallen ``walking.peak_hysteresis_deg`` below it), so the live dashboard and the
batch analysis see the same strides. A stride counts when it lasts ``walking.min_stride_s`` to
``walking.max_stride_s`` and its flexion range reaches ``walking.min_range_deg``.

Per stride (``side`` = the leg): ``start_s``, ``end_s``, ``stride_time_s``,
``cadence_steps_per_min`` (two steps a stride),
``hip_flexion_peak_deg`` (max flexion), ``hip_extension_peak_deg`` (max extension, positive
behind neutral: ``-min(flexion)``), ``hip_flexion_range_deg``, ``pelvic_obliquity_range_deg``
and ``pelvic_drop_deg`` over that leg's stance (the first ``walking.stance_fraction`` of the
stride after its heel strike; the drop is positive when the pelvis drops on the other, swinging
side, the sign of docs/angles.md and single-leg stance, measured from the stride's mean obliquity),
``pelvis_tilt_range_deg``, ``pelvis_rotation_range_deg`` over the stride.

Per bout (set fields): ``cadence_steps_per_min`` (two steps a stride, from the median stride
time), ``strides_per_side``, ``sides`` (per side the medians of the stride metrics) and
``symmetry``: for stride time, hip flexion range and pelvic drop the right-minus-left difference
and the symmetry index ``100·(R − L)/((R + L)/2)`` (%).

Walking in a session without set events is found by :mod:`imu.analysis.recognition` (the
``walking`` label); its bouts are then analysed by :class:`WalkingDetector`.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from imu.analysis.base import NAN, Detector, nanmedian, num
from imu.analysis.settings import Settings

STRIDE_FIELDS = ("stride_time_s", "hip_flexion_peak_deg", "hip_extension_peak_deg",
                 "hip_flexion_range_deg", "pelvic_obliquity_range_deg", "pelvic_drop_deg",
                 "pelvis_tilt_range_deg", "pelvis_rotation_range_deg")


def drop_sign(stance_side: str) -> float:
    """Pelvic drop = sign · pelvis_obliquity, positive when the side opposite the stance leg
    drops (docs/angles.md: on the left leg, the right side drops ⇒ obliquity > 0, drop > 0)."""
    return 1.0 if stance_side == "left" else -1.0


class PeakTracker:
    """Causal hysteresis peak detector of one signal (degrees).

    :meth:`step` returns the index and value of a peak when it is confirmed (the signal has
    fallen ``hysteresis`` below it after rising ``hysteresis`` above the last trough).
    """

    def __init__(self, hysteresis: float):
        self.h = float(hysteresis)
        self.rising = True
        self.best = -math.inf
        self.best_i = -1
        self.low = math.inf

    def step(self, i: int, x: float):
        if not math.isfinite(x):
            return None
        if self.rising:
            if x > self.best:
                self.best, self.best_i = x, i
            if x < self.best - self.h and self.best > self.low + self.h:
                peak = (self.best_i, self.best)
                self.rising, self.low = False, x
                return peak
            self.low = min(self.low, x)
        else:
            if x < self.low:
                self.low = x
            if x > self.low + self.h:
                self.rising, self.best, self.best_i = True, x, i
        return None


class WalkingDetector(Detector):
    """Strides of a walking set (both instrumented legs), fed one angle row at a time."""

    exercise = "walking"
    kind = "strides"

    def __init__(self, settings: Settings, side: str | None, columns, set_start_s: float):
        super().__init__(settings, side, columns, set_start_s)
        if not self.sides:
            raise ValueError("walking needs at least one thigh sensor (no hip angle columns)")
        s = settings
        self.h = float(s["walking.peak_hysteresis_deg"])
        self.min_s = float(s["walking.min_stride_s"])
        self.max_s = float(s["walking.max_stride_s"])
        self.min_range = float(s["walking.min_range_deg"])
        self.stance_frac = float(s["walking.stance_fraction"])
        self._t: list[float] = []
        self._cols = {c: [] for c in ("pelvis_tilt", "pelvis_obliquity", "pelvis_rotation")}
        for side_ in self.sides:
            self._cols[f"{side_}_hip_flexion"] = []
        self._track = {sd: PeakTracker(self.h) for sd in self.sides}
        self._last_peak: dict[str, int | None] = {sd: None for sd in self.sides}
        self._offset = 0  # absolute index of self._t[0]
        self.strides: list[dict] = []

    def update(self, t_s: float, row: Mapping[str, float],
               confidence: Mapping[str, float] | None = None) -> list[dict]:
        t_s = float(t_s)
        self.t_last_s = t_s
        i = self._offset + len(self._t)
        self._t.append(t_s)
        for c, buf in self._cols.items():
            buf.append(self._get(row, c))
        out = []
        for sd in self.sides:
            pk = self._track[sd].step(i, self._cols[f"{sd}_hip_flexion"][-1])
            if pk is None:
                continue
            prev, self._last_peak[sd] = self._last_peak[sd], pk[0]
            if prev is not None:
                r = self._stride(sd, prev, pk[0])
                if r is not None:
                    out.append(self._number(r))
        if len(self._t) > 4096:
            self._trim()
        return out

    def finish(self) -> list[dict]:
        return []

    def _trim(self) -> None:
        keep = min([p for p in self._last_peak.values() if p is not None] or
                   [self._offset + len(self._t) - 1])
        keep = max(self._offset, min(keep, self._offset + len(self._t) - 2048))
        k = keep - self._offset
        if k > 0:
            del self._t[:k]
            for buf in self._cols.values():
                del buf[:k]
            self._offset = keep

    def _slice(self, name: str, a: int, b: int) -> np.ndarray:
        return np.asarray(self._cols[name][a - self._offset:b - self._offset + 1], dtype=float)

    def _stride(self, side: str, a: int, b: int) -> dict | None:
        t = np.asarray(self._t[a - self._offset:b - self._offset + 1])
        if len(t) < 3:
            return None
        dur = float(t[-1] - t[0])
        flex = self._slice(f"{side}_hip_flexion", a, b)
        ok = np.isfinite(flex)
        # rows the stride should have: a gap is NaN rows in a recording's table but no rows
        # at all live (rows come at the sacrum's samples), so count by time, not by rows
        dt = float(np.median(np.diff(t)))
        k = np.rint((t - t[0]) / dt)                   # each row's place on a uniform grid
        if not (self.min_s <= dur <= self.max_s) or ok.sum() < 0.8 * max(len(flex), k[-1] + 1):
            return None
        hi, lo = float(np.nanmax(flex)), float(np.nanmin(flex))
        if hi - lo < self.min_range:
            return None
        obl = self._slice("pelvis_obliquity", a, b)
        n_st = max(2, int(round(self.stance_frac * (k[-1] + 1))))
        st = obl[k < n_st]                             # the stance: by time, not by rows
        ref = float(np.nanmean(obl)) if np.isfinite(obl).any() else NAN
        drop = drop_sign(side) * (st - ref)
        with np.errstate(invalid="ignore"):
            rng = lambda x: float(np.nanmax(x) - np.nanmin(x)) if np.isfinite(x).any() else NAN
            drop_max = float(np.nanmax(drop)) if np.isfinite(drop).any() else NAN
        r = {"side": side, "start_s": float(t[0]), "end_s": float(t[-1]), "stride_time_s": dur,
             "cadence_steps_per_min": 120.0 / dur,
             "hip_flexion_peak_deg": hi, "hip_extension_peak_deg": -lo,
             "hip_flexion_range_deg": hi - lo,
             "pelvic_obliquity_range_deg": rng(st), "pelvic_drop_deg": drop_max,
             "pelvis_tilt_range_deg": rng(self._slice("pelvis_tilt", a, b)),
             "pelvis_rotation_range_deg": rng(self._slice("pelvis_rotation", a, b))}
        return {k: (num(v) if isinstance(v, float) else v) for k, v in r.items()}

    def set_fields(self) -> dict:
        return bout_summary(self.results)

    def live_state(self) -> dict:
        last = self.results[-1] if self.results else None
        return {"in_rep": False, "count": len(self.results),
                "strides": {sd: sum(1 for r in self.results if r["side"] == sd)
                            for sd in self.sides},
                "last_stride": last}


def _si(r: float, l_: float) -> float:
    m = 0.5 * (r + l_)
    return 100.0 * (r - l_) / m if m and np.isfinite(m) and abs(m) > 1e-9 else NAN


def bout_summary(strides: list[dict]) -> dict:
    """Per-bout fields from its strides: cadence, counts, per-side medians, symmetry."""
    out: dict = {"strides_per_side": {}, "sides": {}}
    med = {}
    for sd in ("right", "left"):
        rs = [r for r in strides if r.get("side") == sd]
        if not rs:
            continue
        out["strides_per_side"][sd] = len(rs)
        m = {f: nanmedian([np.nan if r.get(f) is None else r[f] for r in rs])
             for f in STRIDE_FIELDS}
        med[sd] = m
        out["sides"][sd] = {f: num(v) for f, v in m.items()}
    times = [r["stride_time_s"] for r in strides if r.get("stride_time_s")]
    st = nanmedian(times) if times else NAN
    out["cadence_steps_per_min"] = num(120.0 / st) if st and np.isfinite(st) else None
    out["stride_time_median_s"] = num(st)
    if len(med) == 2:
        sym = {}
        for f in ("stride_time_s", "hip_flexion_range_deg", "pelvic_drop_deg",
                  "pelvic_obliquity_range_deg"):
            r_, l_ = med["right"][f], med["left"][f]
            sym[f] = {"right_minus_left": num(r_ - l_), "index_pct": num(_si(r_, l_))}
        out["symmetry"] = sym
    return out

