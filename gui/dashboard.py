"""The main window: status strip, live traces, big readouts, rep list and controls.

The window pulls a :class:`~imu.live.snapshot.Snapshot` from its model (the live pipeline or
the replay player) and draws it; the model does all the computing in its own thread. Live, the
window paints as soon as new angle rows are in, at most ``refresh_hz`` times a second (so a
sample reaches the screen within a frame of arriving): the pipeline tells it (a queued Qt
signal from its worker thread, :meth:`~imu.live.pipeline.LivePipeline.add_rows_listener`), or
for models that only count their rows a cheap poll (every :data:`POLL_MS`) watches the counter.
The traces are drawn every frame, the rest of the window (readouts, stick figure, rep list,
status, sound cue, wizard) at most :data:`SIDE_PANEL_S` apart. Replay redraws on a plain
``refresh_hz`` timer.
"""

from __future__ import annotations

import math
import time

from PySide6 import QtCore, QtGui, QtWidgets

from imu.gui import theme
from imu.gui.views.controls import ReplayControls, SetControls
from imu.gui.views.exercises import view_for
from imu.gui.views.figure import StickFigure
from imu.gui.views.readouts import ReadoutPanel, snapshot_drop_grade
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

#: live: how often the window checks the model for new angle rows, ms
POLL_MS = 4
#: the window's other panels are redrawn at most this often, s (the traces every frame)
SIDE_PANEL_S = 0.1
#: without new rows the window still redraws this often (status, messages), s
IDLE_FRAME_S = 0.25
#: live: the share of one core the window keeps to. Every :data:`BUDGET_S` it measures the CPU
#: time of its frames (refresh and paint) and the rest of its thread's (taking in the live
#: process's messages, timers), and spaces the frames at least (a frame's cost) / (the budget
#: left after the rest) apart, never closer than the frame-rate cap: a machine slow to draw
#: gets fewer frames rather than a window that takes the whole core; never fewer than
#: :data:`MIN_BUDGET_HZ` frames/s for it
CPU_BUDGET = 0.45
BUDGET_S = 1.0
MIN_BUDGET_HZ = 25.0


#: live: the frame-rate cap follows the screen's refresh rate within these bounds, frames/s
MIN_LIVE_HZ = 50.0
MAX_LIVE_HZ = 120.0


def live_frame_rate() -> float:
    """The live window's highest frame rate: the primary screen's refresh rate, clamped to
    :data:`MIN_LIVE_HZ`..:data:`MAX_LIVE_HZ` (:data:`MIN_LIVE_HZ` when it is unknown)."""
    screen = QtGui.QGuiApplication.primaryScreen()
    rate = float(screen.refreshRate()) if screen is not None else 0.0
    return min(max(rate, MIN_LIVE_HZ), MAX_LIVE_HZ) if math.isfinite(rate) else MIN_LIVE_HZ


def calibration_badge(snap: Snapshot) -> tuple[str, str]:
    """Colour and words of the header's calibration badge. A new calibration running while an
    earlier one is in use says so (the angles on screen come from the earlier one)."""
    cal = snap.calibration
    if cal.state == "ok" and cal.message.startswith("calibration skipped"):
        return theme.AMBER, "calibration skipped (simulator's sensor mounting)"
    if cal.state in ("recording", "solving") and snap.angles:
        return theme.GREEN, ("calibrated · new calibration " +
                             ("running…" if cal.state == "recording" else "being solved…"))
    return CALIB_BADGES.get(cal.state, (theme.GREY, cal.state))


class _RowsSignal(QtCore.QObject):
    """Carries the pipeline's "new rows" call from its worker thread to the GUI thread."""

    rows = QtCore.Signal()


