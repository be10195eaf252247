"""Plain data types that cross layers.

Units are in the field names: seconds (``_s``), m/s² for ``acc``, rad/s for ``gyr``, degrees for
angle tables. Quaternions are ``w, x, y, z``.

Roles (docs/sensors.md): ``sacrum`` (required), ``right_thigh`` / ``left_thigh`` (at least one),
``trunk`` (optional).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ROLES = ("sacrum", "right_thigh", "left_thigh", "trunk")
SIDES = ("right", "left")
EXERCISES = ("hinge", "single_leg_hinge", "ir_hinge", "single_leg_stance", "hip_airplane", "squat",
             "posture", "walking")

#: Event kinds stored in recordings (docs/formats.md). ``set_start`` / ``set_end`` carry ``exercise``
#: and ``side``; ``calibration_start`` / ``calibration_end`` bracket the docs/calibration.md protocol.
EVENT_KINDS = ("set_start", "set_end", "calibration_start", "calibration_end", "note",
               "disconnect", "reconnect")


def role_side(role: str) -> str | None:
    """``"right"`` for ``right_thigh``, ``"left"`` for ``left_thigh``, else ``None``."""
    if role.endswith("_thigh"):
        return role.split("_", 1)[0]
    return None


@dataclass
class SampleBlock:
    """A block of raw samples from one sensor, as received.

    Attributes
    ----------
    sensor_id : str
        Stable id of the physical sensor (e.g. BLE address or ``sim-sacrum``).
    seq : ndarray, shape (N,), int64
        Per-sample sequence numbers (monotonic on the sensor; gaps mean drops).
    t_sensor_s : ndarray, shape (N,), float64
        Sensor-clock timestamps, seconds.
    t_host_s : ndarray, shape (N,), float64
        Host receive times, seconds on the session clock.
    acc : ndarray, shape (N, 3), float64
        Specific force in the sensor frame, m/s².
    gyr : ndarray, shape (N, 3), float64
        Angular rate in the sensor frame, rad/s.
    quat : ndarray, shape (N, 4), float64, or None
        The sensor's own orientation ``q_ES`` (``w, x, y, z``) when it streams one (vendor
        sensor fusion, e.g. a Movella DOT in a quaternion payload mode); recordings keep it.
    """

    sensor_id: str
    seq: np.ndarray
    t_sensor_s: np.ndarray
    t_host_s: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    quat: np.ndarray | None = None

    def __len__(self) -> int:
        return int(len(self.seq))


@dataclass
class SensorInfo:
    """Metadata of one sensor in a session."""

    sensor_id: str
    role: str
    model: str = "simulated"
    rate_hz: float = 0.0
    firmware: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SensorData:
    """All samples of one sensor in a session (concatenated blocks).

    Same array fields as :class:`SampleBlock`, plus its :class:`SensorInfo`.
    """

    info: SensorInfo
    seq: np.ndarray
    t_sensor_s: np.ndarray
    t_host_s: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    #: the sensor's own orientation ``q_ES`` (N, 4) ``w, x, y, z`` (earth frame, z up) when the
    #: source carried one (vendor sensor fusion), else None
    quat: np.ndarray | None = None

    def __len__(self) -> int:
        return int(len(self.seq))

    def host_span_s(self) -> tuple[float, float]:
        """First and last finite host time, seconds (NaN, NaN without any): a damaged sample's
        NaN time is kept in the session (and out of fusion), never its start or end."""
        th = self.t_host_s
        if not len(th):
            return math.nan, math.nan
        a, b = float(th[0]), float(th[-1])
        if math.isfinite(a) and math.isfinite(b):
            return a, b
        f = np.asarray(th, dtype=float)
        f = f[np.isfinite(f)]
        return (float(f[0]), float(f[-1])) if len(f) else (math.nan, math.nan)

    @property
    def derived(self) -> list[str]:
        """Which of ``acc``/``gyr`` were derived from :attr:`quat` (not measured)."""
        return list(self.info.extra.get("derived") or [])

    @property
    def has_raw(self) -> bool:
        """Whether ``acc`` and ``gyr`` are the sensor's own samples (fusion can run on them)."""
        return not self.derived

    @property
    def kind(self) -> str:
        """``raw``, ``orientation`` (vendor orientation only), ``raw+orientation``, or
        ``derived`` (acc/gyr once derived from a vendor orientation that is no longer here:
        a CSV export of an orientation-only sensor)."""
        if self.quat is None:
            return "derived" if self.derived else "raw"
        return "raw+orientation" if self.has_raw else "orientation"

    @classmethod
    def from_blocks(cls, info: SensorInfo, blocks: list[SampleBlock]) -> "SensorData":
        if not blocks:
            z = np.zeros(0)
            return cls(info, z.astype(np.int64), z, z.copy(), np.zeros((0, 3)), np.zeros((0, 3)))
        return cls(
            info,
            np.concatenate([b.seq for b in blocks]).astype(np.int64),
            np.concatenate([b.t_sensor_s for b in blocks]).astype(np.float64),
            np.concatenate([b.t_host_s for b in blocks]).astype(np.float64),
            np.concatenate([b.acc for b in blocks]).astype(np.float64),
            np.concatenate([b.gyr for b in blocks]).astype(np.float64),
        )


