"""Sessions and sets: the live analyzer and the batch :func:`analyze_angles` (one code path).

:class:`LiveAnalyzer` takes a session's events and angle rows as they arrive (the dashboard) and
routes each row to the detector of the set under way. :func:`analyze_angles` finds the sets of a
finished session (:mod:`imu.analysis.sets`) and runs the same detectors over each set's rows, so
the live and the batch reps are the same.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Mapping

import numpy as np

from imu.analysis.airplane import AirplaneDetector
from imu.analysis.base import Detector, num
from imu.analysis.hinge import HingeDetector
from imu.analysis.missing import (count_incomplete, mark_items, missing_in,
                                  missing_spans, summary_fields)
from imu.analysis.posture import PostureDetector
from imu.analysis.sets import (SIDED, STANCE_HIP, SetWindow, calibration_windows, find_sets,
                               infer_stance_side, normalize_exercise, normalize_side)
from imu.analysis.settings import Settings
from imu.analysis.single_leg import SingleLegDetector
from imu.analysis.single_leg_hinge import IrHingeDetector, SingleLegHingeDetector
from imu.analysis.squat import SquatDetector
from imu.analysis.walking import WalkingDetector
from imu.errors import BadInputError
from imu.types import AngleTable, Event

SCHEMA = "imu.analysis/1"

DETECTORS: dict[str, type[Detector]] = {
    "hinge": HingeDetector,
    "single_leg_hinge": SingleLegHingeDetector,
    "ir_hinge": IrHingeDetector,
    "single_leg_stance": SingleLegDetector,
    "hip_airplane": AirplaneDetector,
    "squat": SquatDetector,
    "posture": PostureDetector,
    "walking": WalkingDetector,
}


def make_detector(exercise: str, settings: Settings, side: str | None, columns,
                  set_start_s: float) -> Detector:
    """The streaming detector of ``exercise`` for one set.

    Parameters
    ----------
    exercise : str
        One of ``hinge``, ``single_leg_hinge``, ``ir_hinge``, ``single_leg_stance``,
        ``hip_airplane``, ``squat``, ``posture``.
    settings : Settings
    side : str or None
        Stance leg for the single-leg exercises (required there).
    columns : iterable of str
        Angle columns the data has.
    set_start_s : float
        Time the set starts, seconds.
    """
    exercise = normalize_exercise(exercise)
    columns = list(columns)
    if "pelvis_tilt" not in columns:
        raise BadInputError("the angle table has no pelvis_tilt column (a sacrum sensor is required)")
    if exercise in ("hinge", "squat", "single_leg_stance") + STANCE_HIP and not any(
            c.endswith("_hip_flexion") for c in columns):
        raise BadInputError(f"{exercise} needs at least one thigh sensor (no hip angle columns)")
    try:
        return DETECTORS[exercise](settings, side, columns, set_start_s)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None


def set_result(window: SetWindow, det: Detector, items: list[dict], side_inferred: bool = False,
               gone=None) -> dict:
    """The docs/formats.md JSON object of one analysed set. ``gone(t0_s, t1_s)`` (role →
    seconds a sensor was missing, :mod:`imu.analysis.missing`) marks its incomplete items,
    which its summary counts and its means leave out."""
    if gone is not None:
        mark_items(items, gone)
    out = {"exercise": window.exercise}
    if window.exercise in SIDED or window.side is not None:
        out["side"] = window.side
    if side_inferred:
        out["side_inferred"] = True
    out["inferred"] = window.source == "inferred"
    out["start_s"] = num(window.start_s)
    out["end_s"] = num(window.end_s)
    if det.kind == "holds":
        out["holds"] = items
    elif det.kind == "strides":
        out["strides"] = items
    else:
        out["reps"] = items
    out.update(summary_fields(det, items))
    return count_incomplete(out)


def _rows(columns: dict[str, np.ndarray], n: int):
    names = list(columns)
    arrs = [np.asarray(columns[c], dtype=float) for c in names]
    for i in range(n):
        yield {c: float(a[i]) for c, a in zip(names, arrs)}


def run_detector(det: Detector, time_s: np.ndarray, columns: dict[str, np.ndarray],
                 confidence: dict[str, np.ndarray] | None = None) -> list[dict]:
    """Feed a whole table slice to ``det`` row by row (the batch path); returns its reps/holds."""
    items: list[dict] = []
    conf_names = list(confidence or {})
    conf_arrs = [np.asarray(confidence[c], dtype=float) for c in conf_names]
    for i, row in enumerate(_rows(columns, len(time_s))):
        conf = {c: float(a[i]) for c, a in zip(conf_names, conf_arrs)} if conf_names else None
        items.extend(det.update(float(time_s[i]), row, conf))
    items.extend(det.finish())
    return items


def analyze_angles(angles: AngleTable, events: list[Event], settings: Settings | None = None,
                   exercise: str | None = None, side: str | None = None,
                   calibration_end_s: float | None = None, progress=None,
                   calibrations: list | None = None) -> dict:
    """Analyse a whole session's angles: the docs/formats.md Analysis JSON as a dict.

    Parameters
    ----------
    angles : AngleTable
        ``time_s`` (N,) seconds and SPEC columns in degrees (NaN gaps); optional confidence.
    events : list of Event
        The session's events (sets, calibration phase).
    settings : Settings, optional
        Thresholds (SPEC defaults).
    exercise, side : str, optional
        For a session without set events (then the whole session after the calibration phase is
        one set); with set events, only sets of ``exercise`` are analysed.
    calibration_end_s : float, optional
        End of the calibration phase if the events do not mark it.
    progress : callable(str), optional
        Called with a short line per set.
    calibrations : list of CalibrationUse, optional
        The session's calibrations (:mod:`imu.analysis.calibrations`): their phases never count
        as sets, and each set names the calibration in force when it was done.

    Returns
    -------
    dict
        ``{"schema": "imu.analysis/1", "settings": {...changed...}, "sets": [...]}``.
    """
    settings = settings or Settings()
    t = np.asarray(angles.time_s, dtype=float)
    if len(t) == 0:
        raise BadInputError("the angle table is empty (no samples to analyse)")
    from imu.analysis.calibrations import in_force_index
    from imu.analysis.sets import outside_calibration

    from imu.analysis.recognition import check_label, inferred_sets, recognize

    segments = recognize(angles)
    cals = list(calibrations or [])
    skipped = []
    if exercise is None and not any(e.kind == "set_start" for e in events):
        # no set events: the sets are what the person was recognised doing
        windows, skipped = inferred_sets(segments, DETECTORS)
        cal_windows = calibration_windows(events, calibration_end_s)
        windows = outside_calibration(windows, cal_windows)
    else:
        windows = find_sets(events, float(t[0]), float(t[-1]), exercise, side,
                            calibration_end_s)
    inferred = bool(windows) and windows[0].source == "inferred"
    # a protocol found in the data (no events) is bounded better by its recognised segment
    windows = outside_calibration(windows, [c.window_s for c in cals if c.window_s is not None
                                            and not (inferred and c.window_s[0] == -np.inf)])
    sets = []
    spans = missing_spans(t, angles.columns)  # sensors missing: their reps are incomplete
    for k, w in enumerate(windows):
        cal = in_force_index(w.start_s, cals) if cals else None
        try:
            res = _analyze_set(k, len(windows), w, t, angles, settings, progress, spans)
        except BadInputError as exc:
            skipped.append({"exercise": w.exercise, "side": w.side, "start_s": num(w.start_s),
                            "end_s": num(w.end_s), "reason": exc.message})
            continue
        if w.source == "inferred":
            res["confidence"] = round(w.confidence, 2)
        else:
            res.update(check_label(w.exercise, w.side, w.start_s, w.end_s, segments,
                                   sides=[c.split("_")[0] for c in angles.columns
                                          if c.endswith("_hip_flexion")]))
        if cal is not None:
            res["calibration"] = cals[cal].name
        sets.append(res)
    out = {"schema": SCHEMA, "settings": settings.changed(), "sets": sets}
    if skipped:
        out["sets_not_analysed"] = sorted(skipped, key=lambda d: d["start_s"] or 0.0)
    out["recognised"] = [g.to_json() for g in segments]
    if cals:
        out["calibrations"] = [c.to_json() for c in cals]
    return out


def _analyze_set(k: int, n: int, w: SetWindow, t: np.ndarray, angles: AngleTable,
                 settings: Settings, progress, spans=None) -> dict:
    """One set of :func:`analyze_angles`; a BadInputError says why it cannot be analysed.
    ``spans``: the table's stretches with a sensor missing (default: found in ``angles``)."""
    a = int(np.searchsorted(t, w.start_s, side="left"))
    b = int(np.searchsorted(t, w.end_s, side="left" if w.source == "events" else "right"))
    cols = {c: np.asarray(v, dtype=float)[a:b] for c, v in angles.columns.items()}
    conf = {c: np.asarray(v, dtype=float)[a:b] for c, v in (angles.confidence or {}).items()}
    tilt = cols.get("pelvis_tilt")
    if tilt is not None and not np.isfinite(tilt).any():
        raise BadInputError("no angle data in the set (a gap in the data, or no calibration "
                            "in force)")
    inferred = False
    if w.exercise in SIDED and w.side is None:
        w.side = infer_stance_side(w.exercise, cols, settings["single_leg.lift_threshold_deg"])
        inferred = w.side is not None
        if w.side is None:
            raise BadInputError(f"set {k + 1} ({w.exercise} at {w.start_s:.1f} s) has no side; "
                                "pass --side left|right (the stance leg)")
    if progress:
        progress(f"set {k + 1}/{n}: {w.exercise}"
                 f"{' (' + w.side + ')' if w.side else ''} {w.start_s:.1f}-{w.end_s:.1f} s")
    det = make_detector(w.exercise, settings, w.side, angles.names(), w.start_s)
    if det.preroll_s > 0:  # the seconds before the set: only for the reps' standing baseline
        a = int(np.searchsorted(t, w.start_s - det.preroll_s, side="left"))
        cols = {c: np.asarray(v, dtype=float)[a:b] for c, v in angles.columns.items()}
        conf = {c: np.asarray(v, dtype=float)[a:b] for c, v in (angles.confidence or {}).items()}
    items = run_detector(det, t[a:b], cols, conf)
    if spans is None:
        spans = missing_spans(angles.time_s, angles.columns)
    return set_result(w, det, items, side_inferred=inferred,
                      gone=lambda t0, t1: missing_in(spans, t0, t1))


