import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from live_helpers import sim

pytest.importorskip("PySide6.QtWidgets")


def _pipeline():
    """A live pipeline over the simulated session's raw blocks, fed by hand (no source events:
    the wizard marks the protocol)."""
    from imu.chain import live_calibrator as calibrator
    from imu.live.pipeline import LivePipeline
    from imu.sources.replay import ReplaySource

    src = ReplaySource(sim().session, speed=math.inf)
    pipe = LivePipeline(src, calibrator=calibrator)
    pipe.register_sensors(src.sensors)
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


def _phases(src):
    """Truth protocol phases of the simulated session: (phase, t0, t1) relative to the data."""
    ev = next(e for e in sim().session.events if e.kind == "calibration_start")
    return [(p["phase"], p["t0"] - src.t0_s, p["t1"] - src.t0_s) for p in ev.data["phases"]]


def test_wizard_follows_the_movement_it_sees_and_shows_the_accepted_calibration(qtbot):
    from imu.gui.app import dispose, ensure_app
    from imu.gui.wizard import CalibrationWizard

    app = ensure_app(offscreen=True)
    pipe, src, blocks = _pipeline()
    ph = {name: (t0, t1) for name, t0, t1 in _phases(src) if name != "still"}
    _feed_until(pipe, src, blocks, 0.0)
    wiz = CalibrationWizard(pipe, thighs=["right", "left"])
    qtbot.addWidget(wiz)
    wiz.start(now=0.0)
    assert pipe.snapshot().calibration.state == "recording"
    assert not wiz.start_btn.isEnabled()                 # no second start while running
    entered, seen = {}, {}
    t = 0.0
    while wiz.state == "running" and t < 80.0:
        t = round(t + 0.1, 1)
        _feed_until(pipe, src, blocks, t)
        wiz.update_snapshot(pipe.snapshot())
        wiz.tick(now=t)
        if wiz.state == "running":
            entered.setdefault(wiz.step_i, t)
            seen.setdefault(wiz.steps[wiz.step_i].phase, set()).add(wiz.motion.label)
        if t == 2.0:
            assert wiz.countdown.text() in ("3", "4") and "still" in wiz.quality.text()
    steps = [s.phase for s in wiz.steps]
    # each step ends when its movement is done, not on a timer: the hinge step only after the
    # third hinge, each swing step only after that leg swung, the protocol after the last swing
    assert ph["standing"][1] - 0.2 <= entered[1] <= ph["standing"][1] + 1.5
    i_sw_r, i_sw_l = steps.index("swings_right"), steps.index("swings_left")
    assert ph["hinges"][1] <= entered[i_sw_r - 1] <= ph["swings_right"][0] + 1.0
    assert ph["swings_right"][0] + 3.0 <= entered[i_sw_r + 1] <= ph["swings_left"][0] + 1.0
    assert ph["swings_left"][0] + 3.0 <= entered[i_sw_l + 1]
    assert wiz.state == "waiting" and t <= ph["swings_left"][1] + 3.0
    assert "hinging" in seen["hinges"] and "swinging right" in seen["swings_right"]
    wiz.tick(now=t + 2.0)
    assert wiz.countdown.text() == "2 s"                 # the solve's elapsed time shows
    pipe.wait_calibration()
    snap = pipe.snapshot()
    assert snap.calibration.state == "ok"
    wiz.update_snapshot(snap)
    text = wiz.result.text()
    for title in ("Quiet standing", "Hip hinges", "Right leg swings", "Left leg swings"):
        assert title in text
    assert "✗" not in text and wiz.countdown.text() == "✓" and wiz.start_btn.isEnabled()
    _feed_until(pipe, src, blocks, t + 5.0)
    assert len(pipe.history()[0]) > 0              # angles flow once calibrated
    dispose(wiz)
    app.processEvents()


