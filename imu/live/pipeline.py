"""The headless live pipeline: a Source in, ring buffers and results out.

::

    Source ─► RecordingWriter (every raw block, every event)
           └► clock model ─► streaming fusion + alignment + angles (AnglePipeline)
                          ─► streaming detectors (reps, holds) ─► ring buffers / result lists

It runs in a worker thread with its own asyncio loop (:meth:`LivePipeline.start`), or in the
caller's thread (:meth:`LivePipeline.run_blocking`, used by the headless demo and tests). The
dashboard only calls :meth:`LivePipeline.snapshot` and the set/calibration methods; those take a
lock for a few microseconds and never compute fusion.

Calibration (docs/calibration.md) is injected: ``calibrator(session) -> profile`` (the ``calibration``
package's ``calibrate_session``; ``imu`` never imports ``calibration`` itself). The profile must
offer ``alignment()``; ``to_dict()`` and ``quality`` are used when present. The pipeline
calibrates

- when the source (or the user, through :meth:`begin_calibration` / :meth:`end_calibration`)
  brackets the protocol with ``calibration_start`` / ``calibration_end`` events, or
- with ``auto_calibrate``, by trying the calibrator on the raw samples seen so far every few
  seconds (the protocol's phases are found automatically) until one succeeds.
"""

from __future__ import annotations

import asyncio
import copy
import math
import sys
import threading
import time
from collections import deque
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from imu.errors import ImuError
from imu.live.motion import recent_motion
from imu.live.ringbuffer import RingBuffer
from imu.analysis.pelvic_drop import drop_limits_deg
from imu.live.snapshot import CalibrationState, Snapshot
from imu.sources.base import SensorStatus, Source
from imu.types import Event, SampleBlock, SensorData, SensorInfo, Session


#: the longest the angle rows of a backlog of blocks wait for its last block (wall time), s
MAX_DEFER_S = 0.01
#: work no row waits for (:meth:`LivePipeline._catch_up`) is done after every batch of rows, or
#: at least this often (s of data) when no rows come
CATCH_UP_S = 0.1


def _profile_dict(profile) -> dict | None:
    if profile is None:
        return None
    if isinstance(profile, dict):
        return profile
    for name in ("to_dict", "as_dict"):
        f = getattr(profile, name, None)
        if callable(f):
            return f()
    return None


def _profile_quality(profile) -> dict:
    q = getattr(profile, "quality", None)
    if q is None and isinstance(profile, dict):
        q = profile.get("quality")
    if callable(q):
        q = q()
    return dict(q) if isinstance(q, dict) else {}


def _missed_protocol(session: Session, min_s: float = 1.0) -> str:
    """Which sensors missed part of a calibration window (connected late, or their link was
    down for ``min_s`` or more of it), in words; empty if none did."""
    ev = {e.kind: e.t_s for e in session.events}
    t0, t1 = ev.get("calibration_start"), ev.get("calibration_end")
    if t0 is None or t1 is None:
        return ""
    out = []
    for role, d in session.sensors.items():
        t = np.asarray(d.t_host_s, dtype=float)
        t = np.concatenate([[t0], t[(t >= t0) & (t <= t1)], [t1]])
        lost = float(np.sum(np.where(np.diff(t) >= min_s, np.diff(t), 0.0)))
        if lost >= min_s:
            out.append(f"the {role.replace('_', ' ')} sensor sent nothing for {lost:.0f} s of "
                       "the protocol")
    return "; ".join(out)


def _late_sensors(session: Session, min_s: float = 1.0) -> str:
    """Which sensors began ``min_s`` or more after the first one (or sent nothing), in words;
    empty if none did."""
    firsts = {r: float(d.t_host_s[0]) if len(d) else math.inf
              for r, d in session.sensors.items()}
    if not firsts or not any(math.isfinite(t) for t in firsts.values()):
        return ""
    t0 = min(firsts.values())
    return "; ".join(
        f"the {r.replace('_', ' ')} sensor " + (f"began {t - t0:.0f} s after the first"
                                                  if math.isfinite(t) else "sent nothing")
        for r, t in firsts.items() if t - t0 >= min_s)


