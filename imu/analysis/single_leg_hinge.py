"""Single-leg hinge and internal-rotation hinge: reps on the stance hip (docs/metrics.md).

``side`` is the stance leg; the other leg is free. Both drills find reps by the hinge rule on
``h(t)``, the **stance** hip's flexion (an excursion more than ``rep_threshold_deg`` above the
rep's standing, bounded where it is back within ``return_band_deg``; standing as for every rep,
:mod:`imu.analysis.segmentation`). Changes "from standing" are against the median over the rep's
standing window, so a strap that moved since the calibration or a person who turned to face
another way does not show up as a fault.

**Single-leg hinge** (``docs/metrics.md``). Per rep: ``hip_flexion_peak_deg`` (stance hip),
``pelvis_tilt_peak_deg``, ``pelvis_opening_peak_deg`` (largest pelvis rotation toward the free
leg from standing: ``+pelvis_rotation`` when standing on the right leg, ``−`` on the left),
``pelvic_drop_max_deg`` (largest obliquity change toward the free-leg side: ``+obliquity`` when
the free leg is the right one), ``free_thigh_inclination_min_deg`` (the free thigh's lowest
inclination, negative = behind the hip; ``None`` without that thigh sensor),
``stance_thigh_inclination_peak_deg``, ``pelvis_share``, ``tempo_down_s``, ``tempo_up_s``, with a
trunk sensor ``lumbar_flexion_peak_deg``; faults ``pelvis_opening`` (> 8°), ``pelvic_drop``
(> 5°), ``squat_pattern`` (stance thigh inclination > 25°), ``lumbar_flexion`` (> 20°).

**Internal-rotation hinge**. Per rep: ``hip_flexion_peak_deg`` and
``hip_internal_rotation_peak_deg`` (stance hip, largest change from standing, + internal),
``pelvis_obliquity_range_deg``, ``pelvis_share``, tempos, with a trunk sensor
``lumbar_twist_peak_deg`` (largest |change| of ``lumbar_rotation``, the trunk's rotation relative
to the pelvis); faults ``no_internal_rotation`` (IR peak < 5°), ``lateral_shift`` (obliquity
range > 4°), ``lumbar_twist`` (> 10°).

Scores: the hinge's logic (:func:`imu.analysis.hinge.rep_score`) with each drill's own fault
penalties (settings ``single_leg_hinge.score_*`` / ``ir_hinge.score_*``).
"""

from __future__ import annotations

import numpy as np

from imu.analysis.base import Detector, first_finite, nanmax, nanmean, nanmin, nanrange, num
from imu.analysis.hinge import rep_score, with_hip_flexion
from imu.analysis.segmentation import ExcursionSegmenter, Segment

#: fault -> plain-language phrase (report, summary, dashboard).
SLH_FAULTS = {
    "pelvis_opening": "the pelvis opened toward the free leg",
    "pelvic_drop": "the pelvis dropped on the free-leg side",
    "squat_pattern": "the stance knee went forward (a squat, not a hinge)",
    "lumbar_flexion": "the lower back rounded",
}
IRH_FAULTS = {
    "no_internal_rotation": "the hip did not turn in",
    "lateral_shift": "the pelvis shifted sideways",
    "lumbar_twist": "the lower back twisted instead of the hip",
}


def _other(side: str) -> str:
    return "left" if side == "right" else "right"