class _RowBuffer:
    """Angle rows kept for the inferred sets of :class:`LiveAnalyzer` (appended one by one,
    stored as numpy blocks; handed out as an :class:`~imu.types.AngleTable`)."""

    def __init__(self, columns):
        self.columns = list(columns)
        self.conf_names: list[str] | None = None
        self._t: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._c: list[np.ndarray] = []
        self._pend_t: list[float] = []
        self._pend_v: list[list[float]] = []
        self._pend_c: list[list[float]] = []

    def append(self, t_s: float, row: Mapping[str, float],
               confidence: Mapping[str, float] | None) -> None:
        if self.conf_names is None:
            self.conf_names = list(confidence or {})
        self._pend_t.append(t_s)
        self._pend_v.append([row.get(c, math.nan) for c in self.columns])
        if self.conf_names:
            conf = confidence or {}
            self._pend_c.append([conf.get(c, math.nan) for c in self.conf_names])
        if len(self._pend_t) >= 256:
            self._flush()

    def _flush(self) -> None:
        if not self._pend_t:
            return
        self._t.append(np.asarray(self._pend_t, dtype=float))
        self._v.append(np.asarray(self._pend_v, dtype=float).reshape(-1, len(self.columns)))
        n, nc = len(self._pend_t), len(self.conf_names or [])
        self._c.append(np.asarray(self._pend_c, dtype=float).reshape(n, nc) if nc
                       else np.zeros((n, 0)))
        self._pend_t, self._pend_v, self._pend_c = [], [], []

    def drop_before(self, t_s: float) -> None:
        """Forget whole blocks that end before ``t_s``."""
        while self._t and self._t[0][-1] < t_s:
            self._t.pop(0), self._v.pop(0), self._c.pop(0)

    def table(self) -> AngleTable:
        self._flush()
        if len(self._t) > 1:
            self._t = [np.concatenate(self._t)]
            self._v = [np.concatenate(self._v)]
            self._c = [np.concatenate(self._c)]
        t = self._t[0] if self._t else np.zeros(0)
        v = self._v[0] if self._v else np.zeros((0, len(self.columns)))
        c = self._c[0] if self._c else np.zeros((0, len(self.conf_names or [])))
        return AngleTable(t, {n: v[:, k] for k, n in enumerate(self.columns)},
                          {n: c[:, k] for k, n in enumerate(self.conf_names or [])})


