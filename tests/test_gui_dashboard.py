import functools
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from live_helpers import live_run, sim, truth_reps

pytest.importorskip("PySide6.QtWidgets")


@pytest.fixture(scope="module")
def app():
    from imu.gui.app import ensure_app
    return ensure_app(offscreen=True)


@functools.lru_cache(maxsize=None)
def player():
    from imu.live.player import build_player
    return build_player(sim().session, None, window_s=20.0, progress=False)


def _window(app, model, mode):
    from imu.gui.dashboard import Dashboard
    win = Dashboard(model, mode=mode, refresh_hz=0)
    win.resize(1280, 800)
    win.show()
    for _ in range(2):
        win.refresh()
        app.processEvents()
    return win


def test_replay_dashboard_draws_the_trace_window_and_status_at_the_cursor(app, tmp_path):
    from imu.gui.app import dispose
    p = player()
    reps, _ = truth_reps()
    t_cursor = reps[-1]["end_s"] - p.t0_s + 1.0        # just after the last hinge rep
    p.seek(t_cursor)
    win = _window(app, p, "replay")
    x, y = win.traces.curves["right_hip_flexion"].getData()
    assert x[-1] <= t_cursor + 1e-9 and x[0] >= t_cursor - 20.0
    true = np.interp(x + p.t0_s, sim().truth_time_s, sim().truth_angles["right_hip_flexion"])
    assert np.nanmax(y) == pytest.approx(np.max(true), abs=3.0)      # the rep peaks are drawn
    assert np.nanmax(y) > 40.0
    lo, hi = win.traces.hip.viewRange()[1]
    assert lo <= np.nanmin(y) and hi >= np.nanmax(y)                  # and fit in the plot
    card = win.status_strip.cards["sacrum"]
    rate = float(card.rate.text().split()[0])
    assert 100.0 < rate < 108.0                                       # 104 Hz sensors
    assert "streaming" in card.state.text()
    assert win.replist.tables["hinge"].rowCount() == len(reps)
    assert win.readouts.title.text() == "Hip hinge"
    out = tmp_path / "replay.png"
    img = win.grab()
    assert img.save(str(out)) and (img.width(), img.height()) == (1280, 800)
    qimg = img.toImage()
    colours = {qimg.pixelColor(x_, y_).name() for x_ in range(0, 1280, 16) for y_ in range(0, 800, 16)}
    assert len(colours) > 20                                          # real content, not blank
    dispose(win)


def test_replay_transport_pause_seek_and_speed():
    p = player()
    p.pause()
    p.seek(30.0)
    assert p.snapshot().t_now_s == pytest.approx(30.0)
    p.set_speed(4.0)
    p.seek(p.duration_s + 100)
    assert p.position_s == pytest.approx(p.duration_s)
    p.play()                                      # at the end: starts over
    assert p.position_s < 1.0
    p.pause()
    snap = p.snapshot_at(5.0)
    assert snap.reps == [] and snap.holds == []   # nothing completed yet at 5 s
    assert p.snapshot_at(p.duration_s).holds and len(p.snapshot_at(p.duration_s).holds) == 4


def test_single_leg_readout_shows_pelvic_drop_with_its_grade_band(app):
    from imu.gui.app import dispose
    p = player()
    _, holds = truth_reps()
    h = max(holds, key=lambda h: h["pelvic_drop_max_deg"])
    t_peak = (h["start_s"] + h["end_s"]) / 2 - p.t0_s
    p.seek(h["end_s"] - p.t0_s - 0.5)
    win = _window(app, p, "replay")
    snap = win.last_snapshot
    assert snap.current_set["exercise"] == "single_leg_stance"
    drop = snap.current["pelvic_drop_deg"]
    big = win.readouts.numbers[0]
    assert big.caption.text() == "PELVIC DROP"
    # the single-leg list follows the set under way
    assert win.replist.currentWidget() is win.replist.tables["single_leg_stance"]
    assert big.value.text().startswith(f"{drop:.0f}" if abs(drop) >= 10 else f"{drop:.1f}")
    from imu.live.snapshot import drop_grade
    assert big._band == drop_grade(drop)
    x, y = win.traces.curves["pelvic_drop_deg"].getData()
    assert win.traces.curves["pelvic_drop_deg"].isVisible() and np.isfinite(y).any()
    assert t_peak > 0
    dispose(win)


