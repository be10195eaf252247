"""Robust multi-sensor BLE reader for the imu protocol v1, and the :class:`BleSource`.

One :class:`SensorLink` per sensor runs connect → configure → stream → (drop) → reconnect until
stopped. Connections are made one at a time (a shared lock: BLE adapters handle one pending
connection). ``bleak`` does the BLE work and ``bleak-retry-connector`` the connection retries; a
virtual sensor is reached the same way with ``backend=BumbleClientBackend``.

Every notification goes through :class:`~imu.sources.ble.decoder.StreamTracker`: gaps,
duplicates, replays, out-of-order and malformed packets are counted, never raised. Drops and
reconnections become :class:`~imu.types.Event` (``disconnect`` / ``reconnect``) with the gap
(seconds, sequence numbers) in ``data``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import struct
import time
from collections.abc import AsyncIterator, Callable

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from imu.sources.ble import protocol as P
from imu.errors import SensorError
from imu.sources.base import SensorStatus, Source
from imu.sources.ble.decoder import (MalformedPacket, StreamTracker, decode_control_response,
                                     decode_info)
from imu.types import Event, SampleBlock, SensorInfo

log = logging.getLogger(__name__)

#: How long a first connection may take before the sensor counts as not answering.
FIRST_CONNECT_TIMEOUT_S = 20.0
COMMAND_TIMEOUT_S = 3.0


class SensorLink:
    """Connection manager of one sensor (see module docstring).

    Parameters
    ----------
    role : str
    address : str or BLEDevice
    rate_hz : int
        Rate to request with SET_RATE.
    clock : callable() -> float
        Session clock, s (host receive times and event times).
    on_block : callable(role, SampleBlock)
    on_event : callable(Event)
    connect_lock : asyncio.Lock
        Shared by all links of a reader: connections are serialised.
    client_backend, scanner_backend : type or None
        bleak backends (``None``: the platform's adapter).
    connect_timeout_s : float
        Timeout of one connection attempt.
    """

    def __init__(self, role: str, address: str | BLEDevice, *, rate_hz: int,
                 clock: Callable[[], float], on_block, on_event, connect_lock: asyncio.Lock,
                 client_backend=None, scanner_backend=None, connect_timeout_s: float = 5.0,
                 acc_range_g: int | None = None, gyr_range_dps: int | None = None,
                 first_connect_timeout_s: float = FIRST_CONNECT_TIMEOUT_S,
                 vendor_options: dict | None = None):
        self.role = role
        self.vendor_options = dict(vendor_options or {})
        self.first_connect_timeout_s = first_connect_timeout_s
        self.device = address if isinstance(address, BLEDevice) else None
        self.address = address.address if isinstance(address, BLEDevice) else str(address)
        self.rate_hz = int(rate_hz)
        self.clock = clock
        self.on_block = on_block
        self.on_event = on_event
        self.connect_lock = connect_lock
        self.client_backend = client_backend
        self.scanner_backend = scanner_backend
        self.connect_timeout_s = connect_timeout_s
        self.acc_range_g = acc_range_g
        self.gyr_range_dps = gyr_range_dps
        self.status = SensorStatus(sensor_id=self.address, role=role, state="connecting")
        self.info: SensorInfo | None = None
        self.tracker: StreamTracker | None = None
        self.client: BleakClient | None = None
        self.connected = asyncio.Event()  # first connection configured, not yet started
        self.go = asyncio.Event()  # set by the reader: send START
        self.streaming = asyncio.Event()
        self.failed: BaseException | None = None
        self._stopping = False
        self._lost = asyncio.Event()
        self._responses: dict[int, asyncio.Future] = {}
        self._token = 0
        self._rate_window: collections.deque = collections.deque()
        self._rate_n = 0
        self._t_drop_wall: float | None = None
        self._t_drop_s: float | None = None
        self.reconnect_wall_s: list[float] = []
        self.driver = None  # a vendor driver when the sensor is not ours
        self.phase_unsupported = False  # firmware that answered set_phase "unknown opcode"
        self.announce: Callable[[str], None] | None = None  # console lines (BleSource's)
        self.stall_s = 5.0  # connected but silent this long (wall s): reconnect
        self._t_data_wall = time.monotonic()

    # -- helpers -----------------------------------------------------------------------------
    def _backend_kw(self, scanner: bool = False) -> dict:
        b = self.scanner_backend if scanner else self.client_backend
        return {"backend": b} if b is not None else {}

    async def _find_device(self, timeout_s: float) -> BLEDevice:
        if self.device is not None:
            return self.device
        try:
            dev = await BleakScanner.find_device_by_address(self.address, timeout=timeout_s,
                                                            **self._backend_kw(True))
        except SensorError:
            raise
        except Exception as exc:
            raise SensorError(no_adapter_message(exc)) from None
        if dev is None:
            raise SensorError(f"sensor {self.role} ({self.address}) not found: is it charged, "
                              f"switched on and not connected to another device?")
        self.device = dev
        return dev

    async def _connect_once(self) -> BleakClient:
        from bleak_retry_connector import establish_connection

        dev = await self._find_device(self.connect_timeout_s)
        return await establish_connection(
            BleakClient, dev, f"{self.role}", disconnected_callback=self._on_disconnect,
            max_attempts=2, timeout=self.connect_timeout_s, **self._backend_kw())

    def _on_disconnect(self, _client) -> None:
        self._lost.set()

    async def command(self, payload_op: int, payload: bytes = b"") -> bytes:
        """Send a control command and wait for its response payload; SensorError on failure."""
        client = self.client
        if client is None:
            raise SensorError(f"sensor {self.role} ({self.address}) is not connected")
        self._token = (self._token + 1) & 0xFF
        token = self._token
        fut = asyncio.get_running_loop().create_future()
        self._responses[token] = fut
        try:
            await client.write_gatt_char(P.CONTROL_UUID, P.command(payload_op, token, payload),
                                         response=True)
            resp = await asyncio.wait_for(fut, COMMAND_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise SensorError(f"sensor {self.role} ({self.address}) did not answer the "
                              f"{P.OP_NAMES.get(payload_op, payload_op)} command") from None
        finally:
            self._responses.pop(token, None)
        if not resp.ok:
            raise SensorError(f"sensor {self.role} ({self.address}) refused "
                              f"{P.OP_NAMES.get(payload_op, payload_op)}: {resp.status_name}")
        return resp.payload

    def _on_control(self, _char, data: bytearray) -> None:
        try:
            resp = decode_control_response(data)
        except MalformedPacket:
            self.status.malformed += 1
            return
        fut = self._responses.get(resp.token)
        if fut is not None and not fut.done():
            fut.set_result(resp)

    def _on_battery(self, _char, data: bytearray) -> None:
        if len(data) >= 1:
            self.status.battery_pct = float(data[0])

    def _on_data(self, _char, data: bytearray) -> None:
        tr = self.tracker
        if tr is None:
            return
        t = self.clock()
        block = tr.feed(data, t)
        c = tr.counts
        st = self.status
        st.samples, st.dropped, st.duplicates = c.samples, c.dropped, c.duplicates + c.out_of_order
        st.malformed = c.malformed
        st.extra["out_of_order"] = c.out_of_order
        self._t_data_wall = time.monotonic()
        if block is None:
            return
        self._count_rate(t, len(block))
        self.on_block(self.role, block)

    def _count_rate(self, t: float, n: int) -> None:
        """Received rate over the last ~10 s of the session clock (after the first packet)."""
        win = self._rate_window
        win.append((t, n))
        self._rate_n += n
        while len(win) > 2 and t - win[0][0] > 10.0:
            self._rate_n -= win.popleft()[1]
        if len(win) >= 2 and t > win[0][0]:
            self.status.rate_hz = (self._rate_n - win[0][1]) / (t - win[0][0])

    async def identify(self, seconds: int = 3) -> None:
        """Blink the sensor's LED for ``seconds`` (role assignment)."""
        if self.driver is not None:
            raise SensorError(f"sensor {self.role} ({self.address}): a {self.driver.model} "
                              "cannot blink on request")
        await self.command(P.OP_IDENTIFY, bytes((int(seconds),)))

    async def set_phase(self, seq: int | None) -> bool:
        """Have the sensor send a notification after its sample ``seq`` (wrapped u32) and after
        every maximum batch age of samples from it, or by age again (``None``). False when it
        cannot (a vendor sensor, older firmware, not connected): it keeps sending by age."""
        if self.driver is not None or self.phase_unsupported or self.client is None:
            return False
        try:
            await self.command(P.OP_SET_PHASE, b"" if seq is None
                               else struct.pack("<I", int(seq) % P.SEQ_WRAP))
        except SensorError as exc:
            if "unknown opcode" in str(exc):
                self.phase_unsupported = True
            log.debug("%s", exc)
            return False
        return True

    # -- session -----------------------------------------------------------------------------
    async def _configure_vendor(self, client: BleakClient) -> None:
        from imu.sources.ble.vendor_link import driver_for

        if self.driver is None:
            self.driver = driver_for(client.services, self.address, self.rate_hz,
                                     self.vendor_options)
            if hasattr(self.driver, "attach"):
                self.driver.attach(self)
        if self.driver is None:
            raise SensorError(f"sensor {self.role} ({self.address}) offers none of the supported "
                              "services (imu protocol v1, Movella DOT, Polar PMD, WitMotion)")
        if hasattr(self.driver, "label"):  # how the driver's errors name the sensor
            self.driver.label = f"sensor {self.role} ({self.address})"
        for k in ("acc_range_g", "gyr_range_dps"):  # ranges asked for, if the vendor has them
            if getattr(self, k) is not None and hasattr(self.driver, k):
                setattr(self.driver, k, getattr(self, k))
        await self._read_battery(client)
        await self.driver.configure(client, self._on_vendor_data)
        drv = self.driver
        self.info = SensorInfo(sensor_id=self.address, role=self.role, model=drv.model,
                               rate_hz=float(drv.rate_hz), firmware=getattr(drv, "firmware", ""),
                               extra={"address": self.address,
                                      **(getattr(drv, "info_extra", None) or {})})

    def _on_vendor_data(self, _char, data: bytearray) -> None:
        drv = self.driver
        t = self.clock()
        block = drv.feed(data, t)
        self._t_data_wall = time.monotonic()
        c, st = drv.counts, self.status
        st.samples, st.dropped, st.duplicates, st.malformed = (c.samples, c.dropped,
                                                                c.duplicates, c.malformed)
        if block is not None:
            if self.info is not None and drv.rate_hz and self.info.rate_hz != drv.rate_hz:
                self.info.rate_hz = float(drv.rate_hz)  # measured from the sensor's timestamps
            self._count_rate(t, len(block))
            self.on_block(self.role, block)

    async def _read_battery(self, client: BleakClient) -> None:
        try:
            self.status.battery_pct = float((await client.read_gatt_char(P.BATTERY_LEVEL_UUID))[0])
            await client.start_notify(P.BATTERY_LEVEL_UUID, self._on_battery)
        except (BleakError, IndexError, KeyError, AttributeError):
            pass

    async def _start(self) -> None:
        if self.driver is not None:
            await self.driver.start(self.client)
            return
        tr = self.tracker
        if tr is None or tr.next_seq is None:
            await self.command(P.OP_START)
            return
        # a reconnect: ask for everything from the next expected sample (notifications in
        # flight when the link dropped never arrived); firmware without resume refuses the
        # payload, then a plain start resumes from its FIFO
        try:
            await self.command(P.OP_START, struct.pack("<I", tr.next_seq % P.SEQ_WRAP))
        except SensorError as exc:
            if P.STATUS_NAMES[P.ST_BAD_LENGTH] not in exc.message:
                raise
            await self.command(P.OP_START)

    async def _secure(self, client: BleakClient) -> None:
        """Our sensors stream only over an encrypted link (LE Secure Connections, bonded: the
        OS, or the virtual radio, keeps the bond per sensor). A device that offers our service
        but cannot be paired is refused: its stream would be readable by anyone nearby."""
        try:
            ok = await client.pair()
        except Exception as exc:  # BleakError, NotImplementedError, a refused pairing
            ok, why = False, str(exc) or type(exc).__name__
        else:
            why = "pairing was refused"
        if ok is False:
            raise SensorError(f"sensor {self.role} ({self.address}) offers the imu service but "
                              f"the link cannot be encrypted ({why}); refused")

    async def _configure(self, client: BleakClient) -> None:
        self.client = client
        if client.services.get_service(P.SERVICE_UUID) is None:
            await self._configure_vendor(client)
            return
        await self._secure(client)
        await client.start_notify(P.CONTROL_UUID, self._on_control)
        await self.command(P.OP_STOP)
        await self.command(P.OP_SET_RATE, int(self.rate_hz).to_bytes(2, "little"))
        if self.acc_range_g is not None and self.gyr_range_dps is not None:
            await self.command(P.OP_SET_RANGE, bytes((self.acc_range_g,))
                               + int(self.gyr_range_dps).to_bytes(2, "little"))
        try:
            info = decode_info(await client.read_gatt_char(P.INFO_UUID))
        except MalformedPacket as exc:  # refused at connect: never a stream we cannot scale
            raise SensorError(f"sensor {self.role} ({self.address}) refused: {exc}") from None
        if info.version != P.PROTOCOL_VERSION:
            raise SensorError(f"sensor {self.role} ({self.address}) speaks protocol "
                              f"v{info.version}; this reader speaks v{P.PROTOCOL_VERSION}")
        await self._read_battery(client)
        if self.tracker is None or self.tracker.sensor_id != info.sensor_id:
            self.tracker = StreamTracker(info.sensor_id, info.acc_scale, info.gyr_scale,
                                         info.rate_hz, info.tick_s)
        else:  # a reconnect: keep counting on the same stream
            self.tracker.acc_scale, self.tracker.gyr_scale = info.acc_scale, info.gyr_scale
        self.status.sensor_id = info.sensor_id
        self.info = SensorInfo(sensor_id=info.sensor_id, role=self.role, model=info.model,
                               rate_hz=float(info.rate_hz), firmware=info.firmware,
                               extra={"address": self.address, "acc_scale": info.acc_scale,
                                      "gyr_scale": info.gyr_scale, "tick_s": info.tick_s,
                                      "acc_range_g": info.acc_range_g,
                                      "gyr_range_dps": info.gyr_range_dps,
                                      "protocol": info.version})
        await client.start_notify(P.DATA_UUID, self._on_data)

    async def run(self) -> None:
        """Connect, stream and reconnect until :meth:`stop`. Sets :attr:`failed` on give-up."""
        first = True
        t_first = time.monotonic()
        while not self._stopping:
            self.status.state = "connecting" if first else "reconnecting"
            self._lost.clear()
            try:
                async with self.connect_lock:
                    if self._stopping:
                        break
                    client = await self._connect_once()
                    await self._configure(client)
                if first:  # all sensors of a reader start streaming together
                    self.connected.set()
                    await self.go.wait()
                t_up, t_up_wall = self.clock(), time.monotonic()  # link back, before START
                await self._start()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # BleakError, TimeoutError, SensorError, bumble errors
                await self._drop_client()
                if first and (isinstance(exc, SensorError)
                              or time.monotonic() - t_first > self.first_connect_timeout_s):
                    self.failed = exc if isinstance(exc, SensorError) else SensorError(
                        f"sensor {self.role} ({self.address}) did not answer: "
                        f"{str(exc) or type(exc).__name__}")
                    self.status.state = "disconnected"
                    self.connected.set()  # wake the waiters, which check .failed
                    self.streaming.set()
                    return
                log.debug("%s: connect failed: %s", self.role, exc)
                await asyncio.sleep(0.2)
                continue
            self.status.state = "streaming"
            if not first:
                self.status.reconnects += 1
                down_wall = t_up_wall - (self._t_drop_wall or t_up_wall)
                self.reconnect_wall_s.append(down_wall)
                self.on_event(Event(t_up, "reconnect", note=f"{self.role} reconnected",
                                    data={"role": self.role, "sensor_id": self.status.sensor_id,
                                          "down_s": t_up - (self._t_drop_s or t_up),
                                          "down_wall_s": down_wall}))
            first = False
            self.streaming.set()
            self._t_data_wall = time.monotonic()
            reason = await self._watch()
            if self._stopping:
                break
            self._t_drop_wall = time.monotonic()
            self._t_drop_s = self.clock()
            self.status.state = "reconnecting"
            tr = self.tracker
            self.on_event(Event(self._t_drop_s, "disconnect", note=f"{self.role} {reason}",
                                data={"role": self.role, "sensor_id": self.status.sensor_id,
                                      "reason": reason,
                                      "last_seq": (tr.next_seq - 1) if tr and tr.next_seq else None}))
            await self._drop_client()
        self.status.state = "stopped"

    async def _watch(self) -> str:
        """Wait until the link drops or stalls (connected but no data for ``stall_s``)."""
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), 1.0)
                return "link lost"
            except asyncio.TimeoutError:
                if time.monotonic() - self._t_data_wall > self.stall_s:
                    return f"stalled (no data for {self.stall_s:g} s)"

    async def _drop_client(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                await client.disconnect()
            except Exception:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._lost.set()
        client = self.client
        if client is not None and client.is_connected:
            try:
                if self.driver is not None:
                    await asyncio.wait_for(self.driver.stop(client), 2.0)
                else:
                    await asyncio.wait_for(self.command(P.OP_STOP), 2.0)
            except Exception:
                pass
        await self._drop_client()
        self.status.state = "stopped"


def no_adapter_message(exc: BaseException) -> str:
    """One line for 'there is no usable Bluetooth adapter' (BlueZ/D-Bus/OS errors)."""
    if isinstance(exc, OSError) and not str(getattr(exc, "strerror", "") or "").startswith("Bluetooth"):
        text = "the BlueZ D-Bus service is not reachable"
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"no Bluetooth adapter available ({text}); use --simulate for the built-in "
            f"virtual sensors")


