"""A virtual Polar Verity Sense: the PMD service on the virtual radio, driven by the simulator.

:class:`VirtualVeritySense` is a bumble peripheral (see :mod:`imu.sources.ble.virtual`) with
the Polar Measurement Data service (:mod:`imu.sources.ble.polar`): a control point that answers
by indication (features on read; get settings, start and stop for ACC and GYRO with the status
codes of Polar's SDK) and a data characteristic streaming compressed delta frames — ACC
(frame type 0x81) in mG, GYRO (0x80) in ``factor`` deg/s — stamped in ns since 2000-01-01 on
the sensor's clock with the time of each frame's last sample.

Its sample rate is off the nominal one by ``odr_error`` (a real oscillator's error). As the
Verity Sense outside SDK mode, it offers ACC at 52 Hz, 16 bit, ±8 g and GYRO at 52 Hz,
16 bit, ±2000 deg/s (``offered`` changes that). It refuses what it does not offer
(invalid sample rate / range / resolution / channels), a start of a stream already running or a
stop of one that is not (already in state), measurement types it lacks (not supported), unknown
op codes and short requests. Samples are the simulator's motion resampled to the stream rate on
the sensor's clock; :attr:`drop` drops chosen data frames (tests of the gap bookkeeping).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import numpy as np
from bumble.core import AdvertisingData, UUID
from bumble.gatt import Characteristic, CharacteristicValue, Service

from imu.sources.ble import polar as PM
from imu.sources.ble import protocol as P
from imu.sources.ble.bumble_backend import get_radio
from imu.sources.ble.vendors import (POLAR_PMD_CONTROL_UUID, POLAR_PMD_DATA_UUID,
                                     POLAR_PMD_SERVICE_UUID)
from imu.sources.ble.virtual import SampleFeed, VirtualSensor

log = logging.getLogger(__name__)

#: the sensor clock's reading at power-on, ns since 2000-01-01 (2026-12-01T00:00:00Z)
BOOT_NS = 849_398_400 * 10**9

#: what a Verity Sense offers outside SDK mode (Polar SDK documentation)
VERITY_OFFERED = {
    PM.ACC: {PM.SAMPLE_RATE: [52], PM.RESOLUTION: [16], PM.RANGE: [8], PM.CHANNELS: [3]},
    PM.GYRO: {PM.SAMPLE_RATE: [52], PM.RESOLUTION: [16], PM.RANGE: [2000], PM.CHANNELS: [3]},
}
#: measurement types a Verity Sense lists in its features (PPG, ACC, PPI, GYRO, MAG)
VERITY_FEATURES = (PM.PPG, PM.ACC, PM.PPI, PM.GYRO, PM.MAG)
#: only ACC and GYRO are streamed here; the other listed types answer "not supported"
STREAMED = (PM.ACC, PM.GYRO)


def verity_name(index: int) -> str:
    """Advertised name: Polar's ``Polar Sense`` and an 8-hex-digit device id."""
    return f"Polar Sense B5A{index:05X}"


class _Stream:
    def __init__(self, settings: dict[int, int], factor: float, feed: SampleFeed):
        self.settings = settings
        self.factor = factor
        self.feed = feed
        self.sent_to_s = 0.0


