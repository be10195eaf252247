"""Dashboard frame rate, CPU and sample-to-screen latency; replay of a long session at 20×.

Live: 3 simulated sensors at 200 Hz stream over the virtual BLE link into the live pipeline
(``imu demo``'s set-up, calibration skipped), and the dashboard (1600×1000, painting when new
rows are in, at most 50 frames/s) draws them. Each run is a separate process per Qt platform:
``offscreen`` and ``xcb`` under Xvfb (``xvfb-run``; the row says so when Xvfb is missing).
Reported per platform:

- frames per second actually painted (paint events of the trace view that show new rows);
- CPU share of one core, per thread: the GUI thread (the dashboard's cost: the target), the
  live processing (``LivePipeline.feed``: angles, detectors), the rest of the worker thread
  (our BLE host stack: bumble's host, bleak, the reader and decoder), and the whole process.
  As in ``imu demo`` the virtual sensors, their controllers and the radio link run in a child
  process (:mod:`imu.sources.ble.sensor_process`), as real sensors are outside ours; its CPU
  is not counted here;
- sample-to-screen latency p50/p99 over every angle row: from the moment the virtual sensors
  created its samples (their own clock) to the end of the first paint that shows it, so the
  BLE batching, the link, the wait for all three sensors, the processing, the wait for a frame
  and the paint are all in it (the clock model's offset between the session clock and the
  sensors' clock is measured per block and taken out);
- where a row's latency goes: each stage of :data:`STAGES` per row (p50, p99 and its mean
  over the slowest 1 % of rows), the BLE batch age at the sensor (the child logs when each
  notification left), the trace paint and refresh times, garbage-collection pauses;
  ``IMU_BENCH_PROFILE=FILE`` writes a cProfile of the GUI thread over the measured seconds;
- time from the window opening to the first scored rep in the list.

Replay: a 10-minute simulated session played at 20× in the dashboard with its real timer: frames
per second, the slowest frame, and how many of the session's reps/holds the list shows at the end.

Targets (issue #12): ≥ 30 fps, < 50 % of a core, p99 < 50 ms. The machine's load average is
printed with the figures: on a shared machine they are upper bounds.

Run alone: ``python -m bench.bench_dashboard [--quick]``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

#: the dashboard's highest frame rate (live: it paints when new rows are in)
REFRESH_HZ = 50.0
#: the stages of a row's sample-to-screen latency, in order (they add up to it):
STAGES = {
    "sensors": "sample created -> the notification completing its row leaves the last sensor "
               "(BLE batch age and the wait for the other sensors)",
    "link": "-> that block reaches the live pipeline (virtual link, bleak, decoder, queue)",
    "processing": "-> its rows are in the ring buffer (clock model, fusion, angles, detectors)",
    "poll": "-> the window's next refresh starts (frame cap, GUI busy)",
    "refresh": "-> snapshot taken and curves set",
    "dispatch": "-> the paint starts (Qt event loop)",
    "paint": "-> the paint ends",
}


def _load() -> str:
    try:
        return "load average %.1f/%.1f/%.1f on %d cores" % (*os.getloadavg(), os.cpu_count() or 0)
    except OSError:
        return ""


def _live_child(seconds: float, rate_hz: int) -> dict:
    """Run in a child process on the platform set in QT_QPA_PLATFORM; returns the figures."""
    from PySide6 import QtCore

    import imu.gui.dashboard as dash
    from imu.chain import simulator_profile as skipped_calibration
    from imu.gui.app import dispose, ensure_app
    from imu.gui.views.traces import TracePanel
    from imu.live.angles import LiveAngleStage
    from imu.live.pipeline import LivePipeline
    from imu.sources.simulated import SimulatedSource

    # (paint start, paint end, session times first shown)
    paints: list[tuple[float, float, np.ndarray]] = []
    shown = {"t": -np.inf}
    state = {"win": None, "pipe": None}
    paint_cpu: list[tuple[float, float]] = []      # (wall, GUI thread CPU) of every paint

    class TimedTraces(TracePanel):
        def paintEvent(self, ev):  # noqa: N802
            start = time.monotonic()
            c0 = time.thread_time()
            super().paintEvent(ev)
            paint_cpu.append((time.monotonic() - start, time.thread_time() - c0))
            win, pipe = state["win"], state["pipe"]
            snap = win.last_snapshot if win is not None else None
            if snap is None or not len(snap.angles_t) or pipe.t_first_s is None:
                return
            now = time.monotonic()
            t = snap.angles_t + pipe.t_first_s
            new = t[t > shown["t"]]
            if len(new):
                shown["t"] = float(t[-1])
                paints.append((start, now, new))

    dash.TracePanel = TimedTraces
    app = ensure_app()
    # as `imu demo`: the virtual sensors in their own process; it logs when each notification
    # left its sensor
    # (IMU_BENCH_SENSORS=inprocess: in our process, for comparison)
    src = SimulatedSource("demo", rate_hz=rate_hz, seed=3, calibration=False,
                          process=os.environ.get("IMU_BENCH_SENSORS") != "inprocess")
    src.log_notifications = True
    sent_here: list[tuple] = []                    # the same log, sensors in our process
    if not src.process:
        from imu.sources.ble.sensor_process import _logger
        from imu.sources.ble import protocol as P
        from imu.sources.ble.virtual import VirtualSensor
        notify = VirtualSensor._notify

        async def logged_notify(self, pkt):
            _logger(self, sent_here, P)(pkt)
            await notify(self, pkt)

        VirtualSensor._notify = logged_notify
    pipe = LivePipeline(src, profile=skipped_calibration(src))

    # the clock model's error: a block's last sample on the session clock minus the moment the
    # virtual sensor created it (its own clock, started with the session clock)
    clock_err: list[float] = []
    marks: dict = {}
    times = LiveAngleStage.times

    def timed_times(self, role, blk):
        t = times(self, role, blk)
        if len(t):         # every sensor clock started at src._t0
            created = src._t0 + float(blk.t_sensor_s[-1]) / src.speed
            clock_err.append(float(t[-1]) - (created - src._t0) * src.speed)
        return t

    LiveAngleStage.times = timed_times
    # each batch of rows stored: (last row's session time, stored at, the feed call that made it)
    stored: list[tuple[float, float, tuple | None]] = []
    current = {"feed": None}                        # (start, sensor id, last seq) of the feed call
    route = pipe._route_rows

    def timed_route(table):
        route(table)
        if len(table.time_s):
            stored.append((float(table.time_s[-1]), time.monotonic(), current["feed"]))

    pipe._route_rows = timed_route
    feed_cpu = [0.0]                                # the live processing's CPU (pipeline thread)
    feed = pipe.feed

    def timed_feed(blk):
        c = time.thread_time()
        current["feed"] = (time.monotonic(), blk.sensor_id,
                           int(blk.seq[-1]) if len(blk) else -1)
        try:
            feed(blk)
        finally:
            current["feed"] = None
            feed_cpu[0] += time.thread_time() - c

    pipe.feed = timed_feed
    # gc pauses (any thread): start/end
    import gc
    gc_pauses: list[float] = []
    gc_t0 = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            gc_t0[0] = time.perf_counter()
        else:
            gc_pauses.append(time.perf_counter() - gc_t0[0])

    gc.callbacks.append(on_gc)
    win = dash.Dashboard(pipe, mode="live", refresh_hz=REFRESH_HZ, title="bench")
    state.update(win=win, pipe=pipe)
    refreshes: list[tuple[float, float]] = []     # the window's refresh: snapshot + set data
    refresh = win.refresh

    def timed_refresh(*a, **kw):
        t = time.monotonic()
        try:
            return refresh(*a, **kw)
        finally:
            refreshes.append((t, time.monotonic()))

    win.refresh = timed_refresh
    win.resize(1600, 1000)
    win.show()
    t_open = time.monotonic()
    if os.environ.get("IMU_BENCH_TUNING") != "0":   # as run_live (IMU_BENCH_TUNING=0: without)
        from imu.gui.app import tune_for_live
        tune_for_live()
    pipe.start()
    first_rep = {}
    # IMU_BENCH_PROFILE=FILE: cProfile of the GUI thread over the measured seconds
    prof = None
    if os.environ.get("IMU_BENCH_PROFILE"):
        import cProfile
        prof = cProfile.Profile()

    def worker_cpu() -> float:
        th = pipe._thread
        if th is None or th.ident is None:
            return 0.0
        return time.clock_gettime(time.pthread_getcpuclockid(th.ident))

    def poll():
        now = time.monotonic()
        snap = win.last_snapshot
        if snap is not None and snap.reps and "t" not in first_rep:
            first_rep["t"] = now - t_open
        if "t0" not in marks and snap is not None and len(snap.angles_t):
            marks["t0"] = now + 2.0                 # 2 s warm-up once angles flow
        elif "t0" in marks and "cpu0" not in marks and now >= marks["t0"]:
            if prof is not None:
                prof.enable()
            marks.update(cpu0=time.process_time(), thr0=time.thread_time(), w0=now,
                         n0=len(paints), rows0=pipe.rows_out, wk0=worker_cpu(),
                         feed0=feed_cpu[0], err0=len(clock_err), gc0=len(gc_pauses),
                         )
        elif "cpu0" in marks and now >= marks["w0"] + seconds:
            if prof is not None:
                prof.disable()
                prof.dump_stats(os.environ["IMU_BENCH_PROFILE"])
            marks.update(cpu1=time.process_time(), thr1=time.thread_time(), w1=now,
                         n1=len(paints), rows1=pipe.rows_out, wk1=worker_cpu(),
                         feed1=feed_cpu[0], err1=len(clock_err), gc1=len(gc_pauses),
                         )
            app.quit()
        elif now - t_open > seconds + 60:
            app.quit()

    timer = QtCore.QTimer()
    timer.timeout.connect(poll)
    timer.start(50)
    app.exec()
    timer.stop()
    pipe.stop()
    dispose(win)
    # when each notification left its virtual sensor: (sensor id, last seq) -> monotonic time,
    # and each notification's batch age (its oldest sample's age when sent)
    sent = (src.sensor_process.stats if src.sensor_process is not None else {}) \
        .get("notifications", sent_here)
    notified = {(sid, seq): t for sid, seq, t, _ in sent}
    ages = np.array([t - c for _, _, t, c in sent if marks.get("w0", 0) <= t <= marks.get("w1", 0)])
    LiveAngleStage.times = times
    if "w1" not in marks:
        raise RuntimeError("no angles reached the dashboard within a minute")
    wall = marks["w1"] - marks["w0"]
    win_paints = paints[marks["n0"]:marks["n1"]]
    err = np.array(clock_err[marks["err0"]:marks["err1"]])
    d = float(np.median(err))
    st_t = np.array([a for a, _, _ in stored])
    st_w = np.array([b for _, b, _ in stored])
    rf_a = np.array([a for a, _ in refreshes])
    rf_b = np.array([b for _, b in refreshes])
    lat, gui, newest = [], [], []
    # where a row's latency goes (one array per stage, s; NaN where a stage is unknown)
    stages = {k: [] for k in STAGES}
    for p_start, now, new in win_paints:
        created = src._t0 + (new - d) / src.speed
        lat.append(now - created)
        k = np.clip(np.searchsorted(st_t, new), 0, len(st_t) - 1)
        gui.append(now - st_w[k])
        newest.append(now - created[-1])
        j = max(int(np.searchsorted(rf_a, p_start)) - 1, 0)      # the refresh before this paint
        fed = [stored[i][2] for i in k]
        t_feed = np.array([f[0] if f else np.nan for f in fed])
        t_sent = np.array([notified.get((f[1], f[2]), np.nan) if f else np.nan for f in fed])
        stages["sensors"].append(t_sent - created)
        stages["link"].append(t_feed - t_sent)
        stages["processing"].append(st_w[k] - t_feed)
        stages["poll"].append(rf_a[j] - st_w[k])
        stages["refresh"].append(np.full(len(new), rf_b[j] - rf_a[j]))
        stages["dispatch"].append(np.full(len(new), p_start - rf_b[j]))
        stages["paint"].append(np.full(len(new), now - p_start))
    lat, gui, newest = np.concatenate(lat), np.concatenate(gui), np.array(newest)
    stages = {k: np.concatenate(v) for k, v in stages.items()}
    # the slowest 1 %: mean of each stage over the rows above the p99
    slow = lat >= np.percentile(lat, 99)
    gcs = np.array(gc_pauses[marks["gc0"]:marks["gc1"]])
    frame_s = np.array([b - a for a, b, _ in win_paints])
    refresh_s = np.array([b - a for a, b in refreshes if marks["w0"] <= a <= marks["w1"]])
    data_s = (marks["rows1"] - marks["rows0"]) / rate_hz      # angle rows at the sensor rate
    ms = lambda a, q: float(np.percentile(a, q) * 1000) if len(a) else float("nan")  # noqa: E731
    worker = marks["wk1"] - marks["wk0"]
    feed_s = marks["feed1"] - marks["feed0"]
    return {"fps": (marks["n1"] - marks["n0"]) / wall,
            "cpu_per_data_s": (marks["cpu1"] - marks["cpu0"]) / data_s if data_s else float("nan"),
            "data_per_wall": data_s / wall,
            "gui_cpu": (marks["thr1"] - marks["thr0"]) / wall,
            "proc_cpu": (marks["cpu1"] - marks["cpu0"]) / wall,
            "live_cpu": feed_s / wall, "sensors_cpu": (worker - feed_s) / wall,
            "p50_ms": ms(lat, 50), "p99_ms": ms(lat, 99), "max_ms": ms(lat, 100),
            "gui_p50_ms": ms(gui, 50), "gui_p99_ms": ms(gui, 99),
            "newest_p50_ms": ms(newest, 50), "newest_p99_ms": ms(newest, 99),
            "clock_err_ms": d * 1000, "clock_err_spread_ms": ms(err, 99) - ms(err, 1),
            "stages_p50_ms": {k: float(np.nanpercentile(v, 50) * 1000) for k, v in stages.items()},
            "stages_p99_ms": {k: float(np.nanpercentile(v, 99) * 1000) for k, v in stages.items()},
            "stages_slowest_ms": {k: float(np.nanmean(v[slow]) * 1000) for k, v in stages.items()},
            "batch_age_p50_ms": ms(ages, 50), "batch_age_p99_ms": ms(ages, 99),
            "paint_p50_ms": ms(frame_s, 50), "paint_p99_ms": ms(frame_s, 99),
            "refresh_p50_ms": ms(refresh_s, 50), "refresh_p99_ms": ms(refresh_s, 99),
            "paint_wall_cpu_slowest_ms": sorted((1000 * a, 1000 * b)
                                                for a, b in paint_cpu)[-8:],
            # a paint's wall time over its CPU time (1: it never waited)
            "paint_wait_ratio_p50": float(np.median([a / b for a, b in paint_cpu if b > 0])),
            "gc_count": int(len(gcs)), "gc_max_ms": float(gcs.max() * 1000) if len(gcs) else 0.0,
            "gc_total_ms": float(gcs.sum() * 1000),
            "first_rep_s": first_rep.get("t", float("nan")), "frames": len(win_paints),
            "samples": int(len(lat)), "seconds": wall, "load": _load()}


def _replay_child(minutes: float, speed: float) -> dict:
    from PySide6 import QtCore

    from imu.live.player import build_player
    from imu.gui.app import dispose, ensure_app
    from imu.gui.dashboard import Dashboard
    from imu.sim import simulate

    app = ensure_app()
    blocks = ["hinge", "single_leg_stance", "hip_airplane", "squat"]
    res = simulate(["calibration"] + blocks * max(1, round(minutes * 60 / 265)), rate_hz=104, seed=5)
    session = res.session
    player = build_player(session, None, progress=False)
    truth = len(player.reps) + len(player.holds)
    win = Dashboard(player, mode="replay", refresh_hz=REFRESH_HZ)
    win.resize(1600, 1000)
    win.show()
    times: list[float] = []
    orig = win.refresh

    def timed_refresh():
        t = time.perf_counter()
        snap = orig()
        times.append(time.perf_counter() - t)
        if not player.playing:
            app.quit()
        return snap

    win._timer.timeout.disconnect()
    win._timer.timeout.connect(timed_refresh)
    player.set_speed(speed)
    player.seek(0.0)
    w0 = time.monotonic()
    player.play()
    app.exec()
    wall = time.monotonic() - w0
    win.refresh()
    listed = sum(t.rowCount() for t in win.replist.tables.values())
    dispose(win)
    return {"session_s": session.duration_s, "wall_s": wall, "fps": len(times) / wall,
            "slowest_ms": max(times) * 1000, "listed": listed, "truth": truth, "load": _load()}


def _child(kind: str, platform: str, quick: bool) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_dashboard", "--child", kind] + (["--quick"] if quick else [])
    env = dict(os.environ, QT_QPA_PLATFORM=platform)
    if platform == "xcb":
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            raise FileNotFoundError("xvfb-run not installed (apt-get install xvfb)")
        cmd = [xvfb, "-a", "-s", "-screen 0 1600x1000x24"] + cmd
        env.pop("DISPLAY", None)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict]:
    rows = []
    for platform, label in (("offscreen", "offscreen"), ("xcb", "Xvfb")):
        try:
            r = _child("live", platform, quick)
        except (FileNotFoundError, RuntimeError) as exc:
            rows.append({"name": f"dashboard live, {label}", "value": "", "unit": "",
                         "note": f"not run: {exc}"})
            continue
        note = f"3 sensors at 200 Hz, {r['seconds']:.0f} s, {r['load']}"
        rows += [
            {"name": f"dashboard live fps, {label}", "value": r["fps"], "unit": "frames/s",
             "note": f"target >= 30 (paints when new rows are in, at most {REFRESH_HZ:g}/s); "
                     + note},
            {"name": f"dashboard GUI thread CPU, {label}", "value": 100 * r["gui_cpu"],
             "unit": "% of a core", "note": "target < 50: the dashboard's own cost"},
            {"name": f"GUI thread CPU per frame, {label}", "value": 1000 * r["gui_cpu"] / r["fps"],
             "unit": "ms", "note": f"a free core would paint {r['fps'] / r['gui_cpu']:.0f} frames/s"},
            {"name": f"live processing CPU (angles, detectors), {label}",
             "value": 100 * r["live_cpu"], "unit": "% of a core",
             "note": "LivePipeline.feed in the worker thread"},
            {"name": f"BLE host stack CPU, {label}",
             "value": 100 * r["sensors_cpu"], "unit": "% of a core",
             "note": "the rest of the worker thread: bumble host, bleak, reader, decoder (the "
                     "virtual sensors run in their own process)"},
            {"name": f"whole process CPU, {label}", "value": 100 * r["proc_cpu"],
             "unit": "% of a core", "note": "all threads"},
            {"name": f"whole process CPU per second of data, {label}",
             "value": r["cpu_per_data_s"], "unit": "CPU s", "note":
             f"< 1 keeps up on one free core; data processed at {r['data_per_wall']:.2f}x real time"},
            {"name": f"sample-to-screen latency p50, {label}", "value": r["p50_ms"], "unit": "ms",
             "note": f"every angle row: its samples' creation in the virtual sensors -> end of the "
                     f"first paint showing it; {r['samples']} rows in {r['frames']} frames"},
            {"name": f"sample-to-screen latency p99, {label}", "value": r["p99_ms"], "unit": "ms",
             "note": f"target < 50; max {r['max_ms']:.0f} ms; includes the BLE batch age "
                     "(<= 20 ms) and the wait for all 3 sensors"},
            {"name": f"newest row's age at paint p50 / p99, {label}", "value": r["newest_p50_ms"],
             "unit": "ms", "note": f"p99 {r['newest_p99_ms']:.0f} ms (the freshest sample on "
                                   "screen when a frame is done)"},
            {"name": f"stored-to-screen latency p50, {label}", "value": r["gui_p50_ms"], "unit": "ms",
             "note": "the dashboard's own share: angle row in the ring buffer -> painted"},
            {"name": f"stored-to-screen latency p99, {label}", "value": r["gui_p99_ms"], "unit": "ms",
             "note": ""},
            *[{"name": f"latency stage '{k}' p50, {label}", "value": r["stages_p50_ms"][k],
               "unit": "ms", "note": f"p99 {r['stages_p99_ms'][k]:.1f} ms, in the slowest 1 % "
                                     f"of rows {r['stages_slowest_ms'][k]:.1f} ms; {what}"}
              for k, what in STAGES.items()],
            {"name": f"BLE batch age at the sensor p50, {label}", "value": r["batch_age_p50_ms"],
             "unit": "ms", "note": f"p99 {r['batch_age_p99_ms']:.1f} ms: a notification's oldest "
                                   "sample when it left its (virtual) sensor"},
            {"name": f"trace paint p50, {label}", "value": r["paint_p50_ms"], "unit": "ms",
             "note": f"p99 {r['paint_p99_ms']:.1f} ms; refresh (snapshot + curves) p50 "
                     f"{r['refresh_p50_ms']:.1f} / p99 {r['refresh_p99_ms']:.1f} ms"},
            {"name": f"garbage collections, {label}", "value": r["gc_count"], "unit": "",
             "note": f"longest {r['gc_max_ms']:.1f} ms, {r['gc_total_ms']:.0f} ms in all"},
            {"name": f"clock model offset, {label}", "value": r["clock_err_ms"], "unit": "ms",
             "note": f"session time minus creation, corrected for above; p1-p99 spread "
                     f"{r['clock_err_spread_ms']:.1f} ms"},
            {"name": f"window open to first scored rep, {label}", "value": r["first_rep_s"],
             "unit": "s", "note": "imu demo set-up; target < 20"},
        ]
    try:
        r = _child("replay", "offscreen", quick)
        rows += [
            {"name": f"replay {r['session_s'] / 60:.0f} min session at 20x: fps", "value": r["fps"],
             "unit": "frames/s", "note": f"played in {r['wall_s']:.0f} s (real time / 20: "
                                         f"{r['session_s'] / 20:.0f} s); slowest frame "
                                         f"{r['slowest_ms']:.0f} ms; {r['load']}"},
            {"name": "replay at 20x: reps+holds listed", "value": r["listed"], "unit": "items",
             "baseline": r["truth"], "ratio": r["listed"] / r["truth"] if r["truth"] else "",
             "note": "baseline: the session's analysis"},
        ]
    except (FileNotFoundError, RuntimeError) as exc:
        rows.append({"name": "replay at 20x", "value": "", "unit": "", "note": f"not run: {exc}"})
    return rows


if __name__ == "__main__":  # pragma: no cover
    if "--child" in sys.argv:
        kind = sys.argv[sys.argv.index("--child") + 1]
        quick = "--quick" in sys.argv
        res = _live_child(8.0 if quick else 20.0, 200) if kind == "live" else \
            _replay_child(3.0 if quick else 10.0, 20.0)
        print(json.dumps(res))
    else:
        from bench import format_table
        print(format_table(run(quick="--quick" in sys.argv)))