class Dashboard(QtWidgets.QMainWindow):
    """The dashboard window.

    Parameters
    ----------
    model : DashboardModel
        Live pipeline or replay player (``snapshot()``, set/replay/calibration methods).
    mode : str
        ``"live"`` (set controls, calibration) or ``"replay"`` (transport controls).
    refresh_hz : float, optional
        Highest redraw rate (live: frames follow the data up to this rate; replay: the timer's
        rate); 0 disables the timer (tests call :meth:`refresh`). Default: live, the screen's
        refresh rate (at least :data:`MIN_LIVE_HZ`, at most :data:`MAX_LIVE_HZ`), so a frame
        is never held back for the cap longer than the display would hold it; replay 50.
    title : str
        Window title.
    sound : bool
        Start with the audible cue on (the window's "Sound" box toggles it).
    sink : object, optional
        What plays the cue (``play(kind)``); default :class:`gui.sound.ToneSink`. Tests pass a
        counter.
    """

    def __init__(self, model, mode: str = "live", refresh_hz: float | None = None,
                 title: str = "", sound: bool = False, sink=None):
        super().__init__()
        if refresh_hz is None:
            refresh_hz = live_frame_rate() if mode == "live" else 50.0
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
        self.recording.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.recording.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.sound_box = QtWidgets.QCheckBox("Sound")
        self.sound_box.setToolTip("a short tone when a rep ends with a fault, or when the pelvis "
                                  "leaves the green band on one leg")
        self.sound_box.setChecked(bool(sound))
        header.addWidget(self.heading)
        header.addSpacing(12)
        header.addWidget(self.mode_badge)
        header.addWidget(self.calib_badge)
        self.activity = QtWidgets.QLabel()
        self.activity.setObjectName("muted")
        # long texts (paths, activities) may be cut; they never widen the window
        for lab in (self.activity, self.recording):
            lab.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                              QtWidgets.QSizePolicy.Policy.Preferred)
        header.addSpacing(12)
        header.addWidget(self.activity, 4)
        header.addWidget(self.recording, 2)
        header.addSpacing(12)
        header.addWidget(self.sound_box)
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
        self.figure = StickFigure()
        self.figure.setMinimumWidth(200)
        self.readouts.figure_slot.addWidget(self.figure, 1)
        self.replist = RepList()
        self.replist.item_clicked.connect(self._jump_to_item)
        right.addWidget(self.readouts)
        right.addWidget(self.replist, 1)
        rightw = QtWidgets.QWidget()
        rightw.setLayout(right)
        rightw.setMinimumWidth(400)
        rightw.setMaximumWidth(480)
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
                              ("Home", lambda: self._seek(0.0)),
                              ("End", lambda: self._seek(self.model.duration_s))):
                sc = QtGui.QShortcut(QtGui.QKeySequence(key), self, activated=slot)
                sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        else:
            self.controls = SetControls()
            self.controls.start_set.connect(self._start_set)
            self.controls.end_set.connect(self._end_set)
            self.controls.calibrate.connect(self.open_wizard)
        root.addWidget(self.controls)
        self.statusBar().setSizeGripEnabled(False)
        QtGui.QShortcut(QtGui.QKeySequence.StandardKey.Quit, self, activated=self.close)
        QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Q"), self, activated=self.close)

        from imu.gui.sound import CueWatcher
        self.cues = CueWatcher(snapshot_drop_grade)
        self._sink = sink
        self.cue_log: list[str] = []
        self.wizard = None
        self.last_snapshot: Snapshot | None = None
        self._clock = time.monotonic
        self._frame_s = self._cap_s = 1.0 / refresh_hz if refresh_hz > 0 else 0.0
        self._budget = None            # (wall, thread CPU, frames' CPU, frames) at its start
        self._frames = 0
        self._frames_cpu = 0.0
        self._last_frame = -math.inf
        self._last_side = -math.inf
        self._last_rows = None
        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        # live models count their angle rows: paint when new ones are in
        self._data_driven = isinstance(getattr(model, "rows_out", None), int)
        self._rows_signal = None
        self._pending = QtCore.QTimer(self)         # a frame put off by the frame-rate cap
        self._pending.setSingleShot(True)
        self._pending.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._pending.timeout.connect(self._tick)
        self._notifier = None
        if refresh_hz > 0:
            if self._data_driven and hasattr(model, "fileno") and model.fileno() >= 0:
                # the live processing in its own process (imu.live.process): woken when its
                # socket has something, the timer only for idle redraws
                self._notifier = QtCore.QSocketNotifier(model.fileno(),
                                                        QtCore.QSocketNotifier.Type.Read, self)
                self._notifier.activated.connect(self._on_data)
                self._timer.timeout.connect(self._tick)
                self._timer.start(int(IDLE_FRAME_S * 1000))
            elif self._data_driven and hasattr(model, "add_rows_listener"):
                # woken by the pipeline when rows are in; the timer only for idle redraws
                self._rows_signal = _RowsSignal()
                self._rows_signal.rows.connect(self._on_rows,
                                               QtCore.Qt.ConnectionType.QueuedConnection)
                model.add_rows_listener(self._rows_signal.rows.emit)
                self._timer.timeout.connect(self._tick)
                self._timer.start(int(IDLE_FRAME_S * 1000))
            elif self._data_driven:
                self._timer.timeout.connect(self._tick)
                self._timer.start(POLL_MS)
            else:
                self._timer.timeout.connect(self.refresh)
                self._timer.start(int(1000 / refresh_hz))

    # -- drawing ---------------------------------------------------------------------------
    def _on_data(self, *_) -> None:
        """The live process sent something: take it in; a frame if rows came."""
        if self.model.poll():
            self._on_rows()
        if not self.model.running and self._notifier is not None:
            self._notifier.setEnabled(False)      # its socket ended: nothing more will come
            self.refresh()

    def _on_rows(self) -> None:
        """New rows are in: a frame now, or when the frame-rate cap allows."""
        if self._pending.isActive():
            return
        wait = self._frame_s - (self._clock() - self._last_frame)
        if wait > 0:
            self._pending.start(max(1, math.ceil(wait * 1000)))
        else:
            self._tick()

    def _tick(self) -> None:
        """The live poll: a frame when new angle rows are in (at most ``refresh_hz``), or when
        the window has not been redrawn for :data:`IDLE_FRAME_S`."""
        now = self._clock()
        since = now - self._last_frame
        if since < self._frame_s:
            return
        rows = self.model.rows_out
        if rows == self._last_rows and since < IDLE_FRAME_S:
            return
        self._last_rows = rows
        cpu0 = time.thread_time()
        self.refresh(panels=False)
        # paint the traces now rather than after whatever else the event loop has queued
        QtCore.QCoreApplication.sendPostedEvents(self, QtCore.QEvent.Type.UpdateRequest)
        if now - self._last_side >= SIDE_PANEL_S:
            # the other panels after the traces are on screen (their paint follows in the
            # event loop): the frame's rows never wait for them
            self._last_side = now
            self._draw_panels(self.last_snapshot)
        cpu = time.thread_time()
        self._frames += 1
        self._frames_cpu += cpu - cpu0
        self._keep_budget(now, cpu)

    def _keep_budget(self, now: float, cpu: float) -> None:
        """Space the frames so the window's thread stays within :data:`CPU_BUDGET` of a core
        (never closer than the frame-rate cap)."""
        if self._budget is None:
            self._budget = (now, cpu, self._frames_cpu, self._frames)
            return
        t0, c0, f0, n0 = self._budget
        if now - t0 < BUDGET_S:
            return
        frames_cpu = self._frames_cpu - f0
        other = max(cpu - c0 - frames_cpu, 0.0) / (now - t0)      # share outside the frames
        per_frame = frames_cpu / max(self._frames - n0, 1)
        left = max(CPU_BUDGET - other, 0.1)
        self._frame_s = min(max(per_frame / left, self._cap_s), 1.0 / MIN_BUDGET_HZ)
        self._budget = (now, cpu, self._frames_cpu, self._frames)

    def refresh(self, panels: bool = True) -> Snapshot:
        """Pull a snapshot from the model and draw it (the traces; with ``panels`` the rest
        of the window too)."""
        self._last_frame = self._clock()
        snap = self.model.snapshot()
        self.last_snapshot = snap
        self.traces.update_snapshot(snap)
        if panels:
            self._last_side = self._last_frame
            self._draw_panels(snap)
        return snap

    def _draw_panels(self, snap: Snapshot) -> None:
        if snap.mode == "replay":
            self.mode_badge.setText(f"<span style='color:{theme.ACCENT}'>▶ REPLAY</span>")
        else:
            self.mode_badge.setText(f"<span style='color:{theme.RED}'>● LIVE</span>")
        colour, text = calibration_badge(snap)
        self.calib_badge.setText(f"<span style='color:{colour}'>◆ {text}</span>")
        self.calib_badge.setToolTip(snap.calibration.message)
        self.activity.setText(f"simulated person: {snap.activity}" if snap.activity else "")
        self.clock.setText(f"{int(snap.t_now_s // 60)}:{snap.t_now_s % 60:04.1f}")
        if snap.recording_path:
            verb = "replaying" if snap.mode == "replay" else "recording →"
            self.recording.setText(f"{verb} {snap.recording_path}")
            self.recording.setToolTip(str(snap.recording_path))
        else:
            self.recording.setText("")
        self.status_strip.update_status(snap.status)
        self.readouts.update_snapshot(snap)
        cs = snap.current_set
        view = view_for(cs.get("exercise") if cs else None)
        stance = cs.get("side") if cs and view.stance_side else None
        grade = snapshot_drop_grade(snap, snap.current.get("pelvic_drop_deg")) \
            if view.drop_lines else None
        self.figure.set_angles(snap.current, grade, stance)
        self.replist.update_snapshot(snap)
        self.controls.update_snapshot(snap)
        self.statusBar().showMessage(snap.message or "")
        for kind in self.cues.events(snap):
            if self.sound_box.isChecked():
                self.cue_log.append(kind)
                self.sink.play(kind)
        if self.wizard is not None:
            self.wizard.update_snapshot(snap)

    @property
    def sink(self):
        """What plays the cue (made on first use)."""
        if self._sink is None:
            from imu.gui.sound import ToneSink
            self._sink = ToneSink()
        return self._sink

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

    def _jump_to_item(self, item: dict) -> None:
        """Replay: move the cursor to just after a clicked rep or hold (it is then the last one,
        shaded in the trace window and described in the readouts)."""
        if self.mode != "replay" or item.get("end_s") is None:
            return
        self._seek(float(item["end_s"]) + 0.05)

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
        self._pending.stop()
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier = None
        if self._rows_signal is not None:
            self.model.remove_rows_listener(self._rows_signal.rows.emit)
            self._rows_signal = None
        if self._sink is not None and hasattr(self._sink, "close"):
            self._sink.close()
        super().closeEvent(event)
