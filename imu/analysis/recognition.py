"""Exercise recognition from the angles alone (no set events needed).

The session is cut into *bouts*: stretches where the body leaves quiet standing (a hip flexed,
the pelvis tilted, a thigh inclined beyond ``active_deg``), closed when quiet standing lasts
``gap_s``. Each bout is described by a few features (:func:`bout_features`) and matched against
:data:`EXERCISE_FEATURES`, a table that gives, per exercise, the range each feature should lie
in; the best-matching row is the label, and how well it matched (against the runner-up) is the
confidence. Adding an exercise is adding a row (and, if it needs one, a feature).

Quiet stretches are labelled ``standing`` (or ``sitting``, thighs near horizontal). A bout that
holds both the protocol's slow hinges and single-leg swings is ``calibration`` (docs/calibration.md), never
an exercise set.

The same :class:`ExerciseRecognizer` object runs live (fed blocks of rows as they arrive; its
:meth:`~ExerciseRecognizer.current` guess is what the dashboard can show) and in batch
(:func:`recognize` feeds a whole table through it), so both give the same segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from imu.types import AngleTable

#: Labels that are exercise sets (the analysis has a detector for them, or will).
EXERCISE_LABELS = ("hinge", "squat", "single_leg_stance", "hip_airplane", "single_leg_hinge",
                   "ir_hinge", "posture", "walking")
#: Labels that are not exercise: never counted as sets.
OTHER_LABELS = ("calibration", "standing", "sitting")


# Feature -> (low, high) soft range per exercise; a feature outside its range lowers the match
# by how far it lies outside, in units of the feature's ``FEATURE_SCALE``. ``None`` = no bound.
EXERCISE_FEATURES: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "hinge": {"tilt_p95": (22, None), "inc_ratio": (None, 0.45), "both_flex_p95": (15, None),
              "asym_p90": (None, 15), "ext_frac": (None, 0.03), "lr_corr": (0.5, None),
              "swing_frac": (None, 0.03)},
    "squat": {"inc_ratio": (0.5, None), "both_flex_p95": (40, None), "ext_frac": (None, 0.03),
              "lr_corr": (0.3, None), "swing_frac": (None, 0.03), "flex_iqr": (12, None)},
    "split_squat": {"flex_p95": (60, None), "ext_frac": (0.25, None), "asym_p90": (40, None),
                    "cycles": (None, 3), "tilt_p95": (None, 20)},
    "single_leg_stance": {"tilt_p95": (None, 12), "asym_p90": (25, None),
                          "lift_frac": (0.35, None), "ext_frac": (None, 0.03)},
    "hip_airplane": {"tilt_p95": (25, None), "asym_p90": (18, None), "rot_range": (15, None),
                     "ext_frac": (None, 0.03), "flex_iqr": (None, 12)},
    # one-leg hinges: back to upright between reps (flexion IQR large, unlike the airplane's held
    # tilt), the free hip near neutral while the stance hip flexes (legs uncorrelated); the
    # internal-rotation hinge turns a hip inward, the single-leg hinge does not
    "single_leg_hinge": {"tilt_p95": (30, None), "asym_p90": (25, None), "flex_iqr": (15, None),
                         "lr_corr": (None, 0.5), "inc_ratio": (None, 0.45), "ir_p95": (None, 7)},
    "ir_hinge": {"tilt_p95": (15, None), "asym_p90": (15, None), "flex_iqr": (10, None),
                 "lr_corr": (None, 0.5), "inc_ratio": (None, 0.45), "ir_p95": (9, None)},
    "posture": {"tilt_range": (8, None), "flex_p95": (None, 22), "inc_p95": (None, 8),
                "asym_p90": (None, 6), "swing_frac": (None, 0.03)},
    "walking": {"lr_corr": (None, -0.2), "ext_frac": (0.1, None), "tilt_p95": (None, 15),
                "cycles": (4, None)},
    "sitting": {"inc_p25": (55, None), "flex_iqr": (None, 15)},
    "calibration": {"tilt_p95": (22, None), "swing_frac": (0.04, None), "lr_corr": (None, 0.9),
                    "inc_ratio": (None, 0.45), "cycles": (None, 12)},
}

#: Table rows that are another row's label (a split squat is analysed as a squat).
LABEL_OF = {"split_squat": "squat"}

#: Quiet time before / after the movement that belongs to a segment, by label (defaults
#: ``pad_before_s`` / ``pad_after_s``): a single-leg set starts with the weight shift before the
#: lift; a posture set keeps the return to neutral after its last cycle (the return error); the
#: protocol ends with 2 s still; a walking bout has no baseline second.
PAD_BEFORE_S = {"single_leg_stance": 2.3, "walking": 1.1}
PAD_AFTER_S = {"posture": 4.4, "calibration": 3.0, "single_leg_stance": 2.6, "walking": 1.1}

FEATURE_SCALE = {"inc_p25": 10.0, "flex_iqr": 6.0,
                 "tilt_p95": 8.0, "tilt_range": 4.0, "inc_ratio": 0.12, "both_flex_p95": 10.0,
                 "asym_p90": 6.0, "ext_frac": 0.05, "lr_corr": 0.25, "lift_frac": 0.15,
                 "rot_range": 6.0, "flex_p95": 6.0, "inc_p95": 4.0, "cycles": 2.0,
                 "swing_frac": 0.04, "ir_p95": 3.0}


@dataclass
class Segment:
    """One recognised stretch of a session.

    ``label`` is an exercise (:data:`EXERCISE_LABELS`) or one of :data:`OTHER_LABELS`;
    ``side`` the stance leg for single-leg work; ``start_s``/``end_s`` include the quiet second
    before and after the movement (the detectors' baseline); ``confidence`` in 0..1.
    """

    label: str
    start_s: float
    end_s: float
    confidence: float
    side: str | None = None
    features: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = {"label": self.label, "start_s": round(self.start_s, 3),
             "end_s": round(self.end_s, 3), "confidence": round(self.confidence, 2)}
        if self.side:
            d["side"] = self.side
        return d


def _p(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, q)) if len(x) else 0.0


def bout_features(cols: dict[str, np.ndarray], duration_s: float) -> dict:
    """The features of one bout (degrees, fractions, counts); see :data:`EXERCISE_FEATURES`."""
    n = len(next(iter(cols.values())))
    zero = np.zeros(n)
    tilt = cols.get("pelvis_tilt", zero)
    sides = [s for s in ("right", "left") if f"{s}_hip_flexion" in cols]
    flex = {s: np.nan_to_num(cols[f"{s}_hip_flexion"]) for s in sides}
    inc = {s: np.nan_to_num(cols.get(f"{s}_thigh_inclination", zero)) for s in sides}
    f: dict = {"duration_s": float(duration_s)}
    f["tilt_p95"] = _p(tilt, 95)
    f["tilt_range"] = _p(tilt, 98) - _p(tilt, 2)
    rot = cols.get("pelvis_rotation", zero)
    f["rot_range"] = _p(rot, 98) - _p(rot, 2)
    if not sides:
        return f
    F = np.stack([flex[s] for s in sides])
    I = np.stack([inc[s] for s in sides])
    f["flex_p95"] = _p(F.max(axis=0), 95)
    f["flex_iqr"] = _p(F.max(axis=0), 75) - _p(F.max(axis=0), 25)
    f["inc_p25"] = _p(I.min(axis=0), 25)
    f["inc_p95"] = _p(I.max(axis=0), 95)
    f["both_flex_p95"] = _p(F.min(axis=0), 95) if len(sides) == 2 else f["flex_p95"]
    moving = F.max(axis=0) > 15.0
    f["inc_ratio"] = (float(np.median(I.max(axis=0)[moving] / F.max(axis=0)[moving]))
                      if moving.sum() > 3 else 0.0)
    f["ext_frac"] = float(np.mean(F.min(axis=0) < -6.0))
    rots = [np.nan_to_num(cols[f"{s}_hip_rotation"]) for s in sides if f"{s}_hip_rotation" in cols]
    if rots:  # hip internal rotation (the internal-rotation hinge turns the stance hip inward)
        f["ir_p95"] = _p(np.max(rots, axis=0), 95)
    if len(sides) == 2:
        d = flex["right"] - flex["left"]
        f["asym_p90"] = _p(np.abs(d), 90)
        lifted = np.abs(d) > 20.0
        f["lift_frac"] = float(np.mean(lifted))
        # which leg is lifted (the higher hip flexion) while one is
        f["lift_side"] = ("right" if np.sum(d[lifted] > 0) >= np.sum(d[lifted] < 0) else "left"
                          ) if lifted.any() else None
        sr, sl = np.std(flex["right"]), np.std(flex["left"])
        f["lr_corr"] = (float(np.corrcoef(flex["right"], flex["left"])[0, 1])
                        if sr > 1e-6 and sl > 1e-6 else 0.0)
        # single-leg swings: one hip into extension while the other stays within 8° of standing
        sw = ((flex["right"] < -6) & (flex["left"] > -3) & (flex["left"] < 8)) | \
             ((flex["left"] < -6) & (flex["right"] > -3) & (flex["right"] < 8))
        f["swing_frac"] = float(np.mean(sw))
        # alternating cycles: sign changes of the left-right difference, halved
        sgn = np.sign(d[np.abs(d) > 8.0])
        f["cycles"] = float(np.sum(sgn[1:] != sgn[:-1]) / 2.0)
    else:
        s = sides[0]
        f["asym_p90"] = _p(np.abs(flex[s] - tilt), 90)
        f["lift_frac"] = float(np.mean(flex[s] - tilt > 20.0))
        f["lift_side"] = s if f["lift_frac"] > 0.2 else None
        f["swing_frac"] = float(np.mean((flex[s] < -6)))
        sgn = np.sign(flex[s][np.abs(flex[s]) > 8.0])
        f["cycles"] = float(np.sum(sgn[1:] != sgn[:-1]) / 2.0)
    return f


def match_scores(features: dict, table: dict | None = None) -> dict[str, float]:
    """How well the features fit each row of the table: 1 = every feature in range; each
    feature out of range multiplies by ``exp(-(distance / scale)²)``."""
    table = EXERCISE_FEATURES if table is None else table
    out = {}
    for label, row in table.items():
        s = 1.0
        for name, (lo, hi) in row.items():
            v = features.get(name)
            if v is None:  # not measurable with these sensors (e.g. one thigh): no evidence
                continue
            d = 0.0
            if lo is not None and v < lo:
                d = lo - v
            elif hi is not None and v > hi:
                d = v - hi
            s *= math.exp(-(d / FEATURE_SCALE.get(name, 1.0)) ** 2)
        out[label] = s
    return out


def classify(features: dict, table: dict | None = None) -> tuple[str, float, str | None]:
    """``(label, confidence, side)`` of one bout."""
    scores = match_scores(features, table)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, s1), (_, s2) = ranked[0], ranked[1] if len(ranked) > 1 else ("", 0.0)
    conf = s1 * (1.0 - s2 / s1) if s1 > 0 else 0.0
    conf = float(min(1.0, max(0.0, 0.5 * s1 + 0.5 * conf)))
    best = LABEL_OF.get(best, best)
    side = None
    lift = features.get("lift_side")
    if best == "single_leg_stance" and lift:
        side = "left" if lift == "right" else "right"   # stance leg: the one not lifted
    elif best in ("hip_airplane", "single_leg_hinge", "ir_hinge") and lift:
        side = lift                                      # stance hip flexes with the tilt
    return best, conf, side


class ExerciseRecognizer:
    """Streaming exercise recognition (live and batch alike).

    Parameters
    ----------
    columns : iterable of str
        The angle columns the rows carry (SPEC names).
    active_deg : float
        A row is *moving* when a hip flexion, the pelvis tilt or a thigh inclination is further
        than this from standing (degrees), or a pelvis obliquity/hip rotation further than 2×.
    gap_s : float
        Quiet standing that closes a bout (longer than the pauses between reps or holds).
    pad_before_s, pad_after_s : float
        Quiet time kept before and after a bout's movement in its segment (the baseline second
        the detectors use, plus the time the movement needs to pass ``active_deg``).
    calibration_lead_s : float
        Quiet standing before the protocol's hinges that belongs to the calibration (docs/calibration.md).
    min_bout_s : float
        Shorter bouts are noise (a shuffle of the feet) and count as standing.
    table : dict, optional
        Exercise feature table (default :data:`EXERCISE_FEATURES`).

    Attributes
    ----------
    segments : list of Segment
        Closed segments so far (bouts and the quiet stretches between them), in time order.
    """

    def __init__(self, columns, *, active_deg: float = 6.0, gap_s: float = 5.0,
                 pad_before_s: float = 1.8, pad_after_s: float = 2.0,
                 calibration_lead_s: float = 5.6, min_bout_s: float = 1.5, table=None):
        self.columns = list(columns)
        self.active_deg = float(active_deg)
        self.gap_s = float(gap_s)
        self.pad_before_s = float(pad_before_s)
        self.pad_after_s = float(pad_after_s)
        self.calibration_lead_s = float(calibration_lead_s)
        self.min_bout_s = float(min_bout_s)
        self.table = table
        self.segments: list[Segment] = []
        self._t: list[np.ndarray] = []
        self._rows: list[dict[str, np.ndarray]] = []
        self._bout_start: float | None = None
        self._last_active: float | None = None
        self._t_last = -math.inf
        self._prev_end = -math.inf               # end of the last bout's segment
        self._t0: float | None = None             # first time fed
        self._current = None                      # (key, Segment) of the last current()
        self._pend_t: list[float] = []            # rows fed one by one, not yet in numpy
        self._pend: list[list[float]] = []
        # per column: the multiple of active_deg beyond which it is moving (0: not used)
        self._kinds = [1.0 if (c.endswith(("_hip_flexion", "_thigh_inclination"))
                               or c == "pelvis_tilt") else
                       2.0 if (c.endswith("_hip_rotation") or c == "pelvis_obliquity") else 0.0
                       for c in self.columns]
        #: how often :meth:`current` classifies the bout under way (seconds of data)
        self.current_every_s = 0.5
        #: the live guess looks at the last this many seconds of the bout (bounded cost)
        self.current_window_s = 60.0
        #: live: a classification :meth:`current` comes due for is made by :meth:`catch_up`
        #: (after the rows are out), :meth:`current` meanwhile answering with the last one
        self.defer = False
        self._due = None                          # (key, t0, t1) of a put-off classification

    # -- feeding ----------------------------------------------------------------------------
    def _active(self, cols: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Moving rows of a block (the rule of :meth:`_row_active`, vectorised)."""
        a = np.zeros(n, dtype=bool)
        for c, k in zip(self.columns, self._kinds):
            if k and c in cols:
                with np.errstate(invalid="ignore"):
                    a |= np.abs(np.asarray(cols[c], dtype=float)) > k * self.active_deg
        return a

    def feed(self, time_s, columns: dict[str, np.ndarray]) -> list[Segment]:
        """Feed a block of rows (times (n,) s; column -> (n,) degrees). Returns segments that
        closed in this block."""
        t = np.asarray(time_s, dtype=float)
        n = len(t)
        if n == 0:
            return []
        self._flush()
        cols = {c: (np.asarray(columns[c], dtype=float) if c in columns else np.full(n, np.nan))
                for c in self.columns}
        act = self._active(cols, n)
        valid = np.isfinite(np.asarray(cols.get("pelvis_tilt", np.zeros(n)), dtype=float))
        if self._t0 is None:
            self._t0 = float(t[0])
        self._t.append(t)
        self._rows.append(cols)
        closed: list[Segment] = []
        for i in np.flatnonzero(act & valid):  # the state machine only at moving samples
            closed += self._moving(float(t[i]))
        self._t_last = float(t[-1])
        closed += self._maybe_close()
        self._trim()
        return closed

    def update(self, t_s: float, row: dict) -> list[Segment]:
        """Feed one row (the live path; the same state machine as :meth:`feed`, without a
        numpy call per row)."""
        t = float(t_s)
        if self._t0 is None:
            self._t0 = t
        vals = [float(row.get(c, math.nan)) for c in self.columns]
        self._pend_t.append(t)
        self._pend.append(vals)
        closed: list[Segment] = []
        tilt = row.get("pelvis_tilt", 0.0)
        if tilt == tilt and self._row_active(vals):  # (NaN != NaN: a gap is not moving)
            closed += self._moving(t)
        self._t_last = t
        closed += self._maybe_close()
        if len(self._pend_t) >= 256:
            self._flush()
            self._trim()
        return closed

    def _row_active(self, vals: list[float]) -> bool:
        for c, v, k in zip(self.columns, vals, self._kinds):
            if k and v == v and abs(v) > k * self.active_deg:
                return True
        return False

    def _moving(self, ti: float) -> list[Segment]:
        closed = []
        if self._bout_start is None:
            self._bout_start = ti
        elif self._last_active is not None and ti - self._last_active > self.gap_s:
            closed += self._close_bout()
            self._bout_start = ti
        self._last_active = ti
        return closed

    def _maybe_close(self) -> list[Segment]:
        if (self._bout_start is not None and self._last_active is not None
                and self._t_last - self._last_active > self.gap_s):
            return self._close_bout()
        return []

    def _flush(self) -> None:
        """Move the rows fed one by one into the numpy buffer."""
        if not self._pend_t:
            return
        a = np.asarray(self._pend, dtype=float)
        self._t.append(np.asarray(self._pend_t, dtype=float))
        self._rows.append({c: a[:, k] for k, c in enumerate(self.columns)})
        self._pend_t, self._pend = [], []

    def finish(self) -> list[Segment]:
        """End of the data: closes the bout under way and the last quiet stretch."""
        closed = self._close_bout() if self._bout_start is not None else []
        if self._t_last > self._prev_end + 0.5:  # (no bout at all: from the first row, not
            # from -inf, which no JSON can hold)
            q0 = self._prev_end if math.isfinite(self._prev_end) else self._first_t()
            closed.append(self._quiet(q0, self._t_last))
        self.segments += [s for s in closed if s not in self.segments]
        return closed

    # -- state ------------------------------------------------------------------------------
    def current(self) -> Segment | None:
        """Best guess for the bout under way (None when standing quietly): the bout's last
        ``current_window_s`` seconds classified, at most every ``current_every_s``."""
        if self._bout_start is None:
            return None
        key = (self._bout_start, math.floor(self._t_last / self.current_every_s))
        if self._current is not None and self._current[0] == key:
            return self._current[1]  # at most one classification per current_every_s
        t0 = max(self._bout_start, self._t_last - self.current_window_s)
        if self.defer:
            # the classification this row would make, made later on the same rows (those
            # up to this one; as here, not before the bout has 3 rows); meanwhile the bout's
            # last guess
            if (self._due is None or self._due[0] != key) and self._third_newest_t() >= t0:
                self._due = (key, t0, self._t_last)
            cur = self._current
            return cur[1] if cur is not None and cur[0][0] == self._bout_start else None
        return self._classify(key, t0, self._t_last)

    def _third_newest_t(self) -> float:
        """Time of the third newest row fed (-inf before there are 3)."""
        pend = self._pend_t
        if len(pend) >= 3:
            return pend[-3]
        need = 3 - len(pend)
        for blk in reversed(self._t):
            if len(blk) >= need:
                return float(blk[-need])
            need -= len(blk)
        return -math.inf

    def catch_up(self) -> bool:
        """Make the classification :meth:`current` put off (``defer``); whether it made one."""
        due, self._due = self._due, None
        if due is None or due[0][0] != self._bout_start:
            return False
        return self._classify(*due) is not None

    def _classify(self, key, t0: float, t1: float) -> Segment | None:
        t, cols = self._window(t0, t1)
        if len(t) < 3:
            return None
        label, conf, side = classify(bout_features(cols, t1 - t0), self.table)
        seg = Segment(label, self._bout_start, t1, conf, side)
        self._current = (key, seg)
        return seg

    def _window(self, t0: float, t1: float):
        self._flush()
        t = np.concatenate(self._t) if self._t else np.zeros(0)
        m = (t >= t0) & (t <= t1)
        cols = {c: np.concatenate([r[c] for r in self._rows])[m] for c in self._rows[0]} \
            if self._rows else {}
        return t[m], cols

    def _trim(self) -> None:
        """Keep only the rows a later segment can still need."""
        keep_from = self._bout_start if self._bout_start is not None else \
            self._t_last - self.calibration_lead_s - self.pad_before_s - 1.0
        keep_from = min(keep_from, self._t_last - self.calibration_lead_s - self.pad_before_s)
        while len(self._t) > 1 and self._t[0][-1] < keep_from:
            self._t.pop(0)
            self._rows.pop(0)
        if len(self._t) > 64:  # many small blocks: join them
            self._t = [np.concatenate(self._t)]
            self._rows = [{c: np.concatenate([r[c] for r in self._rows]) for c in self._rows[0]}]

    def _quiet(self, t0: float, t1: float) -> Segment:
        tq, cols = self._window(t0, t1)
        label = "standing"
        incs = [np.nanmedian(cols[c]) for c in cols if c.endswith("_thigh_inclination")
                and np.isfinite(cols[c]).any()]
        if incs and min(incs) > 50.0:
            label = "sitting"
        return Segment(label, t0, t1, 1.0)

    def _close_bout(self) -> list[Segment]:
        b0, b1 = self._bout_start, self._last_active
        self._bout_start = None
        out: list[Segment] = []
        if b0 is None or b1 is None:
            return out
        if b1 - b0 < self.min_bout_s:
            return out  # a shuffle: part of the quiet stretch
        t, cols = self._window(b0, b1)
        feats = bout_features(cols, b1 - b0)
        label, conf, side = classify(feats, self.table)
        lead = self.calibration_lead_s if label == "calibration" else \
            PAD_BEFORE_S.get(label, self.pad_before_s)
        start = max(b0 - lead, self._prev_end, self._first_t())
        end = b1 + PAD_AFTER_S.get(label, self.pad_after_s)
        q0 = self._prev_end if math.isfinite(self._prev_end) else self._first_t()
        if start > q0 + 0.5:
            out.append(self._quiet(q0, start))
        seg = Segment(label, start, end, conf, side, feats)
        out.append(seg)
        self._prev_end = end
        self.segments += out
        return out

    def earliest_next_start(self) -> float:
        """The earliest time (s) a segment closed from now on can start: rows before it are
        no longer needed by anyone who analyses the next segment's rows."""
        lead = max(self.calibration_lead_s, self.pad_before_s, *PAD_BEFORE_S.values())
        t = self._bout_start if self._bout_start is not None else self._t_last
        return max(self._prev_end, t - lead)

    def _first_t(self) -> float:
        return self._t0 if self._t0 is not None else 0.0


