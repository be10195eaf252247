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
IPv6 off. liblsl has no setting for the address of its data (TCP) and time (UDP) servers: they
still listen on all interfaces, undiscoverable from the LAN but reachable by a port scan; a
firewall keeps them off the LAN. ``scope="link"`` (``--lsl-scope link``) publishes to the local
network (liblsl's link scope, IPv4 and IPv6). The configuration is handed to liblsl in memory
(``lsl_set_config_content``); older liblsl gets a file in a private temporary folder
(``mkdtemp``, created with ``O_EXCL | O_NOFOLLOW``), never a predictable path.
"""

from __future__ import annotations

import os
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
            self.outlets[role] = pylsl.StreamOutlet(si, chunk_size=0, max_buffered=60)
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
            self.angles_outlet = pylsl.StreamOutlet(si)
            self.source_ids["angles"] = "imu-angles"

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
