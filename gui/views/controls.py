"""Bottom bar controls: set start/end with exercise and side pickers (live), and the replay
transport (play/pause, seek slider, speed)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from imu.gui.views.exercises import view_for
from imu.live.snapshot import Snapshot
from imu.types import EXERCISES

SIDE_LABELS = [("right", "Right"), ("left", "Left"), (None, "—")]


class SeekSlider(QtWidgets.QSlider):
    """A slider whose track jumps to where it is clicked (not a page step)."""

    clicked_value = QtCore.Signal(int)

    def mousePressEvent(self, ev):  # noqa: N802 (Qt name)
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            opt = QtWidgets.QStyleOptionSlider()
            self.initStyleOption(opt)
            handle = self.style().subControlRect(QtWidgets.QStyle.ComplexControl.CC_Slider, opt,
                                                 QtWidgets.QStyle.SubControl.SC_SliderHandle, self)
            if not handle.contains(ev.position().toPoint()):
                v = self.value_at(ev.position().x())
                self.setValue(v)
                self.clicked_value.emit(v)
                ev.accept()
                return
        super().mousePressEvent(ev)

    def value_at(self, x: float) -> int:
        """Slider value under horizontal pixel ``x``."""
        opt = QtWidgets.QStyleOptionSlider()
        self.initStyleOption(opt)
        groove = self.style().subControlRect(QtWidgets.QStyle.ComplexControl.CC_Slider, opt,
                                             QtWidgets.QStyle.SubControl.SC_SliderGroove, self)
        handle = self.style().subControlRect(QtWidgets.QStyle.ComplexControl.CC_Slider, opt,
                                             QtWidgets.QStyle.SubControl.SC_SliderHandle, self)
        span = max(1, groove.width() - handle.width())
        pos = int(round(x - groove.x() - handle.width() / 2))
        return QtWidgets.QStyle.sliderValueFromPosition(self.minimum(), self.maximum(),
                                                        min(max(pos, 0), span), span)
SPEEDS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]


def _fmt_time(t: float) -> str:
    t = max(0.0, t)
    return f"{int(t // 60)}:{t % 60:04.1f}"


class SetControls(QtWidgets.QWidget):
    """Exercise and side pickers, a Start/End set button and the Calibrate button.

    Signals
    -------
    start_set(str, object)
        Exercise name and side (``"left"``/``"right"``/``None``).
    end_set()
    calibrate()
    """

    start_set = QtCore.Signal(str, object)
    end_set = QtCore.Signal()
    calibrate = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.exercise = QtWidgets.QComboBox()
        for ex in EXERCISES:
            if view_for(ex).in_controls:
                self.exercise.addItem(view_for(ex).title, ex)
        self.exercise.currentIndexChanged.connect(self._caption)
        self.side_label = QtWidgets.QLabel("Side")
        self.side = QtWidgets.QComboBox()
        for val, label in SIDE_LABELS:
            self.side.addItem(label, val)
        self.toggle = QtWidgets.QPushButton("Start set")
        self.toggle.setObjectName("primary")
        self.toggle.clicked.connect(self._on_toggle)
        self.calib = QtWidgets.QPushButton("Calibrate…")
        self.calib.clicked.connect(self.calibrate.emit)
        lay.addWidget(QtWidgets.QLabel("Exercise"))
        lay.addWidget(self.exercise)
        lay.addWidget(self.side_label)
        lay.addWidget(self.side)
        lay.addWidget(self.toggle)
        lay.addStretch(1)
        lay.addWidget(self.calib)
        self._running = False
        self._caption()

    def _caption(self, *_):
        self.side_label.setText(view_for(self.exercise.currentData()).side_caption)

    def _on_toggle(self) -> None:
        if self._running:
            self.end_set.emit()
        else:
            self.start_set.emit(self.exercise.currentData(), self.side.currentData())

    def update_snapshot(self, snap: Snapshot) -> None:
        running = snap.current_set is not None
        if running != self._running:
            self._running = running
            self.toggle.setText("End set" if running else "Start set")
            self.toggle.setObjectName("danger" if running else "primary")
            self.toggle.style().unpolish(self.toggle)
            self.toggle.style().polish(self.toggle)
            self.exercise.setEnabled(not running)
            self.side.setEnabled(not running)
        if running:         # a set started by the source (simulator, replay) shows in the boxes
            i = self.exercise.findData(snap.current_set.get("exercise"))
            if i >= 0 and i != self.exercise.currentIndex():
                self.exercise.setCurrentIndex(i)
            j = self.side.findData(snap.current_set.get("side"))
            if j >= 0 and j != self.side.currentIndex():
                self.side.setCurrentIndex(j)


class ReplayControls(QtWidgets.QWidget):
    """Play/pause, a seek slider with the time, and a speed picker.

    Signals
    -------
    play_pause()
    seek(float)
        Target time, seconds.
    speed(float)
    """

    play_pause = QtCore.Signal()
    seek = QtCore.Signal(float)
    speed = QtCore.Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.play = QtWidgets.QPushButton("❚❚ Pause")
        self.play.setToolTip("Space: play/pause · ←/→: 5 s back/forward · Home: start · "
                             "End: end · click a rep in the list to jump to it · Ctrl+Q: quit")
        self.play.setObjectName("primary")
        self.play.setMinimumWidth(96)
        self.play.clicked.connect(self.play_pause.emit)
        self.slider = SeekSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 1000)
        self.slider.setToolTip("click to jump; drag to scrub")
        self.slider.clicked_value.connect(lambda v: self.seek.emit(v / 10.0))
        self.slider.sliderMoved.connect(lambda v: self.seek.emit(v / 10.0))
        self.slider.sliderReleased.connect(lambda: self.seek.emit(self.slider.value() / 10.0))
        self.time = QtWidgets.QLabel("0:00.0 / 0:00.0")
        self.time.setMinimumWidth(120)
        self.speeds = QtWidgets.QComboBox()
        for s in SPEEDS:
            self.speeds.addItem(f"{s:g}×", s)
        self.speeds.setCurrentIndex(SPEEDS.index(1.0))
        self.speeds.currentIndexChanged.connect(lambda i: self.speed.emit(self.speeds.itemData(i)))
        lay.addWidget(self.play)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.time)
        lay.addWidget(QtWidgets.QLabel("Speed"))
        lay.addWidget(self.speeds)

    def update_snapshot(self, snap: Snapshot) -> None:
        dur = snap.duration_s or 0.0
        self.slider.setRange(0, max(1, int(round(dur * 10))))
        if not self.slider.isSliderDown():
            self.slider.setValue(int(round(snap.t_now_s * 10)))
        self.time.setText(f"{_fmt_time(snap.t_now_s)} / {_fmt_time(dur)}")
        self.play.setText("❚❚ Pause" if snap.playing else "▶ Play")
        i = self.speeds.findData(snap.speed)
        if i >= 0 and i != self.speeds.currentIndex():
            self.speeds.blockSignals(True)
            self.speeds.setCurrentIndex(i)
            self.speeds.blockSignals(False)
