"""The rep / hold list: one row per completed rep or hold, newest at the top."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

from imu.gui import theme
from imu.live.snapshot import Snapshot
from imu.analysis.hinge import FAULTS

FAULT_WORDS = {**FAULTS, "knee_collapse": "the knee caved in"}
#: short labels for the table (the full words are the cell's tooltip)
FAULT_SHORT = {"squat_pattern": "squat pattern", "pelvic_twist": "twist",
               "lateral_shift": "side shift", "lumbar_flexion": "back rounded",
               "knee_collapse": "knee in"}

REP_HEADERS = ["#", "hip", "tilt", "thigh", "share", "score", "faults"]
HOLD_HEADERS = ["#", "stance", "mean", "max", "end", "in band", "grade"]


def _deg(v) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "—"
    return "—" if not math.isfinite(v) else f"{v:.1f}°"


class RepList(QtWidgets.QTabWidget):
    """Two tabs: reps (hinge, squat, airplane) and holds (single-leg stance)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.reps = self._table(REP_HEADERS)
        self.holds = self._table(HOLD_HEADERS)
        self.addTab(self.reps, "Reps")
        self.addTab(self.holds, "Holds")
        self._n = (-1, -1)
        self._exercise = "?"
        self.setStyleSheet(f"QTabBar::tab {{ background: {theme.PANEL_2}; padding: 4px 12px; }}"
                           f"QTabBar::tab:selected {{ background: {theme.PANEL}; color: {theme.ACCENT}; }}"
                           "QTabWidget::pane { border: none; }")

    @staticmethod
    def _table(headers) -> QtWidgets.QTableWidget:
        t = QtWidgets.QTableWidget(0, len(headers))
        t.setHorizontalHeaderLabels(headers)
        t.verticalHeader().setVisible(False)
        t.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        t.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        t.horizontalHeader().setStretchLastSection(True)
        t.horizontalHeader().setSectionResizeMode(len(headers) - 1,
                                                  QtWidgets.QHeaderView.ResizeMode.Stretch)
        t.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        t.setWordWrap(False)
        t.setTextElideMode(QtCore.Qt.TextElideMode.ElideRight)
        return t

    def update_snapshot(self, snap: Snapshot) -> None:
        n = (len(snap.reps), len(snap.holds))
        if n != self._n:
            self._n = n
            self._fill_reps(snap.reps)
            self._fill_holds(snap.holds)
        exercise = snap.current_set.get("exercise") if snap.current_set else None
        if exercise != self._exercise:      # follow the set under way
            self._exercise = exercise
            if exercise is not None:
                self.setCurrentIndex(1 if exercise == "single_leg_stance" else 0)
            elif snap.holds and not snap.reps:
                self.setCurrentIndex(1)

    def _fill_reps(self, reps: list[dict]) -> None:
        t = self.reps
        t.setRowCount(len(reps))
        for row, (i, r) in enumerate(reversed(list(enumerate(reps, 1)))):
            score = r.get("score")
            faults = r.get("faults") or []
            cells = [str(i), _deg(r.get("hip_flexion_peak_deg")),
                     _deg(r.get("pelvis_tilt_peak_deg")), _deg(r.get("thigh_inclination_peak_deg")),
                     "—" if r.get("pelvis_share") is None else f"{float(r['pelvis_share']):.2f}",
                     "—" if score is None else f"{float(score):.0f}",
                     ", ".join(FAULT_SHORT.get(f, f) for f in faults) or "good"]
            for col, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if col == 5 and score is not None:
                    s = float(score)
                    item.setForeground(QtGui.QColor(theme.GREEN if s >= 80 else theme.AMBER if s >= 60 else theme.RED))
                if col == 6:
                    item.setToolTip("; ".join(FAULT_WORDS.get(f, f) for f in faults) or "good")
                    item.setForeground(QtGui.QColor(theme.AMBER if faults else theme.GREEN))
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignVCenter | QtCore.Qt.AlignmentFlag.AlignLeft)
                t.setItem(row, col, item)

    def _fill_holds(self, holds: list[dict]) -> None:
        t = self.holds
        t.setRowCount(len(holds))
        for row, (i, h) in enumerate(reversed(list(enumerate(holds, 1)))):
            pct = h.get("time_in_band_pct")
            cells = [str(i), str(h.get("side", "")), _deg(h.get("pelvic_drop_mean_deg")),
                     _deg(h.get("pelvic_drop_max_deg")), _deg(h.get("pelvic_drop_final_deg")),
                     "—" if pct is None else f"{float(pct):.0f} %", str(h.get("grade", ""))]
            for col, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if col == 6:
                    item.setForeground(QtGui.QColor(theme.GRADE_COLOURS.get(h.get("grade"), theme.TEXT)))
                t.setItem(row, col, item)
