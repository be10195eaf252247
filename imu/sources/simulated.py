"""The built-in simulated sensor set: virtual BLE sensors fed by the body simulator.

:class:`SimulatedSource` runs :func:`imu.sim.simulate`, starts one
:class:`~imu.sources.ble.virtual.VirtualSensor` per role on the in-process virtual radio, and reads
them with the same :class:`~imu.sources.ble.reader.BleSource` that reads real sensors (through
bleak, with the bumble backend). So the demo, ``imu live --simulate``, ``imu record --simulate``
and the tests exercise the real protocol, decoder, reconnection and gap bookkeeping.

The simulated program's events (calibration protocol, set start/end) are handed out through
:meth:`SimulatedSource.events` when the session clock passes them. The session clock runs at
``speed`` times real time; with ``loop`` the program starts over when it ends.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from imu.sources.base import SensorStatus, Source
from imu.sources.ble.bumble_backend import (BumbleClientBackend, BumbleScannerBackend,
                                            get_radio)
from imu.sources.ble.reader import BleSource
from imu.sources.ble.virtual import SampleFeed, VirtualSensor, sim_address
from imu.types import Event, SampleBlock, SensorInfo
from imu.log import get_logger

log = get_logger(__name__)

DEFAULT_ROLES = ("sacrum", "right_thigh", "left_thigh")


def virtual_name(role: str) -> str:
    """Advertised name of the virtual sensor for ``role``."""
    return f"IMU-SIM {role}"


class SimulatedSource(Source):
    """Simulated sensors over the virtual BLE link, as a :class:`~imu.sources.base.Source`.

    Parameters
    ----------
    program : str or list of str
        Simulator program (:data:`imu.sim.programs.PROGRAMS`), e.g. ``"demo"``.
    rate_hz : float
        Output data rate requested from the sensors, Hz.
    seed : int
        Simulator seed.
    roles : sequence of str
        Instrumented roles (sacrum and at least one thigh).
    speed : float
        Session-clock seconds per wall-clock second (tests run faster than real time).
    errors : bool
        Sensor errors on (``True``) or exact signals.
    loop : bool
        Start the program over when it ends (the clock and sequence numbers continue).
    reps, duration_s, calibration :
        Passed to :func:`imu.sim.simulate`.
    progress : bool
        Progress lines on stderr while simulating and connecting.
    vendors : dict, optional
        Role → kind of a registered virtual vendor sensor
        (:mod:`imu.sources.ble.vendor_sim`, e.g. ``"polar-verity-sense"``) worn on that role
        instead of our own sensor; ``"imu"`` or a missing role: our own sensor.
    process : bool
        Run the virtual sensors, their controllers and the radio link in a child process (as
        real sensors are outside ours: :mod:`imu.sources.ble.sensor_process`); our process
        keeps the host stack, the reader and the decoder. Not with ``vendors``; POSIX only.
        The live dashboard uses it, so the sensors' timing does not depend on how busy it is.
    """

    def __init__(self, program="demo", rate_hz: float = 104, seed: int = 0,
                 roles=DEFAULT_ROLES, speed: float = 1.0, *, errors: bool = True,
                 loop: bool = True, reps: int | None = None, duration_s: float | None = None,
                 calibration: bool = True, progress: bool = False,
                 vendors: dict[str, str] | None = None, process: bool = False):
        self.program = program
        self.rate_hz = int(round(rate_hz))
        self.seed = int(seed)
        self.roles = tuple(roles)
        self.speed = float(speed)
        self.errors = errors
        self.loop = loop
        self.sim_kwargs = {"reps": reps, "duration_s": duration_s, "calibration": calibration}
        self.progress = progress
        self.vendors = {r: k for r, k in (vendors or {}).items() if k != "imu"}
        self.sensors: dict[str, SensorInfo] = {}
        self.virtual: dict[str, VirtualSensor] = {}
        # a socket pair handed to the child: POSIX only (elsewhere the sensors stay here)
        self.process = bool(process) and not self.vendors and os.name == "posix"
        #: the child process running the virtual sensors (``process=True``)
        self.sensor_process = None
        #: the child logs each notification's send time (benchmarks; ``process=True``)
        self.log_notifications = False
        self.reader: BleSource | None = None
        self.sim_result = None
        self._t0 = 0.0
        self._sim_events: list[Event] = []
        self._span_s = 0.0
        self._next_event = 0
        self._loop_k = 0
        self._started = False

    def clock(self) -> float:
        """Session clock, s: wall time since the sensors powered on, times ``speed``."""
        return (time.monotonic() - self._t0) * self.speed

    def _say(self, msg: str) -> None:
        if self.progress:
            log.info("%s", msg)

    def simulate(self):
        """Run the simulator once (cached); returns its ``SimResult``."""
        if self.sim_result is None:
            from imu.sim import simulate
            self.sim_result = simulate(self.program, rate_hz=self.rate_hz, seed=self.seed,
                                       errors=self.errors, roles=self.roles,
                                       progress=self.progress, **self.sim_kwargs)
        return self.sim_result

    async def start(self) -> None:
        self._say(f"simulating '{self.program if isinstance(self.program, str) else '+'.join(self.program)}' "
                  f"at {self.rate_hz} Hz ...")
        res = await asyncio.to_thread(self.simulate)
        session = res.session
        if self.process:
            await self._start_process(session)
            return
        radio = get_radio()
        self._t0 = time.monotonic()
        spans = []
        groups: dict[str, list] = {}
        for i, role in enumerate(self.roles):
            d = session.sensors[role]
            feed = SampleFeed(d.t_sensor_s, d.acc, d.gyr, d.seq, loop=self.loop)
            spans.append(feed.span_s)
            kind = self.vendors.get(role)
            if kind is not None:  # a third-party sensor worn on this role, same motion
                from imu.sources.ble import vendor_sim
                vs = vendor_sim.make(kind, i, feed, role=role, sim=res, speed=self.speed,
                                     radio=radio, sync_group=groups.setdefault(kind, []))
            else:
                vs = VirtualSensor(sim_address(i), virtual_name(role), feed, d.info.sensor_id,
                                   speed=self.speed, radio=radio, rate_hz=self.rate_hz,
                                   battery_pct=95 - 7 * i)
            vs.paused = True      # the program starts once every sensor streams (below)
            await vs.power_on()
            vs._t_wall0 = self._t0  # one power-on instant: sensor clocks start together
            self.virtual[role] = vs
        self._span_s = max(spans)
        self._sim_events = sorted(session.events, key=lambda e: e.t_s)
        self._say(f"connecting {len(self.roles)} virtual sensors ...")
        self.reader = BleSource({r: vs.address for r, vs in self.virtual.items()},
                                rate_hz=self.rate_hz, client_backend=BumbleClientBackend,
                                scanner_backend=BumbleScannerBackend, clock=self.clock,
                                connect_timeout_s=3.0,
                                vendor_options={r: vs.host_options
                                                for r, vs in self.virtual.items()
                                                if getattr(vs, "host_options", None)})
        try:
            await self.reader.start()
        except BaseException:
            await self._close_virtual()
            raise
        # The simulated person begins the program (calibration first) now that the sensors
        # stream: no sample of it is lost to connecting. One instant for all sensor clocks.
        self._t0 = time.monotonic()
        for vs in self.virtual.values():
            vs.restart_clock(self._t0)
        self._started_reader()

    async def _start_process(self, session) -> None:
        """:meth:`start` with the virtual sensors in a child process."""
        from imu.sources.ble.bumble_backend import backends_for
        from imu.sources.ble.sensor_process import SensorProcess

        specs = []
        for i, role in enumerate(self.roles):
            d = session.sensors[role]
            specs.append({"address": sim_address(i), "name": virtual_name(role),
                          "sensor_id": d.info.sensor_id, "t": d.t_sensor_s, "acc": d.acc,
                          "gyr": d.gyr, "seq": d.seq, "loop": self.loop,
                          "rate_hz": self.rate_hz, "battery_pct": 95 - 7 * i})
        self._span_s = max(SampleFeed(s["t"], s["acc"], s["gyr"], s["seq"]).span_s for s in specs)
        self._sim_events = sorted(session.events, key=lambda e: e.t_s)
        self._say(f"connecting {len(self.roles)} virtual sensors (in their own process) ...")
        self.sensor_process = SensorProcess(specs, speed=self.speed,
                                            log_notifications=self.log_notifications)
        radio = await self.sensor_process.start()
        client, scanner = backends_for(radio)
        self._addresses = {role: s["address"] for role, s in zip(self.roles, specs)}
        self.reader = BleSource(dict(self._addresses), rate_hz=self.rate_hz,
                                client_backend=client, scanner_backend=scanner,
                                clock=self.clock, connect_timeout_s=3.0)
        try:
            await self.reader.start()
        except BaseException:
            await self.sensor_process.close()
            raise
        self._t0 = time.monotonic()
        self.sensor_process.restart_clocks(self._t0)
        self._started_reader()

    def _started_reader(self) -> None:
        if not self.loop:  # the program ends: a silent sensor then is not a stalled link
            for link in self.reader.links.values():
                link.stall_s = float("inf")
        for role, info in self.reader.sensors.items():
            extra = dict(info.extra)
            extra.update({"simulated": True, "seed": self.seed,
                          "program": self.program if isinstance(self.program, str)
                          else list(self.program)})
            self.sensors[role] = replace(info, extra=extra)
        self._started = True

    async def _close_virtual(self) -> None:
        for vs in self.virtual.values():
            await vs.close()
        if self.sensor_process is not None:
            await self.sensor_process.close()

    async def stop(self) -> None:
        if self.reader is not None:
            await self.reader.stop()
        await self._close_virtual()

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        if self.reader is None:
            raise RuntimeError("SimulatedSource.blocks() before start()")
        async for b in self.reader.blocks():
            yield b

    def status(self) -> dict[str, SensorStatus]:
        return self.reader.status() if self.reader is not None else {}

    async def set_batch_phase(self, role: str, seq: int | None) -> bool:
        return False if self.reader is None else await self.reader.set_batch_phase(role, seq)

    def events(self) -> list[Event]:
        """Link events (disconnect/reconnect) and the program's events the clock has passed."""
        out = self.reader.events() if self.reader is not None else []
        if self._sim_events and self._started:
            now = self.clock()
            while True:
                ev = self._sim_events[self._next_event]
                t = ev.t_s + self._loop_k * self._span_s
                if t > now:
                    break
                out.append(replace(ev, t_s=t, data=dict(ev.data)))
                self._next_event += 1
                if self._next_event >= len(self._sim_events):
                    if not self.loop:
                        self._sim_events = []
                        break
                    self._next_event = 0
                    self._loop_k += 1
        return out

    def doing(self, t_s: float | None = None) -> str:
        """What the simulated person is doing by its script at session time ``t_s`` (default:
        now), in a few words, e.g. ``"hip hinge set: rep 2 of 8"`` (shown by the dashboard)."""
        res = self.sim_result
        if res is None or not self._started:
            return "getting ready"
        t = self.clock() if t_s is None else float(t_s)
        if self.loop and self._span_s > 0:
            t = t % self._span_s
        return script_activity(res, t)

    async def force_disconnect(self, role: str, down_s: float = 1.0) -> None:
        """Drop ``role``'s link from the sensor side for ``down_s`` wall seconds (tests, demo)."""
        if self.sensor_process is not None:
            await self.sensor_process.force_disconnect(self._addresses[role], down_s)
            return
        await self.virtual[role].force_disconnect(down_s)


