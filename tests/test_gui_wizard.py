import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from live_helpers import sim

pytest.importorskip("PySide6.QtWidgets")


def _pipeline():
    """A live pipeline over the simulated session's raw blocks, fed by hand (no source events:
    the wizard marks the protocol)."""
    from imu.commands.demo import calibrator
    from imu.live.pipeline import LivePipeline
    from imu.sources.replay import ReplaySource

    src = ReplaySource(sim().session, speed=math.inf)
    pipe = LivePipeline(src, calibrator=calibrator)
    pipe._register_sensors(src.sensors)
    blocks = list(src._chunks())
    return pipe, src, blocks


def _feed_until(pipe, src, blocks, t_rel):
    from imu.types import SampleBlock
    while blocks and blocks[0][0] <= t_rel:
        _, role, sl = blocks.pop(0)
        d = src.session.sensors[role]
        pipe.feed(SampleBlock(d.info.sensor_id, d.seq[sl], d.t_sensor_s[sl], d.t_host_s[sl],
                              d.acc[sl], d.gyr[sl]))


def test_protocol_steps_follow_spec_order_for_each_instrumented_leg():
    from imu.gui.wizard import protocol_steps
    phases = [s.phase for s in protocol_steps(["right", "left"])]
    assert phases[:3] == ["standing", "hinges", "still_before_swings"]
    assert phases.index("swings_right") < phases.index("swings_left")
    assert phases[-1] == "still_end"
    assert protocol_steps(["right"])[0].duration_s >= 5.0      # SPEC: 5 s quiet standing


def test_wizard_counts_down_and_shows_accepted_calibration_per_phase():
    from imu.gui.app import dispose, ensure_app
    from imu.gui.wizard import CalibrationWizard

    app = ensure_app(offscreen=True)
    pipe, src, blocks = _pipeline()
    cal_end = next(e.t_s for e in sim().session.events if e.kind == "calibration_end")
    _feed_until(pipe, src, blocks, 0.0)
    wiz = CalibrationWizard(pipe, thighs=["right", "left"])
    wiz.start()
    assert pipe.snapshot().calibration.state == "recording"
    wiz.tick(now=wiz.step_t0 + 2.0)
    assert wiz.countdown.text() == "4" and wiz.step_i == 0
    wiz.tick(now=wiz.step_t0 + 7.0)
    assert wiz.step_i == 1 and "hinges" in wiz.instruction.text()
    _feed_until(pipe, src, blocks, cal_end - src.t0_s)
    wiz.finish_protocol()
    pipe._wait_solver()
    snap = pipe.snapshot()
    assert snap.calibration.state == "ok"
    wiz.update_snapshot(snap)
    text = wiz.result.text()
    for title in ("Quiet standing", "Hip hinges", "Right leg swings", "Left leg swings"):
        assert title in text
    assert "✗" not in text and wiz.countdown.text() == "✓"
    _feed_until(pipe, src, blocks, cal_end - src.t0_s + 5.0)
    assert len(pipe._ring) > 0                     # angles flow once calibrated
    dispose(wiz)
    app.processEvents()


def test_wizard_says_which_phase_to_repeat_when_calibration_is_refused():
    from imu.gui.app import dispose, ensure_app
    from imu.gui.wizard import CalibrationWizard

    app = ensure_app(offscreen=True)
    pipe, src, blocks = _pipeline()
    wiz = CalibrationWizard(pipe, thighs=["right", "left"])
    _feed_until(pipe, src, blocks, 0.0)
    wiz.start()
    _feed_until(pipe, src, blocks, 8.0)          # quiet standing only: no hinges, no swings
    wiz.finish_protocol()
    pipe._wait_solver()
    snap = pipe.snapshot()
    assert snap.calibration.state == "refused"
    assert "repeat" in snap.calibration.message and "hinge" in snap.calibration.message
    wiz.update_snapshot(snap)
    assert "refused" in wiz.instruction.text() and wiz.countdown.text() == "✗"
    assert "✗" in wiz.result.text()               # the failed phase is marked
    assert pipe._ring is None                    # no angles from a refused calibration
    dispose(wiz)
    app.processEvents()
