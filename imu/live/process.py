"""The live processing in a process of its own; the dashboard's process only draws.

::

    window process                               live process (python -m imu.live.process)
    ─────────────                                ────────────────────────────────────────
    Dashboard ── LiveProcess ◄── rows, state ─── source (BLE host / simulated sensors)
                             ─── commands ──────►  └► LivePipeline (recording, clock model,
                                                      fusion, angles, detectors)

The source with our BLE host stack (bumble, bleak, reader, decoder), the very same
:class:`~imu.live.pipeline.LivePipeline` and the recording writer run in a child process, so
they no longer share an interpreter lock with the window: a frame is never held up by a fusion
step and a notification never by a paint. The child is started with ``subprocess`` (fork and
exec at once: safe from a process that already runs Qt and threads) and talks over one socket
pair (:class:`multiprocessing.connection.Connection`, pickled messages):

- child → window (from a sending thread of its own, woken by the pipeline, so a window slow
  to read never holds up the pipeline or the recording):
  ``("rows", t_now_s, time_s, values, t_sent)`` as soon as the pipeline has stored new
  angle rows (only the new rows: a few dozen numbers; ``("columns", ...)`` first and after every
  new calibration), ``("state", snapshot)`` at most every :data:`STATE_S` (everything the panels
  show without the trace window; the rep/hold/stride/set lists only what is new), ``("done",
  summary)`` at the end, ``("error", exception)`` when it could not start;
- window → child: ``("call", method, args)`` for the set and calibration commands,
  ``("mark", name)`` (benchmarks), ``("stop",)``.

The child owns the recording and closes it however it ends: the window closing (``stop``), the
window's process dying (end of file on the socket), the source ending or failing. Ctrl-C is the
window's to handle (the child ignores SIGINT). A child that dies is seen by the window as the
socket's end of file: :attr:`LiveProcess.error` says so in one line.

Times crossing the process boundary are ``time.monotonic()`` readings (system-wide on Linux).
"""

from __future__ import annotations

import copy
import importlib
import math
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from imu.errors import ImuError
from imu.latency import tune_process
from imu.live.ringbuffer import RingBuffer
from imu.live.snapshot import CalibrationState, Snapshot
from imu.log import get_logger

log = get_logger(__name__)

#: the child sends the panels' state at most this often, s (the rows as soon as they are in)
STATE_S = 0.05
#: the set and calibration commands the window may call in the child
COMMANDS = ("start_set", "end_set", "begin_calibration", "end_calibration",
            "cancel_calibration", "add_note")
#: result lists sent by what is new
LISTS = ("reps", "holds", "strides", "sets")
#: how long :meth:`LiveProcess.stop` waits for the child to close the recording and exit, s
STOP_TIMEOUT_S = 90.0


def _resolve(name: str):
    mod, _, attr = name.partition(":")
    return getattr(importlib.import_module(mod), attr)


