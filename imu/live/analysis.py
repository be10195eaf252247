"""The live path's analysis stage: events and angle rows in, sets, reps and holds out.

It routes rows through the same :class:`~imu.analysis.LiveAnalyzer` (and so the same detectors,
settings, bands and signs) that ``imu analyze`` runs, made by :meth:`imu.chain.Analyze.live`.
Events (set start/end, calibration phase) are applied in time order with the rows: an event at
``t`` takes effect before the first row at or after ``t``, whenever either arrives, so a set
holds exactly the rows ``start_s <= t < end_s``, as in the batch analysis.

A sensor missing for a while (not connected yet, or its link down) leaves its columns empty
(NaN) in the rows, and a missing sacrum leaves no rows (they follow its samples). A rep or hold
during which a sensor was missing for at least :data:`MISSING_MIN_S` is marked ``incomplete``
(why, in words) with ``missing_sensors`` (role → seconds) and counted in its set's summary
(:mod:`imu.analysis.missing`, the rule ``imu analyze`` applies too), and
:attr:`LiveAnalysis.message` says so for the dashboard; the other reps are untouched.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from imu.analysis.missing import (MISSING_MIN_S, count_incomplete, mark, missing_in,
                                  role_columns, sensor_words)
from imu.errors import ImuError
from imu.types import AngleTable, Event

#: missing-sensor stretches older than this are forgotten, seconds
_MISSING_KEEP_S = 600.0


class LiveAnalysis:
    """Set routing and rep/hold detection for angle rows as they arrive.

    Parameters
    ----------
    columns : list of str
        The angle columns of the rows (SPEC names).
    settings : imu.analysis.Settings, optional
        Thresholds (defaults unless given): the same object ``imu analyze`` would use.

    Attributes
    ----------
    sets : list of dict
        Completed sets: ``exercise``, ``side``, ``start_s``, ``end_s``, ``summary``.
    reps, holds, strides : list of dict
        Completed reps, holds and walking strides, each with ``exercise``, ``side`` and
        ``set_index`` (1-based).
    live_state : dict
        What the dashboard shows about the set under way (``pelvic_drop_deg`` on one leg…).
    message : str
        The last problem (a set that cannot be analysed, a sensor missing), empty if none.
    missing : list of tuple
        ``(role, t0_s, t1_s)``: stretches (at least :data:`MISSING_MIN_S`) when a sensor was
        missing from the rows, session clock.
    """

    def __init__(self, columns, settings=None):
        from imu.chain import Analyze

        self.columns = list(columns)
        self.analyzer = Analyze(settings).live(self.columns)
        self.settings = self.analyzer.settings
        self._pending: list[tuple[float, int, Event]] = []
        self._seq = 0
        self._taken = 0            # items of the set under way already collected
        self.sets: list[dict] = []
        self.reps: list[dict] = []
        self.holds: list[dict] = []
        self.strides: list[dict] = []
        self.live_state: dict = {}
        self.message = ""
        self.errors: list[str] = []
        self.missing: list[tuple[str, float, float]] = []
        self._gone: dict[str, float] = {}     # role -> since when it is missing (under way)
        self._t_row: float | None = None      # the last row's time
        self._roles: dict[str, list[str]] = role_columns(self.columns)
        self.analyzer.gone = self.missing_in  # a set's means leave its incomplete reps out

    # ------------------------------------------------------------------------------ input --
    def event(self, ev: Event) -> None:
        """Queue an event; it takes effect before the first row at or after ``ev.t_s``."""
        if ev.kind not in ("set_start", "set_end", "calibration_start", "calibration_end"):
            return
        bisect.insort(self._pending, (float(ev.t_s), self._seq, ev))
        self._seq += 1

    def rows(self, table: AngleTable) -> np.ndarray:
        """Feed angle rows (in time order); returns the pelvic drop (degrees, (n,)) of each row
        inside a single-leg set, NaN elsewhere (the dashboard's drop trace).

        The rows of a batch go through the detectors one by one, as one at a time would (the
        same reps, holds, sets and numbers); what the dashboard is shown of the set under way
        (:attr:`live_state`) is made for the batch's last row, and for a row whose successor
        an event reaches (the rows in between would replace it before anyone looks)."""
        n = len(table.time_s)
        drop = np.full(n, np.nan)
        names = [c for c in self.columns if c in table.columns]
        # the rows as Python numbers, one list per column (float(v[k]) for every k)
        vals = [np.asarray(table.columns[c], float).tolist() for c in names]
        conf_names = list(table.confidence or {})
        conf_vals = [np.asarray(table.confidence[c], float).tolist() for c in conf_names]
        absent = {r: (~np.isfinite(np.column_stack([table.columns[c] for c in cols])).any(axis=1)
                      ).tolist()
                  for r, cols in self._roles.items() if all(c in table.columns for c in cols)}
        times = np.asarray(table.time_s, float).tolist()
        analyzer = self.analyzer
        for k, t in enumerate(times):
            self._track_missing(t, {r: v[k] for r, v in absent.items()})
            self._apply_events(t)
            row = dict(zip(names, (v[k] for v in vals)))
            conf = dict(zip(conf_names, (v[k] for v in conf_vals))) if conf_names else None
            # every row: the analyzer keeps the recent ones (a rep detector's standing baseline
            # before its set) and recognises the movement; only a set's rows reach a detector
            for item in analyzer.update(t, row, conf):
                self._collect(item)
            self._take_completed()
            if analyzer.detector is None:
                continue
            self._taken = len(analyzer._items)
            if k == n - 1 or (self._pending and self._pending[0][0] <= times[k + 1]):
                st = self.live_state = analyzer.live_state()
            else:      # the next row replaces it: the drop only (and the recognised movement,
                analyzer.recognizer.current()       # classified as often as row by row)
                st = analyzer.detector.live_state()
            if "pelvic_drop_deg" in st:
                drop[k] = st["pelvic_drop_deg"]
        return drop

    @property
    def defer(self) -> bool:
        """Whether the recognised movement's periodic classification (a few ms every
        half second) is put off until :meth:`catch_up`, so the rows it falls on are not held
        up by it (the live pipeline: after the rows are out)."""
        return self.analyzer.recognizer.defer

    @defer.setter
    def defer(self, on: bool) -> None:
        self.analyzer.recognizer.defer = bool(on)

    def catch_up(self) -> bool:
        """Do the work :attr:`defer` put off (the same classification, of the same rows, the
        row it came due at would have made); the set under way's :attr:`live_state` then
        shows it. Returns whether there was any."""
        analyzer = self.analyzer
        if not analyzer.recognizer.catch_up():
            return False
        if analyzer.detector is not None and self.live_state:
            self.live_state = analyzer.live_state()
        return True

    def apply_events(self) -> None:
        """Let every queued event take effect now (no more rows will come before them)."""
        self._apply_events(math.inf)

    def finish(self, t_s: float | None = None) -> None:
        """End of the session: pending events take effect, the set under way closes (at
        ``t_s`` if given, else at the last row)."""
        self._apply_events(math.inf)
        if self.analyzer.detector is not None and t_s is not None:
            self.analyzer._t_last = max(self.analyzer._t_last, float(t_s)) \
                if math.isfinite(self.analyzer._t_last) else float(t_s)
        self._done(self.analyzer.finish())
        self._take_completed()

    # ---------------------------------------------------------------------------- output --
    @property
    def current_set(self) -> dict | None:
        """The set under way: ``exercise``, ``side``, ``start_s`` (None between sets)."""
        w = self.analyzer.window
        if w is None:
            return None
        return {"exercise": w.exercise, "side": w.side, "start_s": w.start_s}

    @property
    def pending_set(self) -> dict | None:
        """A set started by an event that no row has reached yet (shown as under way)."""
        for t, _, ev in self._pending:
            if ev.kind == "set_start":
                return {"exercise": ev.exercise, "side": ev.side, "start_s": t}
        return None

    # -------------------------------------------------------------------- missing sensors --
    def _track_missing(self, t: float, absent: dict[str, bool]) -> None:
        """Note which sensors the row at ``t`` lacks (a whole role's columns NaN; no rows for
        a while: the sacrum)."""
        if self._t_row is not None and t - self._t_row >= MISSING_MIN_S:
            self._gone_for("sacrum", self._t_row, t)
        for r, nan in absent.items():
            if nan:
                self._gone.setdefault(r, t)
            elif r in self._gone:
                self._gone_for(r, self._gone.pop(r), t)
        self._t_row = t

    def _gone_for(self, role: str, t0: float, t1: float) -> None:
        if t1 - t0 < MISSING_MIN_S:
            return
        self.missing.append((role, t0, t1))
        while self.missing and self.missing[0][2] < t1 - _MISSING_KEEP_S:
            self.missing.pop(0)
        if self.analyzer.detector is not None:
            self.message = (f"{sensor_words(role)} was missing for {t1 - t0:.1f} s: a rep or "
                            "hold meanwhile is incomplete or missed")

    def missing_in(self, t0: float, t1: float) -> dict[str, float]:
        """Role → seconds it was missing (at least :data:`MISSING_MIN_S`) from ``t0`` to
        ``t1`` (seconds, session clock), as far as the rows so far tell."""
        now = self._t_row if self._t_row is not None else t1
        spans = list(self.missing) + [(r, a, now) for r, a in self._gone.items()]
        return missing_in(spans, t0, t1)

    # ---------------------------------------------------------------------------- routing --
    def _apply_events(self, t: float) -> None:
        while self._pending and self._pending[0][0] <= t:
            _, _, ev = self._pending.pop(0)
            try:
                done = self.analyzer.event(ev)
            except ImuError as exc:        # a set that cannot be analysed: say so, go on
                self.message = f"{ev.exercise or 'set'}: {exc.message}"
                self.errors.append(self.message)
                self.analyzer.detector, self.analyzer.window = None, None
                done = None
            self._done(done)
            if ev.kind in ("set_start", "set_end"):
                self.live_state = {}
                self._taken = 0

    def _take_completed(self) -> None:
        """The sets the analyzer inferred from the recognised movement (no set events)."""
        while self.analyzer.completed:
            self._taken = 0
            self._done(self.analyzer.completed.pop(0))

    def _done(self, res: dict | None) -> None:
        if res is None:
            return
        kind = next((k for k in ("holds", "strides") if k in res), "reps")
        items = res.get(kind) or []
        for item in items[self._taken:]:    # the ones the detector's finish() completed
            self._collect(item, res)
        self._taken = 0
        k = len(self.sets) + 1
        done = {key: v for key, v in res.items() if key not in ("reps", "holds", "strides")}
        mine = {kind: [it for it in got if it.get("set_index") == k] for kind, got in
                (("reps", self.reps), ("holds", self.holds), ("strides", self.strides))}
        counted = count_incomplete({**done, "summary": dict(done.get("summary") or {}), **mine})
        if counted["summary"]:
            done["summary"] = counted["summary"]
        self.sets.append(done)
        self.live_state = {}

    def _collect(self, item: dict, res: dict | None = None) -> None:
        w = self.analyzer.window
        exercise = res["exercise"] if res is not None else w.exercise
        side = res.get("side") if res is not None else w.side
        out = {**item, "exercise": exercise, "set_index": len(self.sets) + 1}
        out.setdefault("side", side)
        if item.get("start_s") is not None and item.get("end_s") is not None:
            mark(out, self.missing_in(float(item["start_s"]), float(item["end_s"])))
            if out.get("incomplete"):
                self.message = f"{exercise.replace('_', ' ')}: incomplete ({out['incomplete']})"
        det_kind = (self.analyzer.detector.kind if self.analyzer.detector is not None
                    else next((k for k in ("holds", "strides") if res is not None and k in res),
                              "reps"))
        {"holds": self.holds, "strides": self.strides}.get(det_kind, self.reps).append(out)
