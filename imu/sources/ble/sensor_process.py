"""The virtual sensors in a process of their own, as real sensors are.

Real sensors and the Bluetooth controller that talks to them are not in our process: the host
stack (bleak → our reader and decoder) receives HCI packets from a controller. With
:class:`SensorProcess` the simulated sensor set is built the same way: a child process runs the
virtual peripherals (:class:`~imu.sources.ble.virtual.VirtualSensor`: the firmware's batching and
encoding), their controllers, the radio link between them and the *central's controller*; our
process keeps the central's bumble host, connected to that controller over an HCI transport (H4
packets on a socket pair), and everything above it: bleak with the bumble backend, the reader,
the decoder (in ``imu demo`` / ``imu live`` "our process" is the live process,
:mod:`imu.live.process`, not the window's). So a simulated sample takes the same code path as before, but the sensors' clocks,
batching and link no longer share our process's interpreter lock with the live pipeline and the
dashboard (which would delay their notifications as no real sensor is delayed), and their CPU
time is not ours.

Times crossing the process boundary are ``time.monotonic()`` readings (system-wide on Linux).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection

from imu.latency import tune_process
from imu.log import get_logger

log = get_logger(__name__)

#: how long the child may take to start (import, build and power on the sensors), s
START_TIMEOUT_S = 60.0


class SensorProcess:
    """Parent side: starts the child, hands out the radio our host connects through.

    Parameters
    ----------
    sensors : list of dict
        One dict per virtual sensor: ``address``, ``name``, ``sensor_id``, ``t`` (sensor clock,
        s), ``acc`` (m/s²), ``gyr`` (rad/s), ``seq``, ``loop``, ``rate_hz``, ``battery_pct``.
    speed : float
        Sensor-clock seconds per wall-clock second.
    log_notifications : bool
        The child keeps, per notification, ``(sensor_id, last seq, sent at, oldest sample's
        creation)`` (monotonic s) and returns them from :meth:`close` (benchmarks).
    """

    def __init__(self, sensors: list[dict], speed: float = 1.0, log_notifications: bool = False):
        self.sensors = sensors
        self.speed = float(speed)
        self.log_notifications = bool(log_notifications)
        self.proc: subprocess.Popen | None = None
        self.radio = None
        self.stats: dict = {}
        self._ctl: Connection | None = None
        self._hci: socket.socket | None = None
        self._transport = None

    async def start(self):
        """Start the child and power its sensors on (paused); returns the
        :class:`~imu.sources.ble.bumble_backend.VirtualRadio` whose central's host talks to the
        child's controller."""
        from imu.sources.ble.bumble_backend import VirtualRadio

        hci_ours, hci_theirs = socket.socketpair()
        ctl_ours, ctl_theirs = socket.socketpair()
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "imu.sources.ble.sensor_process",
             str(hci_theirs.fileno()), str(ctl_theirs.fileno())],
            pass_fds=(hci_theirs.fileno(), ctl_theirs.fileno()), env=env,
            stdin=subprocess.DEVNULL)
        hci_theirs.close()
        ctl_theirs.close()
        self._hci = hci_ours
        self._ctl = Connection(ctl_ours.detach())
        self._send(("start", {"sensors": self.sensors, "speed": self.speed,
                              "log_notifications": self.log_notifications}))
        reply = await self._recv(START_TIMEOUT_S)
        if not reply or reply[0] != "ready":
            await self.close()
            raise RuntimeError(f"the virtual sensor process did not start: {reply!r}")
        self.radio = VirtualRadio(central_transport=hci_ours)
        return self.radio

    def _send(self, msg) -> None:
        if self._ctl is not None:
            try:
                self._ctl.send_bytes(pickle.dumps(msg))
            except OSError as exc:
                log.debug("sensor process: %s", exc)

    async def _recv(self, timeout_s: float):
        ctl = self._ctl
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ctl.poll(0):
                try:
                    return pickle.loads(ctl.recv_bytes())
                except (EOFError, OSError):
                    return None
            if self.proc is not None and self.proc.poll() is not None:
                return None
            await asyncio.sleep(0.01)
        return None

    def restart_clocks(self, t_wall0: float) -> None:
        """Start every sensor clock and feed over at monotonic time ``t_wall0`` and unpause."""
        self._send(("restart_clock", t_wall0))

    async def force_disconnect(self, address: str, down_s: float) -> None:
        """Drop one sensor's link from the sensor side for ``down_s`` wall seconds (returns
        once it is dropped)."""
        self._send(("force_disconnect", address, float(down_s)))
        await self._recv(10.0)

    async def close(self) -> dict:
        """Stop the child (its sensors power off); returns its statistics."""
        if self.proc is None:
            return self.stats
        self._send(("stop",))
        reply = await self._recv(10.0)
        if reply and reply[0] == "stats":
            self.stats = reply[1]
        try:
            await asyncio.to_thread(self.proc.wait, 5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)
        self.proc = None
        if self.radio is not None:
            await self.radio.close_central()
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        return self.stats


