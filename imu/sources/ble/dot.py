"""Movella DOT over BLE: the GATT layout, the payload modes and the reader's driver.

Written from the Movella DOT BLE Services Specification (XD0506P; the Xsens DOT and Movella
DOT revisions share it) and checked against Xsens' own example server (``xsens_dot_server``):
every UUID is ``1517xxxx-4947-11e9-8646-d663bd873d93``.

Configuration service ``0x1000``
    ``0x1001`` Device Info (read, 34 bytes): address (6, LSB first), firmware major/minor/
    revision, build year (u16) month day hour minute second, SoftDevice version (u32), serial
    number (u64), short product code (6 ASCII, ``XS-T01``).
    ``0x1002`` Device Control (read/write, 32 bytes): visit index (which fields a write
    changes: 0x01 identify, 0x08 tag, 0x10 output rate, 0x20 filter profile), identifying,
    power options, four power-saving timeouts, tag length, tag (16), output rate (u16, Hz: 1,
    4, 10, 12, 15, 20, 30, 60 or 120; 60 by default), filter profile index, 5 reserved.
Measurement service ``0x2000``
    ``0x2001`` Control (read/write, 3 bytes): type 1 (measurement), action (1 start, 0 stop),
    payload mode. Notifications on ``0x2003`` (medium payload, 40 bytes, zero padded) or
    ``0x2004`` (short payload, 20 bytes) according to the mode; every payload starts with a
    u32 timestamp in µs of the sensor clock. Modes handled here (float32 little endian):

    ==  =========================  =====================================================
    21  Rate quantities            acc (3, m/s², sensor frame), gyr (3, deg/s)
    3   Complete (Quaternion)      q w,x,y,z; free acceleration (3, m/s², earth frame)
    2   Extended (Quaternion)      q; free acceleration; status (u16); clip counts acc, gyr
    5   Orientation (Quaternion)   q (short payload)
    ==  =========================  =====================================================

    ``0x2006`` Orientation Reset Control (u16: 1 heading reset, 7 revert to the default
    heading; only while measuring), ``0x2007`` Orientation Reset Status (u8, 1 = done).
Battery service ``0x3000``
    ``0x3001`` level (%), charging (0/1), read and notify.
Message service ``0x7000``
    ``0x7001`` Message Control (write), ``0x7002`` Message Acknowledge (read), ``0x7003``
    notifications. A message is ``MID, LEN, ReID, payload…, checksum`` with the checksum
    making the byte sum 0 modulo 256. Time synchronisation (MID 0x02): *start syncing*
    (ReID 0x01) carries the root sensor's address LSB first and goes to every sensor of the
    group; each then reports its *syncing result* (ReID 0x03) in the acknowledge
    characteristic: ``02 02 03 status cs``, status 0 = synchronised. After a successful sync
    the sensors' timestamps are on the root's clock.

The quaternion is ``q_ES`` (sensor → the DOT's local earth frame, z up) whose heading is the
DOT's own: a heading reset sets it so that the sensor's x axis points along the earth x axis
at that moment. Orientation-mode streams are recorded as orientation-only sensors
(``SampleBlock.quat``; acc/gyr derived from it and named in ``info.extra["derived"]``).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from dataclasses import dataclass

import numpy as np

from imu import quat as Q
from imu.errors import SensorError
from imu.session.vendor import GRAVITY_M_S2, specific_force
from imu.sources.ble.decoder import MalformedPacket
from imu.sources.ble.vendor_link import TimestampTracker, VendorDriver
from imu.sources.ble.vendors import VendorSamples
from imu.types import Event, SampleBlock

log = logging.getLogger(__name__)


def dot_uuid(short: int) -> str:
    """The 128-bit UUID of a DOT service or characteristic (``0x2001`` → ``15172001-…``)."""
    return f"1517{short:04x}-4947-11e9-8646-d663bd873d93"


CONFIG_SERVICE_UUID = dot_uuid(0x1000)
DEVICE_INFO_UUID = dot_uuid(0x1001)
DEVICE_CONTROL_UUID = dot_uuid(0x1002)
DEVICE_REPORT_UUID = dot_uuid(0x1004)
MEASUREMENT_SERVICE_UUID = dot_uuid(0x2000)
CONTROL_UUID = dot_uuid(0x2001)
LONG_PAYLOAD_UUID = dot_uuid(0x2002)
MEDIUM_PAYLOAD_UUID = dot_uuid(0x2003)
SHORT_PAYLOAD_UUID = dot_uuid(0x2004)
RESET_CONTROL_UUID = dot_uuid(0x2006)
RESET_STATUS_UUID = dot_uuid(0x2007)
BATTERY_SERVICE_UUID = dot_uuid(0x3000)
BATTERY_UUID = dot_uuid(0x3001)
MESSAGE_SERVICE_UUID = dot_uuid(0x7000)
MESSAGE_CONTROL_UUID = dot_uuid(0x7001)
MESSAGE_ACK_UUID = dot_uuid(0x7002)
MESSAGE_NOTIFY_UUID = dot_uuid(0x7003)

#: Output rates a DOT accepts (Hz); 60 is the default.
OUTPUT_RATES_HZ = (1, 4, 10, 12, 15, 20, 30, 60, 120)
DEFAULT_RATE_HZ = 60
#: Device Control visit-index bits
VISIT_IDENTIFY, VISIT_TAG, VISIT_OUTPUT_RATE, VISIT_FILTER = 0x01, 0x08, 0x10, 0x20
DEVICE_CONTROL_SIZE = 32
DEVICE_INFO_SIZE = 34
MEDIUM_SIZE, SHORT_SIZE = 40, 20
#: Orientation Reset Control types and the status that reports a done reset
RESET_HEADING, REVERT_HEADING = 1, 7
RESET_DONE = 1
#: Message service: MID of synchronisation, its ReIDs, the result that means synchronised
MID_SYNC = 0x02
SYNC_START, SYNC_RESULT = 0x01, 0x03
SYNC_OK = 0x00
#: a sync takes the sensors 10-14 s (DOT user manual); the reader waits this long at most
SYNC_TIMEOUT_S = 30.0
WRAP_S = 2.0 ** 32 * 1e-6


@dataclass(frozen=True)
class PayloadMode:
    """One measurement payload mode: its code, name, notify characteristic and content."""

    code: int
    name: str
    key: str
    uuid: str
    size: int  # bytes used of the characteristic
    orientation: bool
    free_acc: bool = False
    extended: bool = False


PAYLOAD_MODES = {m.code: m for m in (
    PayloadMode(21, "Rate quantities", "rate", MEDIUM_PAYLOAD_UUID, 28, False),
    PayloadMode(3, "Complete (Quaternion)", "complete-quaternion", MEDIUM_PAYLOAD_UUID, 32, True,
                free_acc=True),
    PayloadMode(2, "Extended (Quaternion)", "extended-quaternion", MEDIUM_PAYLOAD_UUID, 36, True,
                free_acc=True, extended=True),
    PayloadMode(5, "Orientation (Quaternion)", "orientation-quaternion", SHORT_PAYLOAD_UUID, 20,
                True),
)}
PAYLOAD_BY_KEY = {m.key: m for m in PAYLOAD_MODES.values()}


def payload_mode(mode: int | str) -> PayloadMode:
    """A :class:`PayloadMode` from its code (21) or key (``"extended-quaternion"``)."""
    m = PAYLOAD_BY_KEY.get(mode) if isinstance(mode, str) else PAYLOAD_MODES.get(int(mode))
    if m is None:
        raise ValueError(f"Movella DOT payload mode {mode!r} is not supported (give one of "
                         f"{', '.join(PAYLOAD_BY_KEY)} or {sorted(PAYLOAD_MODES)})")
    return m


# ------------------------------------------------------------------------------- payloads
@dataclass
class DotSample:
    """One decoded measurement notification (fields absent from the mode are None)."""

    ts_us: int
    acc: np.ndarray | None = None        # (3,) m/s², sensor frame
    gyr_dps: np.ndarray | None = None    # (3,) deg/s
    quat: np.ndarray | None = None       # (4,) w, x, y, z
    free_acc: np.ndarray | None = None   # (3,) m/s², earth frame, gravity removed
    status: int = 0
    clip_acc: int = 0
    clip_gyr: int = 0


def encode_payload(mode: PayloadMode, ts_us: int, *, acc=None, gyr_dps=None, quat=None,
                   free_acc=None, status: int = 0, clip_acc: int = 0, clip_gyr: int = 0) -> bytes:
    """One notification of ``mode`` (padded to its characteristic's length)."""
    ts = int(ts_us) % 2 ** 32
    if mode.code == 21:
        body = struct.pack("<I6f", ts, *map(float, acc), *map(float, gyr_dps))
    elif mode.code == 5:
        body = struct.pack("<I4f", ts, *map(float, quat))
    else:
        body = struct.pack("<I7f", ts, *map(float, quat), *map(float, free_acc))
        if mode.extended:
            body += struct.pack("<HBB", int(status) & 0xFFFF, min(int(clip_acc), 255),
                                min(int(clip_gyr), 255))
    full = SHORT_SIZE if mode.uuid == SHORT_PAYLOAD_UUID else MEDIUM_SIZE
    return body + bytes(full - len(body))


def decode_payload(mode: PayloadMode, data: bytes | bytearray) -> DotSample:
    """One notification of ``mode`` → :class:`DotSample`; MalformedPacket if it does not fit."""
    data = bytes(data)
    if len(data) < mode.size:
        raise MalformedPacket(f"Movella DOT {mode.name}: {len(data)} bytes, need {mode.size}")
    ts = struct.unpack_from("<I", data, 0)[0]
    if mode.code == 21:
        v = np.array(struct.unpack_from("<6f", data, 4), dtype=np.float64)
        out = DotSample(ts, acc=v[:3], gyr_dps=v[3:])
    else:
        nq = 7 if mode.free_acc else 4
        v = np.array(struct.unpack_from(f"<{nq}f", data, 4), dtype=np.float64)
        out = DotSample(ts, quat=v[:4], free_acc=v[4:7] if mode.free_acc else None)
        if not np.isfinite(v).all():
            raise MalformedPacket(f"Movella DOT {mode.name}: non-finite value")
        n = float(np.linalg.norm(v[:4]))
        if not abs(n - 1.0) < 1e-3:
            raise MalformedPacket(f"Movella DOT {mode.name}: quaternion of norm {n:.4f}")
        out.quat = v[:4] / n
        if mode.extended:
            out.status, out.clip_acc, out.clip_gyr = struct.unpack_from("<HBB", data, 32)
        return out
    if not np.isfinite(v).all():
        raise MalformedPacket(f"Movella DOT {mode.name}: non-finite value")
    return out


# ------------------------------------------------------------------ configuration records
@dataclass
class DeviceControl:
    """The Device Control characteristic (32 bytes)."""

    visit_index: int = 0
    identifying: int = 0
    power_options: int = 0
    timeouts: bytes = bytes(4)
    tag: str = "Movella DOT"
    output_rate_hz: int = DEFAULT_RATE_HZ
    filter_profile: int = 0

    def to_bytes(self) -> bytes:
        tag = self.tag.encode("utf-8")[:16]
        return (bytes((self.visit_index & 0xFF, self.identifying & 0xFF,
                       self.power_options & 0xFF)) + bytes(self.timeouts[:4]).ljust(4, b"\0")
                + bytes((len(tag),)) + tag.ljust(16, b"\0")
                + struct.pack("<HB", int(self.output_rate_hz), int(self.filter_profile))
                + bytes(5))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray) -> "DeviceControl":
        data = bytes(data)
        if len(data) < DEVICE_CONTROL_SIZE:
            raise MalformedPacket(f"Movella DOT device control: {len(data)} bytes, need "
                                  f"{DEVICE_CONTROL_SIZE}")
        n = min(data[7], 16)
        rate, filt = struct.unpack_from("<HB", data, 24)
        return cls(data[0], data[1], data[2], data[3:7],
                   data[8:8 + n].decode("utf-8", "replace"), rate, filt)