PHASE_WORDS = {"standing": "calibration: standing still", "hinges": "calibration: 3 slow hip hinges",
               "still": "calibration: standing still", "swings_right": "calibration: swinging the right leg",
               "swings_left": "calibration: swinging the left leg"}


def script_activity(res, t_s: float) -> str:
    """What a simulation's person does at ``t_s`` (session seconds), from its script: the
    calibration phases and the sets with their reps/holds."""
    for e in res.session.events:
        if e.kind == "calibration_start":
            for ph in e.data.get("phases", []):
                if ph["t0"] <= t_s < ph["t1"]:
                    return PHASE_WORDS.get(ph["phase"], "calibration: " + ph["phase"].replace("_", " "))
    for s in res.truth_sets:
        if not s["start_s"] <= t_s < s["end_s"]:
            continue
        name = s["exercise"].replace("_", " ")
        if s.get("side"):
            name += f" ({s['side']})"
        items = s.get("reps") or s.get("holds") or []
        word = "hold" if s.get("holds") else "rep"
        for k, it in enumerate(items, 1):
            if it.get("start_s") is not None and it["start_s"] <= t_s < it["end_s"]:
                return f"{name} set: {word} {k} of {len(items)}"
        return f"{name} set: resting between {word}s"
    return "standing between sets"