def test_live_dashboard_shows_pipeline_results_and_set_controls_write_events(app):
    from imu.gui.app import dispose
    pipe, _ = live_run(13)                          # its own run: the clicks add a set
    win = _window(app, pipe, "live")
    assert "calibrated" in win.calib_badge.text()
    assert win.replist.tables["hinge"].rowCount() == 2
    assert win.replist.tables["single_leg_stance"].rowCount() == 4
    assert set(win.status_strip.cards) == {"sacrum", "right_thigh", "left_thigh"}
    n_sets = len(pipe.sets)
    win.controls.exercise.setCurrentIndex(win.controls.exercise.findData("hinge"))
    win.controls.toggle.click()
    assert pipe.snapshot().current_set["exercise"] == "hinge"
    win.refresh()
    assert win.controls.toggle.text() == "End set"
    win.controls.toggle.click()
    assert pipe.snapshot().current_set is None and len(pipe.sets) == n_sets + 1
    dispose(win)


def test_replay_without_a_usable_calibration_still_plays_status_and_sets():
    from dataclasses import replace

    from imu.live.player import build_player
    from imu.types import Session

    s = sim().session
    cut = next(e.t_s for e in s.events if e.kind == "calibration_end") + 1.0
    sensors = {}
    for role, d in s.sensors.items():
        m = d.t_host_s >= cut
        # never still (no quiet standing either): not even the automatic calibration can work
        shake = 0.8 * np.sin(2 * np.pi * 0.5 * d.t_host_s[m])[:, None] * np.array([1.0, 0, 0])
        sensors[role] = replace(d, seq=d.seq[m], t_sensor_s=d.t_sensor_s[m],
                                t_host_s=d.t_host_s[m], acc=d.acc[m], gyr=d.gyr[m] + shake)
    events = [e for e in s.events if e.t_s >= cut]
    p = build_player(Session(dict(s.meta), sensors, events), None, progress=False)
    snap = p.snapshot_at(10.0)
    assert snap.calibration.state == "refused" and "calibration" in snap.calibration.message
    assert snap.angles == {} and snap.current_set["exercise"] == "hinge"
    assert all(95 < st.rate_hz < 110 for st in snap.status.values())


def test_live_window_paints_when_new_rows_are_in_and_the_panels_at_most_every_100_ms(app):
    """The live poll: a frame when the model's row counter moved (at most refresh_hz), the
    traces every frame, the other panels at most every SIDE_PANEL_S, an idle redraw."""
    from imu.gui import dashboard as D
    from imu.gui.app import dispose

    class Live:                                   # the player, counting rows like a pipeline
        def __init__(self, p):
            self.p, self.rows_out, self.snaps = p, 0, 0

        def snapshot(self):
            self.snaps += 1
            return self.p.snapshot()

        def __getattr__(self, name):
            return getattr(self.p, name)

    model = Live(player())
    win = D.Dashboard(model, mode="live", refresh_hz=40.0)
    win._timer.stop()
    now = [100.0]
    win._clock = lambda: now[0]
    panels = []
    draw = win._draw_panels
    win._draw_panels = lambda snap: (panels.append(now[0]), draw(snap))
    win._tick()
    assert (model.snaps, len(panels)) == (1, 1)          # first frame: everything
    now[0] += 0.010
    model.rows_out += 3
    win._tick()
    assert model.snaps == 1                              # 10 ms after a frame: too soon (40/s)
    now[0] += 0.020
    win._tick()
    assert (model.snaps, len(panels)) == (2, 1)          # new rows: traces only
    now[0] += 0.030
    win._tick()
    assert model.snaps == 2                              # no new rows: no frame
    model.rows_out += 3
    now[0] += 0.050
    win._tick()
    assert (model.snaps, len(panels)) == (3, 2)          # 110 ms since the panels: them too
    now[0] += D.IDLE_FRAME_S
    win._tick()
    assert model.snaps == 4                              # idle: still redrawn now and then
    dispose(win)


