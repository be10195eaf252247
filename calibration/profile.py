"""Calibration profile: the file a calibration produces and every later command reads.

JSON, ``"schema": "imu.calibration/1"``::

    {
      "schema": "imu.calibration/1",
      "created": "2026-11-22T00:10:00+00:00",
      "source": "session.imu",
      "sensors": {
        "sacrum": {"sensor_id": "...", "model": "...",
                   "mounting_wxyz": [w, x, y, z],          # R_BS: sensor → segment
                   "intrinsics": {"gyr_bias_rad_s": [...], ...},
                   "acc_recording": {"acc_offset_m_s2": [...], "acc_scale": [...], ...}},
                                                            # optional: imu.kinematics.acc_offset
        ...
      },
      "phases": {"standing": [t0, t1], ...},                # session clock, seconds
      "quality": {"standing": {...}, "hinges": {...}, ...}  # figures per phase
    }
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field

import numpy as np

from imu import quat as Q
from imu.errors import BadInputError
from imu.kinematics.alignment import SegmentAlignment

SCHEMA = "imu.calibration/1"


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if np.isfinite(v) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _acc_recording(d, where: str, role: str) -> dict:
    """A profile's ``acc_recording`` entry checked (untrusted file): BadInputError if bad."""
    try:
        off = np.asarray(d["acc_offset_m_s2"], dtype=float)
        scale = np.asarray(d["acc_scale"], dtype=float)
        if off.shape != (3,) or scale.shape != (3,) or not np.all(np.isfinite(off)) \
                or not np.all(np.isfinite(scale)) or np.any(np.abs(off) > 20.0) \
                or np.any(np.abs(scale - 1.0) > 0.5):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise BadInputError(f"{where}: sensor {role!r} has a bad acc_recording (acc_offset_m_s2 "
                            "and acc_scale: 3 finite numbers each, offset ≤ 20 m/s², scale "
                            "0.5–1.5)") from None
    return dict(d, acc_offset_m_s2=off.tolist(), acc_scale=scale.tolist(),
                applied=bool(d.get("applied", True)))


