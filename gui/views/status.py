"""Per-sensor status strip: role, connection state, battery, measured rate, drops."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from imu.gui import theme
from imu.sources.base import SensorStatus

ROLE_TITLES = {"sacrum": "Sacrum", "right_thigh": "Right thigh", "left_thigh": "Left thigh",
               "trunk": "Trunk"}


def _label(text: str = "", name: str | None = None) -> QtWidgets.QLabel:
    lab = QtWidgets.QLabel(text)
    if name:
        lab.setObjectName(name)
    return lab


class SensorCard(QtWidgets.QFrame):
    """One sensor: title, state pill, battery, rate, drops."""

    def __init__(self, role: str, parent=None):
        super().__init__(parent)
        self.setObjectName("card")
        self.role = role
        lay = QtWidgets.QGridLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setHorizontalSpacing(12)
        lay.setVerticalSpacing(2)
        self.title = _label(ROLE_TITLES.get(role, role))
        self.title.setStyleSheet("font-weight: 600;")
        self.state = _label()
        self.sensor_id = _label("", "muted")
        self.battery = _label()
        self.rate = _label()
        self.drops = _label()
        for lab in (self.sensor_id, self.battery, self.rate, self.drops):
            lab.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                              QtWidgets.QSizePolicy.Policy.Preferred)
        lay.addWidget(self.title, 0, 0)
        lay.addWidget(self.state, 0, 1, 1, 2, QtCore.Qt.AlignmentFlag.AlignRight)
        lay.addWidget(self.sensor_id, 1, 0, 1, 3)
        lay.addWidget(self.battery, 2, 0)
        lay.addWidget(self.rate, 2, 1)
        lay.addWidget(self.drops, 2, 2)

    def update_status(self, st: SensorStatus) -> None:
        colour = theme.STATE_COLOURS.get(st.state, theme.GREY)
        self.state.setText(f"<span style='color:{colour}'>●</span> {st.state}")
        self.sensor_id.setText(st.sensor_id)
        if st.battery_pct is None:
            self.battery.setText("battery —")
        else:
            bcol = theme.RED if st.battery_pct < 15 else (theme.AMBER if st.battery_pct < 30 else theme.TEXT)
            self.battery.setText(f"<span style='color:{bcol}'>battery {st.battery_pct:.0f} %</span>")
        self.rate.setText(f"{st.rate_hz:.1f} Hz")
        lost = st.dropped
        dcol = theme.TEXT if lost == 0 else theme.AMBER
        extra = f", {st.reconnects} reconnects" if st.reconnects else ""
        self.drops.setText(f"<span style='color:{dcol}'>{lost} dropped{extra}</span>")


class StatusStrip(QtWidgets.QWidget):
    """A row of :class:`SensorCard`, one per role, created as roles appear."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lay = QtWidgets.QHBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(8)
        self.cards: dict[str, SensorCard] = {}
        self._empty = _label("waiting for sensors…", "muted")
        self._lay.addWidget(self._empty)

    def update_status(self, status: dict[str, SensorStatus]) -> None:
        for role, st in status.items():
            card = self.cards.get(role)
            if card is None:
                if self._empty is not None:
                    self._empty.hide()
                card = self.cards[role] = SensorCard(role)
                self._lay.addWidget(card, 1)
            card.update_status(st)