@dataclass
class DeviceInfo:
    """The Device Info characteristic (34 bytes)."""

    address: str
    firmware: str
    build: str
    softdevice: int
    serial: int
    product: str

    def to_bytes(self) -> bytes:
        addr = bytes(int(x, 16) for x in self.address.split(":"))[::-1]
        major, minor, rev = (int(x) for x in self.firmware.split("."))
        y, mo, d, h, mi, s = (int(x) for x in self.build.replace("T", "-").replace(":", "-")
                              .split("-"))
        return (addr + bytes((major, minor, rev)) + struct.pack("<H", y)
                + bytes((mo, d, h, mi, s)) + struct.pack("<IQ", self.softdevice, self.serial)
                + self.product.encode("ascii")[:6].ljust(6, b"\0"))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray) -> "DeviceInfo":
        data = bytes(data)
        if len(data) < DEVICE_INFO_SIZE:
            raise MalformedPacket(f"Movella DOT device info: {len(data)} bytes, need "
                                  f"{DEVICE_INFO_SIZE}")
        addr = ":".join(f"{b:02X}" for b in data[5::-1])
        fw = f"{data[6]}.{data[7]}.{data[8]}"
        (y,) = struct.unpack_from("<H", data, 9)
        build = (f"{y:04d}-{data[11]:02d}-{data[12]:02d}T{data[13]:02d}:{data[14]:02d}:"
                 f"{data[15]:02d}")
        sd, serial = struct.unpack_from("<IQ", data, 16)
        product = data[28:34].rstrip(b"\0").decode("ascii", "replace")
        return cls(addr, fw, build, sd, serial, product)


