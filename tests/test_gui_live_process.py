"""The dashboard over the live processing in its own process (imu.live.process): the window
draws what the child sends, its commands reach the child's pipeline, a dying child is said in
one line, and no process outlives the window."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from imu.errors import ImuError  # noqa: E402
from imu.live.process import LiveProcess  # noqa: E402
from imu.session.store import read_recording  # noqa: E402


@pytest.fixture
def app():
    from imu.gui.app import ensure_app
    return ensure_app(offscreen=True)


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = []
        for task in Path(f"/proc/{p}/task").glob("*"):    # a child is listed by the thread
            try:                                          # that started it
                kids += (task / "children").read_text().split()
            except OSError:
                pass
        for k in map(int, kids):
            if k not in out:
                out.add(k)
                todo.append(k)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _until(app, cond, timeout_s: float) -> bool:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.01)
    return False


def _demo(tmp_path, **kw) -> LiveProcess:
    spec = {"output": str(tmp_path / "live.imu"), "seed": 1, "rate_hz": 104, "speed": 3.0}
    spec.update(kw)
    return LiveProcess("imu.commands.demo:build_pipeline", spec)


def test_window_fed_by_the_live_process_shows_rows_reps_and_status_and_its_commands_reach_it(
        app, tmp_path):
    from imu.gui.app import dispose
    from imu.gui.dashboard import Dashboard

    live = _demo(tmp_path)
    win = Dashboard(live, mode="live", refresh_hz=50)
    win.show()
    live.start()
    try:
        assert _until(app, lambda: sum(t.rowCount() for t in win.replist.tables.values()), 60)
        snap = win.last_snapshot
        assert snap.reps
        # rows: the hinge trace over the last seconds, in session seconds since the first sample
        assert len(snap.angles_t) > 100 and "right_hip_flexion" in snap.angles
        assert snap.angles_t[-1] == pytest.approx(snap.t_now_s, abs=0.5)
        assert "right_hip_flexion" in snap.current
        # status of every sensor, the demo's hinge set and its scored reps in the list
        assert set(snap.status) == {"sacrum", "right_thigh", "left_thigh"}
        assert all(st.samples > 0 for st in snap.status.values())
        assert snap.current_set["exercise"] == "hinge"
        # a command from the window reaches the pipeline in the child ...
        win._start_set("single_leg_stance", "left")
        assert _until(app, lambda: (win.refresh().current_set or {}).get("exercise")
                      == "single_leg_stance", 10)
        assert win.last_snapshot.current_set["side"] == "left"
        n_reps = len(live.snapshot().reps)
    finally:
        dispose(win)
        live.stop()
    assert live.error is None
    # ... and into the recording the child owns and closed
    rec = read_recording(tmp_path / "live.imu")
    starts = [e for e in rec.events if e.kind == "set_start"]
    assert [e.exercise for e in starts][-1] == "single_leg_stance" and starts[-1].side == "left"
    assert len(live.reps) >= n_reps >= 1
    assert live.samples_in == sum(len(d) for d in rec.sensors.values())


def test_closing_leaves_no_process_behind(tmp_path):
    live = _demo(tmp_path, output=None)
    live.start()
    t_end = time.monotonic() + 30
    while live.rows_out == 0 and time.monotonic() < t_end:
        live.poll(0.1)
    assert live.running
    below = {live.proc.pid} | _descendants(live.proc.pid)
    assert len(below) >= 2
    live.stop()
    assert not any(_alive(p) for p in below)
    assert live.error is None


def test_a_dying_live_process_is_said_in_one_line_and_nothing_hangs(app, tmp_path):
    from imu.gui.app import dispose
    from imu.gui.dashboard import Dashboard

    live = _demo(tmp_path)
    win = Dashboard(live, mode="live", refresh_hz=50)
    live.start()
    assert _until(app, lambda: live.snapshot().t_now_s > 9.0, 60)    # 3 s of wall time
    below = _descendants(live.proc.pid)
    os.kill(live.proc.pid, signal.SIGKILL)
    assert _until(app, lambda: not live.running, 10)
    msg = str(live.error)
    assert "live processing process ended unexpectedly (signal 9)" in msg and "\n" not in msg
    assert "ended unexpectedly" in win.refresh().message
    t0 = time.monotonic()
    live.stop()
    dispose(win)
    assert time.monotonic() - t0 < 5
    # the sensor process sees its parent go and ends; the recording (kill-safe: all but the
    # last second) opens
    t_end = time.monotonic() + 10
    while any(_alive(p) for p in below) and time.monotonic() < t_end:
        time.sleep(0.1)
    assert not any(_alive(p) for p in below)
    assert len(read_recording(tmp_path / "live.imu").sensors["sacrum"]) > 0


def test_a_live_process_that_cannot_start_says_why_in_one_line(tmp_path):
    (tmp_path / "live.imu").write_bytes(b"taken")
    live = _demo(tmp_path)
    live.start()
    t_end = time.monotonic() + 30
    while live.running and time.monotonic() < t_end:
        live.poll(0.1)
    live.stop()
    assert isinstance(live.error, ImuError) and "live.imu" in str(live.error)
    assert (tmp_path / "live.imu").read_bytes() == b"taken"


WINDOW_PROCESS = r"""
import sys, time
from imu.live.process import LiveProcess
live = LiveProcess("imu.commands.demo:build_pipeline",
                   {"output": sys.argv[1], "seed": 2, "rate_hz": 104, "speed": 3.0})
live.start()
while live.rows_out == 0:
    live.poll(0.1)
print(live.proc.pid, flush=True)
time.sleep(60)
"""


def test_the_window_process_dying_ends_the_live_process_which_closes_the_recording(tmp_path):
    out = tmp_path / "live.imu"
    win = subprocess.Popen([sys.executable, "-c", WINDOW_PROCESS, str(out)],
                           stdout=subprocess.PIPE, text=True)
    try:
        child = int(win.stdout.readline())
        below = {child} | _descendants(child)
        win.kill()
        win.wait()
        t_end = time.monotonic() + 30
        while any(_alive(p) for p in below) and time.monotonic() < t_end:
            time.sleep(0.1)
        assert not any(_alive(p) for p in below)
    finally:
        if win.poll() is None:
            win.kill()
    rec = read_recording(out)
    assert set(rec.sensors) == {"sacrum", "right_thigh", "left_thigh"}
    assert rec.calibration["source"].startswith("calibration skipped")
