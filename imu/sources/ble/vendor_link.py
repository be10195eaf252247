"""Streaming drivers for third-party sensors, used by the reader when a sensor lacks our service.

A driver knows one vendor's GATT layout and start/stop writes, and turns notifications into
:class:`~imu.types.SampleBlock` with :class:`TimestampTracker`, which derives per-sample
sequence numbers from the sensor's own timestamps (vendors send none), so gaps and duplicates
are counted as for our protocol.

- Movella DOT: :class:`imu.sources.ble.dot.DotDriver` (payload modes, output rate, heading
  reset, time synchronisation of several DOTs); µs timestamps.
- WitMotion WT901BLE family: no timestamps, so samples carry the host receive time and a running
  counter; lost packets cannot be seen. The rate is set with the documented unlock/rate/save
  writes to ``0xFFE9``.

Polar Verity Sense: :class:`~imu.sources.ble.polar.PolarDriver` (PMD settings negotiation per
stream, ACC and GYRO frames paired on the sensor's clock).
"""

from __future__ import annotations

import numpy as np

from imu.sources.ble.decoder import MalformedPacket, TrackerCounts
from imu.sources.ble.vendors import (MOVELLA_SERVICE_UUID, WIT_NOTIFY_UUID, WIT_SERVICE_UUID,
                                     VendorSamples, decode_witmotion)
from imu.types import SampleBlock

WIT_WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"
WIT_UNLOCK = bytes((0xFF, 0xAA, 0x69, 0x88, 0xB5))
WIT_SAVE = bytes((0xFF, 0xAA, 0x00, 0x00, 0x00))
#: WitMotion RRATE register codes (Hz → code).
WIT_RATE_CODE = {10: 0x06, 20: 0x07, 50: 0x08, 100: 0x09, 200: 0x0B}


class TimestampTracker:
    """Sequence numbers and gap/duplicate bookkeeping from sensor timestamps.

    Parameters
    ----------
    sensor_id : str
    rate_hz : float or None
        Nominal rate; ``None`` measures it from the first samples' timestamps.
    wrap_s : float or None
        Period after which the sensor clock wraps (e.g. 2³² µs), unwrapped here.
    """

    def __init__(self, sensor_id: str, rate_hz: float | None = None, wrap_s: float | None = None):
        self.sensor_id = sensor_id
        self.period_s = 1.0 / rate_hz if rate_hz else None
        self.wrap_s = wrap_s
        self.counts = TrackerCounts()
        self._t0: float | None = None
        self._last_t: float | None = None
        self._offset = 0.0
        self.next_seq: int | None = None
        self._probe: list[float] = []
        self._held: list[tuple] = []
        self._seq_base = 0
        self._t_host_last: float | None = None

    def restart_clock(self, t_host_s: float) -> None:
        """The sensor restarted its clock (a reset): number the samples that follow on from
        the last ones, with the samples the host-time gap should have held counted as dropped."""
        if self.next_seq is not None and self.period_s:
            gap = 0.0 if self._t_host_last is None else max(0.0, t_host_s - self._t_host_last)
            missing = max(0, int(round(gap / self.period_s)) - 1)
            self._seq_base = self.next_seq + missing
            self.counts.dropped += missing
            self.next_seq = None
        self._t0 = None
        self._last_t = None
        self._offset = 0.0

    @property
    def rate_hz(self) -> float:
        return 1.0 / self.period_s if self.period_s else 0.0

    def _unwrap(self, t: np.ndarray) -> np.ndarray:
        out = np.empty_like(t)
        for i, x in enumerate(t):
            if self.wrap_s and self._last_t is not None and x + self._offset < self._last_t - self.wrap_s / 2:
                self._offset += self.wrap_s
            out[i] = x + self._offset
            self._last_t = out[i] if self._last_t is None else max(self._last_t, out[i])
        return out

    def feed(self, s: VendorSamples, t_host_s: float) -> SampleBlock | None:
        t = self._unwrap(np.asarray(s.t_sensor_s, dtype=np.float64))
        acc = s.acc if s.acc is not None else np.full((len(t), 3), np.nan)
        gyr = s.gyr if s.gyr is not None else np.full((len(t), 3), np.nan)
        quat = getattr(s, "quat", None)
        if self.period_s is None:  # measure the rate from the first few samples
            self._held.append((t, acc, gyr, t_host_s, quat))
            self._probe.extend(t.tolist())
            if len(self._probe) < 9:
                return None
            d = np.diff(np.array(self._probe))
            d = d[d > 0]
            if len(d) == 0:
                self._held, self._probe = [], []
                return None
            self.period_s = float(np.median(d))
            held, self._held = self._held, []
            blocks = [self._emit(*h) for h in held]
            blocks = [b for b in blocks if b is not None]
            if not blocks:
                return None
            quats = [b.quat for b in blocks]
            return SampleBlock(self.sensor_id, np.concatenate([b.seq for b in blocks]),
                               np.concatenate([b.t_sensor_s for b in blocks]),
                               np.concatenate([b.t_host_s for b in blocks]),
                               np.concatenate([b.acc for b in blocks]),
                               np.concatenate([b.gyr for b in blocks]),
                               None if quats[0] is None else np.concatenate(quats))
        return self._emit(t, acc, gyr, t_host_s, quat)

    def _emit(self, t, acc, gyr, t_host_s, quat=None) -> SampleBlock | None:
        self._t_host_last = float(t_host_s)
        if self._t0 is None:
            self._t0 = float(t[0])
        seq = self._seq_base + np.rint((t - self._t0) / self.period_s).astype(np.int64)
        keep = np.ones(len(seq), dtype=bool)
        nxt = self.next_seq
        for i, q in enumerate(seq):
            if nxt is not None and q < nxt:
                keep[i] = False
                self.counts.duplicates += 1
                continue
            if nxt is not None and q > nxt:
                self.counts.dropped += int(q - nxt)
            nxt = int(q) + 1
        self.next_seq = nxt
        if not keep.any():
            return None
        n = int(keep.sum())
        self.counts.samples += n
        return SampleBlock(self.sensor_id, seq[keep], t[keep], np.full(n, float(t_host_s)),
                           np.asarray(acc, float)[keep], np.asarray(gyr, float)[keep],
                           None if quat is None else np.asarray(quat, float)[keep])


