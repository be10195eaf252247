"""Hip hinge: reps, peaks, pelvis share, tempo, faults and a 0-100 score (docs/metrics.md).

The segmented signal is ``h(t)``, the mean of the instrumented sides' hip flexion. Per rep
(``docs/metrics.md``): ``hip_flexion_peak_deg`` (max h), ``pelvis_tilt_peak_deg`` (max tilt),
``thigh_inclination_peak_deg`` (max of the sides' mean inclination), ``pelvis_share`` (tilt
excursion / flexion excursion from the rep's start), ``pelvis_rotation_range_deg``,
``pelvis_obliquity_range_deg``, ``tempo_down_s``, ``tempo_up_s``, ``faults`` and ``score``;
with a trunk sensor also ``lumbar_flexion_peak_deg`` (max lumbar flexion minus its value at
the start).

Score (0-100), designed here: start at 100 and subtract

- ``hinge.score_squat_penalty`` (30) for ``squat_pattern``;
- ``hinge.score_lumbar_penalty`` (25) for ``lumbar_flexion``;
- ``hinge.score_twist_penalty`` (15) for ``pelvic_twist``;
- ``hinge.score_shift_penalty`` (15) for ``lateral_shift``;
- up to ``hinge.score_share_penalty`` (20) when ``pelvis_share`` is below
  ``hinge.score_share_target`` (0.8), linearly: 0 points at the target, all 20 at share 0
  (the hinge should come from the pelvis tipping over steady thighs);
- ``hinge.score_tempo_penalty`` (10) when the descent is faster than
  ``hinge.score_min_tempo_s`` (0.6 s): a controlled lowering is part of the drill.

The result is clipped to 0..100 and rounded to an integer. A clean, hip-driven, controlled rep
scores 100; a squatted rep at most 70.
"""

from __future__ import annotations

import numpy as np

from imu.analysis.base import Detector, first_finite, nanmax, nanmean, nanrange, num
from imu.analysis.segmentation import ExcursionSegmenter, Segment

#: fault -> plain-language phrase (used by the report and the command's summary).
FAULTS = {
    "squat_pattern": "the hinge turned into a squat",
    "pelvic_twist": "the pelvis twisted",
    "lateral_shift": "the pelvis shifted sideways",
    "lumbar_flexion": "the lower back rounded",
}


def rep_score(rep: dict, s: dict, penalties: dict) -> int:
    """Score 0-100 of one hinge-like rep: 100 minus ``penalties[fault]`` per fault, minus the
    pelvis-share and tempo penalties of the section ``s`` (see the module docstring).

    Parameters
    ----------
    rep : dict
        Needs ``faults``, ``pelvis_share`` (may be None) and ``tempo_down_s``.
    s : dict
        A settings section with ``score_share_target``, ``score_share_penalty``,
        ``score_min_tempo_s`` and ``score_tempo_penalty``.
    penalties : dict
        Fault -> points lost.
    """
    score = 100.0
    for fault in rep.get("faults", []):
        score -= penalties.get(fault, 0.0)
    share = rep.get("pelvis_share")
    target = s["score_share_target"]
    if share is not None and target > 0 and share < target:
        score -= s["score_share_penalty"] * (target - max(share, 0.0)) / target
    tempo = rep.get("tempo_down_s")
    if tempo is not None and tempo < s["score_min_tempo_s"]:
        score -= s["score_tempo_penalty"]
    return int(round(min(100.0, max(0.0, score))))


def hinge_score(rep: dict, settings) -> int:
    """Score 0-100 of one hinge rep (see the module docstring).

    Parameters
    ----------
    rep : dict
        Needs ``faults``, ``pelvis_share`` (may be None) and ``tempo_down_s``.
    settings : Settings
    """
    s = settings.section("hinge")
    penalties = {"squat_pattern": s["score_squat_penalty"], "pelvic_twist": s["score_twist_penalty"],
                 "lateral_shift": s["score_shift_penalty"], "lumbar_flexion": s["score_lumbar_penalty"]}
    return rep_score(rep, s, penalties)


def with_hip_flexion(det: Detector, state: dict) -> dict:
    """A hinge-type detector's live state with its latest hip flexion and the current rep's
    standing baseline (degrees; the baseline None outside a rep)."""
    if len(det.buf):
        state["hip_flexion_deg"] = float(det.buf.value("h", det.buf.n_total - 1))
        state["standing_deg"] = det.seg.standing if det.seg.active else None
    return state


