"""Single-leg stance: holds and pelvic drop (docs/metrics.md, ``docs/metrics.md``).

``side`` is the stance leg; the other leg is lifted. ``pelvic_drop(t)`` is ``+pelvis_obliquity``
when the right leg is lifted (the right side of the pelvis is lower) and ``-pelvis_obliquity``
when the left leg is lifted, so it is positive when the pelvis drops on the lifted side.

A hold starts when the lifted leg's hip flexion passes ``single_leg.lift_threshold_deg`` (20°)
and ends when it falls back below it (if that thigh is instrumented); otherwise the set (from its
start to its end event) is one hold. Per hold: ``pelvic_drop_mean_deg``, ``pelvic_drop_max_deg``,
``pelvic_drop_final_deg`` (mean over the last second), ``drift_rms_deg`` (RMS of the change from
the mean over the first 0.5 s), ``time_in_band_pct`` (|change| < 3°) and ``grade`` (green when
the max drop is below 4°, amber below 8°, else red).

Reference: by default (``single_leg.reference_standing = 0``) the drop is the obliquity against
the calibration pose, exactly as in ``docs/metrics.md``. With ``reference_standing = 1`` it is
measured from the pelvis's own level while still standing on two legs just before the lift
(median over the second before the lifted leg starts to rise; reported as
``standing_pelvic_drop_deg``): what a coach means by "the pelvis dropped", and immune to a
small obliquity offset between the calibration and the set (a strap that moved). On the
simulator, where the person stands level, the two agree within a few tenths of a degree.
"""

from __future__ import annotations

import numpy as np

from imu.analysis.base import Detector, nanmax, nanmean, num
from imu.analysis.pelvic_drop import drop_grade, drop_sign, lifted_side
from imu.analysis.segmentation import Segment, ThresholdSegmenter

GRADE_WORDS = {"green": "level pelvis", "amber": "some pelvic drop", "red": "marked pelvic drop"}


class SingleLegDetector(Detector):
    """Streaming single-leg-stance hold detector. ``side`` = stance leg (required)."""

    exercise = "single_leg_stance"
    kind = "holds"
    stored = ["drop", "lift"]

    def __init__(self, settings, side, columns, set_start_s):
        if side not in ("left", "right"):
            raise ValueError("single-leg stance needs the stance side ('left' or 'right')")
        super().__init__(settings, side, columns, set_start_s)
        s = settings.section("single_leg")
        self.s = s
        self.lifted = lifted_side(side)
        self.sign = drop_sign(side)
        lift_col = f"{self.lifted}_hip_flexion"
        self.hold_source = "lifted_thigh" if lift_col in self.columns else "set"
        self.seg = ThresholdSegmenter(self.buf, "lift" if self.hold_source == "lifted_thigh" else None,
                                      s["lift_threshold_deg"], min_hold_s=s["min_hold_s"],
                                      merge_gap_s=s["merge_gap_s"])

    def _derive(self, row, confidence):
        return [self.sign * self._get(row, "pelvis_obliquity"),
                self._get(row, f"{self.lifted}_hip_flexion")]

    def live_state(self) -> dict:
        st = super().live_state()
        st["in_hold"] = bool(self.seg.active) or self.hold_source == "set"
        if len(self.buf):
            st["pelvic_drop_deg"] = float(self.buf.value("drop", self.buf.n_total - 1))
        return st

    def keep_from(self) -> int:
        # keep a few seconds before a hold can start: the standing reference lies there
        t_ref = self.buf.time_at(self.seg._start) if self.seg.active else self.t_last_s
        k = self.buf.index_at_or_after(t_ref - self._lookback_s)
        return min(self.seg.keep_from, k)

    _lookback_s = 6.0

    def standing_reference(self, seg: Segment) -> tuple[float, float | None]:
        """``(drop_offset_deg, lift_start_s)``: the pelvic drop while still on two legs, the
        median over ``baseline_window_s`` before the lifted leg started to rise (the last sample
        within 3° of its lowest flexion in the seconds before the hold). ``(0, None)`` when the
        hold is the whole set or the reference is switched off."""
        if self.hold_source != "lifted_thigh" or not self.s["reference_standing"]:
            return 0.0, None
        t0 = seg.start_s
        a = self.buf.index_at_or_after(t0 - self._lookback_s + self.s["baseline_window_s"])
        lift = self.buf.col("lift", a, seg.start + 1)
        if not np.isfinite(lift).any():
            return 0.0, None
        low = float(np.nanmin(lift))
        near = np.flatnonzero(np.isfinite(lift) & (lift <= low + 3.0))
        i_lift = a + int(near[-1])
        t_lift = self.buf.time_at(i_lift)
        b0 = self.buf.index_at_or_after(t_lift - self.s["baseline_window_s"] - 1e-9)
        ref = nanmean(self.buf.col("drop", b0, i_lift + 1))
        return (ref, t_lift) if np.isfinite(ref) else (0.0, None)

    def _measure(self, seg: Segment) -> dict:
        a, b = seg.start, seg.end + 1
        t = self.buf.t(a, b)
        ref0, t_lift = self.standing_reference(seg)
        d = self.buf.col("drop", a, b) - ref0
        s = self.s
        ok = np.isfinite(d)
        final = nanmean(d[t >= t[-1] - s["final_window_s"] + 1e-9])
        ref = nanmean(d[t < t[0] + s["initial_window_s"] - 1e-9]) if len(t) else np.nan
        if not np.isfinite(ref):
            ref = nanmean(d[: max(1, len(d) // 10)])
        change = d - ref
        drift = float(np.sqrt(np.mean(change[ok] ** 2))) if ok.any() else np.nan
        in_band = 100.0 * float(np.mean(np.abs(change[ok]) < s["band_deg"])) if ok.any() else np.nan
        dmax = nanmax(d)
        return {
            "start_s": num(seg.start_s),
            "end_s": num(seg.end_s),
            "side": self.side,
            "hold_source": self.hold_source,
            "pelvic_drop_mean_deg": num(nanmean(d)),
            "pelvic_drop_max_deg": num(dmax),
            "pelvic_drop_final_deg": num(final),
            "drift_rms_deg": num(drift),
            "time_in_band_pct": num(in_band),
            "grade": drop_grade(dmax, s["green_deg"], s["amber_deg"]),
            "standing_pelvic_drop_deg": num(ref0) if t_lift is not None else None,
        }

    def set_fields(self) -> dict:
        holds = self.results
        out = {"holds": len(holds)}
        if holds:
            out["hold_time_s"] = num(sum(h["end_s"] - h["start_s"] for h in holds))
            out["worst_pelvic_drop_max_deg"] = num(nanmax([h["pelvic_drop_max_deg"] for h in holds
                                                           if h["pelvic_drop_max_deg"] is not None]))
            out["mean_pelvic_drop_deg"] = num(nanmean([h["pelvic_drop_mean_deg"] for h in holds
                                                       if h["pelvic_drop_mean_deg"] is not None]))
        return {"summary": out}
