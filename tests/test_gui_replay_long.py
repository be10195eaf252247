"""A 10-minute session replayed at 20×: the list keeps up with every rep and hold."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("PySide6.QtWidgets")


def test_replay_of_a_ten_minute_session_at_20x_lists_every_rep_as_it_ends():
    from imu.live.player import build_player
    from imu.gui.app import dispose, ensure_app
    from imu.gui.dashboard import Dashboard
    from imu.sim import simulate

    app = ensure_app(offscreen=True)
    cycle = ["hinge", "single_leg_stance", "hip_airplane", "squat"]
    res = simulate(["calibration"] + cycle * 2 + ["hinge"], rate_hz=52, seed=5)
    assert res.session.duration_s >= 600.0
    p = build_player(res.session, None, progress=False)
    truth = sum(len(s.get("reps") or s.get("holds") or []) for s in res.truth_sets)
    items = p.reps + p.holds
    assert len(items) >= 0.9 * truth                    # the analysis found (nearly) all of them
    win = Dashboard(p, mode="replay", refresh_hz=0)
    win.resize(1280, 800)
    win.show()
    p.set_speed(20.0)
    frame_s = 20.0 / 30.0                               # 20x at the dashboard's 30 frames/s
    t, late = 0.0, []
    while t < p.duration_s + frame_s:
        p.seek(t)
        win.refresh()
        app.processEvents()
        listed = sum(tab.rowCount() for tab in win.replist.tables.values())
        done = sum((it.get("end_s") or 0.0) <= min(t, p.duration_s) for it in items)
        if listed != done:
            late.append((t, listed, done))
        t += frame_s
    assert late == []                                   # every rep listed in the frame it ends
    assert sum(tab.rowCount() for tab in win.replist.tables.values()) == len(items)
    for ex, tab in win.replist.tables.items():
        n = sum(it.get("exercise") == ex for it in items)
        assert tab.rowCount() == n and f"({n})" in win.replist.tabText(win.replist.indexOf(tab))
    dispose(win)
