"""Dashboard frame rate, CPU and sample-to-screen latency; replay of a long session at 20×.

Live: 3 simulated sensors at 200 Hz stream over the virtual BLE link into the live pipeline
(``imu demo``'s set-up, calibration skipped, no recording), and the dashboard (1600×1000,
painting when new rows are in, at most at the screen's refresh rate: 60 frames/s offscreen
and under Xvfb) draws them. As in ``imu demo`` there are
three processes: the window's (it only draws), the live process
(:mod:`imu.live.process`: our BLE host stack and the live pipeline; the bench's probe,
:class:`ChildProbe`, runs there) and the virtual sensors' (their controllers and the radio link,
:mod:`imu.sources.ble.sensor_process`, as real sensors are outside ours; its CPU is not counted).
Each run is a separate process per Qt platform: ``offscreen`` and ``xcb`` under Xvfb
(``xvfb-run``; the row says so when Xvfb is missing). Reported per platform:

- frames per second actually painted (paint events of the trace view that show new rows);
- CPU share of one core: the GUI thread (the dashboard's cost: the target) and the window's
  whole process; in the live process the live processing (``LivePipeline.feed``: angles,
  detectors), the rest of its pipeline thread (our BLE host stack: bumble's host, bleak, the
  reader and decoder), and the whole process;
- sample-to-screen latency p50/p99 over every angle row: from the moment the virtual sensors
  created its samples (their own clock) to the end of the first paint that shows it, so the
  BLE batching, the link, the wait for all three sensors, the processing, the wait for a frame
  and the paint are all in it (the clock model's offset between the session clock and the
  sensors' clock is measured per block and taken out);
- where a row's latency goes: each stage of :data:`STAGES` per row (p50, p99 and its mean
  over the slowest 1 % of rows), the BLE batch age at the sensor (the child logs when each
  notification left), the trace paint and refresh times, garbage-collection pauses;
  ``IMU_BENCH_PROFILE=FILE`` writes a cProfile of the GUI thread over the measured seconds,
  ``IMU_BENCH_DUMP=FILE`` the raw timings (a pickle: every paint, batch of rows, feed call and
  notification) for a closer look;
- the live processing per block (``LivePipeline.feed``: CPU and wall time, p50/p99);
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

#: the replay's frame rate (live, the window paints when new rows are in, at most at the
#: screen's refresh rate: :func:`imu.gui.dashboard.live_frame_rate`)
REFRESH_HZ = 50.0
#: the stages of a row's sample-to-screen latency, in order (they add up to it):
STAGES = {
    "sensors": "sample created -> the notification completing its row leaves the last sensor "
               "(BLE batch age and the wait for the other sensors)",
    "link": "-> that block reaches the live pipeline (virtual link, bleak, decoder, queue)",
    "processing": "-> its rows are in the ring buffer (clock model, fusion, angles, detectors)",
    "transfer": "-> they reach the window's process (the live process's socket)",
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


class ChildProbe:
    """The bench's instruments inside the live process (:mod:`imu.live.process`: made there as
    ``ChildProbe(pipeline)`` before it starts): when each block was fed and each batch of rows
    stored, the clock model's error, the live processing's and the process's CPU at the
    window's marks, garbage-collection pauses, and (from the sensor process) when each
    notification left its sensor."""

    def __init__(self, pipe):
        import gc

        from imu.live.angles import LiveAngleStage

        self.pipe = pipe
        src = self.src = pipe.source
        src.log_notifications = True
        self.clock_err: list[float] = []
        times = LiveAngleStage.times
        err = self.clock_err

        def timed_times(stage, role, blk):
            t = times(stage, role, blk)
            if len(t):         # every sensor clock started at src._t0
                created = src._t0 + float(blk.t_sensor_s[-1]) / src.speed
                err.append(float(t[-1]) - (created - src._t0) * src.speed)
            return t

        LiveAngleStage.times = timed_times
        # each batch of rows stored: (last row's session time, stored at, the feed call)
        self.stored: list[tuple[float, float, tuple | None]] = []
        self.current = None                     # (start, sensor id, last seq) of the feed call
        route = pipe._route_rows

        def timed_route(table):
            route(table)
            if len(table.time_s):
                self.stored.append((float(table.time_s[-1]), time.monotonic(), self.current))

        pipe._route_rows = timed_route
        self.feed_cpu = 0.0
        # every feed call: (start, wall s, CPU s, rows stored, a backlog was waiting)
        self.feeds: list[tuple[float, float, float, int, bool]] = []
        # with IMU_BENCH_DUMP: each feed call's start on the wall, thread and process clocks
        self.feed_clocks: list[tuple[float, float, float]] = []
        dump = bool(os.environ.get("IMU_BENCH_DUMP"))
        feed = pipe.feed

        def timed_feed(blk):
            c = time.thread_time()
            if dump:
                self.feed_clocks.append((time.monotonic(), c, time.process_time()))
            rows = pipe.rows_out
            self.current = (time.monotonic(), blk.sensor_id, int(blk.seq[-1]) if len(blk) else -1)
            try:
                feed(blk)
            finally:
                start = self.current[0]
                self.current = None
                cpu = time.thread_time() - c
                self.feed_cpu += cpu
                self.feeds.append((start, time.monotonic() - start, cpu, pipe.rows_out - rows,
                                   pipe._backlog))

        pipe.feed = timed_feed
        self.gc_pauses: list[float] = []
        gc_t0 = [0.0]

        def on_gc(phase, info):
            if phase == "start":
                gc_t0[0] = time.perf_counter()
            else:
                self.gc_pauses.append(time.perf_counter() - gc_t0[0])

        gc.callbacks.append(on_gc)
        self.marks: dict[str, dict] = {}

    def _worker_cpu(self) -> float:
        th = self.pipe._thread
        if th is None or th.ident is None:
            return 0.0
        return time.clock_gettime(time.pthread_getcpuclockid(th.ident))

    def mark(self, name: str) -> None:
        self.marks[name] = {"cpu": time.process_time(), "wk": self._worker_cpu(),
                            "feed": self.feed_cpu, "err": len(self.clock_err),
                            "gc": len(self.gc_pauses), "t": time.monotonic()}

    def stats(self) -> dict:
        sp = self.src.sensor_process
        ang = self.pipe._angles
        phase = ang.phase if ang is not None else None
        return {"phase_plans": getattr(phase, "plans", 0), "phase_misses": getattr(phase, "misses", 0),
                "marks": self.marks, "stored": self.stored, "clock_err": self.clock_err,
                "feeds": self.feeds, "feed_clocks": self.feed_clocks,
                "gc_pauses": self.gc_pauses, "t0": self.src._t0, "speed": self.src.speed,
                "notifications": (sp.stats if sp is not None else {}).get("notifications", [])}


def _live_child(seconds: float, rate_hz: int) -> dict:
    """Run in a child process on the platform set in QT_QPA_PLATFORM; returns the figures."""
    from PySide6 import QtCore

    import imu.gui.dashboard as dash
    from imu.gui.app import dispose, ensure_app, tune_for_live
    from imu.gui.views.traces import TracePanel
    from imu.live.process import LiveProcess

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
            paint_cpu.append((time.monotonic() - start, time.thread_time() - c0, start))
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
    # as `imu demo` (calibration skipped, no recording): the virtual sensors in their own
    # process, our BLE host and the live pipeline in the live process; the probe in the latter
    pipe = LiveProcess("imu.commands.demo:build_pipeline",
                       {"output": None, "seed": 3, "rate_hz": rate_hz, "calibrate": False},
                       instrument="bench.bench_dashboard:ChildProbe")
    pipe.arrivals = []
    pipe.start()                # as run_live: before the window, its start-up overlaps the window's
    win = dash.Dashboard(pipe, mode="live", title="bench")     # frame cap: the screen's rate
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
        tune_for_live()
    first_rep = {}
    marks: dict = {}
    # IMU_BENCH_PROFILE=FILE: cProfile of the GUI thread over the measured seconds
    prof = None
    if os.environ.get("IMU_BENCH_PROFILE"):
        import cProfile
        prof = cProfile.Profile()

    def poll():
        now = time.monotonic()
        snap = win.last_snapshot
        if snap is not None and snap.reps and "t" not in first_rep:
            first_rep["t"] = now - t_open
        if not pipe.running:
            app.quit()
        elif "t0" not in marks and snap is not None and len(snap.angles_t):
            marks["t0"] = now + 2.0                 # 2 s warm-up once angles flow
        elif "t0" in marks and "cpu0" not in marks and now >= marks["t0"]:
            if prof is not None:
                prof.enable()
            pipe.mark("w0")
            marks.update(cpu0=time.process_time(), thr0=time.thread_time(), w0=now,
                         full0=win.traces.full_redraws,
                         n0=len(paints), rows0=pipe.rows_out)
        elif "cpu0" in marks and now >= marks["w0"] + seconds:
            if prof is not None:
                prof.disable()
                prof.dump_stats(os.environ["IMU_BENCH_PROFILE"])
            pipe.mark("w1")
            marks.update(cpu1=time.process_time(), thr1=time.thread_time(), w1=now,
                         n1=len(paints), rows1=pipe.rows_out, budget_fps=1.0 / win._frame_s,
                         full1=win.traces.full_redraws)
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
    if "w1" not in marks:
        raise RuntimeError(f"no angles reached the dashboard within a minute ({pipe.error})")
    st = pipe.stats
    cm = st["marks"]
    if os.environ.get("IMU_BENCH_DUMP"):     # IMU_BENCH_DUMP=FILE: the raw timings (pickle)
        import pickle
        with open(os.environ["IMU_BENCH_DUMP"], "wb") as f:
            pickle.dump({"stats": st, "paints": paints, "arrivals": pipe.arrivals,
                         "refreshes": refreshes, "marks": marks, "paint_cpu": paint_cpu}, f)
    # when each notification left its virtual sensor: (sensor id, last seq) -> monotonic time,
    # and each notification's batch age (its oldest sample's age when sent)
    sent = st["notifications"]
    notified = {(sid, seq): t for sid, seq, t, _ in sent}
    ages = np.array([t - c for _, _, t, c in sent if marks["w0"] <= t <= marks["w1"]])
    t0_src, speed = st["t0"], st["speed"]
    stored = st["stored"]
    wall = marks["w1"] - marks["w0"]
    win_paints = paints[marks["n0"]:marks["n1"]]
    err = np.array(st["clock_err"][cm["w0"]["err"]:cm["w1"]["err"]])
    d = float(np.median(err))
    st_t = np.array([a for a, _, _ in stored])
    st_w = np.array([b for _, b, _ in stored])
    ar_t = np.array([a for a, _, _ in pipe.arrivals])
    ar_w = np.array([b for _, b, _ in pipe.arrivals])
    ar_s = np.array([c for _, _, c in pipe.arrivals])
    ar_in = (ar_s >= marks["w0"]) & (ar_s <= marks["w1"])
    rf_a = np.array([a for a, _ in refreshes])
    rf_b = np.array([b for _, b in refreshes])
    lat, gui, newest = [], [], []
    # where a row's latency goes (one array per stage, s; NaN where a stage is unknown)
    stages = {k: [] for k in STAGES}
    for p_start, now, new in win_paints:
        created = t0_src + (new - d) / speed
        lat.append(now - created)
        k = np.clip(np.searchsorted(st_t, new), 0, len(st_t) - 1)
        a = np.clip(np.searchsorted(ar_t, new), 0, len(ar_t) - 1)
        gui.append(now - st_w[k])
        newest.append(now - created[-1])
        j = max(int(np.searchsorted(rf_a, p_start)) - 1, 0)      # the refresh before this paint
        fed = [stored[i][2] for i in k]
        t_feed = np.array([f[0] if f else np.nan for f in fed])
        t_sent = np.array([notified.get((f[1], f[2]), np.nan) if f else np.nan for f in fed])
        stages["sensors"].append(t_sent - created)
        stages["link"].append(t_feed - t_sent)
        stages["processing"].append(st_w[k] - t_feed)
        stages["transfer"].append(ar_w[a] - st_w[k])
        stages["poll"].append(rf_a[j] - ar_w[a])
        stages["refresh"].append(np.full(len(new), rf_b[j] - rf_a[j]))
        stages["dispatch"].append(np.full(len(new), p_start - rf_b[j]))
        stages["paint"].append(np.full(len(new), now - p_start))
    lat, gui, newest = np.concatenate(lat), np.concatenate(gui), np.array(newest)
    stages = {k: np.concatenate(v) for k, v in stages.items()}
    # the slowest 1 %: mean of each stage over the rows above the p99
    slow = lat >= np.percentile(lat, 99)
    gcs = np.array(st["gc_pauses"][cm["w0"]["gc"]:cm["w1"]["gc"]])
    fd = np.array([f[:4] for f in st["feeds"] if marks["w0"] <= f[0] <= marks["w1"]]).reshape(-1, 4)
    fd_rows = fd[fd[:, 3] > 0]
    frame_s = np.array([b - a for a, b, _ in win_paints])
    refresh_s = np.array([b - a for a, b in refreshes if marks["w0"] <= a <= marks["w1"]])
    data_s = (marks["rows1"] - marks["rows0"]) / rate_hz      # angle rows at the sensor rate
    ms = lambda a, q: float(np.percentile(a, q) * 1000) if len(a) else float("nan")  # noqa: E731
    cwall = cm["w1"]["t"] - cm["w0"]["t"]
    worker = cm["w1"]["wk"] - cm["w0"]["wk"]
    feed_s = cm["w1"]["feed"] - cm["w0"]["feed"]
    live_proc = (cm["w1"]["cpu"] - cm["w0"]["cpu"]) / cwall
    win_proc = (marks["cpu1"] - marks["cpu0"]) / wall
    return {"fps": (marks["n1"] - marks["n0"]) / wall,
            "cpu_per_data_s": (win_proc + live_proc) * wall / data_s if data_s else float("nan"),
            "data_per_wall": data_s / wall,
            "gui_cpu": (marks["thr1"] - marks["thr0"]) / wall,
            "proc_cpu": win_proc, "live_proc_cpu": live_proc,
            "live_cpu": feed_s / cwall, "sensors_cpu": (worker - feed_s) / cwall,
            "p50_ms": ms(lat, 50), "p99_ms": ms(lat, 99), "max_ms": ms(lat, 100),
            "gui_p50_ms": ms(gui, 50), "gui_p99_ms": ms(gui, 99),
            "newest_p50_ms": ms(newest, 50), "newest_p99_ms": ms(newest, 99),
            "clock_err_ms": d * 1000, "clock_err_spread_ms": ms(err, 99) - ms(err, 1),
            "stages_p50_ms": {k: float(np.nanpercentile(v, 50) * 1000) for k, v in stages.items()},
            "stages_p99_ms": {k: float(np.nanpercentile(v, 99) * 1000) for k, v in stages.items()},
            "stages_slowest_ms": {k: float(np.nanmean(v[slow]) * 1000) for k, v in stages.items()},
            "socket_p50_ms": ms((ar_w - ar_s)[ar_in], 50),
            "socket_p99_ms": ms((ar_w - ar_s)[ar_in], 99),
            "send_after_store_p99_ms": ms(st_w - np.interp(st_t, ar_t, ar_s), 99),
            "batch_age_p50_ms": ms(ages, 50), "batch_age_p99_ms": ms(ages, 99),
            "paint_p50_ms": ms(frame_s, 50), "paint_p99_ms": ms(frame_s, 99),
            "refresh_p50_ms": ms(refresh_s, 50), "refresh_p99_ms": ms(refresh_s, 99),
            "paint_wall_cpu_slowest_ms": sorted((1000 * a, 1000 * b)
                                                for a, b, _ in paint_cpu)[-8:],
            # every paint of the trace view, with new rows or not (per frame that shows them)
            "paints_per_frame": sum(marks["w0"] <= c <= marks["w1"] for _, _, c in paint_cpu)
            / max(len(win_paints), 1),
            # a paint's wall time over its CPU time (1: it never waited)
            "paint_wait_ratio_p50": float(np.median([a / b for a, b, _ in paint_cpu if b > 0])),
            "full_redraws_per_s": (marks["full1"] - marks["full0"]) / wall,
            "feed_wall_p50_ms": ms(fd[:, 1], 50), "feed_wall_p99_ms": ms(fd[:, 1], 99),
            "feed_cpu_p50_ms": ms(fd[:, 2], 50), "feed_cpu_p99_ms": ms(fd[:, 2], 99),
            "feed_rows_cpu_p50_ms": ms(fd_rows[:, 2], 50),
            "rows_per_batch": float(fd_rows[:, 3].mean()) if len(fd_rows) else float("nan"),
            "gc_count": int(len(gcs)), "gc_max_ms": float(gcs.max() * 1000) if len(gcs) else 0.0,
            "gc_total_ms": float(gcs.sum() * 1000),
            "phase_plans": st.get("phase_plans", 0), "phase_misses": st.get("phase_misses", 0),
            "first_rep_s": first_rep.get("t", float("nan")), "frames": len(win_paints),
            "samples": int(len(lat)), "seconds": wall, "load": _load(),
            "cap_hz": 1.0 / win._cap_s, "budget_fps": marks["budget_fps"],
            "cpu_budget": dash.CPU_BUDGET}


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
             "note": f"target >= 30 (paints when new rows are in, at most {r['cap_hz']:g}/s, "
                     f"the screen's rate, and as often as {100 * r['cpu_budget']:.0f} % of a core "
                     f"allows: {r['budget_fps']:.0f}/s when measured); "
                     + note},
            {"name": f"dashboard GUI thread CPU, {label}", "value": 100 * r["gui_cpu"],
             "unit": "% of a core", "note": "target < 50: the dashboard's own cost"},
            {"name": f"GUI thread CPU per frame, {label}", "value": 1000 * r["gui_cpu"] / r["fps"],
             "unit": "ms", "note": f"a free core would paint {r['fps'] / r['gui_cpu']:.0f} frames/s"},
            {"name": f"window process CPU, {label}", "value": 100 * r["proc_cpu"],
             "unit": "% of a core", "note": "all its threads (it only draws)"},
            {"name": f"live processing CPU (angles, detectors), {label}",
             "value": 100 * r["live_cpu"], "unit": "% of a core",
             "note": "LivePipeline.feed in the live process's pipeline thread"},
            {"name": f"live processing per block, {label}", "value": r["feed_cpu_p50_ms"],
             "unit": "ms CPU", "note": f"p99 {r['feed_cpu_p99_ms']:.1f} ms CPU; wall p50 "
                                      f"{r['feed_wall_p50_ms']:.1f} / p99 "
                                      f"{r['feed_wall_p99_ms']:.1f} ms; a block completing rows "
                                      f"{r['feed_rows_cpu_p50_ms']:.1f} ms CPU at p50, "
                                      f"{r['rows_per_batch']:.1f} rows a batch"},
            {"name": f"BLE host stack CPU, {label}",
             "value": 100 * r["sensors_cpu"], "unit": "% of a core",
             "note": "the rest of that thread: bumble host, bleak, reader, decoder (the virtual "
                     "sensors run in a process of their own, not counted)"},
            {"name": f"live process CPU, {label}", "value": 100 * r["live_proc_cpu"],
             "unit": "% of a core", "note": "all its threads (pipeline, state and rows to the "
                                            "window)"},
            {"name": f"window + live process CPU per second of data, {label}",
             "value": r["cpu_per_data_s"], "unit": "CPU s", "note":
             f"data processed at {r['data_per_wall']:.2f}x real time"},
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
                     f"{r['refresh_p50_ms']:.1f} / p99 {r['refresh_p99_ms']:.1f} ms; "
                     f"{r['paints_per_frame']:.2f} paints of the trace view per frame; "
                     f"{r['full_redraws_per_s']:.2f} whole-picture redraws of a plot per s"},
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