def test_live_window_is_woken_by_the_pipeline_when_rows_are_in(app):
    """A model that announces new rows (LivePipeline.add_rows_listener) gets a frame soon
    after the call from its worker thread, with no polling timer running."""
    import threading

    from imu.gui import dashboard as D
    from imu.gui.app import dispose

    class Live:
        def __init__(self, p):
            self.p, self.rows_out, self.snaps, self.listeners = p, 0, 0, []

        def snapshot(self):
            self.snaps += 1
            return self.p.snapshot()

        def add_rows_listener(self, fn):
            self.listeners.append(fn)

        def remove_rows_listener(self, fn):
            self.listeners.remove(fn)

        def __getattr__(self, name):
            return getattr(self.p, name)

    model = Live(player())
    win = D.Dashboard(model, mode="live", refresh_hz=40.0)
    assert len(model.listeners) == 1 and win._timer.interval() == int(D.IDLE_FRAME_S * 1000)
    win._timer.stop()                          # only the pipeline's call may cause a frame
    model.rows_out += 3
    th = threading.Thread(target=model.listeners[0])
    th.start()
    th.join()
    deadline = time.monotonic() + 2.0
    while model.snaps == 0 and time.monotonic() < deadline:
        app.processEvents()
    assert model.snaps == 1
    now = [win._last_frame + 0.010]            # 10 ms after that frame
    win._clock = lambda: now[0]
    model.rows_out += 3                        # again: put off to the 40/s cap, not lost
    model.listeners[0]()
    app.processEvents()
    assert model.snaps == 1 and win._pending.isActive()
    assert 10 <= win._pending.interval() <= 16
    now[0] += 0.020
    deadline = time.monotonic() + 2.0
    while model.snaps == 1 and time.monotonic() < deadline:
        app.processEvents()
    assert model.snaps == 2
    dispose(win)
    assert model.listeners == []               # the closed window stopped listening


def test_pipeline_calls_its_row_listeners_after_storing_rows():
    from imu.chain import simulator_profile
    from imu.live.pipeline import LivePipeline
    from imu.sim import simulate
    from imu.sources.replay import ReplaySource

    class Src(ReplaySource):
        def simulate(self):
            return res

    res = simulate("hinge", rate_hz=100, seed=2, reps=1, calibration=False)
    src = Src(res.session, speed=float("inf"))
    pipe = LivePipeline(src, profile=simulator_profile(src))
    seen = []
    pipe.add_rows_listener(lambda: seen.append(pipe.rows_out))
    pipe.run_blocking(5.0)
    assert seen and seen == sorted(seen) and seen[-1] == pipe.rows_out > 0


def test_live_window_spaces_its_frames_to_stay_within_its_cpu_budget(app):
    """Frames that cost more than the budget allows at the cap are spaced out (the budget left
    after the thread's other work, divided by a frame's CPU time); cheap frames go back to the
    cap; never fewer than MIN_BUDGET_HZ frames/s for the budget."""
    from imu.gui import dashboard as D
    from imu.gui.app import dispose

    class Live:
        rows_out = 0

        def snapshot(self):
            return D.Snapshot()

    win = D.Dashboard(Live(), mode="live", refresh_hz=60.0)
    win._timer.stop()

    def second(frames: int, frame_cpu_s: float, other_cpu_s: float) -> float:
        t0, cpu0 = win._budget[0], win._budget[1]
        win._frames += frames
        win._frames_cpu += frames * frame_cpu_s
        win._keep_budget(t0 + 1.0, cpu0 + frames * frame_cpu_s + other_cpu_s)
        return 1.0 / win._frame_s

    win._keep_budget(0.0, 0.0)                      # the first period starts
    # 15 ms frames and 5 % of a core besides: (0.45 - 0.05) / 0.015 = 26.7 frames/s
    assert second(50, 0.015, 0.05) == pytest.approx((D.CPU_BUDGET - 0.05) / 0.015)
    assert second(30, 0.004, 0.05) == pytest.approx(60.0)           # cheap frames: the cap
    assert second(40, 0.040, 0.0) == pytest.approx(D.MIN_BUDGET_HZ)  # never below 25/s
    dispose(win)