class VendorDriver:
    """Base of the vendor drivers: ``configure`` (subscribe), ``start``, ``stop``, ``feed``."""

    model = "vendor"
    notify_uuid = ""

    def __init__(self, sensor_id: str, rate_hz: float):
        self.sensor_id = sensor_id
        self.requested_rate_hz = rate_hz
        self.tracker = TimestampTracker(sensor_id)

    @property
    def counts(self) -> TrackerCounts:
        return self.tracker.counts

    @property
    def rate_hz(self) -> float:
        return self.tracker.rate_hz or float(self.requested_rate_hz)

    async def configure(self, client, on_data) -> None:
        await client.start_notify(self.notify_uuid, on_data)

    async def start(self, client) -> None:
        """Start streaming."""

    async def stop(self, client) -> None:
        """Stop streaming."""

    def decode(self, data: bytes, t_host_s: float) -> VendorSamples:
        raise NotImplementedError

    def feed(self, data: bytes, t_host_s: float) -> SampleBlock | None:
        try:
            s = self.decode(bytes(data), t_host_s)
        except MalformedPacket:
            self.counts.malformed += 1
            return None
        return self.tracker.feed(s, t_host_s)


class WitMotionDriver(VendorDriver):
    model = "witmotion-wt901ble"
    notify_uuid = WIT_NOTIFY_UUID

    def __init__(self, sensor_id: str, rate_hz: float):
        code = min(WIT_RATE_CODE, key=lambda r: abs(r - rate_hz))
        super().__init__(sensor_id, code)
        self.tracker = TimestampTracker(sensor_id, rate_hz=code)
        self._n = 0

    async def start(self, client) -> None:
        for cmd in (WIT_UNLOCK, bytes((0xFF, 0xAA, 0x03, WIT_RATE_CODE[self.requested_rate_hz], 0)),
                    WIT_SAVE):
            await client.write_gatt_char(WIT_WRITE_UUID, cmd, response=False)

    def decode(self, data, t_host_s):
        s = decode_witmotion(data, t_host_s)
        # no sensor clock: number the samples and space them at the set rate
        n = len(s.t_sensor_s)
        s.t_sensor_s = (self._n + np.arange(n)) / float(self.requested_rate_hz)
        self._n += n
        return s


def driver_for(services, sensor_id: str, rate_hz: float,
               options: dict | None = None) -> VendorDriver | None:
    """The driver for a connected device's GATT services, or ``None`` if none fits.

    ``options`` are per-sensor settings of the vendor driver (Movella DOT: ``rate_hz``,
    ``payload``, ``heading_reset``; see :mod:`imu.sources.ble.dot`)."""
    from imu.sources.ble.polar import PolarDriver, is_polar

    if is_polar(services):
        return PolarDriver(sensor_id, rate_hz)
    if services.get_service(MOVELLA_SERVICE_UUID) is not None:
        from imu.sources.ble.dot import DotDriver, dot_options
        return DotDriver(sensor_id, **dot_options(options))
    if services.get_service(WIT_SERVICE_UUID) is not None:
        return WitMotionDriver(sensor_id, rate_hz)
    return None