class LiveProcess:
    """Window side: the dashboard's model over a live pipeline running in a child process.

    Offers what the dashboard and the live commands use of
    :class:`~imu.live.pipeline.LivePipeline`: :meth:`snapshot`, the set and calibration
    commands, :attr:`rows_out`, :attr:`running`, :attr:`error`, :meth:`start`, :meth:`stop`, and
    after the end :attr:`sets`, :attr:`reps`, :attr:`holds`, :attr:`samples_in`, ... . Plus
    :meth:`fileno` / :meth:`poll`: the window watches the socket and takes in what arrived.

    Parameters
    ----------
    build : str
        ``"module:function"`` that makes the pipeline in the child: ``function(**spec)`` returns a
        :class:`~imu.live.pipeline.LivePipeline` (with its source and, when it records, its
        writer).
    spec : dict
        Keyword arguments of ``build`` (picklable).
    instrument : str, optional
        ``"module:Class"`` made in the child as ``Class(pipeline)`` before it starts; its
        ``mark(name)`` runs on :meth:`mark` and ``stats()`` goes back in :attr:`stats`
        (benchmarks).
    window_s : float
        Seconds of angle rows kept for the trace window.
    """

    def __init__(self, build: str, spec: dict | None = None, *, instrument: str | None = None,
                 window_s: float = 20.0):
        self.build = build
        self.spec = dict(spec or {})
        self.instrument = instrument
        self.window_s = float(window_s)
        self.proc: subprocess.Popen | None = None
        # the socket exists from the start, so a window can watch it before the child runs
        ours, self._theirs = socket.socketpair()
        self._conn: Connection | None = Connection(ours.detach())
        self._state = Snapshot(mode="live")
        self._extras: dict[str, float] = {}       # live-state readouts (not ring columns)
        self._lists: dict[str, list] = {k: [] for k in LISTS}
        self._ring: RingBuffer | None = None
        self._t_first_s: float | None = None
        self._t_now_s = 0.0
        self._done = False
        self._dead = False
        self._error: BaseException | None = None
        self.summary: dict = {}
        #: benchmark figures from the child's instrument (after :meth:`stop`)
        self.stats: dict = {}
        self.rows_out = 0
        #: when set to a list: ``(newest row's session time, monotonic time received, sent)``
        #: per batch of rows (benchmarks)
        self.arrivals: list | None = None

    # ---------------------------------------------------------------- process control -----
    def start(self, seconds: float | None = None) -> None:
        """Start the child (returns at once; it builds and starts the pipeline)."""
        theirs, self._theirs = self._theirs, None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "imu.live.process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self._send(("start", self.build, self.spec, seconds, self.instrument, self.window_s))

    def fileno(self) -> int:
        """The socket the child's messages arrive on (watch it for reading)."""
        return self._conn.fileno() if self._conn is not None else -1

    def _send(self, msg) -> bool:
        if self._conn is None or self._dead:
            return False
        try:
            self._conn.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
            return True
        except OSError:
            self._lost()
            return False

    def poll(self, timeout_s: float = 0.0) -> int:
        """Take in every message that has arrived (waiting up to ``timeout_s`` for the first);
        returns how many new angle rows came."""
        conn = self._conn
        if conn is None or self._dead or self.proc is None:
            return 0
        new = 0
        try:
            while conn.poll(timeout_s):
                timeout_s = 0.0
                new += self._handle(pickle.loads(conn.recv_bytes()))
        except (EOFError, OSError):
            self._lost()
        return new

    def _lost(self) -> None:
        """The socket ended: the child finished (after ``done``) or died."""
        if self._dead:
            return
        self._dead = True
        if not self._done and self._error is None:
            code = self.proc.poll() if self.proc is not None else None
            if code is None and self.proc is not None:
                try:
                    code = self.proc.wait(2.0)
                except subprocess.TimeoutExpired:
                    code = None
            how = f"exit status {code}" if code is not None and code >= 0 else \
                f"signal {-code}" if code is not None else "no reply"
            self._error = ImuError(f"the live processing process ended unexpectedly ({how}); "
                                   "what it received is in the recording")
            self._state = replace(self._state, message=f"stopped: {self._error}")

    def _handle(self, msg) -> int:
        kind = msg[0]
        if kind == "rows":
            _, t_now, t, v, t_sent = msg
            self._ring.append(t, v)
            self._t_now_s = max(self._t_now_s, t_now)
            self.rows_out += len(t)
            if self.arrivals is not None:
                self.arrivals.append((float(t[-1]), time.monotonic(), t_sent))
            return len(t)
        if kind == "columns":
            _, columns, rate_hz, t_first = msg
            self._ring = RingBuffer(columns, int(self.window_s * max(rate_hz, 50.0) * 1.5) + 64)
            self._t_first_s = t_first
        elif kind == "state":
            _, snap, lists, extras, t_first, t_now = msg
            for k, (start, items) in lists.items():
                self._lists[k][start:] = items
            self._state, self._extras = snap, extras
            self._t_first_s = t_first
            self._t_now_s = max(self._t_now_s, t_now)
        elif kind == "done":
            self.summary = msg[1]
            self.stats = msg[1].get("stats") or {}
            self._error = msg[1].get("error")
            self._done = True
        elif kind == "error":
            self._error = msg[1]
            self._state = replace(self._state, message=f"stopped: {msg[1]}")
            self._done = True
        return 0

    @property
    def running(self) -> bool:
        """The child is up and its pipeline has not ended."""
        if self.proc is None or self._done or self._dead:
            return False
        if self.proc.poll() is not None:     # died: take in what it sent, then say why
            self.poll()
            self._lost()
            return False
        return True

    @property
    def error(self) -> BaseException | None:
        """What ended the live processing, if anything went wrong."""
        return self._error

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the pipeline, wait for the child to close the recording and exit (killed after
        ``timeout_s``)."""
        if self.proc is None:
            self._close_sockets()
            return
        self._send(("stop",))
        deadline = time.monotonic() + timeout_s
        while not self._done and not self._dead and time.monotonic() < deadline:
            self.poll(0.1)
            if self.proc.poll() is not None:
                self.poll()
                break
        try:
            self.proc.wait(max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            log.warning("live process did not stop within %.0f s: killed", timeout_s)
            self.proc.kill()
            self.proc.wait()
        if not self._done:
            self._lost()
        self._dead = True
        self._close_sockets()

    def _close_sockets(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._theirs is not None:
            self._theirs.close()
            self._theirs = None

    # ------------------------------------------------------------------- commands -----
    def _call(self, name: str, *args, **kwargs) -> None:
        self._send(("call", name, args, kwargs))

    def start_set(self, exercise: str, side: str | None = None) -> None:
        self._call("start_set", exercise, side)

    def end_set(self) -> None:
        self._call("end_set")

    def begin_calibration(self) -> None:
        self._call("begin_calibration")

    def end_calibration(self) -> None:
        self._call("end_calibration")

    def cancel_calibration(self, reason: str = "calibration cancelled") -> None:
        self._call("cancel_calibration", reason)

    def add_note(self, text: str) -> None:
        self._call("add_note", text)

    def mark(self, name: str) -> None:
        """Ask the child's instrument to note ``name`` now (benchmarks)."""
        self._send(("mark", name))

    # -------------------------------------------------------------------- reading -----
    def snapshot(self) -> Snapshot:
        """What the dashboard draws: the child's latest state with the trace window from the
        rows received (takes in what has arrived first)."""
        self.poll()
        st = self._state
        t0 = self._t_first_s or 0.0
        ring = self._ring
        if ring is not None and len(ring):
            t, cols = ring.window(self.window_s, self._t_now_s)
            angles = {c: v for c, v in cols.items()
                      if c != "pelvic_drop_deg" or np.isfinite(v).any()}
            newest = ring.latest()[1]
            current = {c: v for c, v in newest.items() if np.isfinite(v)}
        else:
            t, angles, current = np.zeros(0), {}, {}
        for k, v in self._extras.items():
            current.setdefault(k, v)
        return replace(st, t_now_s=self._t_now_s - t0, angles_t=t - t0, angles=angles,
                       current=current, **{k: list(v) for k, v in self._lists.items()})

    def _final(self, key: str, default):
        return self.summary.get(key, default)

    @property
    def reps(self) -> list[dict]:
        return self._final("reps", self._lists["reps"])

    @property
    def holds(self) -> list[dict]:
        return self._final("holds", self._lists["holds"])

    @property
    def strides(self) -> list[dict]:
        return self._final("strides", self._lists["strides"])

    @property
    def sets(self) -> list[dict]:
        return self._final("sets", self._lists["sets"])

    @property
    def calibration(self) -> CalibrationState:
        return self._final("calibration", self._state.calibration)

    @property
    def samples_in(self) -> int:
        return self._final("samples_in", 0)

    @property
    def samples_by_role(self) -> dict[str, int]:
        return self._final("samples_by_role", {})

    @property
    def sensors(self) -> dict:
        """Role → SensorInfo of the sensors the source was given (after the end)."""
        return self._final("source_sensors", {})

    @property
    def t_first_s(self) -> float | None:
        return self._t_first_s

    @property
    def t_now_s(self) -> float:
        return self._t_now_s