class _RawHistory:
    """The last ``keep_s`` seconds of raw blocks per role (for calibration and warm-up)."""

    def __init__(self, keep_s: float):
        self.keep_s = float(keep_s)
        self.blocks: dict[str, deque] = {}

    def add(self, role: str, blk: SampleBlock) -> None:
        dq = self.blocks.setdefault(role, deque())
        dq.append(blk)
        t_new = float(blk.t_host_s[-1])
        while dq and float(dq[0].t_host_s[-1]) < t_new - self.keep_s:
            dq.popleft()

    def span_s(self) -> float:
        spans = [float(dq[-1].t_host_s[-1] - dq[0].t_host_s[0]) for dq in self.blocks.values() if dq]
        return min(spans) if spans else 0.0

    def session(self, infos: dict[str, SensorInfo], t0: float = -math.inf, t1: float = math.inf,
                events: list[Event] | None = None) -> Session:
        sensors = {}
        for role, dq in self.blocks.items():
            blks = [b for b in dq if b.t_host_s[-1] >= t0 and b.t_host_s[0] <= t1]
            sensors[role] = SensorData.from_blocks(infos[role], blks)
        return Session(meta={"source": "live"}, sensors=sensors, events=list(events or []),
                       source="live calibration window")

    def since(self, t0: float) -> list[tuple[str, SampleBlock]]:
        out = []
        for role, dq in self.blocks.items():
            out += [(role, b) for b in dq if b.t_host_s[-1] >= t0]
        out.sort(key=lambda rb: float(rb[1].t_host_s[0]))
        return out


