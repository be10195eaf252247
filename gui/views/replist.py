"""The rep / hold / stride list: one tab per exercise done, with that exercise's own columns
(:mod:`gui.views.exercises`), newest first, each row coloured by its grade or worst fault.
Clicking a row emits :attr:`RepList.item_clicked` (replay seeks there)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from imu.gui import theme
from imu.gui.views.exercises import items_of, view_for
from imu.analysis.language import item_grade
from imu.live.snapshot import Snapshot


class ItemTable(QtWidgets.QTableWidget):
    """The list of one exercise."""

    def __init__(self, exercise: str, parent=None):
        self.view = view_for(exercise)
        cols = self.view.columns
        super().__init__(0, len(cols), parent)
        self.exercise = exercise
        self.items: list[dict] = []
        self.setHorizontalHeaderLabels([c.header for c in cols])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        hh = self.horizontalHeader()
        hh.setMinimumSectionSize(24)
        for k, c in enumerate(cols):
            hh.setSectionResizeMode(k, QtWidgets.QHeaderView.ResizeMode.Stretch if c.wide
                                    else QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        if not any(c.wide for c in cols):
            hh.setStretchLastSection(True)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setWordWrap(True)
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)

    def fill(self, items: list[dict]) -> None:
        self.items = list(items)
        self.setRowCount(len(items))
        cols = self.view.columns
        for row, it in enumerate(reversed(self.items)):
            colour = QtGui.QColor(theme.GRADE_COLOURS.get(item_grade(it), theme.TEXT))
            for k, c in enumerate(cols):
                cell = QtWidgets.QTableWidgetItem(c.text(it))
                if c.coloured:
                    cell.setForeground(colour)
                if c.tooltip is not None:
                    cell.setToolTip(c.tooltip(it))
                cell.setData(QtCore.Qt.ItemDataRole.UserRole, len(self.items) - 1 - row)
                self.setItem(row, k, cell)
        self.resizeRowsToContents()

    def item_at_row(self, row: int) -> dict | None:
        k = len(self.items) - 1 - row
        return self.items[k] if 0 <= k < len(self.items) else None


class RepList(QtWidgets.QTabWidget):
    """Tabs per exercise (in the order first done); follows the set under way.

    Signals
    -------
    item_clicked(dict)
        The rep, hold or stride whose row was clicked.
    """

    item_clicked = QtCore.Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.tables: dict[str, ItemTable] = {}
        self._counts: dict[str, int] = {}
        self._exercise = "?"
        self.setStyleSheet(f"QTabBar::tab {{ background: {theme.PANEL_2}; padding: 4px 10px; }}"
                           f"QTabBar::tab:selected {{ background: {theme.PANEL}; color: {theme.ACCENT}; }}"
                           "QTabWidget::pane { border: none; }")
        self._placeholder = QtWidgets.QLabel("No reps or holds yet.")
        self._placeholder.setObjectName("muted")
        self._placeholder.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.addTab(self._placeholder, "Reps")

    def table(self, exercise: str) -> ItemTable:
        t = self.tables.get(exercise)
        if t is None:
            if self.indexOf(self._placeholder) >= 0:
                self.removeTab(self.indexOf(self._placeholder))
            t = self.tables[exercise] = ItemTable(exercise)
            t.cellClicked.connect(lambda row, _col, t=t: self._clicked(t, row))
            self.addTab(t, view_for(exercise).title)
        return t

    def _clicked(self, table: ItemTable, row: int) -> None:
        it = table.item_at_row(row)
        if it is not None:
            self.item_clicked.emit(it)

    def update_snapshot(self, snap: Snapshot) -> None:
        exercises = []
        for pool in (snap.reps, snap.holds, getattr(snap, "strides", [])):
            for it in pool:
                ex = it.get("exercise")
                if ex and ex not in exercises:
                    exercises.append(ex)
        for ex in exercises:
            items = items_of(snap, ex)
            t = self.table(ex)
            n = len(items)
            if self._counts.get(ex) != n:
                self._counts[ex] = n
                t.fill(items)
                self.setTabText(self.indexOf(t), f"{view_for(ex).title} ({n})")
        for ex, t in self.tables.items():          # a replay seek back empties lists
            if ex not in exercises and self._counts.get(ex):
                self._counts[ex] = 0
                t.fill([])
                self.setTabText(self.indexOf(t), f"{view_for(ex).title} (0)")
        cur = snap.current_set.get("exercise") if snap.current_set else None
        if cur != self._exercise:
            self._exercise = cur
            if cur is not None and cur in VIEW_KEYS_WITH_ITEMS:
                self.setCurrentWidget(self.table(cur))
            elif cur is None and exercises:
                self.setCurrentWidget(self.table(exercises[-1]))


#: exercises whose list opens as soon as their set starts
VIEW_KEYS_WITH_ITEMS = {"hinge", "squat", "single_leg_stance", "hip_airplane", "single_leg_hinge",
                        "ir_hinge", "walking"}