# ---------------------------------------------------------------------------- messages
def checksum(body: bytes) -> int:
    """The byte that makes the sum of a message 0 modulo 256."""
    return (-sum(body)) & 0xFF


def message(mid: int, reid: int, payload: bytes = b"") -> bytes:
    """``MID, LEN, ReID, payload, checksum`` (LEN counts ReID and payload)."""
    body = bytes((mid, 1 + len(payload), reid)) + bytes(payload)
    return body + bytes((checksum(body),))


def parse_message(data: bytes | bytearray) -> tuple[int, int, bytes]:
    """``(MID, ReID, payload)`` of a message; MalformedPacket on a bad length or checksum."""
    data = bytes(data)
    if len(data) < 4 or data[1] < 1 or len(data) < data[1] + 3:
        raise MalformedPacket(f"Movella DOT message of {len(data)} bytes")
    n = data[1]
    if sum(data[:n + 3]) & 0xFF:
        raise MalformedPacket("Movella DOT message: bad checksum")
    return data[0], data[2], data[3:2 + n]


def start_sync_message(root_address: str) -> bytes:
    """*Start syncing* with ``root_address`` (``AA:BB:…``) as the root, sent to every DOT."""
    addr = bytes(int(x, 16) for x in root_address.split(":"))
    if len(addr) != 6:
        raise ValueError(f"{root_address!r} is not a BLE address")
    return message(MID_SYNC, SYNC_START, addr[::-1])


