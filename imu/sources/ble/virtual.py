"""Virtual sensors: bumble peripherals that speak the imu protocol v1 over the virtual radio.

Each :class:`VirtualSensor` is a full BLE peripheral on the :class:`~.bumble_backend.VirtualRadio`
link: it advertises, accepts a connection, serves the imu service (data, control, info), the
Battery service and the Device Information service. Its command handling, batching and encoding
are the firmware's own code (:mod:`firmware.protocol`), so the reader decodes exactly what the
XIAO firmware sends. Samples come from arrays (normally the body simulator's) and are released
in real time, or ``speed`` times faster, against the sensor's own clock.

Fault injection for tests: :meth:`VirtualSensor.force_disconnect` (drop the link and go silent
for a while) and :attr:`VirtualSensor.tamper` (a hook that may rewrite, drop or duplicate
outgoing notifications).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

import numpy as np
from bumble.core import AdvertisingData, UUID
from bumble.gatt import Characteristic, CharacteristicValue, Service

from imu.sources.ble import protocol as P
from imu.sources.ble.bumble_backend import VirtualRadio, get_radio, secure_peripheral

log = logging.getLogger(__name__)

SIM_MODEL = "imu-sim"
SIM_FIRMWARE = "sim-1.0.0"
#: Rates the virtual sensor accepts (Hz); the XIAO firmware offers 104 and 208 only.
SIM_RATES_HZ = (50, 52, 60, 100, 104, 200, 208)


def sim_address(index: int) -> str:
    """Deterministic static random address of the ``index``-th virtual sensor."""
    return f"C0:1D:5E:00:00:{index + 1:02X}"


class SampleFeed:
    """Samples in physical units with the sensor's clock, played back (optionally looped).

    Parameters
    ----------
    t_sensor_s : ndarray, shape (N,)
        Sensor-clock time of each sample, s (monotonic).
    acc : ndarray, shape (N, 3)
        m/s².
    gyr : ndarray, shape (N, 3)
        rad/s.
    seq : ndarray, shape (N,), optional
        Sample sequence numbers (gaps = samples the simulated sensor itself lost).
    loop : bool
        Start over (clock and sequence continue) when the data ends.
    """

    def __init__(self, t_sensor_s, acc, gyr, seq=None, loop=True):
        self.t = np.asarray(t_sensor_s, dtype=np.float64)
        self.acc = np.asarray(acc, dtype=np.float64)
        self.gyr = np.asarray(gyr, dtype=np.float64)
        self.seq = (np.arange(len(self.t), dtype=np.int64) if seq is None
                    else np.asarray(seq, dtype=np.int64))
        self.loop = loop
        n = len(self.t)
        if n < 2:
            raise ValueError("a sample feed needs at least 2 samples")
        self.period_s = float(np.median(np.diff(self.t)))
        self.span_s = float(self.t[-1] - self.t[0]) + self.period_s
        self.seq_span = int(self.seq[-1] - self.seq[0]) + 1

    def _index(self, base_s: float, t_s: float) -> int:
        """``np.searchsorted(self.t - self.t[0] + base_s, t_s)`` without computing the whole
        array (the simulated session's every sample, on every call: ~150 calls a second for
        three sensors): a search on ``self.t``, then the exact expression checked at the
        boundary (rounding), so the index is the same."""
        t = self.t
        t0 = t[0]
        i = int(np.searchsorted(t, t_s - base_s + t0))
        while i > 0 and (t[i - 1] - t0) + base_s >= t_s:
            i -= 1
        while i < len(t) and (t[i] - t0) + base_s < t_s:
            i += 1
        return i

    def window(self, t_from_s: float, t_to_s: float):
        """Samples with ``t_from_s <= t < t_to_s`` on the unrolled (looped) clock.

        Returns (t, acc, gyr, seq) with ``t`` relative to the feed's first sample.
        """
        out_t, out_a, out_g, out_s = [], [], [], []
        t0 = self.t[0]
        if not self.loop:
            i0, i1 = self._index(0.0, t_from_s), self._index(0.0, t_to_s)
            return self.t[i0:i1] - t0, self.acc[i0:i1], self.gyr[i0:i1], self.seq[i0:i1]
        k = int(np.floor(t_from_s / self.span_s))
        while k * self.span_s < t_to_s:
            base = k * self.span_s
            i0, i1 = self._index(base, t_from_s), self._index(base, t_to_s)
            if i1 > i0:
                out_t.append(self.t[i0:i1] - t0 + base)
                out_a.append(self.acc[i0:i1])
                out_g.append(self.gyr[i0:i1])
                out_s.append(self.seq[i0:i1] + k * self.seq_span)
            k += 1
        if not out_t:
            return (np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0, np.int64))
        return (np.concatenate(out_t), np.concatenate(out_a), np.concatenate(out_g),
                np.concatenate(out_s))

    def next_time(self, t_s: float) -> float | None:
        """Time of the first sample at or after ``t_s`` on the unrolled clock (relative to the
        feed's first sample, as :meth:`window` gives it); None when the data has ended."""
        nxt = self.next_sample(t_s)
        return None if nxt is None else nxt[0]

    def next_sample(self, t_s: float) -> tuple[float, int] | None:
        """Time and sequence number of the first sample at or after ``t_s`` on the unrolled
        clock (as :meth:`window` gives them); None when the data has ended."""
        t = self.t
        if not self.loop:
            i = self._index(0.0, t_s)
            return (float(t[i] - t[0]), int(self.seq[i])) if i < len(t) else None
        k = int(np.floor(t_s / self.span_s))
        while True:
            base = k * self.span_s
            i = self._index(base, t_s)
            if i < len(t):
                return float((t[i] - t[0]) + base), int(self.seq[i] + k * self.seq_span)
            k += 1

    def finished(self, t_s: float) -> bool:
        return (not self.loop) and t_s >= self.span_s


class VirtualSensor:
    """One virtual peripheral.

    Parameters
    ----------
    address : str
        Its BLE address (e.g. :func:`sim_address`).
    name : str
        Advertised local name.
    feed : SampleFeed
    sensor_id : str
        Reported in the info characteristic and as serial number.
    speed : float
        Sensor clock seconds per wall-clock second.
    battery_pct : int
    radio : VirtualRadio, optional
        Defaults to the running loop's radio.
    tick_interval_s : float
        Longest wall-clock wait of the streaming loop; it wakes earlier when a notification is
        due (its oldest sample reaches :data:`~imu.sources.ble.protocol.MAX_BATCH_AGE_S`).
    """

    def __init__(self, address: str, name: str, feed: SampleFeed, sensor_id: str,
                 speed: float = 1.0, battery_pct: int = 87, radio: VirtualRadio | None = None,
                 rate_hz: int = 104, tick_interval_s: float = 0.05):
        self.address = address
        self.name = name
        self.feed = feed
        self.speed = float(speed)
        self.battery_pct = int(battery_pct)
        self.radio = radio
        self.tick_interval_s = tick_interval_s
        rates = tuple(sorted(set(SIM_RATES_HZ) | {int(rate_hz)}))
        self.config = P.SensorConfig(sensor_id, SIM_MODEL, SIM_FIRMWARE, rates_hz=rates,
                                     rate_hz=int(rate_hz), acc_range_g=8, gyr_range_dps=2000)
        self.handler = P.CommandHandler(self.config, on_start=self._on_start,
                                        on_stop=self._on_stop, on_identify=self._on_identify,
                                        battery=lambda: self.battery_pct,
                                        on_phase=self._on_phase)
        # the age bound is a wall-clock latency: at ``speed`` x the sensor clock ages faster
        self.batcher = P.Batcher(rate_hz=rate_hz, mtu=23,
                                 max_age_s=P.MAX_BATCH_AGE_S * self.speed)
        self.resend = P.Resender()  # as the firmware: re-sent after a drop from the host's seq
        self._replay: list = []
        self.identify_until = 0.0
        self.tamper: Callable[[bytes], list[bytes]] | None = None
        self.notifications_sent = 0
        self.samples_sent = 0
        self.samples_skipped = 0  # produced while not streaming (not connected / stopped)
        self.disconnects_forced = 0
        self.max_tick_gap_s = 0.0  # longest wall time between two FIFO reads (CPU starvation)
        self._device = None
        self._conn = None
        self._t_wall0 = 0.0
        self._sent_to_s = 0.0  # sensor-relative time up to which samples were produced
        self._stream_task: asyncio.Task | None = None
        self._adv_task: asyncio.Task | None = None
        self._down_until = 0.0
        self._closed = False
        self._resumable = False
        #: while True no samples are produced (the simulated wearer has not begun the program)
        self.paused = False
        #: our firmware's security (tests switch it off to play an impostor, or refuse pairing)
        self.require_encryption = True
        self.accept_pairing = True

    # -- clock -------------------------------------------------------------------------------
    def now_s(self) -> float:
        """Sensor clock, s since power-on (relative to the feed's first sample)."""
        return (time.monotonic() - self._t_wall0) * self.speed

    def restart_clock(self, t_wall0: float) -> None:
        """Start the sensor clock and its feed over at wall time ``t_wall0`` and unpause: the
        program's first sample is the first one produced (a simulated program begins when the
        sensors stream, as a wearer starts the protocol once the app shows them connected)."""
        self._t_wall0 = t_wall0
        self._sent_to_s = 0.0
        self.batcher.reset()
        self.paused = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def power_on(self) -> None:
        radio = self.radio or get_radio()
        self.radio = radio
        dev = radio.new_device(self.address, self.name)
        self._device = dev
        # as the firmware: commands and info need an encrypted link (LE Secure Connections,
        # Just Works, bonded), so no sample flows to a central that did not pair
        enc_w = Characteristic.WRITE_REQUIRES_ENCRYPTION if self.require_encryption else 0
        enc_r = Characteristic.READ_REQUIRES_ENCRYPTION if self.require_encryption else 0
        secure_peripheral(dev, accept=self.accept_pairing)
        self._data = Characteristic(P.DATA_UUID, Characteristic.Properties.NOTIFY,
                                    Characteristic.READABLE, b"")
        self._control = Characteristic(
            P.CONTROL_UUID,
            Characteristic.Properties.WRITE | Characteristic.Properties.NOTIFY,
            Characteristic.WRITEABLE | Characteristic.READABLE | enc_w,
            CharacteristicValue(read=lambda _c: b"", write=self._on_control_write))
        self._info = Characteristic(P.INFO_UUID, Characteristic.Properties.READ,
                                    Characteristic.READABLE | enc_r,
                                    CharacteristicValue(read=self._read_info))
        self._battery = Characteristic(
            P.BATTERY_LEVEL_UUID, Characteristic.Properties.READ | Characteristic.Properties.NOTIFY,
            Characteristic.READABLE, CharacteristicValue(read=lambda _c: bytes((self.battery_pct,))))
        dev.add_service(Service(P.SERVICE_UUID, [self._data, self._control, self._info]))
        dev.add_service(Service(P.BATTERY_SERVICE_UUID, [self._battery]))
        dis = [(P.MANUFACTURER_UUID, b"imu project"), (P.MODEL_NUMBER_UUID, SIM_MODEL.encode()),
               (P.SERIAL_NUMBER_UUID, self.config.sensor_id.encode()),
               (P.FIRMWARE_REV_UUID, SIM_FIRMWARE.encode())]
        dev.add_service(Service(P.DEVICE_INFO_SERVICE_UUID, [
            Characteristic(u, Characteristic.Properties.READ, Characteristic.READABLE, v)
            for u, v in dis]))
        dev.advertising_data = bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes((0x06,))),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            (AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
             bytes(UUID(P.SERVICE_UUID))),
        ]))
        dev.on(dev.EVENT_CONNECTION, self._on_connection)
        await dev.power_on()
        radio.peripherals[self.address] = self
        self._t_wall0 = time.monotonic()
        self._stream_task = asyncio.create_task(self._stream_loop(), name=f"vsensor-{self.name}")
        await self._advertise()

    async def go_live(self, dev, adv_fields: list, task_name: str) -> None:
        """Advertise ``adv_fields`` (after the flags), power ``dev`` on, join the radio, start
        the streaming loop (for subclasses that build their own GATT services)."""
        dev.advertising_data = bytes(AdvertisingData([(AdvertisingData.FLAGS, bytes((0x06,)))]
                                                     + list(adv_fields)))
        dev.on(dev.EVENT_CONNECTION, self._on_connection)
        await dev.power_on()
        self.radio.peripherals[self.address] = self
        self._t_wall0 = time.monotonic()
        self._stream_task = asyncio.create_task(self._stream_loop(), name=task_name)
        await self._advertise()

    async def _advertise(self) -> None:
        if self._closed or self._device is None:
            return
        try:
            await self._device.start_advertising(auto_restart=False,
                                                 advertising_interval_min=50,
                                                 advertising_interval_max=50)
        except Exception as exc:  # already advertising
            log.debug("%s advertise: %s", self.name, exc)

    async def close(self) -> None:
        self._closed = True
        for t in (self._stream_task, self._adv_task):
            if t is not None:
                t.cancel()
        for t in (self._stream_task, self._adv_task):
            if t is not None:
                try:
                    await t
                except (asyncio.CancelledError, Exception):
                    pass
        if self._device is not None:
            try:
                if self._conn is not None:
                    await self._conn.disconnect()
            except Exception:
                pass
            try:
                await self._device.stop_advertising()
            except Exception:
                pass
            try:
                await self._device.power_off()
            except Exception:
                pass
        if self.radio is not None:
            self.radio.peripherals.pop(self.address, None)
            try:
                self.radio.link.remove_controller(self._device.host.controller)
            except Exception:
                pass

    # -- connection events -------------------------------------------------------------------
    def _on_connection(self, conn) -> None:
        self._conn = conn
        self.batcher.set_mtu(23)
        conn.on(conn.EVENT_DISCONNECTION, self._on_disconnection)
        conn.on(conn.EVENT_CONNECTION_ATT_MTU_UPDATE, self._on_mtu)

    def _on_mtu(self, *_a) -> None:
        if self._conn is not None:
            self.batcher.set_mtu(self._conn.att_mtu)

    def _on_disconnection(self, *_a) -> None:
        self._conn = None
        # Like the firmware: the FIFO keeps sampling; the next START resumes from it.
        self._resumable = self._resumable or self.handler.streaming
        self.handler.streaming = False
        if not self._closed:
            self._adv_task = asyncio.create_task(self._readvertise())

    async def _readvertise(self) -> None:
        wait = self._down_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await self._advertise()

    async def force_disconnect(self, down_s: float = 1.0) -> None:
        """Drop the link from the sensor's side and stay silent for ``down_s`` wall seconds."""
        self._down_until = time.monotonic() + down_s
        conn = self._conn
        if conn is not None:
            self.disconnects_forced += 1
            try:
                await conn.disconnect()
            except Exception as exc:
                log.debug("%s forced disconnect: %s", self.name, exc)

    @property
    def connected(self) -> bool:
        return self._conn is not None

    # -- GATT callbacks ----------------------------------------------------------------------
    def _read_info(self, conn) -> bytes:
        mtu = conn.att_mtu if conn is not None else 23
        return self.config.info_bytes(mtu)

    def _on_control_write(self, conn, value) -> None:
        resp = self.handler.handle(bytes(value))
        if self._device is not None and conn is not None:
            asyncio.get_running_loop().create_task(self._send_response(conn, resp))

    async def _send_response(self, conn, resp: bytes) -> None:
        try:
            await self._device.notify_subscriber(conn, self._control, resp)
        except Exception as exc:
            log.debug("%s control response: %s", self.name, exc)

    def _on_start(self, resume_seq: int | None = None) -> None:
        now = self.now_s()
        if self._resumable and self.batcher.rate_hz == self.config.rate_hz:
            # Resume after a dropped link: the FIFO holds the newest P.FIFO_SAMPLES samples.
            oldest = now - P.FIFO_SAMPLES / float(self.config.rate_hz)
            if oldest > self._sent_to_s:  # it overflowed: the pending batch is gone too
                self.batcher.reset()
                self.samples_skipped += len(self.feed.window(self._sent_to_s, oldest)[0])
                self._sent_to_s = oldest
            elif resume_seq is not None:  # re-send what was in flight (as the firmware)
                self.batcher.reset()
                self._replay = self.resend.since(resume_seq)
        else:
            # A fresh start: older samples were never put in the FIFO.
            self.batcher.rate_hz = self.config.rate_hz
            self.batcher.reset()
            self.resend.clear()
            self._replay = []
            self.samples_skipped += len(self.feed.window(self._sent_to_s, now)[0])
            self._sent_to_s = now
        self._resumable = False

    def _on_stop(self) -> None:
        self.batcher.reset()
        self.resend.clear()
        self._replay = []
        self._resumable = False

    def _on_phase(self, seq: int | None) -> None:
        # as the firmware: the host's wrapped sequence number placed on the sensor's counter
        if seq is None:
            self.batcher.set_phase(None)
            return
        nxt = self.feed.next_sample(self._sent_to_s)
        ref = nxt[1] if nxt is not None else 0
        self.batcher.set_phase(P.unwrap_near(seq, ref))

    def _on_identify(self, seconds: int) -> None:
        self.identify_until = time.monotonic() + seconds

    @property
    def identifying(self) -> bool:
        return time.monotonic() < self.identify_until

    # -- streaming ---------------------------------------------------------------------------
    def _wait_s(self) -> float:
        """Wall time until the streaming loop must run next: when the pending batch (or the
        next sample's batch) is due (its maximum age, or on the host's phase its closing
        sample), at most ``tick_interval_s``. With
        nothing pending it wakes when the next sample's batch is due (not a maximum age after
        the last wake, which woke it twice a notification: once to take the samples, once to
        send them)."""
        if self.paused or not (self.handler.streaming and self._conn is not None):
            return self.tick_interval_s
        due = self.batcher.due_ticks()
        if due is None and self.batcher.max_age_ticks is not None:
            nxt = self.feed.next_sample(self._sent_to_s)
            if nxt is not None:
                tick = int(np.rint(nxt[0] / P.TICK_S))
                close = self.batcher.closes_at(nxt[1], tick)
                due = tick + self.batcher.max_age_ticks
                if close is not None and close < due:
                    due = close
        due_s = (due * P.TICK_S if due is not None
                 else self._sent_to_s + self.batcher.max_age_ticks * P.TICK_S)
        wait = (due_s - self.now_s()) / self.speed
        return min(self.tick_interval_s, max(0.001, wait))

    async def _stream_loop(self) -> None:
        t_last = time.monotonic()
        while not self._closed:
            await asyncio.sleep(self._wait_s())
            t_wall = time.monotonic()
            self.max_tick_gap_s = max(self.max_tick_gap_s, t_wall - t_last)
            t_last = t_wall
            now = self.now_s()
            if self.paused or not (self.handler.streaming and self._conn is not None):
                continue
            t, acc, gyr, seq = self.feed.window(self._sent_to_s, now)
            self._sent_to_s = now
            replay, self._replay = self._replay, []
            if len(t) == 0 and self.batcher.pending == 0 and not replay:
                continue
            sa = P.acc_scale(self.config.acc_range_g)
            sg = P.gyr_scale(self.config.gyr_range_dps)
            raw = np.empty((len(t), 6), dtype=np.int64)
            raw[:, :3] = np.clip(np.rint(acc / sa), -32768, 32767)
            raw[:, 3:] = np.clip(np.rint(gyr / sg), -32768, 32767)
            ticks = np.rint(t / P.TICK_S).astype(np.int64)
            pkts = []
            for sq, tk, smp in replay:
                pkts.extend(self.batcher.add(sq, tk, smp))
            for i in range(len(t)):
                sample = raw[i].tolist()
                self.resend.add(int(seq[i]), int(ticks[i]), sample)
                pkts.extend(self.batcher.add(int(seq[i]), int(ticks[i]), sample))
            # as the firmware: full batches at once, the rest when its oldest sample is due
            pkt = self.batcher.poll(int(now / P.TICK_S))
            if pkt is not None:
                pkts.append(pkt)
            for pkt in pkts:
                await self._notify(pkt)
            self.samples_sent += len(t)

    async def _notify(self, pkt: bytes) -> None:
        conn = self._conn
        if conn is None:
            return
        out = [pkt] if self.tamper is None else self.tamper(pkt)
        for p in out:
            try:
                await self._device.notify_subscriber(conn, self._data, p)
                self.notifications_sent += 1
            except Exception as exc:
                log.debug("%s notify: %s", self.name, exc)
                return


