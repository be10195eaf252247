"""Virtual Movella DOTs: bumble peripherals that speak the DOT BLE services (:mod:`.dot`).

A :class:`VirtualDot` serves the configuration service (device info, device control with the
output rate and its allowed values, tag, identify), the measurement service (control with
start/stop and payload mode; medium and short payload characteristics; orientation reset
control and status), the battery service and the message service (time synchronisation).

Its data come from the simulator's motion (:class:`DotMotion`: true orientation ``q_ES``,
specific force and angular rate in the sensor frame), sampled when the sensor's own clock
crosses multiples of the output period:

- **Clock**: ``c(τ) = offset + (1 + drift)·τ`` (τ true time, s); a fresh DOT's offset is its
  time since power-on (tens to hundreds of seconds) and its drift a crystal's (±40 ppm), both
  fixed by its address. Timestamps are ``c`` in µs, wrapping at 2³².
- **Synchronisation**: after *start syncing* the DOT drops the host's link (as the real ones,
  which sync among themselves off-line), looks for the root on the radio and after
  ``sync_duration_s`` takes the root's clock (offset and drift) up to a residual of at most
  :data:`SYNC_RESIDUAL_MAX_S`, advertises again and reports the result in its acknowledge
  characteristic. Synced
  DOTs sample at the same instants and stamp them alike. ``fail_sync`` makes one fail;
  :meth:`VirtualDot.restart` models a DOT that resets (brown-out): its clock restarts at 0,
  it forgets the sync and its heading, drops the link and advertises again.
- **Orientation output**: ``q_out = Rz(−ψ_ref) ⊗ q_true ⊗ q_err``: the DOT's own heading
  reference ψ_ref (a fixed default, or set by a heading reset so that the output yaw is 0 at
  that moment) and a small slowly varying error ``q_err`` (≤ 0.3° about x and y, ≤ 0.8°
  about z). Free acceleration is ``R_out·f_S − g·ẑ``.
- **Rate quantities** are the motion's acc and gyr as they are (float32).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import struct
import time

import numpy as np
from bumble.att import ATT_Error, ErrorCode
from bumble.core import AdvertisingData, UUID
from bumble.gatt import Characteristic, CharacteristicValue, Service

from imu import quat as Q
from imu.session.vendor import GRAVITY_M_S2
from imu.sources.ble import dot as D
from imu.sources.ble.bumble_backend import VirtualRadio, get_radio
from imu.sources.ble.virtual import SampleFeed, VirtualSensor, still_feed

log = logging.getLogger(__name__)

#: largest clock offset a synced DOT keeps from its root, s
SYNC_RESIDUAL_MAX_S = 20e-6
#: error amplitudes of the orientation output about x, y, z, degrees
ORIENTATION_ERROR_DEG = (0.3, 0.3, 0.8)
#: Bluetooth SIG company identifier of Xsens Technologies B.V.
XSENS_COMPANY_ID = 0x0886

_EPOCH = time.monotonic()


class DotMotion:
    """The motion a virtual DOT measures, on a time grid (motion time, s), looped.

    Parameters
    ----------
    t_s : ndarray, shape (M,)
        Increasing times, s.
    quat : ndarray, shape (M, 4)
        True orientation ``q_ES`` (``w, x, y, z``; earth frame z up).
    acc : ndarray, shape (M, 3)
        Specific force in the sensor frame, m/s².
    gyr : ndarray, shape (M, 3)
        Angular rate in the sensor frame, rad/s.
    """

    def __init__(self, t_s, quat, acc, gyr, loop: bool = True):
        self.t = np.asarray(t_s, dtype=float)
        self.q = Q.normalize(np.asarray(quat, dtype=float))
        self.acc = np.asarray(acc, dtype=float)
        self.gyr = np.asarray(gyr, dtype=float)
        if len(self.t) < 2:
            raise ValueError("a DOT motion needs at least 2 samples")
        self.loop = loop
        self.span_s = float(self.t[-1] - self.t[0]) + float(np.median(np.diff(self.t)))

    def _wrap(self, m_s) -> np.ndarray:
        m = np.asarray(m_s, dtype=float)
        if self.loop:
            m = np.mod(m, self.span_s)
        return np.clip(self.t[0] + m, self.t[0], self.t[-1])

    def at(self, m_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(q (N, 4), acc (N, 3), gyr (N, 3))`` at motion times ``m_s`` (N,)."""
        from imu.timing import resample_quat

        t = np.atleast_1d(self._wrap(m_s))
        q = resample_quat(self.t, self.q, t)
        acc = np.column_stack([np.interp(t, self.t, self.acc[:, i]) for i in range(3)])
        gyr = np.column_stack([np.interp(t, self.t, self.gyr[:, i]) for i in range(3)])
        return q, acc, gyr

    @classmethod
    def from_sim(cls, sim, role: str, loop: bool = True) -> "DotMotion":
        """The motion of ``role`` in a :class:`~imu.sim.SimResult`: the true orientation on
        its truth grid, acc/gyr from its samples placed at their true times."""
        d = sim.session.sensors[role]
        t_true = sim.sample_true_times(role)
        t = np.asarray(sim.truth_time_s, dtype=float)
        ok = np.isfinite(t_true)
        acc = np.column_stack([np.interp(t, t_true[ok], d.acc[ok, i]) for i in range(3)])
        gyr = np.column_stack([np.interp(t, t_true[ok], d.gyr[ok, i]) for i in range(3)])
        return cls(t - t[0], sim.sensor_orientation(role), acc, gyr, loop=loop)

    @classmethod
    def still(cls, seconds: float = 10.0) -> "DotMotion":
        """Lying flat and still (x north of the earth frame)."""
        t = np.array([0.0, seconds])
        q = np.tile([1.0, 0.0, 0.0, 0.0], (2, 1))
        acc = np.tile([0.0, 0.0, GRAVITY_M_S2], (2, 1))
        return cls(t, q, acc, np.zeros((2, 3)))


