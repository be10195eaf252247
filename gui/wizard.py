"""Guided sensor-to-segment calibration (docs/calibration.md): step-by-step instructions with a countdown,
then the per-phase quality of the solved profile, or the phase to repeat when it is refused.

The wizard only marks the protocol's start and end in the recording (through the pipeline's
``begin_calibration`` / ``end_calibration``); the pipeline solves the calibration on the recorded
window and reports the result in its snapshot, which the wizard shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6 import QtCore, QtWidgets

from imu.gui import theme
from imu.live.motion import tilt_between
from imu.live.snapshot import Snapshot


@dataclass
class Step:
    """One instruction of the protocol and the movement that completes it.

    ``want`` is the :mod:`imu.live.motion` label the step waits for: ``"still"`` (``need_s``
    seconds of stillness in a row), ``"hinging"`` (``count`` hinges, then a moment of
    stillness) or ``"swinging <side>"`` (``need_s`` seconds of swinging, then stillness).
    A step not completed within ``timeout_s`` stops the protocol with a message.
    """

    phase: str          # quality key the step feeds (docs/calibration.md phase)
    title: str
    instruction: str
    duration_s: float   # the protocol's nominal length of the step
    want: str = "still"
    need_s: float = 0.0
    count: int = 0
    timeout_s: float = 30.0


def protocol_steps(thighs: list[str]) -> list[Step]:
    """The docs/calibration.md protocol as movement-checked steps, for the instrumented thighs."""
    steps = [
        Step("standing", "Stand still", "Stand quietly, feet hip-width apart, looking ahead. "
             "Don't move.", 6.0, "still", need_s=5.0, timeout_s=30.0),
        Step("hinges", "3 slow hip hinges", "Push the hips back and bend forward from the hips, "
             "back straight, knees soft. Come back up. Three times, slowly.", 15.0, "hinging",
             count=3, timeout_s=60.0),
        Step("still_before_swings", "Stand still", "Stand still again.", 3.0, "still",
             need_s=1.5, timeout_s=20.0),
    ]
    for side in thighs:
        steps.append(Step(f"swings_{side}", f"Swing the {side} leg",
                          f"Hold on to something if you need to. Swing the {side} leg forward and "
                          "back three times, further forward than back.", 10.0,
                          f"swinging {side}", need_s=3.0, timeout_s=40.0))
        steps.append(Step("still_end" if side == thighs[-1] else "still_before_swings",
                          "Stand still", "Stand still on both legs.", 3.0, "still",
                          need_s=1.5, timeout_s=20.0))
    return steps


#: how long the solve may take before the wizard gives up waiting, seconds
SOLVE_TIMEOUT_S = 60.0

#: a hinge counts when the pelvis tilts this far from standing (deg) and ends back within
#: HINGE_UP_DEG
HINGE_DOWN_DEG = 20.0
HINGE_UP_DEG = 10.0

MOTION_WORDS = {"still": "standing still", "hinging": "hinging", "swinging right":
                "swinging the right leg", "swinging left": "swinging the left leg",
                "moving": "moving", "no data": "no sensor data"}

PHASE_TITLES = {"standing": "Quiet standing", "hinges": "Hip hinges",
                "still_before_swings": "Still before swings", "swings_right": "Right leg swings",
                "swings_left": "Left leg swings", "still_end": "Still at the end",
                "hinges_trunk": "Hinges (trunk sensor)"}


def _phase_line(phase: str, fig: dict) -> str:
    """A phase's quality figures in a few words (display only)."""
    if not isinstance(fig, dict):
        return str(fig)
    if fig.get("missing"):
        return "not found"
    parts = []
    if "duration_s" in fig:
        parts.append(f"{fig['duration_s']:.1f} s")
    if "reps" in fig:
        parts.append(f"{fig['reps']} reps")
    if "range_deg" in fig:
        parts.append(f"range {fig['range_deg']:.0f}°")
    if "axis_spread_deg" in fig and fig["axis_spread_deg"] == fig["axis_spread_deg"]:
        parts.append(f"axis spread {fig['axis_spread_deg']:.1f}°")
    sensors = fig.get("sensors")
    if isinstance(sensors, dict) and sensors:
        worst = max((g.get("gyr_rms_deg_s", 0.0) for g in sensors.values()), default=0.0)
        parts.append(f"max rate {worst:.1f}°/s")
    return ", ".join(parts) or "ok"


