"""Big readouts for the exercise in progress and the last rep's score and faults in words."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtWidgets

from imu.gui import theme
from imu.gui.views.exercises import item_number, items_of, view_for
from imu.analysis.language import item_grade, item_sentence
from imu.live.snapshot import Snapshot, drop_grade


def _fmt(v: float | None, unit: str = "°") -> str:
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:.0f}{unit}" if abs(v) >= 10 else f"{v:.1f}{unit}"


def snapshot_drop_grade(snap: Snapshot, drop_deg: float | None) -> str:
    """The live pelvic drop's grade with the limits the model analyses with."""
    g, a = getattr(snap, "drop_limits_deg", None) or (None, None)
    if g is None:
        return drop_grade(drop_deg)
    return drop_grade(drop_deg, g, a)


class BigNumber(QtWidgets.QFrame):
    """A caption above a large number, with an optional coloured band behind it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("card")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(12, 6, 12, 6)
        lay.setSpacing(0)
        self.caption = QtWidgets.QLabel()
        self.caption.setObjectName("bigcap")
        self.value = QtWidgets.QLabel("—")
        self.value.setObjectName("bignum")
        self.value.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter)
        lay.addWidget(self.caption)
        lay.addWidget(self.value)
        self._band = None

    def show_value(self, caption: str, text: str, band: str | None = None) -> None:
        self.caption.setText(caption.upper())
        self.value.setText(text)
        if band != self._band:
            self._band = band
            if band in ("green", "amber", "red"):
                col = theme.GRADE_COLOURS[band]
                self.setStyleSheet(f"QFrame#card {{ background: {theme.PANEL}; "
                                   f"border: 3px solid {col}; border-radius: 8px; }}"
                                   f"QLabel#bignum {{ color: {col}; }}")
            else:
                self.setStyleSheet("")


def set_side(cur: dict, side: str | None) -> str | None:
    """The side whose hip to show: the set's side if instrumented, else the one present."""
    if side and f"{side}_hip_flexion" in cur:
        return side
    for s in ("right", "left"):
        if f"{s}_hip_flexion" in cur:
            return s
    return side


def last_item(snap: Snapshot, exercise: str | None) -> dict | None:
    """The newest completed item of the set's exercise (or of any exercise between sets)."""
    if exercise:
        items = items_of(snap, exercise)
        return items[-1] if items else None
    pool = list(snap.reps) + list(snap.holds) + list(getattr(snap, "strides", []))
    return max(pool, key=lambda it: it.get("end_s") or 0.0) if pool else None


class ReadoutPanel(QtWidgets.QWidget):
    """Exercise title, three big numbers, and the last rep/hold in plain words."""

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        self.title = QtWidgets.QLabel()
        self.title.setObjectName("title")
        self.subtitle = QtWidgets.QLabel()
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)
        self.subtitle.setTextFormat(QtCore.Qt.TextFormat.RichText)
        lay.addWidget(self.title)
        lay.addWidget(self.subtitle)
        self.numbers = [BigNumber() for _ in range(3)]
        row = QtWidgets.QHBoxLayout()
        row.setSpacing(8)
        col = QtWidgets.QVBoxLayout()
        col.setSpacing(6)
        for n in self.numbers:
            col.addWidget(n)
        row.addLayout(col, 1)
        self.figure_slot = row          # the dashboard puts the stick figure here
        lay.addLayout(row)
        self.last = QtWidgets.QLabel()
        self.last.setWordWrap(True)
        self.last.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.last.setMinimumHeight(92)
        self.last.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred,
                                QtWidgets.QSizePolicy.Policy.MinimumExpanding)
        self.last.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.last.setStyleSheet(f"background: {theme.PANEL}; border-radius: 8px; padding: 8px;")
        lay.addWidget(self.last)
        self.last_grade = "none"

    def update_snapshot(self, snap: Snapshot) -> None:
        cur = snap.current
        cs = snap.current_set
        exercise = cs.get("exercise") if cs else None
        view = view_for(exercise)
        side = cs.get("side") if cs else None
        self.title.setText(view.title if cs else "No set running")
        if cs:
            if side and view.stance_side:
                where = f" · standing on the {side} leg"
            elif side:
                where = f" · {side} side"
            else:
                where = ""
            how = ""
            if cs.get("inferred"):
                how = f" · recognised from the movement (confidence {cs.get('confidence', 0):.2f})"
            text = f"set started at {cs.get('start_s', 0):.0f} s{where}{how}"
            if cs.get("label_mismatch"):
                warn = cs.get("warning") or "the movement does not look like this exercise"
                text += f"<br><span style='color:{theme.AMBER}'>⚠ {warn}</span>"
            self.subtitle.setText(text)
        elif snap.calibration.state != "ok":
            self.subtitle.setText("calibrate to see angles" if snap.mode == "live"
                                  else "no angles in this recording")
        elif snap.mode == "replay":
            self.subtitle.setText("between sets")
        else:
            self.subtitle.setText("pick an exercise and start a set")
        show = set_side(cur, side)
        if view.stance_side and side in ("left", "right"):
            show = side
        lifted = {"left": "right", "right": "left"}.get(side or "")
        for box, r in zip(self.numbers, view.readouts):
            col = r.column.format(side=show or "right", lifted=lifted or "right")
            cap = r.caption.format(side=show or "", lifted=lifted or "lifted").strip()
            v = cur.get(col)
            band = snapshot_drop_grade(snap, v) if r.drop_grade else None
            box.show_value(cap, _fmt(v), band)
        self.last.setText(self._last_text(snap, exercise))

    def _last_text(self, snap: Snapshot, exercise: str | None) -> str:
        it = last_item(snap, exercise)
        word = view_for(exercise or (it or {}).get("exercise")).item_word
        if it is None:
            self.last_grade = "none"
            return f"<span style='color:{theme.MUTED}'>LAST {word.upper()}</span><br>none yet"
        grade = item_grade(it)
        self.last_grade = grade
        col = theme.GRADE_COLOURS.get(grade, theme.TEXT)
        v = view_for(it.get("exercise"))
        head = f"LAST {v.item_word.upper()} · {v.title} · set {item_number(it).replace('·', ' #')}"
        score = it.get("score")
        if isinstance(score, (int, float)) and math.isfinite(score):
            head += f" · score {score:.0f}/100"
        elif it.get("grade"):
            head += f" · {it['grade']}"
        sentence = item_sentence(it.get("exercise") or "hinge", it) or ""
        return (f"<span style='color:{theme.MUTED}'>{head}</span><br>"
                f"<span style='color:{col}; font-size:15px'>{sentence}</span>")