class LivePipeline:
    """Source → recording → angles → detectors → ring buffers.

    Parameters
    ----------
    source : Source
        Where samples come from (BLE, simulated over virtual BLE, replay).
    writer : RecordingWriter, optional
        Every raw block and event goes here first (nothing is lost if a later stage fails).
    recording_path : str, optional
        Shown in the dashboard.
    alignment : SegmentAlignment, optional
        Known sensor-to-segment alignment (from a profile); angles start at once.
    calibrator : callable, optional
        ``calibrator(session) -> profile`` (raises :class:`~imu.errors.CalibrationError` with
        the phase to repeat when the calibration is refused).
    auto_calibrate : bool
        Try the calibrator on the data seen so far until it succeeds (demo).
    intrinsics : dict, optional
        Role or sensor id → correction with ``apply(acc, gyr)``.
    filter_name : str, optional
        Fusion filter (default: :data:`imu.fusion.DEFAULT_FILTER`).
    settings : imu.analysis Settings, optional
        Detector thresholds.
    window_s : float
        Trace window shown by the dashboard, seconds.
    history_s : float
        Angle rows kept in the ring buffer, seconds.
    raw_keep_s : float
        Raw samples kept in memory for calibration, seconds.
    flush_s : float
        Angle rows are computed as soon as a block can complete rows (from the sensor the rows
        wait for, or every sensor delivered since the last batch),
        and at the latest this often (seconds of data; 0: after every block).
    """

    def __init__(self, source: Source, *, writer=None, recording_path: str | None = None,
                 alignment=None, profile=None, calibrator: Callable | None = None,
                 auto_calibrate: bool = False, intrinsics=None, filter_name: str | None = None,
                 settings=None, window_s: float = 20.0, history_s: float = 600.0,
                 raw_keep_s: float = 240.0, flush_s: float = 0.1,
                 log: Callable[[str], None] | None = None, lsl: bool | str = False):
        self.source = source
        #: publish raw streams and live angles as Lab Streaming Layer outlets
        # False, True (this machine only) or an LSL scope name ("machine", "link")
        self.lsl = bool(lsl)
        self.lsl_scope = lsl if isinstance(lsl, str) else "machine"
        self.publisher = None         # imu.sources.lsl.LslPublisher, made once sensors are known
        self.writer = writer
        self.recording_path = recording_path
        self.calibrator = calibrator
        self.auto_calibrate = bool(auto_calibrate)
        self.intrinsics = intrinsics
        self.filter_name = filter_name
        self.settings = settings
        self.window_s = float(window_s)
        self.flush_s = float(flush_s)
        self.warmup_s = 10.0
        self.history_s = float(history_s)
        self.log = log or (lambda msg: None)

        self._lock = threading.RLock()
        self._raw = _RawHistory(raw_keep_s)
        self._infos: dict[str, SensorInfo] = {}
        self._role_of: dict[str, str] = {}
        self._angles = None           # LiveAngleStage (imu.live.angles)
        self._ring: RingBuffer | None = None
        self._columns: list[str] = []
        self._alignment = None
        self._calib = CalibrationState()
        self._cal_events: list[Event] = []
        self._solver: threading.Thread | None = None
        self._solved: tuple | None = None
        self._next_auto_try_s = 20.0
        self._analysis = None         # LiveAnalysis, made with the angle columns
        self._events: list[Event] = []  # set and calibration events, for the analysis stage
        self._open_set: dict | None = None  # the set the user / the source has under way
        self._latest_row: dict[str, float] = {}
        self._t_first_s: float | None = None
        self._t_now_s = 0.0
        self._message = ""
        self._motion = None             # imu.live.motion.Motion, refreshed as data arrives
        self._next_motion_s = -math.inf
        self._catch_up_by_s = -math.inf
        self._stop = threading.Event()
        self._finished = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._backlog = False         # more blocks are waiting: rows go out with the last
        self._deferred_since: float | None = None   # when the rows began waiting for them
        self._phase_task: asyncio.Future | None = None   # set_phase commands under way
        self.rows_out = 0
        self.samples_in = 0
        #: role → samples received (and written) from that sensor
        self.samples_by_role: dict[str, int] = {}
        #: the exception that stopped the live analysis (the recording continues), if any
        self.processing_error: BaseException | None = None
        self._row_listeners: list[Callable[[], None]] = []
        self._pending_profile = None
        if alignment is not None or profile is not None:
            self._pending_profile = (profile, alignment)
            self._calib = CalibrationState(state="solving", message="waiting for the sensors")

    # ================================================================== worker control =====
    def start(self, seconds: float | None = None) -> None:
        """Run the pipeline in a background thread (returns at once)."""
        self._thread = threading.Thread(target=self.run_blocking, args=(seconds,),
                                        name="imu-live-pipeline", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the worker to stop, and wait for it (the source is stopped, the set closed)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the worker, if any."""
        return self._error

    def run_blocking(self, seconds: float | None = None) -> None:
        """Run in the calling thread until the source ends, :meth:`stop` or ``seconds`` of data."""
        try:
            asyncio.run(self.run(seconds))
        except BaseException as exc:  # noqa: BLE001 - reported through .error and the snapshot
            self._error = exc
            with self._lock:
                self._message = f"stopped: {getattr(exc, 'message', None) or exc}"
            if threading.current_thread() is threading.main_thread():
                raise

    async def run(self, seconds: float | None = None) -> None:
        """The pipeline loop (asyncio)."""
        src = self.source
        await src.start()
        self.register_sensors(getattr(src, "sensors", {}) or {})
        it = src.blocks().__aiter__()
        pending = None
        try:
            while not self._stop.is_set():
                if pending is None:
                    pending = asyncio.ensure_future(it.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=0.25)
                if not done:              # no data for a while: keep events and stop responsive
                    self._drain_source_events()
                    continue
                task, pending = pending, None
                try:
                    blk = task.result()
                except StopAsyncIteration:
                    break
                # is the next block already waiting (the pipeline fell behind: a busy
                # machine)? Then this block's rows go out with the last block of the backlog
                # (or after MAX_DEFER_S at the latest): one batch of rows instead of one per
                # block, so a backlog costs less to catch up on (the same rows and numbers, as
                # each block is still fused at once)
                pending = asyncio.ensure_future(it.__anext__())
                await asyncio.wait({pending}, timeout=0)
                self._backlog = self._defer(pending.done() and pending.exception() is None)
                try:
                    self.feed(blk)
                finally:
                    self._backlog = False
                self._plan_phase()
                self._drain_source_events()
                if seconds is not None and self._t_first_s is not None \
                        and self._t_now_s - self._t_first_s >= seconds:
                    break
            self._drain_source_events()
        finally:
            if pending is not None:
                pending.cancel()
            if self._phase_task is not None:
                self._phase_task.cancel()
            if self._angles is not None:
                self._flush_angles(final=True)
            try:
                await src.stop()
            finally:
                self.wait_calibration()
                self.close_set()
                self._finished = True
                if self.publisher is not None:
                    self.publisher.close()

    def _plan_phase(self) -> None:
        """Line the sensors' notifications up when a plan is due (:mod:`imu.live.phase`)."""
        ang = self._angles
        if ang is None or (self._phase_task is not None and not self._phase_task.done()):
            return
        plan = ang.phase.plan(ang.angles.roles, self._t_now_s)
        if plan:
            self._phase_task = asyncio.ensure_future(self._send_phase(ang, plan))

    async def _send_phase(self, ang, plan: dict) -> None:
        res = await asyncio.gather(*(self.source.set_batch_phase(r, s) for r, s in plan.items()),
                                   return_exceptions=True)
        # every sensor on the plan: a batch of rows once per cycle, when all have sent
        ang.in_phase = all(r is True for r in res)

    def _defer(self, backlog: bool) -> bool:
        """Whether the rows of the block about to be fed wait for the next one (more blocks are
        waiting): never for longer than :data:`MAX_DEFER_S` since the first block that waited,
        so a pipeline that keeps a block or two waiting for a while (a busy machine) still hands
        its rows out at that pace rather than when the backlog ends."""
        now = time.monotonic()
        if not backlog or (self._deferred_since is not None
                           and now - self._deferred_since >= MAX_DEFER_S):
            self._deferred_since = None
            return False
        if self._deferred_since is None:
            self._deferred_since = now
        return True

    # ======================================================================= processing =====
    def register_sensors(self, sensors: dict[str, SensorInfo]) -> None:
        """Make the sensors known (role → info) before their first block: the recording gets
        them, and LSL outlets are opened."""
        for role, info in sensors.items():
            if role not in self._infos:
                self._infos[role] = info
                self._role_of[info.sensor_id] = role
                if self.writer is not None:
                    self.writer.add_sensor(info)
        if self.lsl and self.publisher is None and self._infos:
            from imu.kinematics.frames import angle_columns
            from imu.sources.lsl import LslPublisher
            sides = [s for s in ("right", "left") if f"{s}_thigh" in self._infos]
            self.publisher = LslPublisher(
                dict(self._infos), angle_columns=angle_columns(sides, "trunk" in self._infos),
                angles_rate_hz=float(self._infos.get("sacrum", next(iter(
                    self._infos.values()))).rate_hz or 0.0), scope=self.lsl_scope)
            self.log("LSL outlets: " + ", ".join(self.publisher.source_ids.values()))

    def feed(self, blk: SampleBlock) -> None:
        """Process one raw block (record it, fuse it, compute angles, run the detectors)."""
        role = self._role_of.get(blk.sensor_id)
        if role is None:
            self.register_sensors(getattr(self.source, "sensors", {}) or {})
            role = self._role_of.get(blk.sensor_id)
            if role is None:
                return
        if self.writer is not None:
            self.writer.add_block(role, blk)      # first: raw data is the truth
        if self.publisher is not None:
            self.publisher.push_block(role, blk)
        n = len(blk)
        if n == 0:
            return
        self.samples_in += n
        self.samples_by_role[role] = self.samples_by_role.get(role, 0) + n
        self._raw.add(role, blk)
        t_last = float(blk.t_host_s[-1])
        with self._lock:
            if self._t_first_s is None:
                self._t_first_s = float(blk.t_host_s[0])
                self._next_auto_try_s = self._t_first_s + 20.0
            self._t_now_s = max(self._t_now_s, t_last)
        rows = self.rows_out
        self._guarded(self._process, role, blk)
        if self.rows_out != rows or t_last >= self._catch_up_by_s:
            self._catch_up_by_s = t_last + CATCH_UP_S
            self._catch_up(t_last)

    def _guarded(self, fn, *args) -> None:
        """Run a step of the live analysis unless it already failed; a failure stops it (said
        in the status) and never the recording."""
        if self.processing_error is not None:
            return
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - never lose the recording to a bug
            self.processing_error = exc
            with self._lock:
                self._message = (f"live analysis stopped ({type(exc).__name__}: {exc}); "
                                 "still recording")
            self.log(self._message)

    def _catch_up_analysis(self) -> None:
        if self._angles is not None:
            self._angles.catch_up()
        if self._analysis is not None:
            self._analysis.catch_up()

    def _catch_up(self, t_last: float) -> None:
        """The work no row waits for, done once a block's rows are out (or every
        :data:`CATCH_UP_S` of data when none come): the clock models' refits, the recognised
        movement's classification (a few ms each, which held up the rows they fell on), and,
        5 times a second, what the person is doing (the wizard's live quality, 2-7 ms; also
        once the live analysis stopped). On a phase (:mod:`imu.live.phase`) the rows come with
        a cycle's last notification, so this falls in the quiet before the next cycle's."""
        self._guarded(self._catch_up_analysis)
        if t_last >= self._next_motion_s:
            self._next_motion_s = t_last + 0.2
            motion = recent_motion(self._raw.blocks)
            with self._lock:
                self._motion = motion

    def _process(self, role: str, blk: SampleBlock) -> None:
        self._poll_solver()
        if self._pending_profile is not None and self._rates_known():
            profile, alignment = self._pending_profile
            self._pending_profile = None
            self._set_profile(profile, alignment)
            for r, b in self._raw.since(-math.inf):
                self._push_angles(r, b)
        elif self._angles is not None:
            self._push_angles(role, blk)
        elif self.auto_calibrate and self.calibrator is not None and self._solver is None \
                and self._calib.state not in ("recording", "solving", "ok") \
                and self._t_now_s >= self._next_auto_try_s:
            self._next_auto_try_s = self._t_now_s + 5.0
            self._solve(self._raw.session(self._infos), auto=True)

    def _push_angles(self, role: str, blk: SampleBlock) -> None:
        """Hand a block to the angle stage; route the rows it completes."""
        table = self._angles.push(role, blk, defer=self._backlog)
        if table is not None:
            self._route_rows(table)

    def _flush_angles(self, final: bool = False) -> None:
        self._route_rows(self._angles.flush(final=final))

    def _route_rows(self, table) -> None:
        """Angle rows → LSL, the analysis stage, the ring buffer the dashboard draws."""
        n = len(table.time_s)
        if n == 0:
            return
        if self.publisher is not None:
            self.publisher.push_angles(table.time_s, table.columns)
        cols = self._columns
        with self._lock:
            drop = self._analysis.rows(table)   # the same detectors as `imu analyze`
            vals = np.column_stack([table.columns[c] for c in cols[:-1]] + [drop])
            self._ring.append(table.time_s, vals)
            self._latest_row = {c: float(vals[-1, j]) for j, c in enumerate(cols)}
            if self._analysis.message:
                self._message, self._analysis.message = self._analysis.message, ""
            self.rows_out += n

        for fn in list(self._row_listeners):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - a viewer never stops the processing
                self.log(f"row listener failed: {type(exc).__name__}: {exc}")
                self.remove_rows_listener(fn)

    def add_rows_listener(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` (in the worker thread, without the lock) whenever new angle rows are
        in the ring buffer: a viewer paints then instead of polling :attr:`rows_out`."""
        self._row_listeners.append(fn)

    def remove_rows_listener(self, fn: Callable[[], None]) -> None:
        if fn in self._row_listeners:
            self._row_listeners.remove(fn)

    # =========================================================================== sets =====
    def _analysis_settings(self):
        if self.settings is None:
            from imu.analysis import Settings
            self.settings = Settings()
        return self.settings

    def _make_analysis(self, columns) -> None:
        """The analysis stage for these angle columns, fed every set event so far."""
        from imu.live.analysis import LiveAnalysis

        self._analysis = LiveAnalysis(columns, self._analysis_settings())
        self._analysis.defer = True           # classified in _catch_up, after the rows
        for ev in self._events:
            self._analysis.event(ev)

    def _route_event(self, ev: Event) -> None:
        self._events.append(ev)
        if self._analysis is not None:
            self._analysis.event(ev)
            if self._finished:            # no more rows will come: it takes effect now
                self._analysis.apply_events()

    def start_set(self, exercise: str, side: str | None = None, t_s: float | None = None,
                  record: bool = True) -> None:
        """Start a set now (ends a running one first); writes ``set_start`` to the recording."""
        with self._lock:
            if self._open_set is not None:
                self.end_set(t_s, record=record)
            t = self._t_now_s if t_s is None else float(t_s)
            ev = Event(t, "set_start", exercise=exercise, side=side)
            self._open_set = {"exercise": exercise, "side": side, "start_s": t}
            self._route_event(ev)
            self._message = f"set started: {exercise}" + (f" ({side})" if side else "")
        if record and self.writer is not None:
            self.writer.add_event(ev)

    def end_set(self, t_s: float | None = None, record: bool = True) -> None:
        """End the running set (its last rep/hold completes once the rows reach ``t_s``);
        writes ``set_end``."""
        with self._lock:
            cs = self._open_set
            if cs is None:
                return
            t = self._t_now_s if t_s is None else float(t_s)
            ev = Event(t, "set_end", exercise=cs["exercise"], side=cs.get("side"))
            self._open_set = None
            self._route_event(ev)
            self._message = f"set ended: {cs['exercise']}"
        if record and self.writer is not None:
            self.writer.add_event(ev)

    def close_set(self) -> None:
        """The source stopped: a set still running ends, and every pending event and the
        last rep/hold complete."""
        if self._open_set is not None:
            self.end_set()
        with self._lock:
            if self._analysis is None:   # never calibrated: the sets still end (no reps)
                from imu.kinematics.frames import angle_columns
                sides = [s for s in ("right", "left") if f"{s}_thigh" in self._infos]
                self._make_analysis(angle_columns(sides, "trunk" in self._infos))
            self._analysis.finish(self._t_now_s)

    def add_note(self, text: str) -> None:
        if self.writer is not None:
            self.writer.add_event(Event(self._t_now_s, "note", note=text))

    def _drain_source_events(self) -> None:
        for ev in self.source.events():
            self._on_event(ev, from_source=True)

    def _on_event(self, ev: Event, from_source: bool) -> None:
        if self.writer is not None and from_source:
            self.writer.add_event(ev)
        if self._angles is not None and ev.kind in ("set_start", "set_end"):
            self._flush_angles()      # rows up to the event belong to the set before it
        if ev.kind == "set_start" and ev.exercise:
            self.start_set(ev.exercise, ev.side, t_s=ev.t_s, record=False)
        elif ev.kind == "set_end":
            self.end_set(t_s=ev.t_s, record=False)
        elif ev.kind == "calibration_start":
            self.begin_calibration(t_s=ev.t_s, record=False)
        elif ev.kind == "calibration_end":
            self.end_calibration(t_s=ev.t_s, record=False)
        elif ev.kind in ("disconnect", "reconnect"):
            with self._lock:
                self._message = f"{ev.kind}: {ev.note or ''}".strip()

    # ==================================================================== calibration =====
    def begin_calibration(self, t_s: float | None = None, record: bool = True) -> None:
        """Mark the start of the docs/calibration.md protocol (guided by the wizard or seen in a replay)."""
        with self._lock:
            t = self._t_now_s if t_s is None else float(t_s)
            ev = Event(t, "calibration_start")
            self._cal_events = [ev]
            self._route_event(ev)
            self._calib = replace(self._calib, state="recording", started_s=t,
                                  message="calibration: follow the instructions")
        if record and self.writer is not None:
            self.writer.add_event(ev)

    def cancel_calibration(self, reason: str = "calibration cancelled") -> None:
        """Abandon a protocol begun with :meth:`begin_calibration` (the wizard timed out): the
        calibration in use, if any, stays; a note says so in the recording."""
        with self._lock:
            if self._calib.state != "recording":
                return
            self._cal_events = []
            # the analysis stage stops ignoring rows as inside a calibration phase
            self._route_event(Event(self._t_now_s, "calibration_end"))
            self._calib = replace(self._calib, state="ok" if self._alignment is not None else "none",
                                  message=reason)
            self._message = reason
        self.add_note(reason)

    def end_calibration(self, t_s: float | None = None, record: bool = True) -> None:
        """Mark the end of the protocol and solve the calibration (in a helper thread)."""
        with self._lock:
            t = self._t_now_s if t_s is None else float(t_s)
            ev = Event(t, "calibration_end")
            self._route_event(ev)
            if not self._cal_events:
                self._cal_events = [Event(self._calib.started_s or (self._t_first_s or 0.0),
                                          "calibration_start")]
            self._cal_events.append(ev)
            t0 = self._cal_events[0].t_s
        if record and self.writer is not None:
            self.writer.add_event(ev)
        if self.calibrator is None:
            with self._lock:
                self._calib = replace(self._calib, state="none" if self._alignment is None else "ok",
                                      message="no calibrator: calibration window recorded only")
            return
        session = self._raw.session(self._infos, t0 - 1.0, t + 1.0, self._cal_events)
        self._solve(session, auto=False)

    def _solve(self, session: Session, auto: bool) -> None:
        with self._lock:
            if not auto:
                self._calib = replace(self._calib, state="solving", message="solving calibration…")

        def work():
            try:
                profile = self.calibrator(session)
                self._solved = (profile, None, auto, session)
            except ImuError as exc:
                self._solved = (None, exc, auto, session)
            except Exception as exc:  # noqa: BLE001 - a failed solve must not kill the live view
                self._solved = (None, exc, auto, session)

        self._solver = threading.Thread(target=work, name="imu-calibration-solve", daemon=True)
        self._solver.start()
        if not math.isfinite(getattr(self.source, "speed", 1.0) or 1.0):
            # a replay as fast as possible: wait, so no set passes before its angles exist
            self._solver.join()
            self._poll_solver()

    def _poll_solver(self) -> None:
        if self._solver is None or self._solver.is_alive():
            return
        self._solver = None
        solved, self._solved = self._solved, None
        if solved is None:
            return
        profile, err, auto, session = solved
        if profile is None:
            if auto:        # keep trying with more data; say why a sensor may spoil it
                late = _late_sensors(session)
                if late:
                    with self._lock:
                        self._calib = replace(self._calib, message=(
                            f"no calibration yet: {late}; the protocol needs every sensor "
                            "from its start"))
                return
            msg = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
            short = _missed_protocol(session)
            if short:
                msg = f"{msg} ({short})"
            with self._lock:
                self._calib = replace(self._calib, state="refused", message=msg,
                                      quality=dict(getattr(err, "quality", None) or {}))
                self._message = msg
            return
        self._set_profile(profile, None)
        spans = [(float(d.t_host_s[0]), float(d.t_host_s[-1]))
                 for d in session.sensors.values() if len(d)]
        t_a, t_b = (self._rel(min(a for a, _ in spans)), self._rel(max(b for _, b in spans))) \
            if spans else (0.0, 0.0)
        with self._lock:
            how = "found automatically" if auto else "marked by the protocol events"
            self._calib = replace(self._calib, message=f"calibrated from the protocol at "
                                  f"{max(t_a, 0.0):.0f}–{t_b:.0f} s ({how})")
            self._message = "calibrated: angles and reps are live"
        # warm the angle pipeline up on the last seconds (filters converge, the trace fills);
        # short, so a live source is not starved while it runs
        t0 = max(self._t_now_s - self.warmup_s,
                 min((float(d.t_host_s[0]) for d in session.sensors.values() if len(d)),
                     default=self._t_now_s))
        for role, blk in self._raw.since(t0):
            self._push_angles(role, blk)
        self.log(self._calib.message)

    def wait_calibration(self, timeout_s: float = 60.0) -> None:
        """Wait for a calibration being solved (if any) and apply its result."""
        if self._solver is not None:
            self._solver.join(timeout_s)
            self._poll_solver()

    def _set_profile(self, profile, alignment) -> None:
        from imu.live.angles import LiveAngleStage

        if alignment is None:
            alignment = profile.alignment()
        rates = {r: (i.rate_hz or 0.0) for r, i in self._infos.items()} or \
            {r: 0.0 for r in alignment.R_BS}
        for r in alignment.R_BS:
            if not rates.get(r):
                rates[r] = self._measured_rate(r)
        pipe = LiveAngleStage(alignment, {r: v for r, v in rates.items() if v},
                              intrinsics=self._intrinsics_for(profile), filter=self.filter_name,
                              flush_s=self.flush_s)
        columns = list(pipe.columns) + ["pelvic_drop_deg"]
        rate = max(rates.get("sacrum", 0.0), 50.0)
        msg = "calibrated" + (" (from profile)" if profile is None else "")
        if str(getattr(profile, "source", "")).startswith("calibration skipped"):
            msg = profile.source          # the demo's known mounting: say so
        with self._lock:
            self._alignment = alignment
            self._angles = pipe
            self._columns = columns
            self._ring = RingBuffer(columns, int(self.history_s * rate) + 1)
            self._make_analysis(columns[:-1])
            quality = _profile_quality(profile) if profile is not None else {}
            self._calib = CalibrationState(state="ok", quality=quality,
                                           message=msg,
                                           started_s=self._calib.started_s,
                                           profile=_profile_dict(profile))
        if self.writer is not None and profile is not None:
            d = _profile_dict(profile)
            if d is not None:
                self.writer.set_calibration(d)

    def _intrinsics_for(self, profile) -> dict:
        """Role → intrinsic correction: the ones given, else as the batch chain picks them
        (:func:`imu.chain.intrinsics_for`: the profile's, else the stored ones)."""
        if self.intrinsics is not None:
            return self.intrinsics
        from imu.chain import intrinsics_for

        return intrinsics_for({r: i.sensor_id for r, i in self._infos.items()}, profile)

    def _rates_known(self) -> bool:
        return bool(self._infos) and all(
            (i.rate_hz or 0) > 0 or self._measured_rate(r) > 0 for r, i in self._infos.items())

    def _measured_rate(self, role: str) -> float:
        dq = self._raw.blocks.get(role)
        if not dq:
            return 0.0
        t = np.concatenate([b.t_host_s for b in dq])
        if len(t) < 20 or t[-1] - t[0] < 1.0:
            return 0.0
        return float((len(t) - 1) / (t[-1] - t[0]))

    # ======================================================================= reading =====
    def snapshot(self, angles: bool = True) -> Snapshot:
        """A consistent copy of what the dashboard shows (cheap). Without ``angles`` the trace
        window is left out (empty ``angles_t``/``angles``; :mod:`imu.live.process` sends the
        rows on their own)."""
        with self._lock:
            if angles and self._ring is not None and len(self._ring):
                t, cols = self._ring.window(self.window_s, self._t_now_s)
                angles = {c: v for c, v in cols.items()
                          if c != "pelvic_drop_deg" or np.isfinite(v).any()}
            else:
                t, angles = np.zeros(0), {}
            current = {c: v for c, v in self._latest_row.items() if np.isfinite(v)}
            live_state = self._analysis.live_state if self._analysis is not None else {}
            for k, v in live_state.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k.endswith("_deg"):
                    current.setdefault(k, float(v))
            status = {r: copy.copy(s) for r, s in self._source_status().items()}
            return Snapshot(
                mode="live", t_now_s=self._rel(self._t_now_s), window_s=self.window_s,
                angles_t=self._rel(t), angles=angles, current=current, status=status,
                reps=[self._rel_item(r) for r in self._results("reps")],
                holds=[self._rel_item(h) for h in self._results("holds")],
                strides=[self._rel_item(x) for x in self._results("strides")],
                current_set=self._current_set_view(),
                sets=[self._rel_item(s) for s in self._results("sets")],
                drop_limits_deg=drop_limits_deg(self._analysis_settings()),
                calibration=copy.copy(self._calib), recording_path=self.recording_path,
                playing=True, speed=1.0, message=self._message,
                **({"motion": self._motion} if self._motion is not None else {}),
                activity=self._activity())

    def _current_set_view(self) -> dict | None:
        """The set under way, with what the detectors say about it (a recorded label the
        movement disagrees with: ``label_mismatch``, ``warning``, ``recognised``)."""
        if not self._open_set:
            return None
        out = self._rel_item(self._open_set)
        live_state = self._analysis.live_state if self._analysis is not None else {}
        for k in ("label_mismatch", "warning", "recognised"):
            if k in live_state:
                out[k] = live_state[k]
        return out

    def _activity(self) -> str:
        doing = getattr(self.source, "doing", None)
        try:
            return doing() if callable(doing) else ""
        except Exception:  # noqa: BLE001 - a caption never breaks the view
            return ""

    def _rel(self, t):
        """Session seconds → seconds since the first sample (what the user sees)."""
        t0 = self._t_first_s or 0.0
        return t - t0

    def _rel_item(self, d: dict) -> dict:
        out = dict(d)
        for k in ("start_s", "end_s"):
            if out.get(k) is not None:
                out[k] = self._rel(float(out[k]))
        return out

    def _source_status(self) -> dict[str, SensorStatus]:
        try:
            return self.source.status()
        except Exception:  # noqa: BLE001 - a status read never breaks the view
            return {}

    # ---- results for the headless summary / tests ----
    def history(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Every angle row kept (up to ``history_s``): times (s, session clock) and columns
        (degrees; ``pelvic_drop_deg`` inside single-leg sets). Empty before calibration."""
        with self._lock:
            if self._ring is None or not len(self._ring):
                return np.zeros(0), {}
            return self._ring.window()

    def _results(self, kind: str) -> list[dict]:
        return list(getattr(self._analysis, kind)) if self._analysis is not None else []

    @property
    def reps(self) -> list[dict]:
        """Completed reps (each with ``exercise``, ``side``, ``set_index``)."""
        with self._lock:
            return self._results("reps")

    @property
    def holds(self) -> list[dict]:
        """Completed holds (each with ``exercise``, ``side``, ``set_index``)."""
        with self._lock:
            return self._results("holds")

    @property
    def strides(self) -> list[dict]:
        """Completed walking strides (each with ``exercise``, ``set_index``)."""
        with self._lock:
            return self._results("strides")

    @property
    def sets(self) -> list[dict]:
        """Completed sets: ``exercise``, ``side``, ``start_s``, ``end_s``, ``summary``."""
        with self._lock:
            return self._results("sets")

    @property
    def calibration(self) -> CalibrationState:
        with self._lock:
            return copy.copy(self._calib)

    @property
    def sensors(self) -> dict[str, SensorInfo]:
        return dict(self._infos)

    @property
    def t_first_s(self) -> float | None:
        return self._t_first_s

    @property
    def t_now_s(self) -> float:
        return self._t_now_s


def raise_pipeline_error(pipe, path) -> None:
    """Turn the error that stopped a live pipeline (if any) into a one-line ImuError that says
    the recording at ``path`` keeps everything received."""
    err = pipe.error
    if err is None or isinstance(err, KeyboardInterrupt):
        return
    from imu.errors import ImuError
    if isinstance(err, ImuError):
        raise err
    raise ImuError(f"live pipeline stopped ({type(err).__name__}: {err}); "
                   f"the recording {path} keeps everything received")