def _rz(psi_rad: float) -> np.ndarray:
    return np.array([np.cos(psi_rad / 2), 0.0, 0.0, np.sin(psi_rad / 2)])


def yaw_rad(q: np.ndarray) -> np.ndarray:
    """Heading (ZYX yaw) of orientations ``q`` (N, 4), rad."""
    q = np.atleast_2d(q)
    w, x, y, z = q.T
    return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def _seeded(address: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(address.encode()).digest()[:8],
                                                "little"))


class VirtualDot(VirtualSensor):
    """One virtual Movella DOT on the virtual radio (see the module docstring).

    Parameters
    ----------
    address, name : str
        BLE address and advertised name (``"Movella DOT"`` as the real ones).
    motion : DotMotion
    feed : SampleFeed, optional
        Kept for the virtual-sensor life cycle (the DOT samples ``motion``).
    speed : float
        True-time seconds per wall second.
    clock_offset_s, drift_ppm, heading_deg : float, optional
        The sensor clock and default heading reference (default: fixed by the address).
    sync_duration_s : float
        Wall seconds a synchronisation takes (the real DOTs take 10-14 s).
    sync_drops_link : bool
        Drop the host's link on *start syncing* and advertise again when the sync is done (what
        the real DOTs do; the host reconnects to read the result).
    host_options : dict, optional
        What the reader should ask of this sensor (``rate_hz``, ``payload``,
        ``heading_reset``: :func:`imu.sources.ble.dot.dot_options`); for simulated sessions.
    """

    def __init__(self, address: str, name: str, motion: DotMotion, *,
                 feed: SampleFeed | None = None, speed: float = 1.0,
                 radio: VirtualRadio | None = None, battery_pct: int = 88,
                 tag: str = "Movella DOT", clock_offset_s: float | None = None,
                 drift_ppm: float | None = None, heading_deg: float | None = None,
                 sync_duration_s: float = 0.5, sync_drops_link: bool = True,
                 tick_interval_s: float = 0.02,
                 host_options: dict | None = None):
        super().__init__(address, name, feed or still_feed(60, 1.0), sensor_id=address,
                         speed=speed, battery_pct=battery_pct, radio=radio, rate_hz=60,
                         tick_interval_s=tick_interval_s)
        rng = _seeded(address)
        self.motion = motion
        self.host_options = dict(host_options or {})
        self.clock_offset_s = float(rng.uniform(20.0, 600.0) if clock_offset_s is None
                                    else clock_offset_s)
        self.drift = float(rng.uniform(-40, 40) if drift_ppm is None else drift_ppm) * 1e-6
        self.default_heading_rad = float(np.radians(rng.uniform(-180, 180) if heading_deg is None
                                                    else heading_deg))
        self.heading_ref_rad = self.default_heading_rad
        self._err_phase = rng.uniform(0, 2 * np.pi, 3)
        self._err_freq = rng.uniform(0.05, 0.2, 3)
        self.sync_residual_s = float(rng.uniform(-SYNC_RESIDUAL_MAX_S, SYNC_RESIDUAL_MAX_S))
        self.control = D.DeviceControl(tag=tag, output_rate_hz=D.DEFAULT_RATE_HZ)
        serial = int.from_bytes(hashlib.sha256(address.encode()).digest()[8:16], "little")
        self.device_info = D.DeviceInfo(address.upper(), "2.6.0", "2023-05-10T10:00:00",
                                        7005000, serial >> 16, "XS-T01")
        self.sync_duration_s = float(sync_duration_s)
        self.sync_drops_link = bool(sync_drops_link)
        self.fail_sync = False
        self.synced = False
        self.sync_root = ""
        self.ack = b""
        self.measuring = False
        self.mode: D.PayloadMode | None = None
        self.reset_type = 8  # the default-heading status of the reset control characteristic
        self.reset_status = 0
        self.charging = False
        self.restarts = 0
        self.writes: list[bytes] = []  # device control writes (tests)
        #: (samples sent before, new heading reference rad) of every heading reset / revert
        self.heading_log: list[tuple[int, float]] = []
        self._next_k = 0
        self._sync_task: asyncio.Task | None = None

    # -- time ------------------------------------------------------------------------------
    def true_s(self) -> float:
        """True time τ, s (shared by every virtual DOT of the process)."""
        return (time.monotonic() - _EPOCH) * self.speed

    def clock_s(self, tau: float) -> float:
        """The DOT's clock at true time ``tau``, s."""
        return self.clock_offset_s + (1.0 + self.drift) * tau

    def true_of_clock(self, c_s):
        return (np.asarray(c_s, dtype=float) - self.clock_offset_s) / (1.0 + self.drift)

    def motion_s(self, tau):
        """Motion time of true time ``tau`` (the program starts at :meth:`restart_clock`)."""
        return np.asarray(tau, dtype=float) - (self._t_wall0 - _EPOCH) * self.speed

    def restart_clock(self, t_wall0: float) -> None:
        """Start the motion at wall time ``t_wall0`` and unpause (the DOT's own clock runs on)."""
        self._t_wall0 = t_wall0
        self.paused = False

    @property
    def rate_hz(self) -> int:
        return int(self.control.output_rate_hz)

    # -- the DOT's outputs -----------------------------------------------------------------
    def error_quat(self, m_s) -> np.ndarray:
        m = np.atleast_1d(np.asarray(m_s, dtype=float))
        amp = np.radians(ORIENTATION_ERROR_DEG)
        rv = amp * np.sin(self._err_freq * m[:, None] + self._err_phase)
        return Q.from_rotvec(rv)

    def outputs(self, m_s):
        """``(q_out, free_acc, acc, gyr)`` at motion times ``m_s`` (N,)."""
        q, acc, gyr = self.motion.at(m_s)
        q_dev = Q.multiply(q, self.error_quat(m_s))
        ref = np.tile(_rz(-self.heading_ref_rad), (len(q_dev), 1))
        q_out = Q.normalize(Q.multiply(ref, q_dev))
        free = Q.rotate(q_out, acc)
        free[:, 2] -= GRAVITY_M_S2
        return q_out, free, acc, gyr

    def true_orientation_in_dot_frame(self, m_s) -> np.ndarray:
        """The true orientation in this DOT's current heading frame (no sensor error)."""
        q, _, _ = self.motion.at(m_s)
        return Q.multiply(np.tile(_rz(-self.heading_ref_rad), (len(q), 1)), q)

    # -- lifecycle -------------------------------------------------------------------------
    async def power_on(self) -> None:
        radio = self.radio or get_radio()
        self.radio = radio
        dev = radio.new_device(self.address, self.name)
        self._device = dev
        R, W, N = (Characteristic.Properties.READ, Characteristic.Properties.WRITE,
                   Characteristic.Properties.NOTIFY)
        rd, wr = Characteristic.READABLE, Characteristic.WRITEABLE

        def ch(uuid, props, perms, read=None, write=None, value=b""):
            if read is None and write is None:
                return Characteristic(uuid, props, perms, value)
            return Characteristic(uuid, props, perms, CharacteristicValue(read=read, write=write))

        self._medium = ch(D.MEDIUM_PAYLOAD_UUID, N, rd)
        self._short = ch(D.SHORT_PAYLOAD_UUID, N, rd)
        self._battery_ch = ch(D.BATTERY_UUID, R | N, rd,
                              read=lambda _c: bytes((self.battery_pct, int(self.charging))))
        dev.add_service(Service(D.CONFIG_SERVICE_UUID, [
            ch(D.DEVICE_INFO_UUID, R, rd, read=lambda _c: self.device_info.to_bytes()),
            ch(D.DEVICE_CONTROL_UUID, R | W, rd | wr, read=lambda _c: self.control.to_bytes(),
               write=self._on_device_control),
            ch(D.DEVICE_REPORT_UUID, N, rd)]))
        dev.add_service(Service(D.MEASUREMENT_SERVICE_UUID, [
            ch(D.CONTROL_UUID, R | W, rd | wr, read=self._read_control,
               write=self._on_control),
            ch(D.LONG_PAYLOAD_UUID, N, rd), self._medium, self._short,
            ch(D.RESET_CONTROL_UUID, R | W, rd | wr,
               read=lambda _c: struct.pack("<H", self.reset_type), write=self._on_reset),
            ch(D.RESET_STATUS_UUID, R, rd, read=lambda _c: bytes((self.reset_status,)))]))
        dev.add_service(Service(D.BATTERY_SERVICE_UUID, [self._battery_ch]))
        dev.add_service(Service(D.MESSAGE_SERVICE_UUID, [
            ch(D.MESSAGE_CONTROL_UUID, W, wr, write=self._on_message),
            ch(D.MESSAGE_ACK_UUID, R, rd, read=lambda _c: self.ack),
            ch(D.MESSAGE_NOTIFY_UUID, N, rd)]))
        dev.advertising_data = bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes((0x06,))),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            (AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
             bytes(UUID(D.MEASUREMENT_SERVICE_UUID))),
            (AdvertisingData.MANUFACTURER_SPECIFIC_DATA,
             struct.pack("<H", XSENS_COMPANY_ID) + bytes(2)),
        ]))
        dev.on(dev.EVENT_CONNECTION, self._on_connection)
        await dev.power_on()
        radio.peripherals[self.address] = self
        if not self._t_wall0:
            self._t_wall0 = time.monotonic()
        self._stream_task = asyncio.create_task(self._stream_loop(), name=f"vdot-{self.name}")
        await self._advertise()

    async def close(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
        await super().close()

    def _on_disconnection(self, *a) -> None:
        super()._on_disconnection(*a)
        self._resumable = False
        self.measuring = False  # a DOT stops measuring when its link drops

    async def restart(self, down_s: float = 1.0) -> None:
        """The DOT resets: its clock starts again at 0, it forgets the sync, its heading
        reference and the measurement, drops the link and advertises after ``down_s``."""
        self.restarts += 1
        self.clock_offset_s = -(1.0 + self.drift) * self.true_s()
        self.synced = False
        self.sync_root = ""
        self.ack = b""
        self.heading_ref_rad = self.default_heading_rad
        self.reset_type = 8
        self.reset_status = 0
        self.measuring = False
        await self.force_disconnect(down_s)

    # -- GATT callbacks --------------------------------------------------------------------
    def _read_control(self, _conn) -> bytes:
        return bytes((1, int(self.measuring), self.mode.code if self.mode else 21))

    def _on_device_control(self, _conn, value) -> None:
        value = bytes(value)
        self.writes.append(value)
        try:
            new = D.DeviceControl.from_bytes(value)
        except Exception:
            raise ATT_Error(ErrorCode.INVALID_ATTRIBUTE_LENGTH) from None
        if new.visit_index & D.VISIT_OUTPUT_RATE:
            if new.output_rate_hz not in D.OUTPUT_RATES_HZ:
                raise ATT_Error(ErrorCode.VALUE_NOT_ALLOWED)
            self.control.output_rate_hz = new.output_rate_hz
        if new.visit_index & D.VISIT_TAG:
            self.control.tag = new.tag
        if new.visit_index & D.VISIT_FILTER:
            if new.filter_profile not in (0, 1):
                raise ATT_Error(ErrorCode.VALUE_NOT_ALLOWED)
            self.control.filter_profile = new.filter_profile
        if new.visit_index & D.VISIT_IDENTIFY:
            self.identify_until = time.monotonic() + 10.0

    def _on_control(self, _conn, value) -> None:
        value = bytes(value)
        if len(value) < 3 or value[0] != 1 or value[1] not in (0, 1):
            raise ATT_Error(ErrorCode.VALUE_NOT_ALLOWED)
        if value[1] == 0:
            self.measuring = False
            return
        mode = D.PAYLOAD_MODES.get(value[2])
        if mode is None:  # modes this virtual DOT does not produce
            raise ATT_Error(ErrorCode.VALUE_NOT_ALLOWED)
        self.mode = mode
        c_now = self.clock_s(self.true_s())
        self._next_k = int(np.ceil(c_now * self.rate_hz))
        self.measuring = True

    def _on_reset(self, _conn, value) -> None:
        value = bytes(value)
        if len(value) < 2:
            raise ATT_Error(ErrorCode.INVALID_ATTRIBUTE_LENGTH)
        (kind,) = struct.unpack_from("<H", value)
        if not self.measuring or kind not in (D.RESET_HEADING, D.REVERT_HEADING):
            self.reset_status = 0  # only while measuring
            return
        if kind == D.RESET_HEADING:
            m = self.motion_s(self.true_s())
            q, _, _ = self.motion.at(m)
            self.heading_ref_rad = float(yaw_rad(Q.multiply(q, self.error_quat(m)))[0])
        else:
            self.heading_ref_rad = self.default_heading_rad
        self.reset_type = kind if kind == D.RESET_HEADING else 8
        self.reset_status = D.RESET_DONE
        self.heading_log.append((self.samples_sent, self.heading_ref_rad))

    def _on_message(self, _conn, value) -> None:
        try:
            mid, reid, payload = D.parse_message(bytes(value))
        except Exception:
            raise ATT_Error(ErrorCode.VALUE_NOT_ALLOWED) from None
        if mid == D.MID_SYNC and reid == D.SYNC_START and len(payload) == 6:
            root = ":".join(f"{b:02X}" for b in payload[::-1])
            self.sync_root = root
            self.synced = False
            self.ack = b""
            if self._sync_task is not None:
                self._sync_task.cancel()
            self._sync_task = asyncio.get_running_loop().create_task(self._sync(root))

    async def _sync(self, root: str) -> None:
        if self.sync_drops_link:  # as the real DOTs: off the host's link while syncing
            await asyncio.sleep(0.05)  # the write's response goes out first
            self.measuring = False
            await self.force_disconnect(self.sync_duration_s)
        await asyncio.sleep(self.sync_duration_s)
        peer = self.radio.peripherals.get(root) if self.radio is not None else None
        ok = (not self.fail_sync and isinstance(peer, VirtualDot) and peer.sync_root == root
              and peer._device is not None and not peer.fail_sync)
        if ok and peer is not self:
            # take the root's clock: same drift, same reading now (up to a small residual)
            self.drift = peer.drift
            self.clock_offset_s = peer.clock_offset_s + self.sync_residual_s
        self.synced = ok
        self.ack = D.sync_result_message(D.SYNC_OK if ok else 0x01)

    # -- streaming -------------------------------------------------------------------------
    async def _stream_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.tick_interval_s)
            if not (self.measuring and self._conn is not None and self.mode):
                continue
            rate = self.rate_hz
            k_end = int(np.floor(self.clock_s(self.true_s()) * rate))
            if self.paused:  # the wearer has not begun: measuring, nothing to send
                self._next_k = k_end + 1
                continue
            if k_end < self._next_k:
                continue
            k = np.arange(self._next_k, k_end + 1)
            self._next_k = k_end + 1
            c = k / float(rate)
            tau = self.true_of_clock(c)
            m = np.maximum(self.motion_s(tau), 0.0)
            q, free, acc, gyr = self.outputs(m)
            ts = np.rint(c * 1e6).astype(np.int64) % 2 ** 32
            mode = self.mode
            char = self._short if mode.uuid == D.SHORT_PAYLOAD_UUID else self._medium
            for i in range(len(k)):
                pkt = D.encode_payload(mode, int(ts[i]), acc=acc[i], gyr_dps=np.degrees(gyr[i]),
                                       quat=q[i], free_acc=free[i])
                self._data = char
                await self._notify(pkt)
                self.samples_sent += 1