def still_feed(rate_hz: float = 104, seconds: float = 10.0) -> SampleFeed:
    """A sensor lying still, flat (gravity on +z, zero rate), looped: for scans and pairing."""
    n = max(2, int(round(rate_hz * seconds)))
    t = np.arange(n) / float(rate_hz)
    acc = np.zeros((n, 3))
    acc[:, 2] = P.STANDARD_GRAVITY
    return SampleFeed(t, acc, np.zeros((n, 3)), loop=True)


class VirtualVendorSensor(VirtualSensor):
    """A virtual Movella DOT (``kind="movella"``, rate quantities) or WitMotion WT901BLE
    (``kind="witmotion"``) on the virtual radio, for testing the reader's vendor drivers."""

    def __init__(self, kind: str, address: str, name: str, feed: SampleFeed, **kw):
        super().__init__(address, name, feed, sensor_id=address, **kw)
        if kind not in ("movella", "witmotion"):
            raise ValueError(f"unknown vendor kind {kind!r}")
        self.kind = kind
        self.writes: list[bytes] = []

    async def power_on(self) -> None:
        from imu.sources.ble import vendors as V
        from imu.sources.ble.vendor_link import WIT_WRITE_UUID

        radio = self.radio or get_radio()
        self.radio = radio
        dev = radio.new_device(self.address, self.name)
        self._device = dev
        if self.kind == "movella":
            self._data = Characteristic(V.MOVELLA_MEDIUM_PAYLOAD_UUID,
                                        Characteristic.Properties.NOTIFY,
                                        Characteristic.READABLE, b"")
            ctrl = Characteristic(V.MOVELLA_CONTROL_UUID,
                                  Characteristic.Properties.WRITE | Characteristic.Properties.READ,
                                  Characteristic.WRITEABLE | Characteristic.READABLE,
                                  CharacteristicValue(read=lambda _c: b"",
                                                      write=self._on_vendor_write))
            dev.add_service(Service(V.MOVELLA_SERVICE_UUID, [ctrl, self._data]))
            uuid = V.MOVELLA_SERVICE_UUID
        else:
            self._data = Characteristic(V.WIT_NOTIFY_UUID, Characteristic.Properties.NOTIFY,
                                        Characteristic.READABLE, b"")
            wr = Characteristic(WIT_WRITE_UUID, Characteristic.Properties.WRITE_WITHOUT_RESPONSE
                                | Characteristic.Properties.WRITE, Characteristic.WRITEABLE,
                                CharacteristicValue(write=self._on_vendor_write))
            dev.add_service(Service(V.WIT_SERVICE_UUID, [self._data, wr]))
            uuid = V.WIT_SERVICE_UUID
            self.handler.streaming = True  # WitMotion streams whenever connected
        self._battery = Characteristic(
            P.BATTERY_LEVEL_UUID, Characteristic.Properties.READ, Characteristic.READABLE,
            CharacteristicValue(read=lambda _c: bytes((self.battery_pct,))))
        dev.add_service(Service(P.BATTERY_SERVICE_UUID, [self._battery]))
        dev.advertising_data = bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes((0x06,))),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            (AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, bytes(UUID(uuid))),
        ]))
        dev.on(dev.EVENT_CONNECTION, self._on_connection)
        await dev.power_on()
        radio.peripherals[self.address] = self
        self._t_wall0 = time.monotonic()
        self._stream_task = asyncio.create_task(self._stream_loop(), name=f"vvendor-{self.name}")
        await self._advertise()

    def _on_disconnection(self, *a) -> None:
        super()._on_disconnection(*a)
        self._resumable = False  # vendor sensors: no FIFO backlog after a drop

    def _on_connection(self, conn) -> None:
        super()._on_connection(conn)
        if self.kind == "witmotion":
            self._on_start()
            self.handler.streaming = True

    def _on_vendor_write(self, conn, value) -> None:
        value = bytes(value)
        self.writes.append(value)
        if self.kind == "movella" and len(value) >= 3 and value[0] == 1:
            if value[1] == 1:
                self._on_start()
                self.handler.streaming = True
            else:
                self.handler.streaming = False

    async def _stream_loop(self) -> None:
        from imu.sources.ble import vendors as V

        while not self._closed:
            await asyncio.sleep(self.tick_interval_s)
            now = self.now_s()
            if self.paused or not (self.handler.streaming and self._conn is not None):
                continue
            t, acc, gyr, _seq = self.feed.window(self._sent_to_s, now)
            self._sent_to_s = now
            for i in range(len(t)):
                if self.kind == "movella":
                    pkt = V.encode_movella_rate_quantities(int(round(t[i] * 1e6)), acc[i],
                                                           np.degrees(gyr[i]))
                else:
                    pkt = V.encode_witmotion(acc[i] / P.STANDARD_GRAVITY, np.degrees(gyr[i]))
                await self._notify(pkt)
            self.samples_sent += len(t)