@dataclass
class Profile:
    """A sensor-to-segment calibration.

    Attributes
    ----------
    mounts : dict
        Role → ``R_BS`` (3, 3), sensor → segment.
    sensor_ids : dict
        Role → sensor id.
    models : dict
        Role → sensor model.
    intrinsics : dict
        Role → plain dict of intrinsic corrections (``gyr_bias_rad_s`` at least).
    quality : dict
        Phase → figures.
    phases : dict
        Phase → ``[t0, t1]`` seconds on the calibration session's clock.
    created : str
        ISO 8601 date and time (UTC).
    source : str
        The session the profile came from.
    method : str
        ``protocol`` (docs/calibration.md phases) or ``auto`` (standing + whatever sagittal motion the
        session had, :mod:`imu.calibration.auto`).
    acc_recording : dict
        Role → the accelerometer offset and scale estimated from the calibration's recording
        (:meth:`imu.kinematics.acc_offset.AccOffsetEstimator.to_dict`): the mounting was solved
        on the corrected specific force, and every fusion with this profile applies the same
        correction. Missing roles (profiles made before it): no correction.
    """

    mounts: dict[str, np.ndarray]
    sensor_ids: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    intrinsics: dict[str, dict] = field(default_factory=dict)
    quality: dict[str, dict] = field(default_factory=dict)
    phases: dict = field(default_factory=dict)
    created: str = ""
    source: str = ""
    method: str = "protocol"
    acc_recording: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.created:
            self.created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()

    @property
    def roles(self) -> list[str]:
        return list(self.mounts)

    def alignment(self) -> SegmentAlignment:
        """The :class:`~imu.kinematics.alignment.SegmentAlignment` this profile defines."""
        return SegmentAlignment(R_BS={r: np.asarray(m, float) for r, m in self.mounts.items()},
                                sensor_ids=dict(self.sensor_ids),
                                acc_corrections=self.acc_corrections())

    def acc_corrections(self) -> dict:
        """Role → ``(offset_m_s2, scale)`` of :attr:`acc_recording` (applied ones only)."""
        out = {}
        for role, d in self.acc_recording.items():
            if isinstance(d, dict) and d.get("applied"):
                out[role] = (np.asarray(d["acc_offset_m_s2"], float),
                             np.asarray(d["acc_scale"], float))
        return out

    def intrinsic_corrections(self) -> dict:
        """Role → correction object with ``apply(acc, gyr)`` (see :mod:`imu.intrinsics`)."""
        from imu.intrinsics import IntrinsicCorrection
        out = {}
        for role, d in self.intrinsics.items():
            if d:
                out[role] = IntrinsicCorrection.from_dict(d)
        return out

    def to_dict(self) -> dict:
        sensors = {}
        for role, R in self.mounts.items():
            sensors[role] = {
                "sensor_id": self.sensor_ids.get(role, ""),
                "model": self.models.get(role, ""),
                "mounting_wxyz": Q.from_matrix(np.asarray(R, float)).tolist(),
                "intrinsics": self.intrinsics.get(role, {}),
            }
            if self.acc_recording.get(role):
                sensors[role]["acc_recording"] = self.acc_recording[role]
        return _jsonable({"schema": SCHEMA, "created": self.created, "source": self.source,
                          "method": self.method,
                          "sensors": sensors, "phases": self.phases, "quality": self.quality})

    @classmethod
    def from_dict(cls, d: dict, where: str = "calibration profile") -> "Profile":
        """Build from a dict as written by :meth:`to_dict`; bad content → BadInputError."""
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            got = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise BadInputError(f"{where}: not a calibration profile (schema {got!r}, "
                                f"expected {SCHEMA!r})")
        sensors = d.get("sensors")
        if not isinstance(sensors, dict) or not sensors:
            raise BadInputError(f"{where}: no sensors in the profile")
        mounts, ids, models, intr, accr = {}, {}, {}, {}, {}
        for role, s in sensors.items():
            try:
                q = np.asarray(s["mounting_wxyz"], dtype=float)
                if q.shape != (4,) or not np.all(np.isfinite(q)) or abs(np.linalg.norm(q) - 1) > 1e-3:
                    raise ValueError
            except (KeyError, TypeError, ValueError):
                raise BadInputError(f"{where}: sensor {role!r} has no valid mounting_wxyz "
                                    "(a unit quaternion w,x,y,z)") from None
            mounts[role] = Q.to_matrix(Q.normalize(q))
            ids[role] = str(s.get("sensor_id", ""))
            models[role] = str(s.get("model", ""))
            intr[role] = dict(s.get("intrinsics") or {})
            if s.get("acc_recording"):
                accr[role] = _acc_recording(s["acc_recording"], where, role)
        return cls(mounts=mounts, sensor_ids=ids, models=models, intrinsics=intr,
                   quality=dict(d.get("quality") or {}), phases=dict(d.get("phases") or {}),
                   created=str(d.get("created", "")), source=str(d.get("source", "")),
                   method=str(d.get("method", "protocol")), acc_recording=accr)

    def save(self, path, force: bool = False) -> None:
        """Write the profile as JSON to exactly ``path`` under the output rule
        (:mod:`imu.output`: atomic, private, an existing file replaced only with ``force``)."""
        from imu.output import write_file

        write_file(path, json.dumps(self.to_dict(), indent=2) + "\n",
                   what="calibration profile", force=force)

    def summary(self) -> str:
        """A few lines for people: per phase its key figures."""
        lines = [f"calibration {self.created} ({', '.join(self.roles)}), method {self.method}"]
        for phase, f in self.quality.items():
            if not isinstance(f, dict):
                continue
            if phase == "standing":
                worst = max((g.get("gravity_spread_deg", 0) for g in f.get("sensors", {}).values()),
                            default=0)
                lines.append(f"  {'standing':<20}{f.get('duration_s', 0):5.1f} s, gravity scatter "
                             f"≤ {worst:.2f}°")
            elif "reps" in f:
                lines.append(f"  {phase:<20}{f['reps']} reps, range {f['range_deg']:.0f}°, "
                             f"axis spread {f.get('axis_spread_deg') or 0:.1f}°, axis "
                             f"{f['axis_vertical_deg']:.0f}° from vertical")
            elif "duration_s" in f:
                lines.append(f"  {phase:<20}{f['duration_s']:.1f} s")
            elif phase == "auto":
                for role, g in f.items():
                    how = g.get("method", "?")
                    extra = (f", range {g['range_deg']:.0f}°, planarity {g['planarity']:.2f}"
                             if how == "rotation axis" else
                             f", speed {g.get('travel_speed_m_s', 0):.2f} m/s")
                    lines.append(f"  {role + ' axis':<20}{how}{extra}: {g.get('verdict', '?')}")
        if self.method == "auto":
            lines.append(f"  quality: {self.quality.get('auto_verdict', '?')}")
        for role, d in self.acc_recording.items():
            if isinstance(d, dict) and d.get("applied"):
                mg = np.asarray(d["acc_offset_m_s2"], float) / 9.80665 * 1000
                sd = np.asarray(d.get("offset_sd_m_s2", [np.nan] * 3), float) / 9.80665 * 1000
                lines.append(f"  {role + ' accel':<20}offset {' '.join(f'{v:+.0f}' for v in mg)} mg "
                             f"(±{np.nanmax(sd):.0f}) from {d.get('intervals', 0)} intervals "
                             "between rests")
        return "\n".join(lines)


def load_profile(path) -> Profile:
    """Read a profile file; a missing, unreadable or malformed file → :class:`BadInputError`."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except FileNotFoundError:
        raise BadInputError(f"{path}: calibration profile not found") from None
    except IsADirectoryError:
        raise BadInputError(f"{path}: is a folder, not a calibration profile") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path}: not a calibration profile (invalid JSON: {exc})") from None
    return Profile.from_dict(d, where=path)
