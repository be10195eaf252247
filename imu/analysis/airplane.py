"""Hip airplane: stance-hip rotation reps, rotation peaks, obliquity leak, confidence (docs/metrics.md).

``side`` is the stance leg and ``r(t)`` its hip rotation (+ internal). One rep is one opening
and one closing of the pelvis over the stance femur: an external and an internal rotation
excursion of ``r`` in either order, passing through neutral between them, at least one of them
beyond ``airplane.rep_threshold_deg`` (10°) from standing; it runs from leaving neutral (the
last sample within ``airplane.return_band_deg``, 3°, of standing) to the return after the
second excursion (the first sample back within the band). A pause at neutral longer than
``airplane.pause_s`` (1 s) ends a rep early, after its first excursion. An excursion is a
stretch beyond the band that reaches ``airplane.min_excursion_deg`` (5°); smaller wobbles
count as neutral. Standing is the median of ``r`` over ``airplane.baseline_window_s`` at
neutral before a rep (the previous rep's standing for back-to-back reps).

Per rep: ``hip_internal_rotation_peak_deg`` (max r), ``hip_external_rotation_peak_deg`` (max
-r, a positive magnitude), ``obliquity_leak_deg`` (the largest change of pelvis obliquity from
its value at the start) and ``confidence`` (0..1): the lowest heading-hold confidence of the
stance hip's rotation angle over the rep, as reported by the angle table (6D sensors drift in
heading, so rotation about the vertical is the least certain angle); ``confidence_source`` says
where it came from (``"none"`` when the angle table carries no confidence, e.g. exact simulator
angles; the value is then 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.analysis.base import Detector, first_finite, nanmax, nanmean, nanmin, num
from imu.analysis.segmentation import SampleBuffer, Segment


@dataclass
class _Excursion:
    """One stretch of the signal beyond the band on one side of standing (absolute indices)."""

    leave: int       # last sample within the band before it
    sign: float      # +1 internal, -1 external
    peak: int        # sample of the largest deviation
    peak_dev: float  # |deviation| there, degrees
    ret: int = -1    # first sample back within the band (-1: not yet)


class AirplaneSegmenter:
    """Streaming docs/metrics.md hip-airplane rep finder on one column of a :class:`SampleBuffer`.

    Parameters
    ----------
    buffer : SampleBuffer
    column : str
        The stance hip's rotation (degrees).
    threshold_deg : float
        The larger excursion of a rep goes beyond this from standing.
    band_deg : float
        Neutral: within this of standing.
    min_excursion_deg : float
        A stretch beyond the band counts as an excursion once it reaches this.
    pause_s : float
        A pause at neutral longer than this ends a rep after its first excursion.
    baseline_window_s : float
        Standing: median over this long at neutral.
    """

    def __init__(self, buffer: SampleBuffer, column: str, threshold_deg: float = 10.0,
                 band_deg: float = 3.0, min_excursion_deg: float = 5.0, pause_s: float = 1.0,
                 baseline_window_s: float = 1.0):
        self.buf = buffer
        self.column = column
        self.threshold = float(threshold_deg)
        self.band = float(band_deg)
        self.min_exc = max(float(min_excursion_deg), self.band)
        self.pause_s = float(pause_s)
        self.window_s = float(baseline_window_s)
        self.standing = float("nan")
        self._frozen = False      # standing held (during and just after a rep)
        self._quiet_from = -1     # first sample of the current neutral stretch
        self._last_in = -1        # last sample within the band
        self._cur: _Excursion | None = None   # stretch beyond the band under way
        self._rep: list[_Excursion] = []      # finished excursions of the rep under way

    @property
    def active(self) -> bool:
        return bool(self._rep) or (self._cur is not None and self._cur.peak_dev >= self.min_exc)

    @property
    def keep_from(self) -> int:
        idx = [self.buf.index_at_or_after(self.buf.time_at(self.buf.n_total - 1)
                                          - self.window_s - 0.5)] if len(self.buf) else []
        if self._rep:
            idx.append(self._rep[0].leave)
        if self._cur is not None:
            idx.append(self._cur.leave)
        return max(self.buf.offset, min(idx)) if idx else self.buf.offset

    def _update_standing(self, i: int, t: float) -> None:
        """While idle at neutral: standing follows the median of the last window (held after a
        rep until a whole window at neutral has passed)."""
        if self._frozen:
            if self._quiet_from >= 0 and t - self.buf.time_at(self._quiet_from) >= self.window_s:
                self._frozen = False
            else:
                return
        a = self.buf.index_at_or_after(t - self.window_s)
        h = self.buf.col(self.column, a, i + 1)
        h = h[np.isfinite(h)]
        if len(h):
            self.standing = float(np.median(h))

    def step(self, i: int, v: float | None = None, t: float | None = None) -> Segment | None:
        if v is None:
            v = float(self.buf.value(self.column, i))
        if v != v:
            return None
        if t is None:
            t = self.buf.time_at(i)
        if self.standing != self.standing:
            self.standing = v
        dev = v - self.standing
        done = None
        if abs(dev) <= self.band:
            cur = self._cur
            if cur is not None:
                self._cur = None
                if cur.peak_dev >= self.min_exc:  # an excursion returned
                    cur.ret = i
                    self._rep.append(cur)
                    if len(self._rep) == 2:
                        done = self._close(i)
                if self._quiet_from < 0 or cur.peak_dev >= self.min_exc:
                    self._quiet_from = i
            elif self._quiet_from < 0:
                self._quiet_from = i
            self._last_in = i
            if len(self._rep) == 1 and self._cur is None \
                    and t - self.buf.time_at(self._rep[0].ret) > self.pause_s:
                done = self._close(self._rep[0].ret)  # a pause at neutral ends the rep early
            if not self._rep and self._cur is None:
                self._update_standing(i, t)
            return done
        sign = 1.0 if dev > 0 else -1.0
        cur = self._cur
        if cur is not None and cur.sign != sign:  # crossed the band between two samples
            self._step_return(i)
            if len(self._rep) == 2:
                done = self._close(i - 1)
            cur = None
        if cur is None:
            cur = self._cur = _Excursion(leave=max(self._last_in, self.buf.offset), sign=sign,
                                         peak=i, peak_dev=abs(dev))
        elif abs(dev) > cur.peak_dev:
            cur.peak, cur.peak_dev = i, abs(dev)
        if cur.peak_dev >= self.min_exc:
            self._quiet_from = -1
            if self._rep:
                first = self._rep[0]
                pause = self.buf.time_at(cur.leave) - self.buf.time_at(first.ret)
                if first.sign == sign or pause > self.pause_s:
                    # not this rep's second excursion: the rep ended at its first one's return
                    done = self._close(first.ret, keep_cur=True)
        return done

    def _step_return(self, i: int) -> None:
        """The current stretch ended between ``i - 1`` and ``i`` (a jump across the band)."""
        cur, self._cur = self._cur, None
        if cur is not None and cur.peak_dev >= self.min_exc:
            cur.ret = i - 1
            self._rep.append(cur)
        self._last_in = i - 1

    def _close(self, end: int, keep_cur: bool = False) -> Segment | None:
        exc, self._rep = self._rep, []
        if not keep_cur:
            self._cur = None
        self._frozen = True
        if not exc or max(e.peak_dev for e in exc) <= self.threshold:
            return None
        start = exc[0].leave
        peak = max(exc, key=lambda e: e.peak_dev).peak
        return Segment(start, end, peak, self.standing, self.buf.time_at(start),
                       self.buf.time_at(end))

    def finish(self) -> Segment | None:
        """End of the set: a rep with a returned excursion ends at that return; an excursion
        that never returned is not part of a rep."""
        if self._rep:
            return self._close(self._rep[-1].ret)
        self._cur = None
        return None


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
        self.seg = AirplaneSegmenter(self.buf, "r", s["rep_threshold_deg"], s["return_band_deg"],
                                     min_excursion_deg=s["min_excursion_deg"],
                                     pause_s=s["pause_s"],
                                     baseline_window_s=s["baseline_window_s"])

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
            "standing_source": seg.standing_source,
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