# ------------------------------------------------------------------------- the child ----------
class _Publisher:
    """Child side: a thread of its own sends the pipeline's new rows (as soon as the pipeline
    says it stored some) and its state (at most every :data:`STATE_S`) to the window. The
    pipeline's thread only wakes it: a window slow to read (starting up, busy) holds up this
    thread, never the pipeline or the recording; the rows it then sends are all those stored
    since its last send."""

    def __init__(self, conn: Connection, pipe):
        self.conn = conn
        self.pipe = pipe
        self._lock = threading.Lock()
        self._ring = None
        self._seen = 0
        self._sent: dict[str, tuple[int, Any]] = {k: (0, None) for k in LISTS}
        self._last_state = -math.inf
        self._state_now = False
        self._wake = threading.Event()
        self._quit = False
        self._thread: threading.Thread | None = None
        self.closed = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="imu-live-publisher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the sending thread (its last send finishes first)."""
        self._quit = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10.0)

    def _run(self) -> None:
        while not self._quit and not self.closed:
            self._wake.wait(STATE_S)
            self._wake.clear()
            if self._quit:
                break
            self.rows()
            if self._state_now or time.monotonic() - self._last_state >= STATE_S:
                self._state_now = False
                self.state()

    def wake(self) -> None:
        """The pipeline stored new rows (called in its thread)."""
        self._wake.set()

    def state_soon(self) -> None:
        """Send the state at once (a command changed it)."""
        self._state_now = True
        self._wake.set()

    def send(self, msg) -> None:
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self.closed:
                return
            try:
                self.conn.send_bytes(data)
            except OSError:           # the window went away: the main loop stops the pipeline
                self.closed = True

    def rows(self) -> None:
        """Send the rows stored since the last send."""
        pipe = self.pipe
        with pipe._lock:
            ring = pipe._ring
            if ring is None:
                return
            if ring is not self._ring:
                self._ring, self._seen = ring, 0
                rate = float((pipe._infos.get("sacrum") or next(iter(pipe._infos.values()))
                              ).rate_hz or 0.0) if pipe._infos else 0.0
                self.send(("columns", list(ring.columns), rate, pipe.t_first_s))
            t, v = ring.since(self._seen)
            self._seen = ring.appended
            t_now = pipe.t_now_s
        if len(t):
            self.send(("rows", t_now, t, v, time.monotonic()))

    def state(self) -> None:
        """Send what the panels show (the lists: only what is new)."""
        self._last_state = time.monotonic()
        pipe = self.pipe
        snap = pipe.snapshot(angles=False)
        cols = set(self._ring.columns) if self._ring is not None else set()
        extras = {k: v for k, v in snap.current.items() if k not in cols}
        lists = {}
        for k in LISTS:
            items = getattr(snap, k)
            n, last = self._sent[k]
            start = n if n <= len(items) and (n == 0 or items[n - 1] == last) else 0
            if start < len(items) or start != n:
                lists[k] = (start, items[start:])
                self._sent[k] = (len(items), items[-1] if items else None)
        snap = replace(snap, current={}, reps=[], holds=[], strides=[], sets=[])
        self.send(("state", snap, lists, extras, pipe.t_first_s, pipe.t_now_s))