@dataclass
class Event:
    """A session event on the session (host) clock.

    ``kind`` is one of :data:`EVENT_KINDS`; ``exercise`` is one of :data:`EXERCISES`;
    ``side`` is ``"left"``/``"right"`` (for single-leg work, the stance leg).
    """

    t_s: float
    kind: str
    exercise: str | None = None
    side: str | None = None
    note: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    """A whole session: metadata, events and raw samples per role.

    ``sensors`` maps role → :class:`SensorData`. ``calibration`` holds an embedded calibration
    profile (a plain dict as written by the ``calibration`` package) or ``None``.
    """

    meta: dict[str, Any]
    sensors: dict[str, SensorData]
    events: list[Event] = field(default_factory=list)
    calibration: dict[str, Any] | None = None
    source: str = ""

    @property
    def roles(self) -> list[str]:
        return [r for r in ROLES if r in self.sensors] + [r for r in self.sensors if r not in ROLES]

    @property
    def duration_s(self) -> float:
        spans = [d.host_span_s() for d in self.sensors.values() if len(d)]
        spans = [(a, b) for a, b in spans if math.isfinite(a)]
        return (max(b for _, b in spans) - min(a for a, _ in spans)) if spans else 0.0


@dataclass
class OrientationSeries:
    """Orientation of one sensor or segment over time.

    Attributes
    ----------
    time_s : ndarray, shape (N,)
    quat : ndarray, shape (N, 4)
        Unit quaternions ``w, x, y, z``; NaN rows mark gaps.
    """

    time_s: np.ndarray
    quat: np.ndarray


@dataclass
class AngleTable:
    """Time series of named angles in degrees (docs/formats.md angles CSV column names).

    ``columns`` keeps the SPEC column order; NaN marks gaps. ``confidence`` optionally maps a
    column name to an (N,) array in [0, 1] (used for rotation angles about the vertical).
    """

    time_s: np.ndarray
    columns: dict[str, np.ndarray]
    confidence: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(self.time_s)

    def to_numpy(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(time_s (N,), values (N, C), names)``: seconds, degrees, column names."""
        names = self.names()
        vals = (np.column_stack([np.asarray(self.columns[c], float) for c in names])
                if names else np.zeros((len(self.time_s), 0)))
        return np.asarray(self.time_s, float), vals, names

    def to_pandas(self):
        """A ``pandas.DataFrame`` indexed by ``time_s`` (seconds), one column per angle in
        degrees (needs pandas: ``pip install imu[pandas]``)."""
        pd = require_pandas()
        t, vals, names = self.to_numpy()
        return pd.DataFrame(vals, index=pd.Index(t, name="time_s"), columns=names)


def require_pandas():
    """The pandas module, or an :class:`~imu.errors.ImuError` saying how to install it."""
    try:
        import pandas
    except ImportError:
        from imu.errors import ImuError
        raise ImuError("this needs pandas: pip install 'imu[pandas]' (numpy arrays work "
                       "without it: .to_numpy())") from None
    return pandas
