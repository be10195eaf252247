"""Lab Streaming Layer outlets: each sensor's raw stream and the live angles (``--lsl``).

LabRecorder and other LSL tools then record alongside the app. One raw outlet per sensor
(type ``IMU``, 6 float32 channels ``acc_x..gyr_z`` in m/s² and rad/s, ``source_id`` =
``imu-<sensor id>``), and one angles outlet (type ``Angles``, one channel per docs/formats.md angle
column, degrees) that the live pipeline feeds with :meth:`LslPublisher.push_angles`.

Timestamps: LSL's clock (``pylsl.local_clock``) at the push, minus each sample's age on the
sensor clock relative to the newest sample of the block.

Network scope (health data): LSL publishes on the network. By default (``scope="machine"``)
liblsl is configured so that only this computer can discover the streams: resolve scope
``machine`` (no LAN multicast groups, TTL 0), the discovery responder bound to 127.0.0.1 and
IPv6 off. liblsl has no setting for the address of its data (TCP) and time (UDP) servers, so
right after liblsl opens an outlet's sockets each of them is tied to the loopback interface
(``SO_BINDTODEVICE lo``, allowed to unprivileged processes since Linux 5.7) and made
non-inheritable: connections and packets from any other interface are refused. Where the system
does not allow that, the outlet is closed again and publishing stops with a one-line error
rather than listening on the network. ``scope="link"`` (``--lsl-scope link``) publishes to the local
network (liblsl's link scope, IPv4 and IPv6). The configuration is handed to liblsl in memory
(``lsl_set_config_content``); older liblsl gets a file in a private temporary folder
(``mkdtemp``, created with ``O_EXCL | O_NOFOLLOW``), never a predictable path.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile

import numpy as np

from imu.errors import ImuError
from imu.types import SampleBlock, SensorInfo

RAW_CHANNELS = (("acc_x", "m/s^2"), ("acc_y", "m/s^2"), ("acc_z", "m/s^2"),
                ("gyr_x", "rad/s"), ("gyr_y", "rad/s"), ("gyr_z", "rad/s"))


#: ``--lsl-scope`` choices: who can discover the streams.
SCOPES = ("machine", "link")
DEFAULT_SCOPE = "machine"

_CONFIG = {
    # log level -2: keep liblsl's INFO chatter off the terminal
    "machine": ("[log]\nlevel = -2\n[ports]\nIPv6 = disable\n"
                "[multicast]\nResolveScope = machine\nListenAddress = 127.0.0.1\n"),
    "link": "[log]\nlevel = -2\n[multicast]\nResolveScope = link\n",
}
_configured: str | None = None
#: liblsl's default discovery (multicast responder) port.
MULTICAST_PORT = 16571
log = logging.getLogger(__name__)


def lsl_config(scope: str) -> str:
    """The liblsl configuration (``lsl_api.cfg`` text) of a scope (:data:`SCOPES`)."""
    if scope not in _CONFIG:
        raise ImuError(f"--lsl-scope {scope!r}: choose one of {', '.join(SCOPES)}")
    return _CONFIG[scope]


def _private_config_file(content: str) -> str:
    """Write ``content`` to a new file in a fresh private folder (0700/0600, no symlink is
    followed, nothing pre-existing is reused); returns its path."""
    folder = tempfile.mkdtemp(prefix="imu-lsl-")
    path = os.path.join(folder, "lsl_api.cfg")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    return path


def _import_pylsl(scope: str = DEFAULT_SCOPE):
    """pylsl, with liblsl configured for ``scope`` (once per process: liblsl reads its
    configuration on first use)."""
    global _configured
    content = lsl_config(scope)
    try:
        import pylsl
    except Exception as exc:  # pragma: no cover - pylsl is a dependency
        raise ImuError(f"--lsl needs pylsl with liblsl: {exc}") from None
    if _configured is None:
        try:
            pylsl.set_config_content(content)
        except (AttributeError, RuntimeError):  # liblsl before 1.16: a private file
            try:
                pylsl.set_config_filename(_private_config_file(content))
            except (AttributeError, RuntimeError):
                os.environ["LSLAPICFG"] = _private_config_file(content)
        _configured = scope
    elif _configured != scope:
        raise ImuError(f"LSL already publishes with scope {_configured} in this process")
    return pylsl


def _socket_fds() -> set[int]:
    """File descriptors of this process that are sockets (Linux ``/proc``; empty elsewhere)."""
    fds = set()
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return fds
    for name in names:
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                fds.add(int(name))
        except (OSError, ValueError):
            continue
    return fds


def confine_to_loopback(fds: set[int], ports: set[int]) -> int:
    """Tie the internet sockets among ``fds`` bound to one of ``ports`` to the loopback
    interface and stop children from inheriting them.

    Returns the number of sockets confined. Raises :class:`OSError` when the system refuses.
    """
    done = 0
    for fd in sorted(fds):
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            if sock.getsockname()[1] not in ports:
                continue
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo\0")
            os.set_inheritable(fd, False)
            done += 1
        finally:
            sock.close()
    return done


def _outlet_ports(pylsl, outlet) -> set[int]:
    """The ports an outlet's servers listen on (data, service, discovery)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(outlet.get_info().as_xml())
    except ET.ParseError:  # pragma: no cover - liblsl writes well-formed XML
        return set()
    ports = set()
    for tag in ("v4data_port", "v4service_port", "v6data_port", "v6service_port"):
        text = root.findtext(tag)
        if text and text.strip().isdigit() and int(text) > 0:
            ports.add(int(text))
    return ports