# ------------------------------------------------------------------------- the child ----------
async def _serve(hci_fd: int, ctl: Connection) -> None:
    from bumble.transport.common import StreamPacketSink, StreamPacketSource

    from imu.sources.ble import protocol as P
    from imu.sources.ble.bumble_backend import CENTRAL_ADDRESS, VirtualRadio, _CentralController
    from imu.sources.ble.virtual import SampleFeed, VirtualSensor

    loop = asyncio.get_running_loop()
    msg = pickle.loads(ctl.recv_bytes())
    assert msg[0] == "start"
    spec = msg[1]
    radio = VirtualRadio()
    sock = socket.socket(fileno=hci_fd)
    transport, source = await loop.create_unix_connection(StreamPacketSource, sock=sock)
    # the central's controller on the radio link; its host is in the parent
    _CentralController(f"C-{CENTRAL_ADDRESS}", host_source=source,
                       host_sink=StreamPacketSink(transport), link=radio.link,
                       public_address=CENTRAL_ADDRESS)
    notified: list[tuple] = []
    sensors: dict[str, VirtualSensor] = {}
    for s in spec["sensors"]:
        feed = SampleFeed(s["t"], s["acc"], s["gyr"], s["seq"], loop=s["loop"])
        vs = VirtualSensor(s["address"], s["name"], feed, s["sensor_id"], speed=spec["speed"],
                           radio=radio, rate_hz=s["rate_hz"], battery_pct=s["battery_pct"])
        if spec.get("log_notifications"):
            vs.tamper = _logger(vs, notified, P)
        vs.paused = True
        await vs.power_on()
        sensors[s["address"]] = vs
    # what was made so far (modules, the devices, the feeds) out of the collector's sight: its
    # full collections delayed a notification by up to ~8 ms (one thread: the switch interval
    # does not matter here)
    tune_process(switch_interval=False)
    ctl.send_bytes(pickle.dumps(("ready",)))

    done = asyncio.Event()

    def on_message() -> None:
        try:
            m = pickle.loads(ctl.recv_bytes())
        except (EOFError, OSError):      # the parent went away
            done.set()
            return
        if m[0] == "restart_clock":
            for vs in sensors.values():
                vs.restart_clock(m[1])
        elif m[0] == "force_disconnect":
            async def drop(vs):
                if vs is not None:
                    await vs.force_disconnect(m[2])
                ctl.send_bytes(pickle.dumps(("dropped",)))

            loop.create_task(drop(sensors.get(m[1])))
        elif m[0] == "stop":
            done.set()

    loop.add_reader(ctl.fileno(), on_message)
    await done.wait()
    loop.remove_reader(ctl.fileno())
    stats = {vs.config.sensor_id: {"notifications_sent": vs.notifications_sent,
                                   "samples_sent": vs.samples_sent,
                                   "max_tick_gap_s": vs.max_tick_gap_s}
             for vs in sensors.values()}
    for vs in sensors.values():
        await vs.close()
    try:
        ctl.send_bytes(pickle.dumps(("stats", {"sensors": stats, "notifications": notified})))
    except OSError:
        pass
    transport.close()


def _logger(vs, out: list, P):
    """A tamper hook that changes nothing and logs each notification's send time."""

    def hook(pkt: bytes) -> list[bytes]:
        if len(pkt) >= P.HEADER_SIZE and pkt[0] == P.PROTOCOL_VERSION:
            _v, n, _dt, seq, ticks = P.HEADER.unpack_from(pkt)
            out.append((vs.config.sensor_id, seq + n - 1, time.monotonic(),
                        vs._t_wall0 + ticks * P.TICK_S / vs.speed))
        return [pkt]

    return hook


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the parent's to handle
    ctl = Connection(int(argv[1]))
    try:
        asyncio.run(_serve(int(argv[0]), ctl))
    except (EOFError, ConnectionError, BrokenPipeError):
        return 0
    return 0


if __name__ == "__main__":  # pragma: no cover - the child's entry point
    sys.exit(main(sys.argv[1:]))
