"""Decoder for the imu sensor protocol v1 (``docs/protocol.md``) and per-sensor stream tracking.

:func:`decode_notification` turns one data notification into a :class:`Batch` or raises
:class:`MalformedPacket`. :class:`StreamTracker` unwraps the 32-bit sequence counter and sensor
clock, detects gaps, duplicates, replays, out-of-order and implausible packets, and yields
:class:`~imu.types.SampleBlock` in physical units. Neither ever raises on bad bytes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np

from imu.sources.ble import protocol as P
from imu.types import SampleBlock

_HEADER = struct.Struct("<BBHII")


class MalformedPacket(ValueError):
    """A notification that does not follow the protocol (wrong version, length, counts)."""


@dataclass
class Batch:
    """One decoded data notification (raw, before unwrapping).

    Attributes
    ----------
    seq : int
        u32 sequence number of the first sample.
    t0_ticks : int
        u32 sensor timestamp of the first sample, ticks.
    dt_q4 : int
        Sample interval in sixteenths of a tick.
    raw : ndarray, shape (n, 6), int16
        ``acc_x, acc_y, acc_z, gyr_x, gyr_y, gyr_z``.
    """

    seq: int
    t0_ticks: int
    dt_q4: int
    raw: np.ndarray

    def __len__(self) -> int:
        return int(self.raw.shape[0])


def decode_notification(data: bytes | bytearray | memoryview) -> Batch:
    """Decode one data notification of protocol v1.

    Raises
    ------
    MalformedPacket
        On a wrong version, a count of 0, a length that does not match the count or a zero
        sample interval.
    """
    data = bytes(data)
    if len(data) < P.HEADER_SIZE + P.SAMPLE_SIZE:
        raise MalformedPacket(f"notification of {len(data)} bytes is shorter than one sample")
    version, count, dt_q4, seq, t0 = _HEADER.unpack_from(data, 0)
    if version != P.PROTOCOL_VERSION:
        raise MalformedPacket(f"protocol version {version}, expected {P.PROTOCOL_VERSION}")
    if count == 0:
        raise MalformedPacket("sample count 0")
    if len(data) != P.HEADER_SIZE + P.SAMPLE_SIZE * count:
        raise MalformedPacket(f"{len(data)} bytes for {count} samples "
                              f"(expected {P.HEADER_SIZE + P.SAMPLE_SIZE * count})")
    if dt_q4 == 0:
        raise MalformedPacket("sample interval 0")
    raw = np.frombuffer(data, dtype="<i2", offset=P.HEADER_SIZE).reshape(count, 6)
    return Batch(int(seq), int(t0), int(dt_q4), raw.astype(np.int16))


@dataclass
class SensorInfoV1:
    """Decoded info characteristic (see ``docs/protocol.md``)."""

    version: int
    sensor_id: str
    model: str
    firmware: str
    rate_hz: int
    rates_hz: list[int]
    acc_range_g: int
    gyr_range_dps: int
    acc_scale: float
    gyr_scale: float
    tick_s: float
    batch: int
    raw: dict = field(default_factory=dict)


def decode_info(data: bytes | bytearray) -> SensorInfoV1:
    """Decode the info characteristic (UTF-8 JSON). Raises :class:`MalformedPacket`."""
    if len(data) > 4096:
        raise MalformedPacket(f"info characteristic of {len(data)} bytes (at most 4096)")
    try:
        d = json.loads(bytes(data).decode("utf-8"))
        info = SensorInfoV1(
            version=int(d["v"]), sensor_id=str(d["id"]), model=str(d["model"]),
            firmware=str(d["fw"]), rate_hz=int(d["rate_hz"]),
            rates_hz=[int(r) for r in d["rates_hz"]], acc_range_g=int(d["acc_range_g"]),
            gyr_range_dps=int(d["gyr_range_dps"]), acc_scale=float(d["acc_scale"]),
            gyr_scale=float(d["gyr_scale"]), tick_s=float(d["tick_s"]), batch=int(d["batch"]),
            raw=d)
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
        raise MalformedPacket(f"info characteristic unreadable: {exc}") from None
    check_info(info)
    return info


def _check(ok: bool, what: str, value) -> None:
    if not ok:
        raise MalformedPacket(f"impossible {what} {value!r} in the sensor's info")


def check_info(info: SensorInfoV1) -> None:
    """Refuse (:class:`MalformedPacket`) info values no sensor can have: the reader divides by
    the rate and the clock tick, and scales every sample by the LSB sizes."""
    import math
    import re

    _check(bool(re.fullmatch(r"[\x20-\x7e]{1,64}", info.sensor_id)), "sensor id", info.sensor_id)
    for what, v in (("model", info.model), ("firmware", info.firmware)):
        _check(len(v) <= 64 and bool(re.fullmatch(r"[\x20-\x7e]*", v)), what, v)
    _check(1 <= info.rate_hz <= 4000, "rate (Hz)", info.rate_hz)
    _check(0 < len(info.rates_hz) <= 32 and all(1 <= r <= 4000 for r in info.rates_hz),
           "rates (Hz)", info.rates_hz)
    _check(1 <= info.acc_range_g <= 64, "accelerometer range (g)", info.acc_range_g)
    _check(1 <= info.gyr_range_dps <= 10000, "gyroscope range (deg/s)", info.gyr_range_dps)
    # one LSB: below the range, above 0 (int16 counts: range / 32768 for a full-scale count)
    _check(math.isfinite(info.acc_scale) and 0 < info.acc_scale <= 1.0, "accelerometer scale",
           info.acc_scale)
    _check(math.isfinite(info.gyr_scale) and 0 < info.gyr_scale <= 1.0, "gyroscope scale",
           info.gyr_scale)
    _check(math.isfinite(info.tick_s) and 1e-9 <= info.tick_s <= 1.0 / info.rate_hz,
           "clock tick (s)", info.tick_s)
    _check(1 <= info.batch <= 1000, "batch size", info.batch)


@dataclass
class ControlResponse:
    opcode: int
    token: int
    status: int
    payload: bytes

    @property
    def ok(self) -> bool:
        return self.status == P.ST_OK

    @property
    def status_name(self) -> str:
        return P.STATUS_NAMES.get(self.status, f"status {self.status}")


def decode_control_response(data: bytes | bytearray) -> ControlResponse:
    data = bytes(data)
    if len(data) < 3 or not data[0] & P.RESPONSE_FLAG:
        raise MalformedPacket("control response shorter than 3 bytes or without response flag")
    return ControlResponse(data[0] & 0x7F, data[1], data[2], data[3:])


@dataclass
class TrackerCounts:
    samples: int = 0
    dropped: int = 0
    duplicates: int = 0
    malformed: int = 0
    out_of_order: int = 0


class StreamTracker:
    """Unwraps, checks and converts the notifications of one sensor.

    Parameters
    ----------
    sensor_id : str
    acc_scale, gyr_scale : float
        m/s² and rad/s per LSB (from the info characteristic).
    rate_hz : float
        Nominal rate; bounds what counts as a plausible jump.
    tick_s : float
        Sensor clock resolution, s.

    Notes
    -----
    Sequence numbers are per sample. A notification whose first sequence number equals the
    next expected one is appended; one further ahead opens a gap (``dropped`` += missing
    samples, recorded in :attr:`gaps`); one that lies wholly before the next expected number is
    a replay/duplicate or a late (out-of-order) packet and is discarded, so the stream stays
    monotonic. A jump that disagrees with the sensor clock (sequence advance vs timestamp
    advance) or that is further ahead than the elapsed host time allows is malformed.
    """

    def __init__(self, sensor_id: str, acc_scale: float, gyr_scale: float, rate_hz: float,
                 tick_s: float = P.TICK_S):
        self.sensor_id = sensor_id
        self.acc_scale = float(acc_scale)
        self.gyr_scale = float(gyr_scale)
        self.rate_hz = float(rate_hz)
        self.tick_s = float(tick_s)
        for name, v in (("rate_hz", self.rate_hz), ("tick_s", self.tick_s),
                        ("acc_scale", self.acc_scale), ("gyr_scale", self.gyr_scale)):
            if not (v > 0 and v < float("inf")):
                raise ValueError(f"StreamTracker: {name} must be a positive number, not {v!r}")
        self.counts = TrackerCounts()
        self.next_seq: int | None = None  # unwrapped
        self.last_ticks: int | None = None  # unwrapped ticks of the last accepted sample
        self.last_host_s: float | None = None
        self.gaps: list[tuple[int, int]] = []  # (first missing seq, count)
        self._received: set[int] = set()  # first seqs of recent batches, to tell replays
        self._pending: list = []  # implausible packets held for a possible resync
        self.resyncs = 0

    def _unwrap(self, raw: int, ref: int, wrap: int) -> int:
        d = (raw - ref) % wrap
        if d >= wrap // 2:
            d -= wrap
        return ref + d

    def feed(self, data: bytes | bytearray, t_host_s: float) -> SampleBlock | None:
        """Process one notification received at host time ``t_host_s``; ``None`` if rejected."""
        try:
            b = decode_notification(data)
        except MalformedPacket:
            self.counts.malformed += 1
            return None
        return self.feed_batch(b, t_host_s)

    #: Contiguous, self-consistent packets needed to accept a jump the checks rejected.
    RESYNC_PACKETS = 3

    def feed_batch(self, b: Batch, t_host_s: float) -> SampleBlock | None:
        n = len(b)
        period_ticks = 1.0 / (self.rate_hz * self.tick_s)
        dt_ticks = b.dt_q4 / 16.0
        if not (0.5 * period_ticks <= dt_ticks <= 2.0 * period_ticks):
            self.counts.malformed += 1
            return None
        if self.next_seq is None:
            return self._accept(b, b.seq, b.t0_ticks, t_host_s)
        seq0 = self._unwrap(b.seq, self.next_seq, P.SEQ_WRAP)
        t0 = self._unwrap(b.t0_ticks, self.last_ticks, P.TICK_WRAP)
        ahead = seq0 - self.next_seq
        if ahead < 0:
            if seq0 + n <= self.next_seq:
                if seq0 in self._received:
                    self.counts.duplicates += n
                else:
                    self.counts.out_of_order += n
                return None
            self.counts.malformed += 1  # overlaps the stream: neither new nor a replay
            return None
        plausible = True
        # The sensor clock must advance with the sequence number (within 25 %).
        expect_ticks = (ahead + 1) * period_ticks
        got_ticks = t0 - self.last_ticks
        if not (0.75 * expect_ticks - 2 <= got_ticks <= 1.25 * expect_ticks + 2):
            plausible = False
        # A jump further ahead than the host time that passed (plus slack) is suspicious.
        if plausible and self.last_host_s is not None and ahead > 0:
            allowed = (max(t_host_s - self.last_host_s, 0.0) + 2.0) * self.rate_hz * 1.5 + n
            if ahead > allowed:
                plausible = False
        if plausible:
            self._pending = []
            return self._accept(b, seq0, t0, t_host_s)
        # Implausible: garbage, or the stream really jumped (sensor reset, clock skew). Hold
        # it; if the next packets continue it seamlessly, the jump was real: accept them all.
        self.counts.malformed += 1
        if self._pending:
            pb, ps, pt, _ = self._pending[-1]
            nxt = ps + len(pb)
            if seq0 == nxt and abs((t0 - pt) - len(pb) * period_ticks) <= 0.25 * len(pb) * period_ticks + 2:
                self._pending.append((b, seq0, t0, t_host_s))
            else:
                self._pending = [(b, seq0, t0, t_host_s)]
        else:
            self._pending = [(b, seq0, t0, t_host_s)]
        if len(self._pending) < self.RESYNC_PACKETS:
            return None
        held, self._pending = self._pending, []
        self.counts.malformed -= len(held)
        self.resyncs += 1
        blocks = [self._accept(hb, hs, ht, hh) for hb, hs, ht, hh in held]
        return SampleBlock(
            sensor_id=self.sensor_id,
            seq=np.concatenate([x.seq for x in blocks]),
            t_sensor_s=np.concatenate([x.t_sensor_s for x in blocks]),
            t_host_s=np.concatenate([x.t_host_s for x in blocks]),
            acc=np.concatenate([x.acc for x in blocks]),
            gyr=np.concatenate([x.gyr for x in blocks]))

    def _accept(self, b: Batch, seq0: int, t0: int, t_host_s: float) -> SampleBlock:
        n = len(b)
        if self.next_seq is not None:
            ahead = seq0 - self.next_seq
            if ahead > 0:
                self.counts.dropped += ahead
                self.gaps.append((self.next_seq, ahead))
            elif ahead < 0:  # a resync backwards (sensor restarted its counter)
                self.gaps.append((seq0, ahead))
        self._received.add(seq0)
        if len(self._received) > 4096:  # keep the last ~1000 batches (amortised pruning)
            self._received = set(sorted(self._received)[-1024:])
        self.next_seq = seq0 + n
        ticks = t0 + (np.arange(n) * b.dt_q4) / 16.0
        self.last_ticks = int(round(ticks[-1]))
        self.last_host_s = t_host_s
        self.counts.samples += n
        raw = b.raw.astype(np.float64)
        return SampleBlock(
            sensor_id=self.sensor_id,
            seq=np.arange(seq0, seq0 + n, dtype=np.int64),
            t_sensor_s=ticks * self.tick_s,
            t_host_s=np.full(n, float(t_host_s)),
            acc=raw[:, :3] * self.acc_scale,
            gyr=raw[:, 3:] * self.gyr_scale,
        )