def test_wizard_times_out_with_a_clear_message_when_the_movement_never_comes(qtbot):
    from imu.gui.app import dispose, ensure_app
    from imu.gui.wizard import CalibrationWizard
    from imu.live.motion import Motion

    app = ensure_app(offscreen=True)
    pipe, src, blocks = _pipeline()
    _feed_until(pipe, src, blocks, 0.0)
    wiz = CalibrationWizard(pipe, thighs=["right"])
    qtbot.addWidget(wiz)
    wiz.start(now=0.0)
    wiz.motion = Motion("still", {"sacrum": 1.0})
    t = 0.0
    while wiz.state == "running" and t < 200:
        t = round(t + 0.5, 1)
        wiz.tick(now=t)
    assert wiz.steps[wiz.step_i].phase == "hinges"          # standing passed, no hinge came
    assert t == pytest.approx(5.0 + wiz.steps[1].timeout_s + 0.5, abs=0.6)
    text = wiz.instruction.text()
    assert "did not see 3 hip hinges within 60 s" in text and "standing still" in text
    assert wiz.start_btn.isEnabled() and wiz.start_btn.text() == "Try again"
    assert pipe.snapshot().calibration.state == "none"      # the half protocol is dropped
    wiz.start(now=t)                                        # again, then closed half-way
    assert pipe.snapshot().calibration.state == "recording"
    wiz.close_btn.click()
    assert pipe.snapshot().calibration.state == "none" and wiz.state == "stopped"
    dispose(wiz)
    app.processEvents()


def test_wizard_stops_waiting_for_a_solve_that_never_ends(qtbot):
    from imu.gui.app import dispose, ensure_app
    from imu.gui.wizard import SOLVE_TIMEOUT_S, CalibrationWizard
    from imu.live.snapshot import CalibrationState, Snapshot

    class Stuck:
        def snapshot(self):
            return Snapshot(calibration=CalibrationState(state="solving"))

        def begin_calibration(self):
            pass

        def end_calibration(self):
            pass

    app = ensure_app(offscreen=True)
    wiz = CalibrationWizard(Stuck(), thighs=["right"])
    qtbot.addWidget(wiz)
    wiz.start(now=0.0)
    wiz.finish_protocol(now=10.0)
    wiz.update_snapshot(Stuck().snapshot())
    wiz.tick(now=10.0 + SOLVE_TIMEOUT_S - 1)
    assert wiz.state == "waiting"
    wiz.tick(now=10.0 + SOLVE_TIMEOUT_S + 1)
    assert wiz.state == "stopped" and "did not finish within 60 s" in wiz.instruction.text()
    assert wiz.start_btn.isEnabled()
    dispose(wiz)
    app.processEvents()


def test_motion_labels_match_the_simulated_protocol_phases():
    import numpy as np
    from imu.live.motion import classify_rates, gyro_rms_deg_s
    s = sim().session
    t0 = min(d.t_host_s[0] for d in s.sensors.values())
    ev = next(e for e in s.events if e.kind == "calibration_start")
    want = {"standing": "still", "swings_right": "swinging right", "swings_left": "swinging left"}
    hits = {k: [] for k in want}
    hinge_labels = []
    for ph in ev.data["phases"]:
        for t in np.arange(ph["t0"] + 1.2, ph["t1"] - 0.2, 0.5):      # whole windows inside
            rates = {}
            for role, d in s.sensors.items():
                m = (d.t_host_s - t0 > t - 1.0) & (d.t_host_s - t0 <= t)
                rates[role] = gyro_rms_deg_s(d.gyr[m])
            label = classify_rates(rates)
            if ph["phase"] in want:
                hits[ph["phase"]].append(label == want[ph["phase"]])
            elif ph["phase"] == "hinges":
                hinge_labels.append(label)
    for k, v in hits.items():
        assert v and np.mean(v) >= 0.75, k
    assert hinge_labels.count("hinging") >= 0.4 * len(hinge_labels)
    assert not any(lab.startswith("swinging") for lab in hinge_labels)


def test_wizard_says_which_phase_to_repeat_when_calibration_is_refused():
    from imu.gui.app import dispose, ensure_app
    from imu.gui.wizard import CalibrationWizard

    app = ensure_app(offscreen=True)
    pipe, src, blocks = _pipeline()
    wiz = CalibrationWizard(pipe, thighs=["right", "left"])
    _feed_until(pipe, src, blocks, 0.0)
    wiz.start(now=0.0)
    _feed_until(pipe, src, blocks, 8.0)          # quiet standing only: no hinges, no swings
    wiz.finish_protocol()
    pipe.wait_calibration()
    snap = pipe.snapshot()
    assert snap.calibration.state == "refused"
    assert "repeat" in snap.calibration.message and "hinge" in snap.calibration.message
    wiz.update_snapshot(snap)
    assert "refused" in wiz.instruction.text() and wiz.countdown.text() == "✗"
    assert "✗" in wiz.result.text()               # the failed phase is marked
    assert len(pipe.history()[0]) == 0           # no angles from a refused calibration
    dispose(wiz)
    app.processEvents()
