"""Polar Measurement Data (PMD): the control-point exchange and the Verity Sense driver.

Written from Polar's public BLE SDK documentation and sources (polar-ble-sdk:
``PmdControlPointCommand``, ``PmdControlPointResponse``, ``PmdSetting``, ``AccData``,
``GyrData``). The PMD service ``fb005c80-…`` has two characteristics:

- **control point** ``fb005c81-…`` (read, write, indicate). Reading it gives the features:
  ``0x0F`` then a bit mask of measurement types (bit *n* = type *n*; 2 = ACC, 5 = GYRO).
  A request is ``op, measurement type[, settings]``; the answer comes as an indication
  ``0xF0, op, measurement type, status, more[, parameters]``.

  ===========  ===  ==========================================================
  op           hex  parameters of the answer
  ===========  ===  ==========================================================
  get settings 01   the offered settings
  start        02   request: the chosen settings; answer: the unit ``factor``
  stop         03   —
  ===========  ===  ==========================================================

  Settings are ``type, count, count × value``: sample rate (0, u16 Hz), resolution (1, u16
  bits), range (2, u16: g for ACC, deg/s for GYRO), range in milli-units (3, 2 × u16),
  channels (4, u8), factor (5, float32). Status codes: :data:`STATUS_NAMES`.
- **data** ``fb005c82-…`` (notify): ``u8 type, u64 timestamp (ns since 2000-01-01 on the
  sensor's clock, of the frame's last sample), u8 frame type`` then samples
  (:func:`~imu.sources.ble.vendors.decode_polar_pmd`; the Verity Sense sends compressed delta
  frames: ACC type 1 in mG, GYRO type 0 in ``factor`` deg/s).

:class:`PolarDriver` reads the features, gets the ACC and GYRO settings, chooses one sample rate
both offer, starts both streams, pairs the ACC and GYRO samples on the sensor's clock into
:class:`~imu.types.SampleBlock` (a sample one stream lost is a gap) and stops both at the end.
A refusal (an error status) is a one-line :class:`~imu.errors.SensorError` naming the sensor,
the stream and the setting.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass, field

import numpy as np

from imu.errors import SensorError
from imu.sources.ble.decoder import MalformedPacket, TrackerCounts
from imu.sources.ble.vendors import (POLAR_ACC, POLAR_GYRO, POLAR_PMD_CONTROL_UUID,
                                     POLAR_PMD_DATA_UUID, POLAR_PMD_SERVICE_UUID,
                                     decode_polar_pmd)
from imu.types import SampleBlock

log = logging.getLogger(__name__)

MODEL = "polar-verity-sense"

# -- measurement types, opcodes, status codes, settings -------------------------------------
ECG, PPG, ACC, PPI, GYRO, MAG = 0, 1, POLAR_ACC, 3, POLAR_GYRO, 6
TYPE_NAMES = {ECG: "ECG", PPG: "PPG", ACC: "ACC", PPI: "PPI", GYRO: "GYRO", MAG: "MAG"}

OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
OP_NAMES = {OP_GET_SETTINGS: "get settings", OP_START: "start", OP_STOP: "stop"}
RESPONSE = 0xF0
FEATURES = 0x0F

ST_SUCCESS = 0
ST_INVALID_OP_CODE = 1
ST_INVALID_MEASUREMENT_TYPE = 2
ST_NOT_SUPPORTED = 3
ST_INVALID_LENGTH = 4
ST_INVALID_PARAMETER = 5
ST_ALREADY_IN_STATE = 6
ST_INVALID_RESOLUTION = 7
ST_INVALID_SAMPLE_RATE = 8
ST_INVALID_RANGE = 9
ST_INVALID_MTU = 10
ST_INVALID_NUMBER_OF_CHANNELS = 11
ST_INVALID_STATE = 12
ST_DEVICE_IN_CHARGER = 13
STATUS_NAMES = {
    ST_SUCCESS: "success", ST_INVALID_OP_CODE: "invalid op code",
    ST_INVALID_MEASUREMENT_TYPE: "invalid measurement type", ST_NOT_SUPPORTED: "not supported",
    ST_INVALID_LENGTH: "invalid length", ST_INVALID_PARAMETER: "invalid parameter",
    ST_ALREADY_IN_STATE: "already in state", ST_INVALID_RESOLUTION: "invalid resolution",
    ST_INVALID_SAMPLE_RATE: "invalid sample rate", ST_INVALID_RANGE: "invalid range",
    ST_INVALID_MTU: "invalid MTU", ST_INVALID_NUMBER_OF_CHANNELS: "invalid number of channels",
    ST_INVALID_STATE: "invalid state", ST_DEVICE_IN_CHARGER: "device in charger",
}

SAMPLE_RATE, RESOLUTION, RANGE, RANGE_MILLIUNIT, CHANNELS, FACTOR = 0, 1, 2, 3, 4, 5
SETTING_NAMES = {SAMPLE_RATE: "sample rate", RESOLUTION: "resolution", RANGE: "range",
                 RANGE_MILLIUNIT: "range (milli-units)", CHANNELS: "channels", FACTOR: "factor"}
#: bytes per value of each setting type
FIELD_SIZE = {SAMPLE_RATE: 2, RESOLUTION: 2, RANGE: 2, RANGE_MILLIUNIT: 4, CHANNELS: 1,
              FACTOR: 4}
#: which setting a status code is about (for the user's message)
STATUS_SETTING = {ST_INVALID_SAMPLE_RATE: SAMPLE_RATE, ST_INVALID_RESOLUTION: RESOLUTION,
                  ST_INVALID_RANGE: RANGE, ST_INVALID_NUMBER_OF_CHANNELS: CHANNELS}
UNITS = {(ACC, RANGE): "g", (GYRO, RANGE): "deg/s", (ACC, SAMPLE_RATE): "Hz",
         (GYRO, SAMPLE_RATE): "Hz", (ACC, RESOLUTION): "bit", (GYRO, RESOLUTION): "bit"}

#: frame types the Verity Sense streams (bit 7: compressed delta frame)
ACC_FRAME_TYPE = 0x81   # compressed type 1: 16-bit, mG × factor
GYRO_FRAME_TYPE = 0x80  # compressed type 0: 16-bit, deg/s × factor

G = 9.80665


def type_name(mtype: int) -> str:
    return TYPE_NAMES.get(mtype, f"type {mtype}")


def encode_settings(settings: dict[int, list]) -> bytes:
    """``{setting type: [values]}`` → PMD settings bytes (FACTOR values are floats)."""
    out = bytearray()
    for st, values in settings.items():
        out += bytes((st, len(values)))
        for v in values:
            if st == FACTOR:
                out += struct.pack("<f", float(v))
            else:
                out += int(v).to_bytes(FIELD_SIZE[st], "little")
    return bytes(out)


def decode_settings(data: bytes) -> dict[int, list]:
    """PMD settings bytes → ``{setting type: [values]}``; MalformedPacket on a bad layout."""
    data = bytes(data)
    out: dict[int, list] = {}
    off = 0
    while off < len(data):
        if off + 2 > len(data):
            raise MalformedPacket("Polar PMD settings: truncated setting header")
        st, count = data[off], data[off + 1]
        off += 2
        size = FIELD_SIZE.get(st)
        if size is None:
            raise MalformedPacket(f"Polar PMD settings: unknown setting type {st}")
        if off + size * count > len(data):
            raise MalformedPacket(f"Polar PMD settings: {SETTING_NAMES[st]} values truncated")
        vals = []
        for _ in range(count):
            chunk = data[off:off + size]
            vals.append(struct.unpack("<f", chunk)[0] if st == FACTOR
                        else int.from_bytes(chunk, "little"))
            off += size
        out[st] = vals
    return out


def encode_request(op: int, mtype: int, settings: dict[int, list] | None = None) -> bytes:
    return bytes((op, mtype)) + (encode_settings(settings) if settings else b"")


def encode_response(op: int, mtype: int, status: int, params: bytes = b"",
                    more: bool = False) -> bytes:
    return bytes((RESPONSE, op, mtype, status, int(more))) + bytes(params)


@dataclass
class PmdResponse:
    """One control-point answer."""

    op: int
    mtype: int
    status: int
    more: bool = False
    params: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == ST_SUCCESS

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"error {self.status}")

    def settings(self) -> dict[int, list]:
        return decode_settings(self.params)


def decode_response(data: bytes) -> PmdResponse:
    data = bytes(data)
    if len(data) < 4 or data[0] != RESPONSE:
        raise MalformedPacket(f"Polar PMD control point: not a response ({data[:4].hex()})")
    more = bool(data[4]) if len(data) > 4 else False
    return PmdResponse(data[1], data[2], data[3], more, data[5:])


def encode_features(types) -> bytes:
    mask = 0
    for t in types:
        mask |= 1 << int(t)
    return bytes((FEATURES,)) + mask.to_bytes(2, "little")


def decode_features(data: bytes) -> set[int]:
    data = bytes(data)
    if len(data) < 2 or data[0] != FEATURES:
        raise MalformedPacket(f"Polar PMD features: {data[:3].hex()}")
    mask = int.from_bytes(data[1:], "little")
    return {i for i in range(8 * (len(data) - 1)) if mask >> i & 1}


def _pack_bits(values: np.ndarray, width: int) -> bytes:
    """Signed integers → ``width``-bit two's complement, packed LSB first."""
    v = np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
    bits = ((v[:, None] >> np.arange(width)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits, bitorder="little").tobytes()


def _bits_needed(deltas: np.ndarray) -> int:
    """Smallest two's complement width that holds every delta (at least 1)."""
    if deltas.size == 0:
        return 1
    hi = int(deltas.max())
    lo = int(deltas.min())
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def encode_delta_frame(mtype: int, ts_ns: int, samples: np.ndarray, frame_type: int,
                       resolution_bits: int = 16) -> bytes:
    """A compressed PMD data frame: one reference sample and one delta block.

    ``samples`` (N, channels) integers in the stream's units; ``ts_ns`` the time of the last.
    """
    s = np.asarray(samples, dtype=np.int64)
    if s.ndim != 2 or len(s) == 0:
        raise ValueError("a delta frame needs at least one sample")
    body = _pack_bits(s[0], resolution_bits)
    if len(s) > 1:
        d = np.diff(s, axis=0)
        for i in range(0, len(d), 255):
            part = d[i:i + 255]
            w = _bits_needed(part)
            body += bytes((w, len(part))) + _pack_bits(part.ravel(), w)
    return bytes((mtype,)) + struct.pack("<Q", int(ts_ns)) + bytes((frame_type,)) + body


def delta_frame_size(samples: np.ndarray, resolution_bits: int = 16) -> int:
    """Bytes of :func:`encode_delta_frame` for these samples (one delta block per 255)."""
    s = np.asarray(samples, dtype=np.int64)
    ch = s.shape[1]
    size = 10 + (resolution_bits * ch + 7) // 8
    d = np.diff(s, axis=0)
    for i in range(0, len(d), 255):
        part = d[i:i + 255]
        size += 2 + (_bits_needed(part) * part.size + 7) // 8
    return size


# -- the driver --------------------------------------------------------------------------------
@dataclass
class StreamSettings:
    """The settings one stream runs with."""

    rate_hz: int
    resolution_bits: int
    range_: int
    channels: int = 3
    factor: float = 1.0

    def request(self) -> dict[int, list]:
        return {SAMPLE_RATE: [self.rate_hz], RESOLUTION: [self.resolution_bits],
                RANGE: [self.range_], CHANNELS: [self.channels]}


#: how far a sensor's real sample rate may be from the nominal one (fraction) before frames
#: that arrive "late" count as lost samples
RATE_TOLERANCE = 0.05
#: samples of one stream kept while the other stream has not reached them (s); older ones go
MAX_UNPAIRED_S = 10.0


@dataclass
class _StreamClock:
    """One stream's sample counting on the sensor clock (see :meth:`PolarDriver._place`)."""

    period_s: float
    last_t: float | None = None
    next_k: int = 0
    span_s: float = 0.0
    n: int = 0


@dataclass
class _Pairing:
    """ACC and GYRO samples waiting for their partner, by sample index on the sensor clock."""

    acc: dict = field(default_factory=dict)
    gyr: dict = field(default_factory=dict)
    max_acc: int | None = None
    max_gyr: int | None = None


class PolarDriver:
    """Streams a Polar Verity Sense (PMD ACC + GYRO) as paired samples.

    Parameters
    ----------
    sensor_id : str
        Stable id (the BLE address).
    rate_hz : float or None
        Wanted sample rate; the nearest rate both ACC and GYRO offer is used (``None``: the
        highest common rate up to 52 Hz, the Verity Sense's own). ``exact=True`` asks for
        exactly ``rate_hz`` and lets the sensor refuse it.
    acc_range_g, gyr_range_dps : int or None
        Wanted ranges (``None``: the largest offered).
    label : str
        How messages name the sensor (e.g. ``"sensor left_thigh (A0:9E:...)"``).
    """

    model = MODEL
    notify_uuid = POLAR_PMD_DATA_UUID
    command_timeout_s = 3.0

    def __init__(self, sensor_id: str, rate_hz: float | None = None, *, exact: bool = False,
                 acc_range_g: int | None = None, gyr_range_dps: int | None = None,
                 label: str | None = None):
        self.sensor_id = sensor_id
        self.requested_rate_hz = rate_hz
        self.exact = exact
        self.acc_range_g = acc_range_g
        self.gyr_range_dps = gyr_range_dps
        self.label = label or f"sensor {sensor_id}"
        self.counts = TrackerCounts()
        self.features: set[int] = set()
        self.offered: dict[int, dict[int, list]] = {}
        self.settings: dict[int, StreamSettings] = {}
        self.running: set[int] = set()
        self.frames = {ACC: 0, GYRO: 0}
        self._waiting: dict[int, asyncio.Future] = {}
        self._pair = _Pairing()
        self._clocks: dict[int, _StreamClock] = {}
        self._t0: float | None = None
        self.next_seq: int | None = None
        self._chosen: tuple[StreamSettings, StreamSettings] | None = None

    # -- control point ---------------------------------------------------------------------
    def _on_control(self, _char, data: bytearray) -> None:
        try:
            resp = decode_response(data)
        except MalformedPacket:
            self.counts.malformed += 1
            return
        fut = self._waiting.get(resp.op)
        if fut is not None and not fut.done():
            fut.set_result(resp)

    async def request(self, client, op: int, mtype: int,
                      settings: dict[int, list] | None = None) -> PmdResponse:
        """Write one control-point request and wait for its indication (any status)."""
        fut = asyncio.get_running_loop().create_future()
        self._waiting[op] = fut
        try:
            await client.write_gatt_char(POLAR_PMD_CONTROL_UUID,
                                         encode_request(op, mtype, settings), response=True)
            resp = await asyncio.wait_for(fut, self.command_timeout_s)
        except asyncio.TimeoutError:
            raise SensorError(f"{self.label}: the Polar sensor did not answer "
                              f"{OP_NAMES.get(op, op)} {type_name(mtype)}") from None
        finally:
            self._waiting.pop(op, None)
        if resp.mtype != mtype:
            raise SensorError(f"{self.label}: the Polar sensor answered {OP_NAMES.get(op, op)} "
                              f"{type_name(mtype)} for {type_name(resp.mtype)}")
        return resp

    def refusal(self, op: int, mtype: int, resp: PmdResponse,
                asked: StreamSettings | None = None) -> SensorError:
        """The one-line error for a refused request, naming the stream and the setting."""
        what = f"{OP_NAMES.get(op, op)} {type_name(mtype)}"
        st = STATUS_SETTING.get(resp.status)
        detail = ""
        if st is not None and asked is not None:
            value = {SAMPLE_RATE: asked.rate_hz, RESOLUTION: asked.resolution_bits,
                     RANGE: asked.range_, CHANNELS: asked.channels}[st]
            unit = UNITS.get((mtype, st), "")
            offered = self.offered.get(mtype, {}).get(st)
            detail = f" ({SETTING_NAMES[st]} {value}{' ' + unit if unit else ''}"
            if offered:
                detail += f"; offered: {', '.join(str(v) for v in sorted(offered))}"
            detail += ")"
        return SensorError(f"{self.label}: the Polar sensor refused {what}: "
                           f"{resp.status_name}{detail}")

    async def get_settings(self, client, mtype: int) -> dict[int, list]:
        resp = await self.request(client, OP_GET_SETTINGS, mtype)
        if not resp.ok:
            raise self.refusal(OP_GET_SETTINGS, mtype, resp)
        try:
            offered = resp.settings()
        except MalformedPacket as exc:
            raise SensorError(f"{self.label}: {type_name(mtype)} settings: {exc}") from None
        self.offered[mtype] = offered
        return offered

    async def start_stream(self, client, mtype: int, s: StreamSettings) -> None:
        resp = await self.request(client, OP_START, mtype, s.request())
        if not resp.ok:
            raise self.refusal(OP_START, mtype, resp, s)
        try:
            got = resp.settings()
        except MalformedPacket:
            got = {}
        if got.get(FACTOR):
            s.factor = float(got[FACTOR][0])
        self.settings[mtype] = s
        self.running.add(mtype)

    async def stop_stream(self, client, mtype: int) -> PmdResponse:
        resp = await self.request(client, OP_STOP, mtype)
        self.running.discard(mtype)
        return resp

    # -- negotiation -----------------------------------------------------------------------
    def choose(self) -> tuple[StreamSettings, StreamSettings]:
        """ACC and GYRO settings from what the sensor offers (one rate for both)."""
        acc, gyr = self.offered[ACC], self.offered[GYRO]
        rates = sorted(set(acc.get(SAMPLE_RATE, [])) & set(gyr.get(SAMPLE_RATE, [])))
        want = self.requested_rate_hz
        if self.exact and want is not None:
            rate = int(round(want))
        elif not rates:
            raise SensorError(
                f"{self.label}: the Polar sensor offers no sample rate for both ACC "
                f"({', '.join(map(str, acc.get(SAMPLE_RATE, []))) or 'none'} Hz) and GYRO "
                f"({', '.join(map(str, gyr.get(SAMPLE_RATE, []))) or 'none'} Hz)")
        elif want is None:
            rate = max([r for r in rates if r <= 52] or rates[:1])
        else:
            rate = min(rates, key=lambda r: (abs(r - want), -r))
            if rate != int(round(want)):
                log.info("%s: %g Hz is not offered by the Polar sensor; using %d Hz",
                         self.label, want, rate)

        def pick(offer: dict, st: int, want_v) -> int:
            vals = sorted(offer.get(st, []))
            if want_v is not None:
                return int(want_v)
            if not vals:
                raise SensorError(f"{self.label}: the Polar sensor offers no "
                                  f"{SETTING_NAMES[st]}")
            return int(vals[-1])

        a = StreamSettings(rate, pick(acc, RESOLUTION, None), pick(acc, RANGE, self.acc_range_g),
                           3 if not acc.get(CHANNELS) else pick(acc, CHANNELS, None))
        g = StreamSettings(rate, pick(gyr, RESOLUTION, None), pick(gyr, RANGE, self.gyr_range_dps),
                           3 if not gyr.get(CHANNELS) else pick(gyr, CHANNELS, None))
        return a, g

    @property
    def rate_hz(self) -> float:
        s = self.settings.get(ACC) or (self._chosen[0] if self._chosen else None)
        if s is not None:
            return float(s.rate_hz)
        return float(self.requested_rate_hz or 0.0)

    async def configure(self, client, on_data) -> None:
        """Subscribe, read the features and both streams' settings, choose the settings."""
        await client.start_notify(POLAR_PMD_CONTROL_UUID, self._on_control)
        try:
            self.features = decode_features(await client.read_gatt_char(POLAR_PMD_CONTROL_UUID))
        except MalformedPacket as exc:
            raise SensorError(f"{self.label}: Polar PMD features unreadable: {exc}") from None
        missing = [type_name(t) for t in (ACC, GYRO) if t not in self.features]
        if missing:
            have = ", ".join(type_name(t) for t in sorted(self.features)) or "none"
            raise SensorError(f"{self.label}: the Polar sensor offers no {' and '.join(missing)} "
                              f"stream (it offers {have}); both ACC and GYRO are needed")
        for mtype in (ACC, GYRO):
            await self.get_settings(client, mtype)
        self._chosen = self.choose()
        await client.start_notify(POLAR_PMD_DATA_UUID, on_data)

    async def start(self, client) -> None:
        """Start ACC then GYRO; a refusal stops what started and raises SensorError."""
        self._pair = _Pairing()
        acc, gyr = self._chosen
        try:
            await self.start_stream(client, ACC, StreamSettings(**vars(acc)))
            await self.start_stream(client, GYRO, StreamSettings(**vars(gyr)))
        except SensorError:
            for m in list(self.running):
                try:
                    await self.stop_stream(client, m)
                except SensorError:
                    pass
            raise

    async def stop(self, client) -> None:
        for mtype in (ACC, GYRO):
            if mtype in self.running:
                await self.stop_stream(client, mtype)

    # -- data ------------------------------------------------------------------------------
    def feed(self, data: bytes, t_host_s: float) -> SampleBlock | None:
        """One data frame → the newly paired samples (or ``None``)."""
        data = bytes(data)
        mtype = data[0] if data else -1
        s = self.settings.get(mtype)
        if s is None:
            self.counts.malformed += 1
            return None
        try:
            _, vs = decode_polar_pmd(data, rate_hz=s.rate_hz, factor=s.factor,
                                     channels=s.channels)
        except MalformedPacket:
            self.counts.malformed += 1
            return None
        self.frames[mtype] = self.frames.get(mtype, 0) + 1
        placed = self._place(mtype, float(vs.t_sensor_s[-1]), len(vs.t_sensor_s), s.rate_hz)
        if placed is None:
            self.counts.duplicates += len(vs.t_sensor_s)
            return None
        k, t = placed
        p = self._pair
        if mtype == ACC:
            for i, q in enumerate(k):
                p.acc[int(q)] = (float(t[i]), vs.acc[i])
            p.max_acc = int(k[-1]) if p.max_acc is None else max(p.max_acc, int(k[-1]))
        else:
            for i, q in enumerate(k):
                p.gyr[int(q)] = vs.gyr[i]
            p.max_gyr = int(k[-1]) if p.max_gyr is None else max(p.max_gyr, int(k[-1]))
        for buf in (p.acc, p.gyr):  # the other stream silent: keep memory bounded
            if len(buf) > MAX_UNPAIRED_S * s.rate_hz:
                for q in sorted(buf)[:len(buf) - int(MAX_UNPAIRED_S * s.rate_hz)]:
                    del buf[q]
        return self._emit(t_host_s)

    def _place(self, mtype: int, t_last: float, n: int, rate_hz: float):
        """Sample indices and sensor times of a frame's ``n`` samples (last at ``t_last``).

        A stream's samples are counted, not placed by nominal period: the sensor's real
        sample rate differs from the nominal one by up to a few per cent, so over a session
        ``t / period`` would drift by many samples. Between two frames of one stream the
        samples are spread evenly (as the Polar SDK does); a frame that comes later than its
        samples can fill, by more than :data:`RATE_TOLERANCE` plus half a sample, follows
        lost samples: their number is the gap. The first frame of each stream is placed on
        the common index by time, so ACC sample *k* and GYRO sample *k* are the same instant.
        Returns ``None`` for a frame not newer than the stream's last one.
        """
        c = self._clocks.get(mtype)
        if c is None:
            c = self._clocks[mtype] = _StreamClock(1.0 / rate_hz)
        i = np.arange(n)
        if c.last_t is None:
            t = t_last - (n - 1 - i) * c.period_s
            if self._t0 is None:
                self._t0 = float(t[0])
            k0 = int(np.rint((t[0] - self._t0) / c.period_s))
        else:
            span = t_last - c.last_t
            if span <= 0:
                return None
            if span > n * c.period_s * (1 + RATE_TOLERANCE) + 0.5 * c.period_s:  # lost samples
                missing = max(1, int(np.rint(span / c.period_s)) - n)
                t = t_last - (n - 1 - i) * c.period_s
            else:
                missing = 0
                t = c.last_t + (i + 1) * (span / n)
                c.span_s += span
                c.n += n
                c.period_s = c.span_s / c.n  # the sensor's own sample period, measured
            k0 = c.next_k + missing
        c.last_t = t_last
        c.next_k = k0 + n
        return k0 + i, t

    def _emit(self, t_host_s: float) -> SampleBlock | None:
        p = self._pair
        if p.max_acc is None or p.max_gyr is None:
            return None
        ready = min(p.max_acc, p.max_gyr)  # both streams have reached this index
        done = sorted(q for q in set(p.acc) | set(p.gyr) if q <= ready)
        seq, ts, acc, gyr = [], [], [], []
        nxt = self.next_seq
        for q in done:
            a = p.acc.pop(q, None)
            g = p.gyr.pop(q, None)
            if a is None or g is None:
                continue  # a sample one stream lost: a gap (counted below)
            if nxt is not None and q < nxt:
                self.counts.duplicates += 1
                continue
            if nxt is not None and q > nxt:
                self.counts.dropped += q - nxt
            nxt = q + 1
            seq.append(q)
            ts.append(a[0])
            acc.append(a[1])
            gyr.append(g)
        self.next_seq = nxt
        if not seq:
            return None
        n = len(seq)
        self.counts.samples += n
        return SampleBlock(self.sensor_id, np.array(seq, dtype=np.int64), np.array(ts),
                           np.full(n, float(t_host_s)), np.array(acc), np.array(gyr))


def is_polar(services) -> bool:
    """Whether a connected device's GATT services include the PMD service."""
    return services.get_service(POLAR_PMD_SERVICE_UUID) is not None