def recognize(angles: AngleTable, block_s: float = 10.0, **kw) -> list[Segment]:
    """Recognise the exercises of a whole angle table (the batch path: the same
    :class:`ExerciseRecognizer` the live path feeds, fed in blocks)."""
    t = np.asarray(angles.time_s, dtype=float)
    if len(t) < 2:
        return []
    rate = float(1.0 / np.median(np.diff(t)))
    rec = ExerciseRecognizer(angles.names(), **kw)
    step = max(1, int(block_s * rate))
    for i in range(0, len(t), step):
        rec.feed(t[i:i + step], {c: v[i:i + step] for c, v in angles.columns.items()})
    rec.finish()
    return rec.segments


def inferred_sets(segments: list[Segment], analysable) -> tuple[list, list[dict]]:
    """Exercise sets of a session without set events, from its recognised segments.

    Returns ``(windows, not_analysed)``: a :class:`~imu.analysis.sets.SetWindow` (source
    ``"inferred"``) per recognised exercise the analysis has a detector for (``analysable``),
    and a JSON entry with the reason for every other recognised exercise (e.g. walking without
    a stride analysis). Calibration, standing and sitting are never sets.
    """
    from imu.analysis.sets import SetWindow

    windows, other = [], []
    for g in segments:
        if g.label in OTHER_LABELS:
            continue
        if g.label in analysable:
            windows.append(SetWindow(g.label, g.side, g.start_s, g.end_s, "inferred",
                                     g.confidence))
        else:
            other.append({"exercise": g.label, "side": g.side, "start_s": round(g.start_s, 3),
                          "end_s": round(g.end_s, 3), "inferred": True,
                          "reason": f"recognised as {g.label} (confidence "
                                    f"{g.confidence:.2f}); this version has no {g.label} "
                                    "analysis"})
    return windows, other