async def record_source(source: Source, writer, *, seconds: float | None = None,
                        status_cb=None, status_interval_s: float = 1.0,
                        stop_event: asyncio.Event | None = None, start: bool = True,
                        on_block=None, written: dict | None = None) -> int:
    """Pump a source into a :class:`~imu.session.store.RecordingWriter`.

    Starts the source (unless ``start=False``: already started), writes every block (straight away: the writer's own commit
    thread makes it crash-safe) and every event the source reports, calls
    ``status_cb(source.status())`` about every ``status_interval_s``, and stops after
    ``seconds`` of session time (first to last block), when ``stop_event`` is set, or when the
    source ends. ``on_block(role, block)`` sees every written block (e.g. LSL outlets). The
    source is always stopped and remaining events written; the writer is left
    open for the caller to close. Returns the number of samples written; ``written`` (a dict,
    if given) gets the samples written per role.
    """
    if start:
        await source.start()
    role_of = {info.sensor_id: role for role, info in source.sensors.items()}
    for info in source.sensors.values():
        writer.add_sensor(info)  # re-announcing a sensor is a no-op
    n = 0
    t_first = None
    last_status = 0.0
    stop_event = stop_event or asyncio.Event()
    it = source.blocks().__aiter__()
    nxt: asyncio.Future | None = None  # never cancel a pending __anext__: that ends the generator
    try:
        while not stop_event.is_set():
            if nxt is None:
                nxt = asyncio.ensure_future(it.__anext__())
            done, _ = await asyncio.wait({nxt}, timeout=0.25)
            blk = None
            if nxt in done:
                try:
                    blk = nxt.result()
                except StopAsyncIteration:
                    nxt = None
                    break
                nxt = None
            if blk is not None:
                role = role_of.get(blk.sensor_id)
                if role is None:
                    role_of = {info.sensor_id: r for r, info in source.sensors.items()}
                    role = role_of.get(blk.sensor_id)
                if role is not None and len(blk):
                    writer.add_block(role, blk)
                    n += len(blk)
                    if written is not None:
                        written[role] = written.get(role, 0) + len(blk)
                    if on_block is not None:
                        on_block(role, blk)
                    if t_first is None:
                        t_first = float(blk.t_host_s[0])
                    if seconds is not None and float(blk.t_host_s[-1]) - t_first >= seconds:
                        break
            for ev in source.events():
                writer.add_event(ev)
            now = time.monotonic()
            if status_cb is not None and now - last_status >= status_interval_s:
                last_status = now
                status_cb(source.status())
    finally:
        if nxt is not None:
            nxt.cancel()
        await source.stop()
        for ev in source.events():
            writer.add_event(ev)
        if status_cb is not None:
            status_cb(source.status())
    return n
