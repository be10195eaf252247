"""Hip airplane: stance-hip rotation reps, rotation peaks, obliquity leak, confidence (SPEC §5).

``side`` is the stance leg and ``r(t)`` its hip rotation (+ internal). A rep is an excursion of
``|r - standing|`` beyond ``airplane.rep_threshold_deg`` (10°), bounded where ``r`` is back within
``airplane.return_band_deg`` (3°) of standing; one rep is one open + close cycle, reps are
separated by returns to neutral. Per rep: ``hip_internal_rotation_peak_deg`` (max r),
``hip_external_rotation_peak_deg`` (max -r, a positive magnitude), ``obliquity_leak_deg`` (the
largest change of pelvis obliquity from its value at the start) and ``confidence`` (0..1): the
lowest heading-hold confidence of the stance hip's rotation angle over the rep, as reported by
the angle table (6D sensors drift in heading, so rotation about the vertical is the least
certain angle); ``confidence_source`` says where it came from (``"none"`` when the angle table
carries no confidence, e.g. exact simulator angles; the value is then 1).
"""

from __future__ import annotations

import numpy as np

from imu.analysis.base import Detector, first_finite, nanmax, nanmean, nanmin, num
from imu.analysis.segmentation import ExcursionSegmenter, Segment


class AirplaneDetector(Detector):
    """Streaming hip-airplane rep detector. ``side`` = stance leg (required, instrumented)."""

    exercise = "hip_airplane"
    kind = "reps"
    stored = ["r", "pelvis_obliquity", "pelvis_rotation", "conf"]

    def __init__(self, settings, side, columns, set_start_s):
        if side not in ("left", "right"):
            raise ValueError("hip airplane needs the stance side ('left' or 'right')")
        super().__init__(settings, side, columns, set_start_s)
        if f"{side}_hip_rotation" not in self.columns:
            raise ValueError(f"hip airplane on the {side} leg needs the {side} thigh sensor")
        s = settings.section("airplane")
        self.s = s
        self.rot_col = f"{side}_hip_rotation"
        self.conf_source = "none"
        self.seg = ExcursionSegmenter(self.buf, "r", s["rep_threshold_deg"], s["return_band_deg"],
                                      baseline_window_s=s["baseline_window_s"], two_sided=True,
                                      min_rep_s=s["min_rep_s"], set_start_s=set_start_s,
                                      min_neutral_s=s["min_neutral_s"])

    def _derive(self, row, confidence):
        c = confidence.get(self.rot_col)
        if c is None:
            c = confidence.get("pelvis_rotation")
            if c is not None and self.conf_source == "none":
                self.conf_source = "pelvis_rotation"
        elif self.conf_source != self.rot_col:
            self.conf_source = self.rot_col
        return [self._get(row, self.rot_col), self._get(row, "pelvis_obliquity"),
                self._get(row, "pelvis_rotation"), np.nan if c is None else float(c)]

    def live_state(self) -> dict:
        st = super().live_state()
        if len(self.buf):
            st["hip_rotation_deg"] = float(self.buf.value("r", self.buf.n_total - 1))
        return st

    def _measure(self, seg: Segment) -> dict:
        a, b = seg.start, seg.end + 1
        r = self.buf.col("r", a, b)
        obl = self.buf.col("pelvis_obliquity", a, b)
        conf = self.buf.col("conf", a, b)
        t = self.buf.t(a, b)
        c = nanmin(conf)
        return {
            "start_s": num(seg.start_s),
            "end_s": num(seg.end_s),
            "peak_s": num(t[seg.peak - a]),
            "side": self.side,
            "hip_internal_rotation_peak_deg": num(nanmax(r)),
            "hip_external_rotation_peak_deg": num(nanmax(-r)),
            "standing_hip_rotation_deg": num(seg.standing),
            "obliquity_leak_deg": num(nanmax(np.abs(obl - first_finite(obl)))),
            "pelvis_rotation_range_deg": num(nanmax(self.buf.col("pelvis_rotation", a, b))
                                             - nanmin(self.buf.col("pelvis_rotation", a, b))),
            "confidence": num(c if np.isfinite(c) else 1.0),
            "mean_confidence": num(nanmean(conf) if np.isfinite(c) else 1.0),
            "confidence_source": self.conf_source,
            "low_confidence": bool(np.isfinite(c) and c < self.s["low_confidence"]),
            "faults": [],
        }

    def set_fields(self) -> dict:
        reps = self.results
        out = {"reps": len(reps)}
        if reps:
            out["max_internal_rotation_deg"] = num(nanmax([r["hip_internal_rotation_peak_deg"] for r in reps]))
            out["max_external_rotation_deg"] = num(nanmax([r["hip_external_rotation_peak_deg"] for r in reps]))
            out["max_obliquity_leak_deg"] = num(nanmax([r["obliquity_leak_deg"] for r in reps]))
            out["min_confidence"] = num(nanmin([r["confidence"] for r in reps]))
        return {"summary": out}