class VirtualVeritySense(VirtualSensor):
    """A virtual Polar Verity Sense (see module docstring).

    Parameters
    ----------
    address, name : str
    feed : SampleFeed
        The motion (sensor clock s, m/s², rad/s) at any rate; resampled per stream.
    offered : dict, optional
        Measurement type → setting type → offered values (default :data:`VERITY_OFFERED`).
    features : sequence of int, optional
        Measurement types listed when the control point is read.
    odr_error : float
        How far the real sample rate is from the nominal one (fraction; a real sensor's
        oscillator is off by up to a few per cent): samples are ``1 / (rate·(1 + odr_error))``
        apart on the sensor clock.
    """

    def __init__(self, address: str, name: str, feed: SampleFeed, *, speed: float = 1.0,
                 radio=None, battery_pct: int = 77, offered: dict | None = None,
                 features=VERITY_FEATURES, tick_interval_s: float = 0.1,
                 odr_error: float = 0.0):
        super().__init__(address, name, feed, sensor_id=address, speed=speed, radio=radio,
                         battery_pct=battery_pct, tick_interval_s=tick_interval_s)
        self.offered = {m: {k: list(v) for k, v in s.items()}
                        for m, s in (offered or VERITY_OFFERED).items()}
        self.features = tuple(features)
        self.odr_error = float(odr_error)
        self.streams: dict[int, _Stream] = {}
        self.requests: list[bytes] = []
        self.frames_sent = {PM.ACC: 0, PM.GYRO: 0}
        self.frames_dropped = {PM.ACC: 0, PM.GYRO: 0}
        self.samples_dropped = {PM.ACC: 0, PM.GYRO: 0}
        #: ``drop(mtype, frame_index) -> bool``: leave that data frame out (tests)
        self.drop: Callable[[int, int], bool] | None = None
        self._resampled: dict[int, SampleFeed] = {}
        self.require_encryption = False  # the Verity Sense streams without pairing

    # -- the sensor clock ------------------------------------------------------------------
    def timestamp_ns(self, t_s: float) -> int:
        """Sensor clock reading (ns since 2000-01-01) at feed time ``t_s``."""
        return BOOT_NS + int(round(t_s * 1e9))

    def restart_clock(self, t_wall0: float) -> None:
        super().restart_clock(t_wall0)
        for s in self.streams.values():
            s.sent_to_s = 0.0

    def resampled(self, rate_hz: int) -> SampleFeed:
        """The feed resampled to the real sample rate of a ``rate_hz`` stream on the sensor
        clock (linear interpolation): what the sensor measures."""
        f = self._resampled.get(rate_hz)
        if f is None:
            src = self.feed
            rel = src.t - src.t[0]
            t = np.arange(0.0, rel[-1] + 1e-9, 1.0 / (rate_hz * (1.0 + self.odr_error)))
            acc = np.column_stack([np.interp(t, rel, src.acc[:, i]) for i in range(3)])
            gyr = np.column_stack([np.interp(t, rel, src.gyr[:, i]) for i in range(3)])
            f = SampleFeed(t, acc, gyr, loop=src.loop)
            self._resampled[rate_hz] = f
        return f

    # -- GATT ------------------------------------------------------------------------------
    async def power_on(self) -> None:
        radio = self.radio or get_radio()
        self.radio = radio
        dev = radio.new_device(self.address, self.name)
        self._device = dev
        self._cp = Characteristic(
            POLAR_PMD_CONTROL_UUID,
            Characteristic.Properties.READ | Characteristic.Properties.WRITE
            | Characteristic.Properties.INDICATE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(read=lambda _c: PM.encode_features(self.features),
                                write=self._on_cp_write))
        self._data = Characteristic(POLAR_PMD_DATA_UUID, Characteristic.Properties.NOTIFY,
                                    Characteristic.READABLE, b"")
        dev.add_service(Service(POLAR_PMD_SERVICE_UUID, [self._cp, self._data]))
        self._battery = Characteristic(
            P.BATTERY_LEVEL_UUID,
            Characteristic.Properties.READ | Characteristic.Properties.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(read=lambda _c: bytes((self.battery_pct,))))
        dev.add_service(Service(P.BATTERY_SERVICE_UUID, [self._battery]))
        dis = [(P.MANUFACTURER_UUID, b"Polar Electro Oy"),
               (P.MODEL_NUMBER_UUID, b"Polar Verity Sense"),
               (P.SERIAL_NUMBER_UUID, self.name.split()[-1].encode()),
               (P.FIRMWARE_REV_UUID, b"2.1.0")]
        dev.add_service(Service(P.DEVICE_INFO_SERVICE_UUID, [
            Characteristic(u, Characteristic.Properties.READ, Characteristic.READABLE, v)
            for u, v in dis]))
        await self.go_live(dev, [
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            (AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
             bytes(UUID.from_16_bits(0x180D))),  # heart rate, as the real one advertises
        ], f"vpolar-{self.name}")

    def _on_disconnection(self, *a) -> None:
        super()._on_disconnection(*a)
        self._resumable = False
        self.streams.clear()  # a Verity Sense stops streaming when the link drops

    def _on_cp_write(self, conn, value) -> None:
        value = bytes(value)
        self.requests.append(value)
        resp = self.handle(value)
        if self._device is not None and conn is not None:
            asyncio.get_running_loop().create_task(self._indicate(conn, resp))

    async def _indicate(self, conn, resp: bytes) -> None:
        try:
            await self._device.indicate_subscriber(conn, self._cp, resp)
        except Exception as exc:
            log.debug("%s PMD response: %s", self.name, exc)

    # -- the control point -----------------------------------------------------------------
    def handle(self, req: bytes) -> bytes:
        """One control-point request → its response bytes (and the state change)."""
        if len(req) < 2:
            op = req[0] if req else 0
            return PM.encode_response(op, 0, PM.ST_INVALID_LENGTH)
        op, mtype = req[0], req[1]
        if op not in (PM.OP_GET_SETTINGS, PM.OP_START, PM.OP_STOP):
            return PM.encode_response(op, mtype, PM.ST_INVALID_OP_CODE)
        if mtype > 15:
            return PM.encode_response(op, mtype, PM.ST_INVALID_MEASUREMENT_TYPE)
        if mtype not in self.features or mtype not in self.offered:
            return PM.encode_response(op, mtype, PM.ST_NOT_SUPPORTED)
        offer = self.offered[mtype]
        if op == PM.OP_GET_SETTINGS:
            return PM.encode_response(op, mtype, PM.ST_SUCCESS, PM.encode_settings(offer))
        if op == PM.OP_STOP:
            if mtype not in self.streams:
                return PM.encode_response(op, mtype, PM.ST_ALREADY_IN_STATE)
            del self.streams[mtype]
            return PM.encode_response(op, mtype, PM.ST_SUCCESS)
        # start
        if mtype in self.streams:
            return PM.encode_response(op, mtype, PM.ST_ALREADY_IN_STATE)
        try:
            asked = PM.decode_settings(req[2:])
        except Exception:
            return PM.encode_response(op, mtype, PM.ST_INVALID_LENGTH)
        chosen: dict[int, int] = {}
        for st, code in ((PM.SAMPLE_RATE, PM.ST_INVALID_SAMPLE_RATE),
                         (PM.RESOLUTION, PM.ST_INVALID_RESOLUTION),
                         (PM.RANGE, PM.ST_INVALID_RANGE),
                         (PM.CHANNELS, PM.ST_INVALID_NUMBER_OF_CHANNELS)):
            vals = asked.get(st)
            if vals is None:
                if st in (PM.SAMPLE_RATE, PM.RESOLUTION):  # a start must name these
                    return PM.encode_response(op, mtype, PM.ST_INVALID_PARAMETER)
                vals = [max(offer[st])]
            if len(vals) != 1:
                return PM.encode_response(op, mtype, PM.ST_INVALID_PARAMETER)
            if vals[0] not in offer.get(st, []):
                return PM.encode_response(op, mtype, code)
            chosen[st] = int(vals[0])
        factor = 1.0 if mtype == PM.ACC else chosen[PM.RANGE] / 32768.0
        rate = chosen[PM.SAMPLE_RATE]
        stream = _Stream(chosen, factor, self.resampled(rate))
        stream.sent_to_s = self.now_s() if not self.paused else 0.0
        self.streams[mtype] = stream
        return PM.encode_response(op, mtype, PM.ST_SUCCESS,
                                  PM.encode_settings({PM.FACTOR: [factor]}))

    @property
    def samples_dropped_total(self) -> int:
        return sum(self.samples_dropped.values())

    @property
    def streaming(self) -> bool:
        return bool(self.streams)

    # -- data ------------------------------------------------------------------------------
    def quantise(self, mtype: int, acc: np.ndarray, gyr: np.ndarray, stream: _Stream):
        """Feed values → the integers a frame carries (ACC mG, GYRO deg/s / factor)."""
        if mtype == PM.ACC:
            lim = stream.settings[PM.RANGE] * 1000
            return np.clip(np.rint(acc / PM.G * 1000.0), -lim, lim).astype(np.int64)
        return np.clip(np.rint(np.degrees(gyr) / stream.factor), -32768, 32767).astype(np.int64)

    async def _stream_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.tick_interval_s)
            if self.paused or self._conn is None:
                continue
            now = self.now_s()
            for mtype in STREAMED:
                stream = self.streams.get(mtype)
                if stream is None:
                    continue
                t, acc, gyr, _ = stream.feed.window(stream.sent_to_s, now)
                stream.sent_to_s = now
                if len(t) == 0:
                    continue
                vals = self.quantise(mtype, acc, gyr, stream)
                ftype = PM.ACC_FRAME_TYPE if mtype == PM.ACC else PM.GYRO_FRAME_TYPE
                for i0, i1 in self._split(vals):
                    frame = PM.encode_delta_frame(mtype, self.timestamp_ns(t[i1 - 1]),
                                                  vals[i0:i1], ftype)
                    k = self.frames_sent[mtype] + self.frames_dropped[mtype]
                    if self.drop is not None and self.drop(mtype, k):
                        self.frames_dropped[mtype] += 1
                        self.samples_dropped[mtype] += i1 - i0
                        continue
                    await self._notify(frame)
                    self.frames_sent[mtype] += 1
                self.samples_sent += len(t)

    def _split(self, vals: np.ndarray):
        """Frame boundaries so that each frame fits one notification."""
        room = (self._conn.att_mtu if self._conn is not None else 23) - 3
        i0 = 0
        while i0 < len(vals):
            i1 = len(vals)
            while i1 - i0 > 1 and PM.delta_frame_size(vals[i0:i1]) > room:
                i1 = i0 + max(1, (i1 - i0) // 2)
            yield i0, i1
            i0 = i1


def _make(ctx):
    from imu.sources.ble.vendor_sim import kind_info

    # its oscillator 0.4 % fast: 52.2 Hz on its own clock, as real sensors are a little off
    return VirtualVeritySense(ctx.address, kind_info("polar-verity-sense").name(ctx.index),
                              ctx.feed, speed=ctx.speed, radio=ctx.radio, odr_error=0.004)


def _register() -> None:
    from imu.sources.ble.vendor_sim import register

    register("polar-verity-sense", _make, model=PM.MODEL, name=verity_name)


_register()