def sync_result_message(status: int) -> bytes:
    """What a DOT's acknowledge characteristic holds after a sync (status 0 = synchronised)."""
    return message(MID_SYNC, SYNC_RESULT, bytes((status & 0xFF,)))


# ------------------------------------------------------------------------------ driver
def _one_line(exc: BaseException) -> str:
    """An ATT error's name (bumble's ``error_name``), else the first line of the message."""
    name = getattr(exc, "error_name", None)
    if name:
        return str(name)
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sensor_rate(q_prev, t_prev, q, t) -> np.ndarray:
    """Sensor-frame angular rate (3,), rad/s, between two orientations (backward difference)."""
    if q_prev is None or not t > t_prev:
        return np.zeros(3)
    dq = Q.multiply(Q.conj(q_prev), q)
    if dq[0] < 0:
        dq = -dq
    s = float(np.linalg.norm(dq[1:]))
    if s == 0.0:
        return np.zeros(3)
    return dq[1:] / s * (2.0 * np.arctan2(s, dq[0]) / (t - t_prev))


class DotDriver(VendorDriver):
    """Reader driver of a Movella DOT (see the module docstring for the protocol).

    Parameters
    ----------
    sensor_id : str
    rate_hz : int, optional
        Output rate to set (one of :data:`OUTPUT_RATES_HZ`); ``None`` leaves the sensor's own
        (measured from its timestamps).
    payload : int or str
        Payload mode (code or key of :data:`PAYLOAD_MODES`); 21 (rate quantities) by default.
    heading_reset : bool
        Reset the heading once measuring (orientation modes).
    """

    model = "movella-dot"

    def __init__(self, sensor_id: str, rate_hz: int | None = None, payload: int | str = 21,
                 heading_reset: bool = False):
        super().__init__(sensor_id, rate_hz or 0)
        self.mode = payload_mode(payload)
        self.notify_uuid = self.mode.uuid
        self.set_rate_hz = int(rate_hz) if rate_hz else None
        self.tracker = TimestampTracker(sensor_id, rate_hz=self.set_rate_hz, wrap_s=WRAP_S)
        self.want_heading_reset = bool(heading_reset) and self.mode.orientation
        self.heading_reset_done = False
        self.device: DeviceInfo | None = None
        self.tag = ""
        #: "" (not synchronised), "synced", "failed" or "lost"
        self.sync_state = ""
        self.sync_root = ""
        self.link = None  # the SensorLink, for events (attach)
        self._prev: tuple[float, np.ndarray] | None = None
        self._restart_clock = False

    # -- reader hooks ----------------------------------------------------------------------
    def attach(self, link) -> None:
        """Called by the reader's SensorLink: events and status go through it."""
        self.link = link

    @property
    def firmware(self) -> str:
        return self.device.firmware if self.device else ""

    @property
    def info_extra(self) -> dict:
        """What the recording keeps about this sensor (``SensorInfo.extra``)."""
        ex = {"payload_mode": self.mode.code, "payload": self.mode.name}
        if self.mode.orientation:
            ex["derived"] = ["acc", "gyr"]
            ex["orientation"] = "vendor"
        if self.tag:
            ex["tag"] = self.tag
        if self.sync_state:
            ex["sync"] = {"state": self.sync_state, "root": self.sync_root}
        return ex

    def _who(self) -> str:
        if self.link is not None:
            return f"sensor {self.link.role} ({self.link.address})"
        return f"Movella DOT {self.sensor_id}"

    def _event(self, note: str, **data) -> None:
        link = self.link
        if link is None:
            log.info("%s", note)
            return
        data.update({"role": link.role, "sensor_id": link.status.sensor_id})
        link.on_event(Event(link.clock(), "note", note=note, data=data))
        if link.info is not None:
            link.info.extra.update(self.info_extra)
        link.status.extra.update({k: v for k, v in self.info_extra.items() if k == "sync"})

    # -- protocol steps --------------------------------------------------------------------
    async def _read(self, client, uuid: str) -> bytes:
        return bytes(await client.read_gatt_char(uuid))

    async def set_output_rate(self, client, rate_hz: int) -> None:
        """Write the output rate (Device Control, visit index 0x10) and check it took."""
        try:
            ctl = DeviceControl.from_bytes(await self._read(client, DEVICE_CONTROL_UUID))
        except (MalformedPacket, KeyError, AttributeError) as exc:
            raise SensorError(f"{self._who()}: cannot read the Movella DOT device control "
                              f"({exc})") from None
        ctl.visit_index = VISIT_OUTPUT_RATE
        ctl.output_rate_hz = int(rate_hz)
        try:
            await client.write_gatt_char(DEVICE_CONTROL_UUID, ctl.to_bytes(), response=True)
        except Exception as exc:  # an ATT error: the sensor refused the value
            raise SensorError(f"{self._who()}: the Movella DOT refused output rate {rate_hz} Hz "
                              f"(it offers {', '.join(map(str, OUTPUT_RATES_HZ))} Hz; "
                              f"{_one_line(exc)})") from None
        got = DeviceControl.from_bytes(await self._read(client, DEVICE_CONTROL_UUID))
        if got.output_rate_hz != int(rate_hz):
            raise SensorError(f"{self._who()}: the Movella DOT kept output rate "
                              f"{got.output_rate_hz} Hz instead of {rate_hz} Hz (it offers "
                              f"{', '.join(map(str, OUTPUT_RATES_HZ))} Hz)")

    async def sync_status(self, client) -> int | None:
        """The syncing result in the acknowledge characteristic (0 = synchronised), or None
        when it holds none (yet)."""
        try:
            mid, reid, payload = parse_message(await self._read(client, MESSAGE_ACK_UUID))
        except MalformedPacket:
            return None
        if mid != MID_SYNC or reid != SYNC_RESULT or not payload:
            return None
        return payload[0]

    async def configure(self, client, on_data) -> None:
        has_config = client.services.get_service(CONFIG_SERVICE_UUID) is not None
        if has_config:
            try:
                self.device = DeviceInfo.from_bytes(await self._read(client, DEVICE_INFO_UUID))
                self.tag = DeviceControl.from_bytes(
                    await self._read(client, DEVICE_CONTROL_UUID)).tag
            except MalformedPacket as exc:
                raise SensorError(f"{self._who()}: Movella DOT configuration unreadable "
                                  f"({exc})") from None
        if self.set_rate_hz is not None:
            if not has_config:
                raise SensorError(f"{self._who()}: this Movella DOT has no configuration "
                                  "service: its output rate cannot be set")
            await self.set_output_rate(client, self.set_rate_hz)
        if self.sync_state == "synced":  # a reconnect: is the sensor still on the root's clock?
            st = await self.sync_status(client)
            if st != SYNC_OK:
                self.sync_state = "lost"
                self._restart_clock = True
                msg = (f"{self._role()} lost Movella DOT time sync (the sensor restarted): its "
                       "samples from here on are on its own clock, aligned by arrival time only")
                self._event(msg, sync="lost")
                if self.link is not None and getattr(self.link, "announce", None):
                    self.link.announce(msg)
        await self._battery(client)
        await client.start_notify(self.notify_uuid, on_data)

    async def _battery(self, client) -> None:
        """Battery level (%) into the link's status, read now and on every notification."""
        link = self.link
        if link is None or client.services.get_service(BATTERY_SERVICE_UUID) is None:
            return

        def on_battery(_ch, data) -> None:
            if len(data) >= 1:
                link.status.battery_pct = float(data[0])

        on_battery(None, await self._read(client, BATTERY_UUID))
        await client.start_notify(BATTERY_UUID, on_battery)

    def _role(self) -> str:
        return self.link.role if self.link is not None else self.sensor_id

    async def start(self, client) -> None:
        await client.write_gatt_char(CONTROL_UUID, bytes((1, 1, self.mode.code)), response=True)
        if self.want_heading_reset and not self.heading_reset_done:
            await self.reset_heading(client)

    async def stop(self, client) -> None:
        await client.write_gatt_char(CONTROL_UUID, bytes((1, 0, self.mode.code)), response=True)

    async def reset_heading(self, client, revert: bool = False) -> None:
        """Heading reset (or revert to the default heading) while measuring; SensorError if the
        sensor does not report it done."""
        kind = REVERT_HEADING if revert else RESET_HEADING
        await client.write_gatt_char(RESET_CONTROL_UUID, struct.pack("<H", kind), response=True)
        st = await self._read(client, RESET_STATUS_UUID)
        if not st or st[0] != RESET_DONE:
            raise SensorError(f"{self._who()}: the Movella DOT did not do the heading "
                              f"{'revert' if revert else 'reset'} (status "
                              f"{st[0] if st else 'empty'})")
        self.heading_reset_done = not revert
        self._event(f"{self._role()} heading {'reverted' if revert else 'reset'}",
                    heading_reset=not revert)

    # -- samples ---------------------------------------------------------------------------
    def decode(self, data: bytes, t_host_s: float) -> VendorSamples:
        s = decode_payload(self.mode, data)
        t = np.array([s.ts_us * 1e-6])
        if not self.mode.orientation:
            return VendorSamples(t, acc=s.acc[None, :], gyr=np.radians(s.gyr_dps)[None, :])
        q = s.quat
        acc = specific_force(q[None, :], None if s.free_acc is None else s.free_acc[None, :])
        tt = float(t[0])
        prev = self._prev
        gyr = _sensor_rate(prev[1] if prev else None, prev[0] if prev else 0.0, q, tt)
        self._prev = (tt, q)
        return VendorSamples(t, acc=acc, gyr=gyr[None, :], quat=q[None, :])

    def feed(self, data: bytes, t_host_s: float) -> SampleBlock | None:
        if self._restart_clock:  # the sensor restarted its clock: a new clock segment
            self._restart_clock = False
            self._prev = None
            self.tracker.restart_clock(t_host_s)
        return super().feed(data, t_host_s)