class LslPublisher:
    """LSL outlets for a set of sensors (and optionally the angles).

    Parameters
    ----------
    sensors : dict[str, SensorInfo]
        Role → info; one raw outlet per entry.
    angle_columns : list of str, optional
        docs/formats.md angle column names for the angles outlet (``None``: no angles outlet).
    angles_rate_hz : float
        Nominal rate of the angles stream.
    name_prefix : str
        Stream names are ``<prefix> <role>`` and ``<prefix> angles``.
    scope : {"machine", "link"}
        Who can discover the streams: this computer only (default) or the local network.
    """

    def __init__(self, sensors: dict[str, SensorInfo], *, angle_columns: list[str] | None = None,
                 angles_rate_hz: float = 0.0, name_prefix: str = "imu",
                 scope: str = DEFAULT_SCOPE):
        self.pylsl = pylsl = _import_pylsl(scope)
        self.scope = scope
        self.outlets = {}
        self.source_ids = {}
        for role, info in sensors.items():
            sid = f"imu-{info.sensor_id}"
            si = pylsl.StreamInfo(f"{name_prefix} {role}", "IMU", 6, float(info.rate_hz or 0.0),
                                  "float32", sid)
            desc = si.desc()
            desc.append_child_value("role", role)
            desc.append_child_value("model", info.model)
            chans = desc.append_child("channels")
            for label, unit in RAW_CHANNELS:
                ch = chans.append_child("channel")
                ch.append_child_value("label", label)
                ch.append_child_value("unit", unit)
                ch.append_child_value("type", "Acceleration" if label.startswith("acc")
                                      else "AngularVelocity")
            self.outlets[role] = self._outlet(si, chunk_size=0, max_buffered=60)
            self.source_ids[role] = sid
        self.angle_columns = list(angle_columns) if angle_columns else []
        self.angles_outlet = None
        if self.angle_columns:
            si = pylsl.StreamInfo(f"{name_prefix} angles", "Angles", len(self.angle_columns),
                                  float(angles_rate_hz), "float32", "imu-angles")
            chans = si.desc().append_child("channels")
            for c in self.angle_columns:
                ch = chans.append_child("channel")
                ch.append_child_value("label", c)
                ch.append_child_value("unit", "degrees")
            self.angles_outlet = self._outlet(si)
            self.source_ids["angles"] = "imu-angles"

    def _outlet(self, info, **kwargs):
        """A new outlet; with scope ``machine`` its sockets are confined to loopback."""
        before = _socket_fds()
        outlet = self.pylsl.StreamOutlet(info, **kwargs)
        if self.scope != "machine":
            return outlet
        new = _socket_fds() - before
        ports = _outlet_ports(self.pylsl, outlet) | {MULTICAST_PORT}
        try:
            n = confine_to_loopback(new, ports)
        except OSError as exc:
            del outlet
            self.close()
            raise ImuError(f"LSL: cannot keep the streams on this computer ({exc.strerror or exc}); "
                           "use --lsl-scope link to publish on the local network") from None
        log.debug("LSL outlet %s: %d sockets confined to loopback", info.name(), n)
        return outlet

    def push_block(self, role: str, block: SampleBlock) -> None:
        """Publish one raw block of ``role``."""
        out = self.outlets.get(role)
        if out is None or len(block) == 0:
            return
        data = np.hstack([block.acc, block.gyr]).astype(np.float32)
        now = self.pylsl.local_clock()
        ts = now - (block.t_sensor_s[-1] - block.t_sensor_s)
        out.push_chunk(data.tolist(), ts.tolist())

    def push_angles(self, time_s: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        """Publish angle rows (``columns`` maps SPEC column → (N,) degrees; missing → NaN)."""
        if self.angles_outlet is None:
            return
        n = len(time_s)
        if n == 0:
            return
        rows = np.full((n, len(self.angle_columns)), np.nan, dtype=np.float32)
        for j, c in enumerate(self.angle_columns):
            if c in columns:
                rows[:, j] = np.asarray(columns[c], dtype=np.float32)
        now = self.pylsl.local_clock()
        t = np.asarray(time_s, dtype=np.float64)
        self.angles_outlet.push_chunk(rows.tolist(), (now - (t[-1] - t)).tolist())

    def close(self) -> None:
        self.outlets.clear()
        self.angles_outlet = None