def make_dot(address: str, motion: DotMotion, *, index: int = 0, **kw) -> VirtualDot:
    """A virtual DOT named as the real ones (``Movella DOT``), tag ``DOT-<index>``."""
    return VirtualDot(address, "Movella DOT", motion, tag=f"DOT-{index}", **kw)


# ------------------------------------------------------------------- simulated sessions
#: What the simulated sessions ask of their DOTs (imu record --simulate-vendors): one in
#: rate quantities at 60 Hz, one in Extended (Quaternion) at 30 Hz with a heading reset.
SIM_KINDS = {
    "movella-dot-rate": {"rate_hz": 60, "payload": 21},
    "movella-dot-orientation": {"rate_hz": 30, "payload": "extended-quaternion",
                                "heading_reset": True},
}


def _maker(kind: str):
    def make(ctx) -> VirtualDot:
        if ctx.sim is not None and ctx.role is not None:
            motion = DotMotion.from_sim(ctx.sim, ctx.role)
        else:
            motion = DotMotion.still()
        return VirtualDot(ctx.address, "Movella DOT", motion, feed=ctx.feed, speed=ctx.speed,
                          radio=ctx.radio, tag=f"DOT-{ctx.role or ctx.index}",
                          host_options=SIM_KINDS[kind])
    return make


def _register() -> None:
    from imu.sources.ble import vendor_sim

    for kind in SIM_KINDS:
        vendor_sim.register(kind, _maker(kind), model="movella-dot",
                            name=lambda _i: "Movella DOT")


_register()
