"""Squat and split squat: reps on hip flexion, knee-collapse proxy per side (docs/metrics.md).

A rep is found exactly as a hinge rep, on ``h(t)`` = the mean of the instrumented sides' hip
flexion. At the time of the rep's peak flexion, per instrumented side::

    collapse_index_<side> = Δ<side>_hip_adduction + w · Δ<side>_hip_rotation

where Δ is the change against the rep's standing value (median over the window before the rep,
i.e. against the person's own calibrated neutral) and ``w`` is ``squat.rotation_weight`` (0.5).
A side whose index exceeds ``squat.collapse_threshold_deg`` (8°) flags ``knee_collapse``; the
rep also lists which sides in ``collapse_sides``.
"""

from __future__ import annotations

import numpy as np

from imu.analysis.base import Detector, nanmax, nanmean, num
from imu.analysis.segmentation import ExcursionSegmenter, Segment

FAULTS = {"knee_collapse": "the knee caved in"}


class SquatDetector(Detector):
    """Streaming squat / split-squat rep detector."""

    exercise = "squat"
    kind = "reps"

    def __init__(self, settings, side, columns, set_start_s):
        from imu.analysis.base import sides_in
        sides = sides_in(columns)
        self.stored = ["h"] + [f"{s}_{c}" for s in sides
                               for c in ("hip_flexion", "hip_adduction", "hip_rotation")]
        super().__init__(settings, side, columns, set_start_s)
        s = settings.section("squat")
        self.s = s
        self.seg = ExcursionSegmenter(self.buf, "h", s["rep_threshold_deg"], s["return_band_deg"],
                                      baseline_window_s=s["baseline_window_s"],
                                      quiet_range_deg=s["quiet_range_deg"],
                                      baseline_lookback_s=s["baseline_lookback_s"], two_sided=False,
                                      min_rep_s=s["min_rep_s"], set_start_s=set_start_s)

    def _derive(self, row, confidence):
        return [self._side_mean(row, "hip_flexion")] + [self._get(row, c) for c in self.stored[1:]]

    def _near(self, column: str, i: int, max_s: float = 0.5) -> float:
        """``column`` at sample ``i``, or at the nearest sample with a value within ``max_s``
        (the side may be in a short gap at the moment of peak flexion); NaN if none."""
        t_i = self.buf.time_at(i)
        a = self.buf.index_at_or_after(t_i - max_s)
        b = self.buf.index_at_or_after(t_i + max_s + 1e-9)
        x = self.buf.col(column, a, b)
        ok = np.flatnonzero(np.isfinite(x))
        if not len(ok):
            return float("nan")
        return float(x[ok[np.argmin(np.abs(a + ok - i))]])

    def _measure(self, seg: Segment) -> dict:
        a, b = seg.start, seg.end + 1
        t = self.buf.t(a, b)
        h = self.buf.col("h", a, b)
        w = self.s["rotation_weight"]
        rep = {"start_s": num(seg.start_s), "end_s": num(seg.end_s), "peak_s": num(t[seg.peak - a]),
               "hip_flexion_peak_deg": num(nanmax(h)),
               "standing_hip_flexion_deg": num(seg.standing),
               "standing_source": seg.standing_source}
        faults, collapse_sides = [], []
        for side in self.sides:
            add = self._near(f"{side}_hip_adduction", seg.peak)
            rot = self._near(f"{side}_hip_rotation", seg.peak)
            add0 = self.seg.standing_of(f"{side}_hip_adduction", seg.start)
            rot0 = self.seg.standing_of(f"{side}_hip_rotation", seg.start)
            ci = (add - add0) + w * (rot - rot0)
            rep[f"hip_flexion_peak_{side}_deg"] = num(nanmax(self.buf.col(f"{side}_hip_flexion", a, b)))
            rep[f"collapse_index_{side}"] = num(ci)
            if ci > self.s["collapse_threshold_deg"]:
                collapse_sides.append(side)
        if collapse_sides:
            faults.append("knee_collapse")
        rep["collapse_sides"] = collapse_sides
        rep["faults"] = faults
        return rep

    def set_fields(self) -> dict:
        reps = self.results
        out = {"reps": len(reps), "reps_with_faults": sum(1 for r in reps if r["faults"])}
        if reps:
            out["mean_hip_flexion_peak_deg"] = num(nanmean([r["hip_flexion_peak_deg"] for r in reps]))
            for side in self.sides:
                vals = [r.get(f"collapse_index_{side}") for r in reps]
                out[f"max_collapse_index_{side}"] = num(nanmax([v for v in vals if v is not None]))
        return {"summary": out}