class BleSource(Source):
    """Several BLE sensors of protocol v1 as one :class:`~imu.sources.base.Source`.

    Parameters
    ----------
    role_to_address : dict[str, str or BLEDevice]
        Role → BLE address (or a scanned ``BLEDevice``).
    rate_hz : int
        Output data rate to request (104 or 208 for the XIAO firmware).
    client_backend, scanner_backend : type or None
        bleak backends; ``None`` uses the platform adapter. The virtual sensors pass
        :class:`~imu.sources.ble.bumble_backend.BumbleClientBackend` /
        :class:`~imu.sources.ble.bumble_backend.BumbleScannerBackend`.
    clock : callable() -> float, optional
        Session clock (default: seconds since :meth:`start`).
    identify : bool
        Blink each sensor's LED (3 s) as it connects, naming its role on stderr.
    vendor_options : dict, optional
        Role → settings of that sensor's vendor driver (Movella DOT: ``rate_hz``,
        ``payload``, ``heading_reset``; :mod:`imu.sources.ble.dot`).
    sync_dots : bool
        Synchronise the clocks of two or more Movella DOTs before they start (documented
        procedure; a sensor that fails is reported and stays on its own clock).
    """

    def __init__(self, role_to_address: dict, *, rate_hz: int = 104, client_backend=None,
                 scanner_backend=None, clock: Callable[[], float] | None = None,
                 connect_timeout_s: float = 5.0, identify: bool = False,
                 first_connect_timeout_s: float = FIRST_CONNECT_TIMEOUT_S,
                 acc_range_g: int | None = None, gyr_range_dps: int | None = None,
                 announce: Callable[[str], None] | None = None,
                 vendor_options: dict | None = None, sync_dots: bool = True):
        if not role_to_address:
            raise SensorError("no sensors given: map at least one role to an address")
        self.role_to_address = dict(role_to_address)
        self.rate_hz = int(rate_hz)
        self.client_backend = client_backend
        self.scanner_backend = scanner_backend
        self._clock = clock
        self._t0 = 0.0
        self.connect_timeout_s = connect_timeout_s
        self.identify_on_connect = identify
        self.first_connect_timeout_s = first_connect_timeout_s
        self.acc_range_g = acc_range_g
        self.gyr_range_dps = gyr_range_dps
        self.announce = announce
        self.vendor_options = dict(vendor_options or {})
        self.sync_dots = bool(sync_dots)
        self.sensors: dict[str, SensorInfo] = {}
        self.links: dict[str, SensorLink] = {}
        self._queue: asyncio.Queue | None = None
        self._events: list[Event] = []
        self._all_events: list[Event] = []
        self._tasks: list[asyncio.Task] = []
        self._stopped = False

    def clock(self) -> float:
        if self._clock is not None:
            return self._clock()
        return time.monotonic() - self._t0

    def _on_block(self, role: str, block: SampleBlock) -> None:
        if self._queue is not None:
            self._queue.put_nowait((role, block))

    def _on_event(self, ev: Event) -> None:
        self._events.append(ev)
        self._all_events.append(ev)

    async def start(self) -> None:
        self._t0 = time.monotonic()
        self._queue = asyncio.Queue()
        lock = asyncio.Lock()
        for role, addr in self.role_to_address.items():
            self.links[role] = SensorLink(
                role, addr, rate_hz=self.rate_hz, clock=self.clock, on_block=self._on_block,
                on_event=self._on_event, connect_lock=lock, client_backend=self.client_backend,
                scanner_backend=self.scanner_backend, connect_timeout_s=self.connect_timeout_s,
                acc_range_g=self.acc_range_g, gyr_range_dps=self.gyr_range_dps,
                first_connect_timeout_s=self.first_connect_timeout_s,
                vendor_options=self.vendor_options.get(role))
            self.links[role].announce = self.announce
        # Connect one after the other (and blink each one if asked), then start them together.
        for role, link in self.links.items():
            self._tasks.append(asyncio.create_task(link.run(), name=f"ble-{role}"))
            try:
                await asyncio.wait_for(link.connected.wait(), self.first_connect_timeout_s + 5)
            except asyncio.TimeoutError:
                link.failed = SensorError(f"sensor {role} ({link.address}) did not answer "
                                          f"within {self.first_connect_timeout_s:.0f} s")
            if link.failed is not None:
                await self.stop()
                raise link.failed
            self.sensors[role] = link.info
            if self.identify_on_connect:
                if self.announce:
                    self.announce(f"{role}: {link.address} is blinking")
                try:
                    await link.identify(3)
                except (SensorError, BleakError, asyncio.TimeoutError) as exc:
                    if self.announce:
                        self.announce(f"{role}: cannot blink ({exc})")
        await self._sync_dots()
        for link in self.links.values():
            link.go.set()
        for role, link in self.links.items():
            try:
                await asyncio.wait_for(link.streaming.wait(), self.first_connect_timeout_s + 5)
            except asyncio.TimeoutError:
                link.failed = SensorError(f"sensor {role} ({link.address}) did not start streaming")
            if link.failed is not None:
                await self.stop()
                raise link.failed

    async def _sync_dots(self) -> None:
        """Two or more Movella DOTs: synchronise their clocks before they start."""
        if not self.sync_dots:
            return
        from imu.sources.ble.dot import DotDriver, sync_dots
        dots = [link for link in self.links.values() if isinstance(link.driver, DotDriver)]
        if len(dots) < 2:
            return
        if self.announce:
            self.announce(f"synchronising {len(dots)} Movella DOTs "
                          f"({', '.join(link.role for link in dots)})")
        await sync_dots(dots, announce=self.announce)
        for link in dots:  # reconnected while syncing: the info of the new connection
            self.sensors[link.role] = link.info

    async def identify(self, role: str, seconds: int = 3) -> None:
        await self.links[role].identify(seconds)

    async def set_batch_phase(self, role: str, seq: int | None) -> bool:
        """Line ``role``'s notifications up on its sample ``seq`` (see
        :meth:`SensorLink.set_phase`); False when that sensor cannot."""
        link = self.links.get(role)
        return False if link is None else await link.set_phase(seq)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for link in self.links.values():
            try:
                await link.stop()
            except Exception as exc:
                log.debug("stop %s: %s", link.role, exc)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        if self._queue is not None:
            self._queue.put_nowait(None)

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        async for _, blk in self.role_blocks():
            yield blk

    async def role_blocks(self) -> AsyncIterator[tuple[str, SampleBlock]]:
        """Like :meth:`blocks` but with the role of each block."""
        q = self._queue
        if q is None:
            raise SensorError("source not started")
        while True:
            item = await q.get()
            if item is None:
                return
            yield item

    def status(self) -> dict[str, SensorStatus]:
        return {role: link.status for role, link in self.links.items()}

    def events(self) -> list[Event]:
        ev, self._events = self._events, []
        return ev

    @property
    def all_events(self) -> list[Event]:
        return list(self._all_events)

    def role_of(self, sensor_id: str) -> str | None:
        for role, link in self.links.items():
            if link.status.sensor_id == sensor_id:
                return role
        return None