async def scan_details(client) -> tuple[int | None, dict]:
    """Battery level and firmware of a connected DOT, for ``imu scan``."""
    battery, info = None, {}
    try:
        battery = int((await client.read_gatt_char(BATTERY_UUID))[0])
        dev = DeviceInfo.from_bytes(await client.read_gatt_char(DEVICE_INFO_UUID))
        tag = DeviceControl.from_bytes(await client.read_gatt_char(DEVICE_CONTROL_UUID)).tag
        info = {"firmware": dev.firmware, "sensor_id": tag or dev.address}
    except Exception as exc:  # an unreadable field leaves it blank in the table
        log.debug("DOT scan details: %s", exc)
    return battery, info


# ------------------------------------------------------------------------ synchronisation
async def sync_dots(links, timeout_s: float = SYNC_TIMEOUT_S, poll_s: float = 0.2,
                    announce=None) -> dict[str, str]:
    """Synchronise the clocks of several connected DOTs (the documented procedure).

    The first link's sensor is the root; *start syncing* goes to every sensor. The DOTs then
    leave the host's link to sync among themselves; each is reconnected (and configured again)
    when it advertises again and its acknowledge characteristic read for its syncing result
    (polled while it is still connected). Returns role →
    ``"synced"`` / ``"failed"``; a failure is reported (event, ``info.extra["sync"]``,
    ``announce``) and that sensor's samples stay on its own clock.
    """
    links = list(links)
    if len(links) < 2:
        return {}
    root = links[0].address
    for link in links:
        link.driver.sync_root = root
        await link.client.write_gatt_char(MESSAGE_CONTROL_UUID, start_sync_message(root),
                                          response=True)
    t_end = time.monotonic() + timeout_s
    pending = {link.role: link for link in links}
    out: dict[str, str] = {}
    while pending and time.monotonic() < t_end:
        await asyncio.sleep(poll_s)
        for role, link in list(pending.items()):
            try:
                if link.client is None or not link.client.is_connected or link._lost.is_set():
                    await _reconnect(link)
                st = await link.driver.sync_status(link.client)
            except Exception as exc:  # still syncing off-line: try again until the timeout
                log.debug("%s sync status: %s", role, exc)
                continue
            if st is None:
                continue
            del pending[role]
            out[role] = "synced" if st == SYNC_OK else "failed"
    for role in pending:
        out[role] = "failed"
    for link in links:
        drv = link.driver
        drv.sync_state = out[link.role]
        if out[link.role] == "synced":
            drv._event(f"{link.role} Movella DOT time synchronised to {root}", sync="synced")
        else:
            msg = (f"{link.role} ({link.address}): Movella DOT time sync failed; its samples "
                   "are on its own clock, aligned by arrival time only")
            drv._event(msg, sync="failed")
            if announce:
                announce(msg)
    return out


async def _reconnect(link) -> None:
    """Connect a DOT again after it left the link to sync, and configure it as before."""
    client, link.client = link.client, None
    if client is not None:
        try:
            await client.disconnect()
        except Exception:
            pass
    async with link.connect_lock:
        new = await link._connect_once()
        link._lost.clear()
        await link._configure(new)


def dot_options(options: dict | None) -> dict:
    """Driver keyword arguments from a reader's per-sensor options (``rate_hz``,
    ``payload``, ``heading_reset``); unknown keys are refused."""
    opts = dict(options or {})
    known = {"rate_hz", "payload", "heading_reset"}
    bad = set(opts) - known
    if bad:
        raise SensorError(f"Movella DOT options {', '.join(sorted(bad))} are not known "
                          f"(give {', '.join(sorted(known))})")
    if "payload" in opts:
        try:
            payload_mode(opts["payload"])
        except ValueError as exc:
            raise SensorError(str(exc)) from None
    return opts


__all__ = ["DotDriver", "PAYLOAD_MODES", "OUTPUT_RATES_HZ", "sync_dots", "encode_payload",
           "decode_payload", "DeviceControl", "DeviceInfo", "GRAVITY_M_S2"]
