"""Big readouts for the exercise in progress and the last rep's score and faults in words."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtWidgets

from imu.gui import theme
from imu.live.snapshot import Snapshot, drop_grade
from imu.analysis.language import item_sentence

EXERCISE_TITLES = {
    None: "No set running",
    "hinge": "Hip hinge",
    "single_leg_stance": "Single-leg stance",
    "hip_airplane": "Hip airplane",
    "squat": "Squat",
    "posture": "Posture / pelvic tilt reset",
}


def _fmt(v: float | None, unit: str = "°") -> str:
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:.0f}{unit}" if abs(v) >= 10 else f"{v:.1f}{unit}"


class BigNumber(QtWidgets.QFrame):
    """A caption above a large number, with an optional coloured band behind it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("card")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
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


class ReadoutPanel(QtWidgets.QWidget):
    """Exercise title, three big numbers, and the last rep/hold in plain words."""

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.title = QtWidgets.QLabel()
        self.title.setObjectName("title")
        self.subtitle = QtWidgets.QLabel()
        self.subtitle.setObjectName("muted")
        lay.addWidget(self.title)
        lay.addWidget(self.subtitle)
        self.numbers = [BigNumber() for _ in range(3)]
        for n in self.numbers:
            lay.addWidget(n)
        self.last = QtWidgets.QLabel()
        self.last.setWordWrap(True)
        self.last.setObjectName("card")
        self.last.setMinimumHeight(64)
        self.last.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.last.setStyleSheet(f"background: {theme.PANEL}; border-radius: 8px; padding: 8px;")
        lay.addWidget(self.last)

    def update_snapshot(self, snap: Snapshot) -> None:
        cur = snap.current
        cs = snap.current_set
        exercise = cs.get("exercise") if cs else None
        side = cs.get("side") if cs else None
        self.title.setText(EXERCISE_TITLES.get(exercise, str(exercise)))
        if cs:
            if side and exercise in ("single_leg_stance", "hip_airplane"):
                where = f" · standing on the {side} leg"
            else:
                where = f" · {side} side" if side else ""
            self.subtitle.setText(f"set started at {cs.get('start_s', 0):.0f} s{where}")
        elif snap.calibration.state != "ok":
            self.subtitle.setText("calibrate to see angles")
        else:
            self.subtitle.setText("pick an exercise and start a set")
        flex_side = _pick_side(cur, side)
        n1, n2, n3 = self.numbers
        if exercise == "single_leg_stance":
            drop = cur.get("pelvic_drop_deg", math.nan)
            n1.show_value("pelvic drop", _fmt(drop), drop_grade(drop))
            n2.show_value("pelvis obliquity", _fmt(cur.get("pelvis_obliquity")))
            lifted = {"left": "right", "right": "left"}.get(side or "", None)
            n3.show_value(f"{lifted or 'lifted'} hip flexion",
                          _fmt(cur.get(f"{lifted}_hip_flexion") if lifted else None))
        elif exercise == "hip_airplane":
            n1.show_value("pelvis rotation", _fmt(cur.get("pelvis_rotation")))
            n2.show_value(f"{flex_side or ''} hip rotation".strip(),
                          _fmt(cur.get(f"{flex_side}_hip_rotation")))
            n3.show_value("pelvis obliquity", _fmt(cur.get("pelvis_obliquity")))
        elif exercise == "posture":
            n1.show_value("pelvis tilt", _fmt(cur.get("pelvis_tilt")))
            n2.show_value("pelvis obliquity", _fmt(cur.get("pelvis_obliquity")))
            n3.show_value("pelvis rotation", _fmt(cur.get("pelvis_rotation")))
        else:
            n1.show_value(f"{flex_side or ''} hip flexion".strip(),
                          _fmt(cur.get(f"{flex_side}_hip_flexion")))
            n2.show_value("pelvis tilt", _fmt(cur.get("pelvis_tilt")))
            n3.show_value(f"{flex_side or ''} thigh inclination".strip(),
                          _fmt(cur.get(f"{flex_side}_thigh_inclination")))
        self.last.setText(self._last_text(snap, exercise))

    @staticmethod
    def _last_text(snap: Snapshot, exercise: str | None) -> str:
        if exercise == "single_leg_stance" or (exercise is None and snap.holds and not snap.reps):
            if snap.holds:
                h = snap.holds[-1]
                col = theme.GRADE_COLOURS.get(h.get("grade"), theme.TEXT)
                return (f"<span style='color:{theme.MUTED}'>LAST HOLD</span><br>"
                        f"<span style='color:{col}; font-size:15px'>{item_sentence('single_leg_stance', h)}</span>")
            return f"<span style='color:{theme.MUTED}'>LAST HOLD</span><br>none yet"
        if snap.reps:
            r = snap.reps[-1]
            score = r.get("score")
            col = theme.TEXT
            if isinstance(score, (int, float)) and math.isfinite(score):
                col = theme.GREEN if score >= 80 else (theme.AMBER if score >= 60 else theme.RED)
            head = f"LAST REP · score {score:.0f}/100" if isinstance(score, (int, float)) else "LAST REP"
            return (f"<span style='color:{theme.MUTED}'>{head}</span><br>"
                    f"<span style='color:{col}; font-size:15px'>{item_sentence(r.get('exercise') or 'hinge', r)}</span>")
        return f"<span style='color:{theme.MUTED}'>LAST REP</span><br>none yet"


def _pick_side(cur: dict, side: str | None) -> str | None:
    """The side whose hip to show: the set's side if instrumented, else the one present."""
    if side and f"{side}_hip_flexion" in cur:
        return side
    for s in ("right", "left"):
        if f"{s}_hip_flexion" in cur:
            return s
    return side