class _OneLegHinge(Detector):
    """Shared part: stance side, the stance-hip rep segmenter, rep core fields."""

    kind = "reps"
    section = ""
    #: derived columns after ``h`` and ``pelvis_tilt`` (subclasses)
    extra: list[str] = []

    def __init__(self, settings, side, columns, set_start_s):
        name = self.exercise.replace("_", " ")
        if side not in ("left", "right"):
            raise ValueError(f"{name} needs the stance side ('left' or 'right')")
        self.stored = ["h", "pelvis_tilt"] + self.extra
        super().__init__(settings, side, columns, set_start_s)
        if f"{side}_hip_flexion" not in self.columns:
            raise ValueError(f"{name} on the {side} leg needs the {side} thigh sensor")
        self.free = _other(side)
        self.has_trunk = "lumbar_flexion" in self.columns
        s = settings.section(self.section)
        self.s = s
        self.seg = ExcursionSegmenter(self.buf, "h", s["rep_threshold_deg"], s["return_band_deg"],
                                      baseline_window_s=s["baseline_window_s"],
                                      quiet_range_deg=s["quiet_range_deg"],
                                      baseline_lookback_s=s["baseline_lookback_s"],
                                      two_sided=False, min_rep_s=s["min_rep_s"],
                                      set_start_s=set_start_s)

    def live_state(self) -> dict:
        return with_hip_flexion(self, super().live_state())

    def _core(self, seg: Segment) -> dict:
        a, b = seg.start, seg.end + 1
        t = self.buf.t(a, b)
        h = self.buf.col("h", a, b)
        tilt = self.buf.col("pelvis_tilt", a, b)
        k = seg.peak - seg.start
        h_peak, tilt_peak = nanmax(h), nanmax(tilt)
        denom = h_peak - first_finite(h)
        share = (tilt_peak - first_finite(tilt)) / denom if abs(denom) > 1e-6 else np.nan
        return {
            "start_s": num(seg.start_s),
            "end_s": num(seg.end_s),
            "peak_s": num(t[k]),
            "side": self.side,
            "hip_flexion_peak_deg": num(h_peak),
            "pelvis_tilt_peak_deg": num(tilt_peak),
            "pelvis_share": num(share),
            "tempo_down_s": num(t[k] - t[0]),
            "tempo_up_s": num(t[-1] - t[k]),
            "standing_hip_flexion_deg": num(seg.standing),
            "standing_source": seg.standing_source,
        }

    def _change(self, column: str, seg: Segment) -> np.ndarray:
        """``column`` over the rep minus its standing value."""
        return self.buf.col(column, seg.start, seg.end + 1) - self.seg.standing_of(column, seg.start)

    def _penalties(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _finish(self, rep: dict, faults: list[str]) -> dict:
        rep["faults"] = faults
        rep["score"] = rep_score(rep, self.s, self._penalties())
        return rep

    def set_fields(self) -> dict:
        reps = self.results
        if not reps:
            return {"summary": {"reps": 0}}
        out = {
            "reps": len(reps),
            "mean_score": num(np.mean([r["score"] for r in reps])),
            "mean_hip_flexion_peak_deg": num(nanmean([r["hip_flexion_peak_deg"] for r in reps])),
            "reps_with_faults": sum(1 for r in reps if r["faults"]),
        }
        out.update(self._summary(reps))
        return {"summary": out}

    def _summary(self, reps) -> dict:
        return {}


def _over(rep: dict, key: str, limit: float) -> bool:
    v = rep.get(key)
    return v is not None and v > limit


class SingleLegHingeDetector(_OneLegHinge):
    """Streaming single-leg-hinge rep detector. ``side`` = stance leg (required, instrumented)."""

    exercise = "single_leg_hinge"
    section = "single_leg_hinge"
    extra = ["opening", "drop", "stance_incl", "free_incl", "lumbar_flexion"]

    def _derive(self, row, confidence):
        sgn_open = 1.0 if self.side == "right" else -1.0  # toward the free leg
        sgn_drop = -sgn_open                              # the free-leg side lower
        return [self._get(row, f"{self.side}_hip_flexion"), self._get(row, "pelvis_tilt"),
                sgn_open * self._get(row, "pelvis_rotation"),
                sgn_drop * self._get(row, "pelvis_obliquity"),
                self._get(row, f"{self.side}_thigh_inclination"),
                self._get(row, f"{_other(self.side)}_thigh_inclination"),
                self._get(row, "lumbar_flexion")]

    def _measure(self, seg: Segment) -> dict:
        a, b = seg.start, seg.end + 1
        rep = self._core(seg)
        free_incl = self.buf.col("free_incl", a, b)
        rep.update({
            "pelvis_opening_peak_deg": num(nanmax(self._change("opening", seg))),
            "pelvic_drop_max_deg": num(nanmax(self._change("drop", seg))),
            "free_thigh_inclination_min_deg": num(nanmin(free_incl)),
            "stance_thigh_inclination_peak_deg": num(nanmax(self.buf.col("stance_incl", a, b))),
        })
        if self.has_trunk:
            lum = self.buf.col("lumbar_flexion", a, b)
            rep["lumbar_flexion_peak_deg"] = num(nanmax(lum) - first_finite(lum))
        s = self.s
        faults = []
        if _over(rep, "pelvis_opening_peak_deg", s["opening_deg"]):
            faults.append("pelvis_opening")
        if _over(rep, "pelvic_drop_max_deg", s["drop_deg"]):
            faults.append("pelvic_drop")
        if _over(rep, "stance_thigh_inclination_peak_deg", s["squat_inclination_deg"]):
            faults.append("squat_pattern")
        if _over(rep, "lumbar_flexion_peak_deg", s["lumbar_flexion_deg"]):
            faults.append("lumbar_flexion")
        return self._finish(rep, faults)

    def _penalties(self) -> dict:
        s = self.s
        return {"pelvis_opening": s["score_opening_penalty"], "pelvic_drop": s["score_drop_penalty"],
                "squat_pattern": s["score_squat_penalty"], "lumbar_flexion": s["score_lumbar_penalty"]}

    def _summary(self, reps) -> dict:
        return {"max_pelvis_opening_deg": num(nanmax([r["pelvis_opening_peak_deg"] for r in reps
                                                      if r["pelvis_opening_peak_deg"] is not None])),
                "max_pelvic_drop_deg": num(nanmax([r["pelvic_drop_max_deg"] for r in reps
                                                   if r["pelvic_drop_max_deg"] is not None]))}


class IrHingeDetector(_OneLegHinge):
    """Streaming internal-rotation-hinge rep detector. ``side`` = stance leg (required,
    instrumented)."""

    exercise = "ir_hinge"
    section = "ir_hinge"
    extra = ["ir", "pelvis_obliquity", "lumbar_rotation"]

    def _derive(self, row, confidence):
        return [self._get(row, f"{self.side}_hip_flexion"), self._get(row, "pelvis_tilt"),
                self._get(row, f"{self.side}_hip_rotation"), self._get(row, "pelvis_obliquity"),
                self._get(row, "lumbar_rotation")]

    def _measure(self, seg: Segment) -> dict:
        a, b = seg.start, seg.end + 1
        rep = self._core(seg)
        rep.update({
            "hip_internal_rotation_peak_deg": num(nanmax(self._change("ir", seg))),
            "standing_hip_rotation_deg": num(self.seg.standing_of("ir", seg.start)),
            "pelvis_obliquity_range_deg": num(nanrange(self.buf.col("pelvis_obliquity", a, b))),
        })
        has_twist = "lumbar_rotation" in self.columns
        if has_twist:
            rep["lumbar_twist_peak_deg"] = num(nanmax(np.abs(self._change("lumbar_rotation", seg))))
        s = self.s
        faults = []
        ir = rep["hip_internal_rotation_peak_deg"]
        if ir is not None and ir < s["min_internal_rotation_deg"]:
            faults.append("no_internal_rotation")
        if _over(rep, "pelvis_obliquity_range_deg", s["shift_range_deg"]):
            faults.append("lateral_shift")
        if _over(rep, "lumbar_twist_peak_deg", s["lumbar_twist_deg"]):
            faults.append("lumbar_twist")
        return self._finish(rep, faults)

    def _penalties(self) -> dict:
        s = self.s
        return {"no_internal_rotation": s["score_no_rotation_penalty"],
                "lateral_shift": s["score_shift_penalty"], "lumbar_twist": s["score_twist_penalty"]}

    def _summary(self, reps) -> dict:
        return {"max_internal_rotation_deg": num(nanmax(
            [r["hip_internal_rotation_peak_deg"] for r in reps
             if r["hip_internal_rotation_peak_deg"] is not None]))}