class CalibrationWizard(QtWidgets.QDialog):
    """The guided calibration dialog.

    Parameters
    ----------
    model : LivePipeline
        Offers ``begin_calibration()``, ``end_calibration()``, ``cancel_calibration()`` and
        ``snapshot()`` (whose ``motion`` says what the person is doing).
    """

    def __init__(self, model, parent=None, thighs: list[str] | None = None):
        super().__init__(parent)
        self.model = model
        self.setWindowTitle("Calibration")
        self.setStyleSheet(theme.STYLE)
        self.setMinimumSize(760, 520)
        snap = model.snapshot()
        if thighs is None:
            thighs = [s for s in ("right", "left") if f"{s}_thigh" in snap.status] or ["right"]
        self.steps = protocol_steps(thighs)
        self.step_i = -1
        self.step_t0 = 0.0
        self.state = "ready"      # ready → running → waiting → done | stopped
        self.motion = snap.motion
        self._t = None            # time of the last tick
        self._good_s = 0.0        # seconds of the wanted movement (or stillness) so far
        self._still_s = 0.0       # stillness in a row (ends hinges and swings)
        self._count = 0
        self._in_move = False
        self._wait_t0 = 0.0
        self._g_ref = None        # the sacrum's gravity direction in quiet standing
        self._tilt = float("nan")

        lay = QtWidgets.QVBoxLayout(self)
        self.header = QtWidgets.QLabel("Sensor calibration")
        self.header.setObjectName("title")
        lay.addWidget(self.header)
        row = QtWidgets.QHBoxLayout()
        self.step_list = QtWidgets.QListWidget()
        self.step_list.setMaximumWidth(210)
        for s in self.steps:
            self.step_list.addItem(f"○  {s.title}")
        row.addWidget(self.step_list)
        right = QtWidgets.QVBoxLayout()
        self.instruction = QtWidgets.QLabel(
            "Strap the sensors on, stand in the middle of the room, and press Start. "
            "Each step moves on when the sensors see you do it.")
        self.instruction.setWordWrap(True)
        self.instruction.setStyleSheet("font-size: 22px;")
        self.countdown = QtWidgets.QLabel("")
        self.countdown.setObjectName("bignum")
        self.countdown.setStyleSheet("font-size: 56px; font-weight: 700;")
        self.countdown.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.quality = QtWidgets.QLabel("")
        self.quality.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.quality.setStyleSheet("font-size: 18px;")
        self.rates = QtWidgets.QLabel("")
        self.rates.setObjectName("muted")
        self.rates.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setTextVisible(False)
        self.result = QtWidgets.QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextFormat(QtCore.Qt.TextFormat.RichText)
        right.addWidget(self.instruction)
        right.addWidget(self.countdown, 1)
        right.addWidget(self.quality)
        right.addWidget(self.rates)
        right.addWidget(self.progress)
        right.addWidget(self.result)
        row.addLayout(right, 1)
        lay.addLayout(row, 1)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        self.start_btn = QtWidgets.QPushButton("Start")
        self.start_btn.setObjectName("primary")
        self.start_btn.clicked.connect(self.start)
        self.close_btn = QtWidgets.QPushButton("Close")
        self.close_btn.clicked.connect(self.reject)
        buttons.addWidget(self.start_btn)
        buttons.addWidget(self.close_btn)
        lay.addLayout(buttons)
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.tick)
        self.show_motion(snap)

    # ---------------------------------------------------------------------- protocol -----
    def start(self, now: float | None = None) -> None:
        """Begin the protocol (``now``: the clock tests drive, seconds)."""
        self.model.begin_calibration()
        self.state = "running"
        self.progress.show()
        self.countdown.setStyleSheet("font-size: 56px; font-weight: 700;")
        self.result.setText("")
        self.start_btn.setEnabled(False)
        for i in range(self.step_list.count()):
            self.step_list.item(i).setText(f"○  {self.steps[i].title}")
        self._enter(0, time.monotonic() if now is None else now)
        if now is None:
            self._timer.start(100)

    def _enter(self, i: int, now: float) -> None:
        self.step_i = i
        self.step_t0 = now
        self._t = now
        self._good_s = self._still_s = 0.0
        self._count = 0
        self._in_move = False
        s = self.steps[i]
        self.step_list.setCurrentRow(i)
        self.step_list.item(i).setText(f"▶  {s.title}")
        self.instruction.setText(f"<b>{s.title}</b><br>{s.instruction}")

    def tick(self, now: float | None = None) -> None:
        """Advance on the movement seen (called by the timer; tests pass ``now``)."""
        now = time.monotonic() if now is None else now
        if self.state == "waiting":
            waited = now - self._wait_t0
            self.countdown.setText(f"{waited:.0f} s")
            self.progress.setValue(int(100 * min(1.0, waited / SOLVE_TIMEOUT_S)))
            if waited > SOLVE_TIMEOUT_S:
                self._stop(f"The calibration did not finish within {SOLVE_TIMEOUT_S:.0f} s. "
                           "Press Try again; if it keeps happening, restart the program.")
            return
        if self.state != "running":
            return
        dt = max(0.0, now - (self._t if self._t is not None else now))
        self._t = now
        s = self.steps[self.step_i]
        label = self.motion.label
        still = label == "still"
        self._still_s = self._still_s + dt if still else 0.0
        if s.want == "still":
            self._good_s = self._still_s
            if still and s.phase == "standing":       # how the pelvis stands: the hinge reference
                self._g_ref = self.motion.gravity.get("sacrum")
            done = self._good_s >= s.need_s
            left = max(0.0, s.need_s - self._good_s)
            self.countdown.setText(f"{left:.0f}" if left > 0 else "✓")
            frac = self._good_s / s.need_s
        elif s.want == "hinging":
            # one hinge: the pelvis tilts more than HINGE_DOWN_DEG from how it stood, then comes
            # back within HINGE_UP_DEG (the sacrum's gravity direction, any mounting)
            tilt = tilt_between(self._g_ref, self.motion.gravity.get("sacrum"))
            if tilt > HINGE_DOWN_DEG and not self._in_move:
                self._count += 1
                self._in_move = True
            elif tilt < HINGE_UP_DEG:
                self._in_move = False
            self._tilt = tilt
            done = self._count >= s.count and not self._in_move and self._still_s >= 0.5
            self.countdown.setText(f"{min(self._count, s.count)} / {s.count}")
            frac = min(self._count, s.count) / s.count
        else:
            if label == s.want:
                self._good_s += dt
            done = self._good_s >= s.need_s and self._still_s >= 0.5
            left = max(0.0, s.need_s - self._good_s)
            self.countdown.setText(f"{left:.0f}" if left > 0 else "✓")
            frac = self._good_s / s.need_s
        self.progress.setValue(int(100 * min(1.0, frac)))
        self._show_quality(s, label)
        if done:
            self.step_list.item(self.step_i).setText(f"✓  {s.title}")
            if self.step_i + 1 < len(self.steps):
                self._enter(self.step_i + 1, now)
            else:
                self.finish_protocol(now)
        elif now - self.step_t0 > s.timeout_s:
            seen = MOTION_WORDS.get(label, label)
            what = {"still": "you standing still", "hinging": f"{s.count} hip hinges"}.get(
                s.want, f"the {s.want.split()[-1]} leg swinging")
            self._cancel()
            self._stop(f"Step \u201c{s.title}\u201d: the sensors did not see {what} within "
                       f"{s.timeout_s:.0f} s (they saw: {seen}). Check that every sensor is "
                       "strapped on and streaming, then press Try again.")

    def _cancel(self) -> None:
        cancel = getattr(self.model, "cancel_calibration", None)
        if callable(cancel):
            cancel()

    def reject(self) -> None:
        """Close; a protocol under way is abandoned (the calibration in use stays)."""
        if self.state == "running":
            self._timer.stop()
            self._cancel()
            self.state = "stopped"
        super().reject()

    def _show_quality(self, s: Step, label: str) -> None:
        ok = label == s.want or (s.want != "still" and label == "still" and self._good_s > 0)
        colour = theme.GREEN if ok else (theme.AMBER if label != "no data" else theme.RED)
        hint = ""
        if s.want == "still" and label != "still":
            hint = " — keep still"
        elif s.want != "still" and label == "still" and not self._good_s and not self._count:
            hint = " — start when ready"
        extra = ""
        if s.want == "hinging" and self._tilt == self._tilt:
            extra = f" · pelvis {self._tilt:.0f}° from standing"
            ok = ok or self._tilt > HINGE_DOWN_DEG
            colour = theme.GREEN if ok else colour
        self.quality.setText(f"<span style='color:{colour}'>now: "
                             f"{MOTION_WORDS.get(label, label)}{hint}{extra}</span>")

    def _stop(self, message: str) -> None:
        self._timer.stop()
        self.state = "stopped"
        self.progress.hide()
        self.countdown.setText("✗")
        self.countdown.setStyleSheet(f"font-size: 56px; font-weight: 700; color: {theme.RED};")
        self.instruction.setText(f"<b style='color:{theme.RED}'>Calibration stopped.</b> {message}")
        self.start_btn.setEnabled(True)
        self.start_btn.setText("Try again")

    def finish_protocol(self, now: float | None = None) -> None:
        self.state = "waiting"
        self._wait_t0 = time.monotonic() if now is None else now
        self.countdown.setText("0 s")
        self.progress.setValue(0)
        self.instruction.setText("<b>Done.</b> Solving the calibration…")
        self.quality.setText("")
        self.model.end_calibration()

    # ------------------------------------------------------------------------ result -----
    def show_motion(self, snap: Snapshot) -> None:
        m = snap.motion
        names = {"sacrum": "pelvis", "right_thigh": "right thigh", "left_thigh": "left thigh",
                 "trunk": "trunk"}
        self.rates.setText("  ·  ".join(f"{names.get(r, r)} {v:.0f}°/s"
                                        for r, v in m.rates_deg_s.items()))
        if snap.activity:
            self.rates.setText(self.rates.text() + f"<br>simulated person: {snap.activity}")
        if self.state == "ready":
            self.quality.setText(f"now: {MOTION_WORDS.get(m.label, m.label)}")

    def update_snapshot(self, snap: Snapshot) -> None:
        """Take the newest movement; show the solved calibration's result (called by the
        dashboard's refresh)."""
        self.motion = snap.motion
        self.show_motion(snap)
        cal = snap.calibration
        if self.state != "waiting" or cal.state in ("recording", "solving"):
            return
        self._timer.stop()
        self.state = "done"
        self.start_btn.setEnabled(True)
        self.start_btn.setText("Calibrate again")
        self.show_result(cal.state, cal.message, cal.quality)

    def show_result(self, state: str, message: str, quality: dict) -> None:
        ok = state == "ok"
        self.progress.hide()
        self.step_list.clearSelection()
        colour = theme.GREEN if ok else theme.RED
        self.countdown.setText("✓" if ok else "✗")
        self.countdown.setStyleSheet(f"color: {colour};")
        head = ("Calibration accepted." if ok else
                f"Calibration refused: {message.split('calibration refused: ')[-1]}")
        self.instruction.setText(f"<b style='color:{colour}'>{head}</b>")
        rows = []
        low = (message or "").lower()
        phases = list(dict.fromkeys([st.phase for st in self.steps] + list(quality)))
        for phase in phases:
            fig = quality.get(phase)
            named = not ok and phase.replace("_", " ") in low
            if fig is None:
                if not named:
                    mark, line = f"<span style='color:{theme.MUTED}'>–</span>", "not checked"
                else:
                    mark, line = f"<span style='color:{theme.RED}'>✗</span>", "repeat this phase"
            else:
                failed = named or (isinstance(fig, dict) and fig.get("missing"))
                mark = (f"<span style='color:{theme.RED}'>✗</span>" if failed else
                        f"<span style='color:{theme.GREEN}'>✓</span>")
                line = _phase_line(phase, fig)
            rows.append(f"<tr><td>{mark}</td><td>{PHASE_TITLES.get(phase, phase)}</td>"
                        f"<td style='color:{theme.MUTED}'>&nbsp;{line}</td></tr>")
        self.result.setText("<table cellspacing='4'>" + "".join(rows) + "</table>" if rows else "")
