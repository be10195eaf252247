"""Guided sensor-to-segment calibration (SPEC §4): step-by-step instructions with a countdown,
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
from imu.live.snapshot import Snapshot


@dataclass
class Step:
    """One instruction of the protocol."""

    phase: str          # quality key the step feeds (SPEC §4 phase)
    title: str
    instruction: str
    duration_s: float


def protocol_steps(thighs: list[str]) -> list[Step]:
    """The SPEC §4 protocol as timed steps, for the instrumented thighs (``"right"``, ``"left"``)."""
    steps = [
        Step("standing", "Stand still", "Stand quietly, feet hip-width apart, looking ahead. "
             "Don't move.", 6.0),
        Step("hinges", "3 slow hip hinges", "Push the hips back and bend forward from the hips, "
             "back straight, knees soft. Come back up. Three times, slowly.", 15.0),
        Step("still_before_swings", "Stand still", "Stand still again.", 3.0),
    ]
    for side in thighs:
        steps.append(Step(f"swings_{side}", f"Swing the {side} leg",
                          f"Hold on to something if you need to. Swing the {side} leg forward and "
                          "back three times, further forward than back.", 10.0))
        steps.append(Step("still_end" if side == thighs[-1] else "still_before_swings",
                          "Stand still", "Stand still on both legs.", 3.0))
    return steps


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
        Offers ``begin_calibration()``, ``end_calibration()`` and ``snapshot()``.
    """

    def __init__(self, model, parent=None, thighs: list[str] | None = None):
        super().__init__(parent)
        self.model = model
        self.setWindowTitle("Calibration")
        self.setStyleSheet(theme.STYLE)
        self.setMinimumSize(620, 460)
        if thighs is None:
            snap = model.snapshot()
            thighs = [s for s in ("right", "left") if f"{s}_thigh" in snap.status] or ["right"]
        self.steps = protocol_steps(thighs)
        self.step_i = -1
        self.step_t0 = 0.0
        self.state = "ready"      # ready → running → waiting → done

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
            "Follow the instructions; each step counts down.")
        self.instruction.setWordWrap(True)
        self.instruction.setStyleSheet("font-size: 16px;")
        self.countdown = QtWidgets.QLabel("")
        self.countdown.setObjectName("bignum")
        self.countdown.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setTextVisible(False)
        self.result = QtWidgets.QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextFormat(QtCore.Qt.TextFormat.RichText)
        right.addWidget(self.instruction)
        right.addWidget(self.countdown, 1)
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

    # ---------------------------------------------------------------------- protocol -----
    def start(self) -> None:
        self.model.begin_calibration()
        self.state = "running"
        self.progress.show()
        self.countdown.setStyleSheet("")
        self.result.setText("")
        self.start_btn.setEnabled(False)
        for i in range(self.step_list.count()):
            self.step_list.item(i).setText(f"○  {self.steps[i].title}")
        self._enter(0)
        self._timer.start(100)

    def _enter(self, i: int) -> None:
        self.step_i = i
        self.step_t0 = time.monotonic()
        s = self.steps[i]
        self.step_list.setCurrentRow(i)
        self.step_list.item(i).setText(f"▶  {s.title}")
        self.instruction.setText(f"<b>{s.title}</b><br>{s.instruction}")

    def tick(self, now: float | None = None) -> None:
        """Advance the countdown (called by the timer; tests pass ``now``)."""
        if self.state != "running":
            return
        now = time.monotonic() if now is None else now
        s = self.steps[self.step_i]
        left = s.duration_s - (now - self.step_t0)
        self.countdown.setText(f"{max(0.0, left):.0f}")
        self.progress.setValue(int(100 * min(1.0, (now - self.step_t0) / s.duration_s)))
        if left <= 0:
            self.step_list.item(self.step_i).setText(f"✓  {s.title}")
            if self.step_i + 1 < len(self.steps):
                self._enter(self.step_i + 1)
            else:
                self.finish_protocol()

    def finish_protocol(self) -> None:
        self._timer.stop()
        self.state = "waiting"
        self.countdown.setText("…")
        self.instruction.setText("<b>Done.</b> Solving the calibration…")
        self.model.end_calibration()

    # ------------------------------------------------------------------------ result -----
    def update_snapshot(self, snap: Snapshot) -> None:
        """Show the solved calibration's result (called by the dashboard's refresh)."""
        cal = snap.calibration
        if self.state != "waiting" or cal.state in ("recording", "solving"):
            return
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
