"""Decoders for third-party BLE IMUs (docs/sensors.md), from their documented packet layouts.

Each function turns one notification into numpy arrays in our units (s, m/s², rad/s) and raises
:class:`~imu.sources.ble.decoder.MalformedPacket` on bytes that do not fit the layout.

- **Movella DOT**, payload mode 21 "Rate quantities" (Movella DOT BLE Service Specification,
  XD0506P): measurement service ``15172000-4947-11e9-8646-d663bd873d93``, notifications on the
  medium-payload characteristic ``15172003-…``: ``u32 timestamp (µs)``, ``3×float32``
  acceleration (m/s²), ``3×float32`` angular velocity (deg/s); the 40-byte characteristic is
  zero padded. Started by writing ``01 01 15`` (type measurement, start, mode 21) to the
  control characteristic ``15172001-…``.
- **Polar Verity Sense**, PMD service ``fb005c80-02e7-f387-1cad-8acd2d8df0c8`` (Polar
  Measurement Data specification): data frames on ``fb005c82-…``: ``u8 measurement type``
  (2 = ACC, 5 = GYRO), ``u64 timestamp`` (ns, of the *last* sample), ``u8 frame type`` (bit 7 =
  compressed delta frame; raw ACC types 0/1/2 = 8/16/24-bit mG; compressed type 0 = 16-bit,
  ACC in G and GYRO in deg/s times ``factor``; compressed type 1 = ACC 16-bit mG times
  ``factor``, GYRO float32 deg/s), then samples. A delta frame holds one reference sample
  (``channels × resolution`` bits) followed by blocks of ``u8 bit width, u8 count, count ×
  channels deltas`` packed LSB first, two's complement (as polar-ble-sdk ``AccData`` /
  ``GyrData``). ``factor`` comes from the start response (:mod:`imu.sources.ble.polar`).
- **WitMotion BWT901BLECL / WT901BLE**, service ``0000ffe5-…``, notify characteristic
  ``0000ffe4-…``: 20-byte packets ``0x55 0x61`` then 9 int16: acceleration (×16 g/32768),
  angular rate (×2000 deg/s/32768), angles roll/pitch/yaw (×180°/32768).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from imu.sources.ble.decoder import MalformedPacket

G = 9.80665
DEG = np.pi / 180.0

MOVELLA_SERVICE_UUID = "15172000-4947-11e9-8646-d663bd873d93"
MOVELLA_CONTROL_UUID = "15172001-4947-11e9-8646-d663bd873d93"
MOVELLA_MEDIUM_PAYLOAD_UUID = "15172003-4947-11e9-8646-d663bd873d93"
MOVELLA_MODE_RATE_QUANTITIES = 21
MOVELLA_START_RATE_QUANTITIES = bytes((1, 1, MOVELLA_MODE_RATE_QUANTITIES))

POLAR_PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
POLAR_PMD_CONTROL_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
POLAR_PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
POLAR_ACC = 2
POLAR_GYRO = 5

WIT_SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
WIT_NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"


@dataclass
class VendorSamples:
    """Decoded samples of one notification.

    ``t_sensor_s`` (N,) sensor clock, s; ``acc`` (N, 3) m/s² or ``None``; ``gyr`` (N, 3) rad/s
    or ``None``; ``angles_deg`` (N, 3) when the sensor reports its own orientation; ``quat``
    (N, 4) ``w, x, y, z`` when it reports it as a quaternion (orientation-only streams).
    """

    t_sensor_s: np.ndarray
    acc: np.ndarray | None = None
    gyr: np.ndarray | None = None
    angles_deg: np.ndarray | None = None
    quat: np.ndarray | None = None


def decode_movella_rate_quantities(data: bytes | bytearray) -> VendorSamples:
    """One Movella DOT "Rate quantities" notification → one sample."""
    data = bytes(data)
    if len(data) < 28:
        raise MalformedPacket(f"Movella DOT rate quantities: {len(data)} bytes, need 28")
    ts_us = struct.unpack_from("<I", data, 0)[0]
    vals = struct.unpack_from("<6f", data, 4)
    if not all(np.isfinite(vals)):
        raise MalformedPacket("Movella DOT rate quantities: non-finite value")
    acc = np.array([vals[:3]], dtype=np.float64)
    gyr = np.array([vals[3:]], dtype=np.float64) * DEG
    return VendorSamples(np.array([ts_us * 1e-6]), acc=acc, gyr=gyr)


def _unpack_bits(payload: bytes, bit_width: int, count: int) -> np.ndarray:
    """``count`` signed integers of ``bit_width`` bits, packed LSB first."""
    need = (bit_width * count + 7) // 8
    if len(payload) < need:
        raise MalformedPacket("Polar PMD: delta block truncated")
    bits = np.unpackbits(np.frombuffer(payload[:need], dtype=np.uint8), bitorder="little")
    bits = bits[: bit_width * count].reshape(count, bit_width).astype(np.int64)
    vals = (bits << np.arange(bit_width)).sum(axis=1)
    sign = 1 << (bit_width - 1)
    return np.where(vals & sign, vals - (1 << bit_width), vals)


def decode_polar_pmd(data: bytes | bytearray, *, rate_hz: float, factor: float = 1.0,
                     channels: int = 3) -> tuple[int, VendorSamples]:
    """One Polar PMD data frame (ACC or GYRO) → ``(measurement type, samples)``.

    Parameters
    ----------
    rate_hz : float
        Stream sample rate (from the start settings); the timestamp is that of the last sample.
    factor : float
        Unit factor from the PMD settings (1.0 for ACC in mG on Verity Sense).
    """
    data = bytes(data)
    if len(data) < 10:
        raise MalformedPacket(f"Polar PMD frame of {len(data)} bytes")
    mtype = data[0]
    if mtype not in (POLAR_ACC, POLAR_GYRO):
        raise MalformedPacket(f"Polar PMD measurement type {mtype} is neither ACC nor GYRO")
    ts_ns = struct.unpack_from("<Q", data, 1)[0]
    ftype = data[9]
    body = data[10:]
    compressed = bool(ftype & 0x80)
    kind = ftype & 0x7F
    scale = 1.0  # raw value → mG (ACC) or deg/s (GYRO), before the factor
    as_float = False
    if not compressed:
        if mtype != POLAR_ACC or kind not in (0, 1, 2):
            raise MalformedPacket(f"Polar PMD raw {'ACC' if mtype == POLAR_ACC else 'GYRO'} "
                                  f"frame type {ftype:#x}")
        res_bits = (kind + 1) * 8  # raw ACC types 0/1/2: 8/16/24-bit mG
    elif kind == 0:  # compressed type 0: 16-bit; ACC in G × factor, GYRO in deg/s × factor
        res_bits = 16
        scale = 1000.0 if mtype == POLAR_ACC else 1.0
    elif kind == 1:  # compressed type 1: ACC 16-bit mG × factor; GYRO IEEE 754 float32
        res_bits = 16 if mtype == POLAR_ACC else 32
        as_float = mtype == POLAR_GYRO
    else:
        raise MalformedPacket(f"Polar PMD frame type {ftype:#x}")
    step = res_bits // 8
    if not compressed:
        size = step * channels
        if len(body) == 0 or len(body) % size:
            raise MalformedPacket("Polar PMD raw frame length is not a whole number of samples")
        raw = np.frombuffer(body, dtype=np.uint8).reshape(-1, channels, step).astype(np.int64)
        vals = (raw << (8 * np.arange(step))).sum(axis=2)
        sign = 1 << (res_bits - 1)
        samples = np.where(vals & sign, vals - (1 << res_bits), vals)
    else:
        ref_len = step * channels
        if len(body) < ref_len:
            raise MalformedPacket("Polar PMD delta frame without a reference sample")
        ref = _unpack_bits(body[:ref_len], res_bits, channels)
        rows = [ref]
        off = ref_len
        cur = ref.copy()
        while off < len(body):
            if off + 2 > len(body):
                raise MalformedPacket("Polar PMD delta block header truncated")
            width, count = body[off], body[off + 1]
            off += 2
            if width == 0 or width > 32 or count == 0:
                raise MalformedPacket(f"Polar PMD delta block width {width} count {count}")
            nbytes = (width * count * channels + 7) // 8
            deltas = _unpack_bits(body[off:off + nbytes], width, count * channels)
            off += nbytes
            for d in deltas.reshape(count, channels):
                cur = cur + d
                rows.append(cur)
        samples = np.array(rows)
    if as_float:
        samples = (samples & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
        if not np.all(np.isfinite(samples)):
            raise MalformedPacket("Polar PMD GYRO float frame: non-finite value")
    n = len(samples)
    t_last = ts_ns * 1e-9
    t = t_last - (n - 1 - np.arange(n)) / float(rate_hz)
    values = samples.astype(np.float64) * (factor * scale)
    if mtype == POLAR_ACC:
        return mtype, VendorSamples(t, acc=values * 1e-3 * G)
    return mtype, VendorSamples(t, gyr=values * DEG)


def decode_witmotion(data: bytes | bytearray, t_host_s: float = 0.0) -> VendorSamples:
    """WitMotion 0x55 0x61 packets (one or several back to back) → samples.

    The packets carry no timestamp; the host receive time ``t_host_s`` is used for all.
    """
    data = bytes(data)
    if len(data) < 20 or len(data) % 20:
        raise MalformedPacket(f"WitMotion: {len(data)} bytes is not a multiple of 20")
    acc, gyr, ang = [], [], []
    for off in range(0, len(data), 20):
        if data[off] != 0x55 or data[off + 1] != 0x61:
            raise MalformedPacket(f"WitMotion: header {data[off]:#04x} {data[off + 1]:#04x}, "
                                  "expected 0x55 0x61")
        v = np.array(struct.unpack_from("<9h", data, off + 2), dtype=np.float64) / 32768.0
        acc.append(v[0:3] * 16.0 * G)
        gyr.append(v[3:6] * 2000.0 * DEG)
        ang.append(v[6:9] * 180.0)
    n = len(acc)
    return VendorSamples(np.full(n, float(t_host_s)), acc=np.array(acc), gyr=np.array(gyr),
                         angles_deg=np.array(ang))


def encode_movella_rate_quantities(ts_us: int, acc, gyr_dps) -> bytes:
    """One 40-byte medium-payload notification (the inverse of the decoder; virtual sensors)."""
    return struct.pack("<I6f", int(ts_us) % 2**32, *[float(v) for v in acc],
                       *[float(v) for v in gyr_dps]) + bytes(12)


def encode_witmotion(acc_g, gyr_dps, angles_deg=(0.0, 0.0, 0.0)) -> bytes:
    """One 0x55 0x61 packet from values in g, deg/s and degrees (saturating to int16)."""
    raw = [v / 16.0 for v in acc_g] + [v / 2000.0 for v in gyr_dps] + [v / 180.0 for v in angles_deg]
    ints = [max(-32768, min(32767, int(round(x * 32768)))) for x in raw]
    return b"\x55\x61" + struct.pack("<9h", *ints)


#: How the scanner tells supported sensors apart: (model, service UUID, name prefixes).
VENDOR_SIGNATURES = (
    ("movella-dot", MOVELLA_SERVICE_UUID, ("Movella DOT", "Xsens DOT")),
    ("polar-verity-sense", POLAR_PMD_SERVICE_UUID, ("Polar Sense",)),
    ("witmotion-wt901ble", WIT_SERVICE_UUID, ("WT901", "BWT901", "WT9011")),
)
