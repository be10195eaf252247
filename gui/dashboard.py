"""The main window: status strip, live traces, big readouts, rep list and controls.

The window pulls a :class:`~imu.live.snapshot.Snapshot` from its model (the live pipeline or
the replay player) on a timer and draws it; the model does all the computing in its own thread.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from imu.gui import theme
from imu.gui.views.controls import ReplayControls, SetControls
from imu.gui.views.readouts import ReadoutPanel
from imu.gui.views.replist import RepList
from imu.gui.views.status import StatusStrip
from imu.gui.views.traces import TracePanel
from imu.live.snapshot import Snapshot

CALIB_BADGES = {
    "none": (theme.AMBER, "not calibrated"),
    "recording": (theme.ACCENT, "calibrating…"),
    "solving": (theme.ACCENT, "solving calibration…"),
    "ok": (theme.GREEN, "calibrated"),
    "refused": (theme.RED, "calibration refused"),
}


class Dashboard(QtWidgets.QMainWindow):
    """The dashboard window.

    Parameters
    ----------
    model : DashboardModel
        Live pipeline or replay player (``snapshot()``, set/replay/calibration methods).
    mode : str
        ``"live"`` (set controls, calibration) or ``"replay"`` (transport controls).
    refresh_hz : float
        Redraw rate; 0 disables the timer (tests call :meth:`refresh`).
    calibrator : callable, optional
        Passed to the calibration wizard (live mode).
    """

    def __init__(self, model, mode: str = "live", refresh_hz: float = 25.0, title: str = ""):
        super().__init__()
        self.model = model
        self.mode = mode
        self.setWindowTitle(title or ("imu — live" if mode == "live" else "imu — replay"))
        self.setStyleSheet(theme.STYLE)
        self.resize(1280, 800)
        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        root = QtWidgets.QVBoxLayout(central)
        root.setContentsMargins(12, 10, 12, 8)
        root.setSpacing(8)

        header = QtWidgets.QHBoxLayout()
        self.heading = QtWidgets.QLabel("imu · hip & pelvis monitor")
        self.heading.setObjectName("title")
        self.mode_badge = QtWidgets.QLabel()
        self.calib_badge = QtWidgets.QLabel()
        self.clock = QtWidgets.QLabel()
        self.clock.setStyleSheet("font-size: 18px; font-weight: 600;")
        self.recording = QtWidgets.QLabel()
        self.recording.setObjectName("muted")
        header.addWidget(self.heading)
        header.addSpacing(12)
        header.addWidget(self.mode_badge)
        header.addWidget(self.calib_badge)
        header.addStretch(1)
        header.addWidget(self.recording)
        header.addSpacing(12)
        header.addWidget(self.clock)
        root.addLayout(header)

        self.status_strip = StatusStrip()
        root.addWidget(self.status_strip)

        body = QtWidgets.QHBoxLayout()
        body.setSpacing(10)
        self.traces = TracePanel()
        body.addWidget(self.traces, 3)
        right = QtWidgets.QVBoxLayout()
        right.setSpacing(8)
        self.readouts = ReadoutPanel()
        self.replist = RepList()
        right.addWidget(self.readouts)
        right.addWidget(self.replist, 1)
        rightw = QtWidgets.QWidget()
        rightw.setLayout(right)
        rightw.setMinimumWidth(380)
        rightw.setMaximumWidth(460)
        body.addWidget(rightw, 0)
        root.addLayout(body, 1)

        if mode == "replay":
            self.controls = ReplayControls()
            self.controls.play_pause.connect(self._toggle_play)
            self.controls.seek.connect(self._seek)
            self.controls.speed.connect(self._speed)
            for key, slot in (("Space", self._toggle_play),
                              ("Left", lambda: self._seek(self.model.position_s - 5.0)),
                              ("Right", lambda: self._seek(self.model.position_s + 5.0)),
                              ("Home", lambda: self._seek(0.0))):
                QtGui.QShortcut(QtGui.QKeySequence(key), self, activated=slot)
        else:
            self.controls = SetControls()
            self.controls.start_set.connect(self._start_set)
            self.controls.end_set.connect(self._end_set)
            self.controls.calibrate.connect(self.open_wizard)
        root.addWidget(self.controls)
        self.statusBar().setSizeGripEnabled(False)

        self.wizard = None
        self.last_snapshot: Snapshot | None = None
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.refresh)
        if refresh_hz > 0:
            self._timer.start(int(1000 / refresh_hz))

    # -- drawing ---------------------------------------------------------------------------
    def refresh(self) -> Snapshot:
        """Pull a snapshot from the model and draw it."""
        snap = self.model.snapshot()
        self.last_snapshot = snap
        if snap.mode == "replay":
            self.mode_badge.setText(f"<span style='color:{theme.ACCENT}'>▶ REPLAY</span>")
        else:
            self.mode_badge.setText(f"<span style='color:{theme.RED}'>● LIVE</span>")
        colour, text = CALIB_BADGES.get(snap.calibration.state, (theme.GREY, snap.calibration.state))
        self.calib_badge.setText(f"<span style='color:{colour}'>◆ {text}</span>")
        self.clock.setText(f"{int(snap.t_now_s // 60)}:{snap.t_now_s % 60:04.1f}")
        self.recording.setText(f"recording → {snap.recording_path}" if snap.recording_path else "")
        self.status_strip.update_status(snap.status)
        self.traces.update_snapshot(snap)
        self.readouts.update_snapshot(snap)
        self.replist.update_snapshot(snap)
        self.controls.update_snapshot(snap)
        self.statusBar().showMessage(snap.message or "")
        if self.wizard is not None:
            self.wizard.update_snapshot(snap)
        return snap

    # -- control handlers ------------------------------------------------------------------
    def _start_set(self, exercise: str, side) -> None:
        self.model.start_set(exercise, side)
        self.refresh()

    def _end_set(self) -> None:
        self.model.end_set()
        self.refresh()

    def _toggle_play(self) -> None:
        self.model.toggle_play()
        self.refresh()

    def _seek(self, t_s: float) -> None:
        self.model.seek(t_s)
        self.refresh()

    def _speed(self, speed: float) -> None:
        self.model.set_speed(speed)
        self.refresh()

    def open_wizard(self) -> None:
        from imu.gui.wizard import CalibrationWizard

        if self.wizard is None:
            self.wizard = CalibrationWizard(self.model, self)
            self.wizard.finished.connect(self._wizard_closed)
        self.wizard.show()
        self.wizard.raise_()

    def _wizard_closed(self, *_):
        self.wizard = None

    def closeEvent(self, event):  # noqa: N802 (Qt name)
        self._timer.stop()
        super().closeEvent(event)