class LiveAnalyzer:
    """Sample-by-sample analysis of a session as it happens (the dashboard's path).

    Feed events with :meth:`event` and angle rows with :meth:`update`, in time order. Rows
    outside a set (or inside the calibration phase) are ignored. A session with no set events can
    still be analysed live by naming ``exercise`` (and ``side``): the set then starts with the
    first row after the calibration phase.

    Without set events and without ``exercise``, the sets are inferred as :func:`analyze_angles`
    infers them: each bout the (same, streaming) recogniser closes becomes a set with the same
    boundaries, analysed by the same function over the same rows (:attr:`completed` gets it
    when the bout closes, a few seconds after the movement stops: the recogniser waits
    ``gap_s`` of quiet standing). A ``set_start`` event ends the inference (a session with set
    events has no inferred sets); the sets inferred before it stay.

    Parameters
    ----------
    columns : iterable of str
        The angle columns the rows carry.
    settings : Settings, optional
    exercise, side : str, optional
        Default set when no set_start event has been seen.
    """

    def __init__(self, columns, settings: Settings | None = None, exercise: str | None = None,
                 side: str | None = None):
        self.columns = list(columns)
        self.settings = settings or Settings()
        self.default_exercise = normalize_exercise(exercise)
        self.default_side = normalize_side(side)
        self.sets: list[dict] = []
        self.detector: Detector | None = None
        self.window: SetWindow | None = None
        self._items: list[dict] = []
        self._in_calibration = False
        self._seen_set_event = False
        self._t_last = math.nan
        from imu.analysis.recognition import ExerciseRecognizer
        #: what the person is recognised doing (the same recogniser the batch analysis runs)
        self.recognizer = ExerciseRecognizer(self.columns)
        # recent rows (also outside sets and during calibration): a new set's detector sees the
        # seconds before its start, exactly as the batch path gives them
        self._recent: deque = deque()
        self._recent_s = self.settings["common.baseline_lookback_s"] + 1.0
        #: inferred sets completed since the caller last emptied this list (JSON dicts, in
        #: time order; see the class docstring)
        self.completed: list[dict] = []
        self._calibration_events: list[Event] = []
        self._buffer = _RowBuffer(self.columns) if self.default_exercise is None else None
        #: ``gone(t0_s, t1_s)`` → role → seconds a sensor was missing (set by the live view,
        #: :class:`imu.live.analysis.LiveAnalysis`): a set's incomplete reps are marked, counted
        #: and left out of its means as :func:`analyze_angles` leaves them out
        self.gone = None

    @property
    def active(self) -> bool:
        return self.detector is not None

    def event(self, ev: Event) -> dict | None:
        """Handle an event; returns the completed set's JSON dict when a set ends."""
        done = None
        if ev.kind in ("calibration_start", "calibration_end"):
            self._calibration_events.append(ev)
        if ev.kind == "calibration_start":
            done = self._close(ev.t_s)
            self._in_calibration = True
        elif ev.kind == "calibration_end":
            self._in_calibration = False
        elif ev.kind == "set_start":
            self._seen_set_event = True
            self._buffer = None           # a session with set events has no inferred sets
            done = self._close(ev.t_s)
            ex = normalize_exercise(ev.exercise) or self.default_exercise
            if ex is None:
                raise BadInputError(f"the set_start event at {ev.t_s:.2f} s names no exercise")
            side = normalize_side(ev.side) or self.default_side
            self._open(SetWindow(ex, side, float(ev.t_s), float(ev.t_s)))
        elif ev.kind == "set_end":
            done = self._close(ev.t_s)
        return done

    def update(self, t_s: float, row: Mapping[str, float],
               confidence: Mapping[str, float] | None = None) -> list[dict]:
        """Feed one angle row; returns newly completed reps/holds of the set under way."""
        self._t_last = float(t_s)
        closed = self.recognizer.update(t_s, row)
        if self._buffer is not None:
            self._buffer.append(float(t_s), row, confidence)
            if closed:
                self._infer(closed)
            elif not self._buffer._pend_t:     # a block was just stored
                self._trim_buffer()
        self._recent.append((float(t_s), row, confidence))
        while self._recent and self._recent[0][0] < t_s - self._recent_s:
            self._recent.popleft()
        if self._in_calibration:
            return []
        if self.detector is None and not self._seen_set_event and self.default_exercise:
            self._open(SetWindow(self.default_exercise, self.default_side, float(t_s), float(t_s),
                                 "whole_session"))
        if self.detector is None:
            return []
        self.window.end_s = float(t_s)
        new = self.detector.update(t_s, row, confidence)
        self._items.extend(new)
        return new

    def finish(self) -> dict | None:
        """End of the session: closes the set under way (returns its JSON dict) and the
        recogniser's last bout (its inferred set goes to :attr:`completed`)."""
        done = self._close(self._t_last)
        if self._buffer is not None:
            self._infer(self.recognizer.finish())
        return done

    def _infer(self, closed: list) -> None:
        """The inferred sets of newly closed recognised segments, analysed exactly as
        :func:`analyze_angles` analyses them (same windows, same rows, same function)."""
        from imu.analysis.recognition import inferred_sets
        from imu.analysis.sets import outside_calibration

        windows, _ = inferred_sets(closed, DETECTORS)
        windows = outside_calibration(windows, calibration_windows(self._calibration_events))
        if windows:
            table = self._buffer.table()
            for w in windows:
                try:
                    res = _analyze_set(len(self.sets), len(self.sets) + 1, w, table.time_s,
                                       table, self.settings, None)
                except BadInputError:
                    continue          # the batch lists it under sets_not_analysed
                res["confidence"] = round(w.confidence, 2)
                self.sets.append(res)
                self.completed.append(res)
        self._trim_buffer()

    def _trim_buffer(self) -> None:
        """Keep the rows the next inferred set can need (its detector's preroll included)."""
        keep = self.recognizer.earliest_next_start()
        if math.isfinite(keep):
            self._buffer.drop_before(keep - self._recent_s)

    def result(self) -> dict:
        """The Analysis JSON of the sets completed so far."""
        return {"schema": SCHEMA, "settings": self.settings.changed(), "sets": list(self.sets)}

    def live_state(self) -> dict:
        """What the dashboard shows about the set under way."""
        cur = self.recognizer.current()
        recognised = None if cur is None else {"exercise": cur.label, "side": cur.side,
                                                "confidence": round(cur.confidence, 2)}
        if self.detector is None:
            return {"exercise": None, "recognised": recognised}
        st = self.detector.live_state()
        st.update({"exercise": self.window.exercise, "side": self.window.side,
                   "last": self._items[-1] if self._items else None,
                   "recognised": recognised})
        if cur is not None:  # a set under way that disagrees with the movement is flagged
            from imu.analysis.recognition import check_label
            st.update({k: v for k, v in check_label(
                self.window.exercise, self.window.side, self.window.start_s, self._t_last, [cur],
                sides=[c.split("_")[0] for c in self.columns if c.endswith("_hip_flexion")]
            ).items() if k != "recognised"})
        return st

    def _open(self, w: SetWindow) -> None:
        if w.exercise in SIDED and w.side is None:
            sides = [c.split("_")[0] for c in self.columns if c.endswith("_hip_flexion")]
            if len(sides) == 1 and w.exercise in STANCE_HIP:
                w.side = sides[0]
            else:
                raise BadInputError(f"{w.exercise} at {w.start_s:.1f} s needs the stance side")
        self.window = w
        self.detector = make_detector(w.exercise, self.settings, w.side, self.columns, w.start_s)
        self._items = []
        pre = self.detector.preroll_s
        if pre > 0:
            for t_s, row, conf in self._recent:
                if w.start_s - pre - 1e-9 <= t_s < w.start_s:
                    self.detector.update(t_s, row, conf)

    def _close(self, t_s: float) -> dict | None:
        if self.detector is None:
            return None
        if math.isfinite(t_s):
            self.window.end_s = float(t_s)
        self._items.extend(self.detector.finish())
        res = set_result(self.window, self.detector, self._items, gone=self.gone)
        self.sets.append(res)
        self.detector, self.window, self._items = None, None, []
        return res
