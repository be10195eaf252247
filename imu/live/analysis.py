"""The live path's analysis stage: events and angle rows in, sets, reps and holds out.

It routes rows through the same :class:`~imu.analysis.LiveAnalyzer` (and so the same detectors,
settings, bands and signs) that ``imu analyze`` runs, made by :meth:`imu.chain.Analyze.live`.
Events (set start/end, calibration phase) are applied in time order with the rows: an event at
``t`` takes effect before the first row at or after ``t``, whenever either arrives, so a set
holds exactly the rows ``start_s <= t < end_s``, as in the batch analysis.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from imu.errors import ImuError
from imu.types import AngleTable, Event


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
        The last problem (a set that cannot be analysed), empty if none.
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

    # ------------------------------------------------------------------------------ input --
    def event(self, ev: Event) -> None:
        """Queue an event; it takes effect before the first row at or after ``ev.t_s``."""
        if ev.kind not in ("set_start", "set_end", "calibration_start", "calibration_end"):
            return
        bisect.insort(self._pending, (float(ev.t_s), self._seq, ev))
        self._seq += 1

    def rows(self, table: AngleTable) -> np.ndarray:
        """Feed angle rows (in time order); returns the pelvic drop (degrees, (n,)) of each row
        inside a single-leg set, NaN elsewhere (the dashboard's drop trace)."""
        n = len(table.time_s)
        drop = np.full(n, np.nan)
        names = [c for c in self.columns if c in table.columns]
        vals = [np.asarray(table.columns[c], float) for c in names]
        conf_names = list(table.confidence or {})
        conf_vals = [np.asarray(table.confidence[c], float) for c in conf_names]
        for k in range(n):
            t = float(table.time_s[k])
            self._apply_events(t)
            row = {c: float(v[k]) for c, v in zip(names, vals)}
            conf = {c: float(v[k]) for c, v in zip(conf_names, conf_vals)} if conf_names else None
            # every row: the analyzer keeps the recent ones (a rep detector's standing baseline
            # before its set) and recognises the movement; only a set's rows reach a detector
            for item in self.analyzer.update(t, row, conf):
                self._collect(item)
            self._take_completed()
            if self.analyzer.detector is None:
                continue
            self._taken = len(self.analyzer._items)
            st = self.analyzer.live_state()
            self.live_state = st
            if "pelvic_drop_deg" in st:
                drop[k] = st["pelvic_drop_deg"]
        return drop

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
        self.sets.append({k: v for k, v in res.items() if k not in ("reps", "holds", "strides")})
        self.live_state = {}

    def _collect(self, item: dict, res: dict | None = None) -> None:
        w = self.analyzer.window
        exercise = res["exercise"] if res is not None else w.exercise
        side = res.get("side") if res is not None else w.side
        out = {**item, "exercise": exercise, "set_index": len(self.sets) + 1}
        out.setdefault("side", side)
        det_kind = (self.analyzer.detector.kind if self.analyzer.detector is not None
                    else next((k for k in ("holds", "strides") if res is not None and k in res),
                              "reps"))
        {"holds": self.holds, "strides": self.strides}.get(det_kind, self.reps).append(out)