#: Label → words for messages.
WORDS = {"hinge": "a hip hinge", "squat": "a squat", "single_leg_stance": "single-leg stance",
         "hip_airplane": "a hip airplane", "posture": "pelvic tilt resets",
         "single_leg_hinge": "a single-leg hinge", "ir_hinge": "an internal-rotation hinge",
         "walking": "walking", "calibration": "the calibration protocol",
         "standing": "standing still", "sitting": "sitting"}


#: exercises on one leg whose main evidence is the lifted (free) leg's thigh
ONE_LEG = ("single_leg_stance", "hip_airplane", "single_leg_hinge", "ir_hinge")


def check_label(exercise: str, side: str | None, start_s: float, end_s: float,
                segments: list[Segment], min_confidence: float = 0.5,
                sides: list[str] | None = None) -> dict:
    """What the person was recognised doing during a recorded set, and whether it disagrees.

    Returns the set's extra JSON fields: ``recognised`` (``exercise``, ``side``,
    ``confidence``) and, when the recognised exercise (or stance side) differs from the
    recorded one with at least ``min_confidence``, ``label_mismatch: true`` and a ``warning``
    in plain words (for the dashboard and the report). ``sides``: the instrumented thighs
    (``right``/``left``); with the stance thigh alone a one-leg exercise is not judged (the
    lifted leg, its main evidence, is not seen).
    """
    best, ov = None, 0.0
    for g in segments:
        o = min(end_s, g.end_s) - max(start_s, g.start_s)
        if g.label not in ("standing", "sitting") and o > ov:
            best, ov = g, o
    if best is None:
        rec = {"exercise": "standing", "side": None, "confidence": 1.0}
    else:
        rec = {"exercise": best.label, "side": best.side, "confidence": round(best.confidence, 2)}
    out: dict = {"recognised": rec}
    if rec["confidence"] < min_confidence:
        return out
    what = WORDS.get(exercise, exercise)
    one_thigh = best is not None and "lr_corr" not in best.features
    if exercise in ("single_leg_hinge", "ir_hinge") and rec["exercise"] == "hinge" and one_thigh:
        return out  # with the stance thigh only, a one-leg hinge looks like a hinge: no evidence
    if exercise in ONE_LEG and side and sides is not None and list(sides) == [side]:
        return out  # the stance thigh alone: a lifted leg nobody wears a sensor on is unseen
    if rec["exercise"] != exercise:
        out["label_mismatch"] = True
        out["warning"] = (f"recorded as {what}, but the movement looks like "
                          f"{WORDS.get(rec['exercise'], rec['exercise'])}: check the results")
    elif side and rec["side"] and rec["side"] != side:
        out["label_mismatch"] = True
        out["warning"] = (f"recorded as {what} on the {side} leg, but the person stood on the "
                          f"{rec['side']} leg: check the results")
    return out