def _picklable_error(exc: BaseException) -> BaseException:
    if isinstance(exc, ImuError):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # noqa: BLE001
            return ImuError(getattr(exc, "message", None) or str(exc))
    return ImuError(f"live pipeline stopped ({type(exc).__name__}: {exc})")


def _serve(conn: Connection) -> int:
    msg = pickle.loads(conn.recv_bytes())
    _, build, spec, seconds, instrument, window_s = msg
    try:
        pipe = _resolve(build)(**spec)
    except Exception as exc:  # noqa: BLE001 - said in one line by the window
        conn.send_bytes(pickle.dumps(("error", _picklable_error(exc))))
        return 2
    pipe.window_s = float(window_s)
    probe = _resolve(instrument)(pipe) if instrument else None
    pub = _Publisher(conn, pipe)
    pipe.add_rows_listener(pub.wake)
    # the publisher's thread gets the interpreter soon after the pipeline wakes it, and the
    # collector's full collections stay short (as in the window's process)
    tune_process()
    stopping = False
    try:
        pub.start()
        pipe.start(seconds)
        while pipe.running:
            try:
                ready = conn.poll(STATE_S)
                m = pickle.loads(conn.recv_bytes()) if ready else None
            except (EOFError, OSError):      # the window's process is gone: stop, keep the file
                m = ("stop",)
                pub.closed = True
            if m is not None:
                if m[0] == "stop":
                    stopping = True
                    pipe.stop()
                    break
                if m[0] == "call" and m[1] in COMMANDS:
                    try:
                        getattr(pipe, m[1])(*m[2], **m[3])
                    except Exception as exc:  # noqa: BLE001 - a command never kills the session
                        log.warning("%s failed: %s", m[1], exc)
                    pub.state_soon()
                elif m[0] == "mark" and probe is not None:
                    probe.mark(m[1])
    finally:
        pipe.stop()
        pub.stop()
        if pipe.running:
            log.warning("live pipeline did not stop in time")
        writer = getattr(pipe, "writer", None)
        if writer is not None:
            writer.close()
    err = pipe.error
    if err is not None and not isinstance(err, KeyboardInterrupt):
        err = _picklable_error(err)
    else:
        err = None
    if not pub.closed:
        pub.rows()
        pub.state()
        summary = {"reps": pipe.reps, "holds": pipe.holds, "strides": pipe.strides,
                   "sets": pipe.sets, "calibration": copy.copy(pipe.calibration),
                   "samples_in": pipe.samples_in, "samples_by_role": dict(pipe.samples_by_role),
                   "source_sensors": dict(getattr(pipe.source, "sensors", {}) or {}),
                   "error": err, "stopped": stopping,
                   "stats": probe.stats() if probe is not None else {}}
        pub.send(("done", summary))
    return 0


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the window's to handle
    conn = Connection(int(argv[0]))
    try:
        return _serve(conn)
    except (EOFError, BrokenPipeError, ConnectionError):
        return 0
    finally:
        conn.close()


if __name__ == "__main__":  # pragma: no cover - the child's entry point
    sys.exit(main(sys.argv[1:]))