class HingeDetector(Detector):
    """Streaming hip-hinge rep detector (see :class:`imu.analysis.base.Detector`)."""

    exercise = "hinge"
    kind = "reps"
    stored = ["h", "incl", "pelvis_tilt", "pelvis_obliquity", "pelvis_rotation", "lumbar_flexion"]
    section = "hinge"

    def __init__(self, settings, side, columns, set_start_s):
        super().__init__(settings, side, columns, set_start_s)
        s = settings.section(self.section)
        self.s = s
        self.has_trunk = "lumbar_flexion" in self.columns
        self.seg = ExcursionSegmenter(self.buf, "h", s["rep_threshold_deg"], s["return_band_deg"],
                                      baseline_window_s=s["baseline_window_s"],
                                      quiet_range_deg=s["quiet_range_deg"],
                                      baseline_lookback_s=s["baseline_lookback_s"], two_sided=False,
                                      min_rep_s=s["min_rep_s"], set_start_s=set_start_s)

    def _derive(self, row, confidence):
        return [self._side_mean(row, "hip_flexion"), self._side_mean(row, "thigh_inclination"),
                self._get(row, "pelvis_tilt"), self._get(row, "pelvis_obliquity"),
                self._get(row, "pelvis_rotation"), self._get(row, "lumbar_flexion")]

    def live_state(self) -> dict:
        return with_hip_flexion(self, super().live_state())

    def _rep_core(self, seg: Segment) -> tuple[dict, np.ndarray, int]:
        a, b = seg.start, seg.end + 1
        t = self.buf.t(a, b)
        h = self.buf.col("h", a, b)
        k = seg.peak - seg.start
        rep = {
            "start_s": num(seg.start_s),
            "end_s": num(seg.end_s),
            "peak_s": num(t[k]),
            "hip_flexion_peak_deg": num(nanmax(h)),
            "standing_hip_flexion_deg": num(seg.standing),
            "standing_source": seg.standing_source,
        }
        return rep, t, k

    def _measure(self, seg: Segment) -> dict:
        a, b = seg.start, seg.end + 1
        rep, t, k = self._rep_core(seg)
        h = self.buf.col("h", a, b)
        tilt = self.buf.col("pelvis_tilt", a, b)
        incl = self.buf.col("incl", a, b)
        h_peak = nanmax(h)
        tilt_peak = nanmax(tilt)
        denom = h_peak - first_finite(h)
        share = (tilt_peak - first_finite(tilt)) / denom if abs(denom) > 1e-6 else np.nan
        rep.update({
            "pelvis_tilt_peak_deg": num(tilt_peak),
            "thigh_inclination_peak_deg": num(nanmax(incl)),
            "pelvis_share": num(share),
            "pelvis_rotation_range_deg": num(nanrange(self.buf.col("pelvis_rotation", a, b))),
            "pelvis_obliquity_range_deg": num(nanrange(self.buf.col("pelvis_obliquity", a, b))),
            "tempo_down_s": num(t[k] - t[0]),
            "tempo_up_s": num(t[-1] - t[k]),
        })
        if self.has_trunk:
            lum = self.buf.col("lumbar_flexion", a, b)
            rep["lumbar_flexion_peak_deg"] = num(nanmax(lum) - first_finite(lum))
        rep["faults"] = self._faults(rep)
        rep["score"] = hinge_score(rep, self.settings)
        return rep

    def _faults(self, rep: dict) -> list[str]:
        s = self.s
        faults = []

        def over(key, limit):
            v = rep.get(key)
            return v is not None and v > limit

        if over("thigh_inclination_peak_deg", s["squat_inclination_deg"]):
            faults.append("squat_pattern")
        if over("pelvis_rotation_range_deg", s["twist_range_deg"]):
            faults.append("pelvic_twist")
        if over("pelvis_obliquity_range_deg", s["shift_range_deg"]):
            faults.append("lateral_shift")
        if over("lumbar_flexion_peak_deg", s["lumbar_flexion_deg"]):
            faults.append("lumbar_flexion")
        return faults

    def set_fields(self) -> dict:
        reps = self.results
        if not reps:
            return {"summary": {"reps": 0}}
        scores = [r["score"] for r in reps]
        return {"summary": {
            "reps": len(reps),
            "mean_score": num(np.mean(scores)),
            "mean_hip_flexion_peak_deg": num(nanmean([r["hip_flexion_peak_deg"] for r in reps])),
            "mean_pelvis_share": num(nanmean([r["pelvis_share"] if r["pelvis_share"] is not None
                                              else np.nan for r in reps])),
            "reps_with_faults": sum(1 for r in reps if r["faults"]),
        }}
