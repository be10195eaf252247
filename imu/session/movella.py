"""Movella (Xsens) DOT CSV exports.

The DOT app (and the DOT SDK examples) export one CSV per sensor: a few preamble lines
(``Key:,value`` pairs such as firmware version, sync status, device tag, address), then a header
row that starts with ``PacketCounter``, then one row per sample. The columns used here:

- ``PacketCounter``: 16-bit packet counter (wraps at 65536) → ``seq`` (unwrapped);
- ``SampleTimeFine``: sensor clock in µs, uint32 (wraps every 71.6 min) → ``t_sensor_s``;
- ``Acc_X, Acc_Y, Acc_Z``: acceleration (specific force) in m/s², sensor frame;
- ``Gyr_X, Gyr_Y, Gyr_Z``: angular velocity in **deg/s** (converted to rad/s here).

Exports of the "delta quantities" payload carry ``dq_W..dq_Z`` and ``dv[1]..dv[3]`` instead of
``Acc``/``Gyr``; they are turned into mean angular rate and specific force over each sample
interval. Synchronised DOT sensors share ``SampleTimeFine``, so it is the session clock:
``t_host_s`` is ``t_sensor_s`` minus the earliest first sample time of the files read together.

A file's role comes from a mapping (keys: file name, file stem, device tag or address) or from a
role name in the file name or device tag (``sacrum``/``pelvis``, ``right_thigh``, ``left_thigh``,
``trunk``).
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np

from imu.errors import BadInputError
from imu.types import ROLES, SensorData, SensorInfo, Session

HEADER_KEY = "PacketCounter"
#: How far into a file the header row is looked for (preamble lines).
MAX_PREAMBLE_LINES = 64
MAX_HEAD_CHARS = 65536
ACC = ("Acc_X", "Acc_Y", "Acc_Z")
GYR = ("Gyr_X", "Gyr_Y", "Gyr_Z")
DQ = ("dq_W", "dq_X", "dq_Y", "dq_Z")
DV = ("dv[1]", "dv[2]", "dv[3]")

_ALIASES = {
    "sacrum": "sacrum", "pelvis": "sacrum",
    "right_thigh": "right_thigh", "thigh_r": "right_thigh", "r_thigh": "right_thigh",
    "rightthigh": "right_thigh", "femur_r": "right_thigh",
    "left_thigh": "left_thigh", "thigh_l": "left_thigh", "l_thigh": "left_thigh",
    "leftthigh": "left_thigh", "femur_l": "left_thigh",
    "trunk": "trunk", "torso": "trunk", "lumbar": "trunk",
}


def _read_head(path: Path) -> tuple[int, list[str], dict[str, str]] | None:
    """(header line number 1-based, column names, preamble key→value) or None if no header."""
    pre: dict[str, str] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            head = fh.read(MAX_HEAD_CHARS).split("\n")[:MAX_PREAMBLE_LINES]
        for lineno, row in enumerate(csv.reader(head), start=1):
            cells = [c.strip() for c in row]
            if cells and cells[0] == HEADER_KEY:
                while cells and cells[-1] == "":
                    cells.pop()  # DOT exports end rows with a comma
                return lineno, cells, pre
            if cells and cells[0]:
                key = cells[0].rstrip(":").strip()
                val = ",".join(c for c in cells[1:] if c)
                if ":" in key and not val:
                    key, _, val = key.partition(":")
                pre[key.strip()] = val.strip()
    except (OSError, csv.Error):
        return None
    return None


def is_dot_csv(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a CSV with a ``PacketCounter`` header row near its top."""
    p = Path(path)
    return p.is_file() and _read_head(p) is not None


def _pre_get(pre: dict[str, str], *keys: str) -> str:
    norm = {re.sub(r"[^a-z]", "", k.lower()): v for k, v in pre.items()}
    for k in keys:
        v = norm.get(re.sub(r"[^a-z]", "", k.lower()))
        if v:
            return v
    return ""


def guess_role(*names: str) -> str | None:
    """A role named inside any of ``names`` (file name, device tag), or None."""
    for name in names:
        low = re.sub(r"[\s\-]+", "_", name.lower())
        for alias in sorted(_ALIASES, key=len, reverse=True):
            if re.search(rf"(^|[^a-z]){re.escape(alias)}([^a-z]|$)", low):
                return _ALIASES[alias]
    return None


def _role_for(path: Path, pre: dict[str, str], roles: dict[str, str] | None) -> str:
    tag = _pre_get(pre, "Device Tag", "DeviceTag", "Tag")
    addr = _pre_get(pre, "Address", "Device Address", "MAC")
    if roles:
        for key in (path.name, path.stem, tag, addr, str(path)):
            if key and key in roles:
                role = roles[key]
                if role not in ROLES:
                    raise BadInputError(f"--role {key}={role}: unknown role (use one of "
                                        f"{', '.join(ROLES)})")
                return role
    role = guess_role(path.stem, tag)
    if role is None:
        raise BadInputError(f"{path}: cannot tell which role this DOT sensor had (tag "
                            f"{tag or 'none'}); name the file after the role or pass "
                            f"--role {path.name}=sacrum")
    return role


def _column_error(path: Path, names: list[str], want: tuple[str, ...]) -> BadInputError:
    missing = [c for c in want if c not in names]
    return BadInputError(f"{path}: missing column {', '.join(missing)} in the DOT export header")


def read_dot_csv(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse one DOT export into its preamble and raw columns (no role, no clock alignment).

    Returns
    -------
    preamble : dict
        ``Key → value`` of the lines above the header, plus ``_header_line``.
    columns : dict
        ``seq`` (int64, unwrapped PacketCounter), ``t_sensor_s`` (unwrapped SampleTimeFine, s),
        ``acc`` (N, 3) m/s², ``gyr`` (N, 3) rad/s.
    """
    p = Path(path)
    head = _read_head(p)
    if head is None:
        raise BadInputError(f"{p}: not a Movella DOT export (no {HEADER_KEY} header row in the "
                            f"first {MAX_PREAMBLE_LINES} lines)")
    hline, names, pre = head
    if "SampleTimeFine" not in names:
        raise _column_error(p, names, ("SampleTimeFine",))
    has_rate = all(c in names for c in ACC + GYR)
    has_delta = all(c.lower() in [n.lower() for n in names] for c in DQ + DV)
    if not has_rate and not has_delta:
        raise _column_error(p, names, ACC + GYR)
    lower = [n.lower() for n in names]
    want = ["PacketCounter", "SampleTimeFine"] + list(ACC + GYR if has_rate else DQ + DV)
    idx = [lower.index(c.lower()) for c in want]
    rows = []
    with open(p, newline="", encoding="utf-8-sig", errors="replace") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if lineno <= hline or not row or all(not c.strip() for c in row):
                continue
            try:
                rows.append([float(row[j]) for j in idx])
            except IndexError:
                raise BadInputError(f"{p}: row {lineno}: only {len(row)} columns, column "
                                    f"{names[max(idx)]} is missing") from None
            except ValueError:
                for j in idx:
                    try:
                        float(row[j])
                    except ValueError:
                        raise BadInputError(f"{p}: row {lineno}, column {names[j]}: "
                                            f"{row[j].strip()!r} is not a number") from None
    if not rows:
        raise BadInputError(f"{p}: no samples below the {HEADER_KEY} header")
    a = np.asarray(rows, dtype=np.float64)
    seq = _unwrap(a[:, 0], 2 ** 16).astype(np.int64)
    t_us = _unwrap(a[:, 1], 2 ** 32)
    t_s = t_us / 1e6
    if has_rate:
        acc = a[:, 2:5]
        gyr = np.deg2rad(a[:, 5:8])
    else:
        acc, gyr = _from_deltas(p, t_s, a[:, 2:6], a[:, 6:9])
    pre = dict(pre)
    pre["_header_line"] = str(hline)
    return pre, {"seq": seq, "t_us": t_us, "t_sensor_s": t_s, "acc": np.ascontiguousarray(acc),
                 "gyr": np.ascontiguousarray(gyr)}


def _unwrap(v: np.ndarray, modulus: int) -> np.ndarray:
    d = np.diff(v)
    wraps = np.concatenate([[0.0], np.cumsum(d < -modulus / 2)])
    return v + wraps * modulus


def _from_deltas(p: Path, t_s: np.ndarray, dq: np.ndarray, dv: np.ndarray):
    """Mean rate (rad/s) and specific force (m/s²) over each interval from dq/dv increments."""
    if len(t_s) < 2:
        raise BadInputError(f"{p}: delta-quantity export needs at least 2 samples")
    dt = np.diff(t_s)
    dt = np.concatenate([[np.median(dt)], dt])
    if np.any(dt <= 0):
        i = int(np.flatnonzero(dt <= 0)[0])
        raise BadInputError(f"{p}: SampleTimeFine does not increase at sample {i + 1}")
    w = np.clip(dq[:, 0], -1.0, 1.0)
    vec = dq[:, 1:4]
    s = np.linalg.norm(vec, axis=1)
    angle = 2.0 * np.arctan2(s, w)
    axis = np.divide(vec, s[:, None], out=np.zeros_like(vec), where=s[:, None] > 0)
    gyr = axis * (angle / dt)[:, None]
    acc = dv / dt[:, None]
    return acc, gyr


#: Output rates a DOT offers, Hz.
DOT_RATES_HZ = (1, 4, 10, 12, 15, 20, 30, 60, 120)


def _nominal_rate(measured_hz: float) -> float:
    """The DOT output rate within 1 % of the measured one, else the measured rate."""
    for r in DOT_RATES_HZ:
        if abs(measured_hz - r) < 0.01 * r:
            return float(r)
    return float(round(measured_hz, 3))


def dot_files(folder: str | os.PathLike) -> list[Path]:
    """The DOT export CSVs in a folder (sorted by name)."""
    return [p for p in sorted(Path(folder).glob("*.csv")) + sorted(Path(folder).glob("*.CSV"))
            if is_dot_csv(p)]


def read_dot(paths: list[str | os.PathLike] | str | os.PathLike,
             roles: dict[str, str] | None = None) -> Session:
    """Load DOT export CSV files (or a folder of them) as one :class:`~imu.types.Session`.

    Parameters
    ----------
    paths : path or list of paths
        DOT CSV files, or one folder holding them.
    roles : dict, optional
        Role per file name, file stem, device tag or address (``{"D4-22-CD-00-36-80": "sacrum"}``).
        Without an entry, the role is read from the file name or device tag.
    """
    if isinstance(paths, (str, os.PathLike)):
        p = Path(paths)
        files = dot_files(p) if p.is_dir() else [p]
        if p.is_dir() and not files:
            raise BadInputError(f"{p}: no Movella DOT CSV exports in this folder")
    else:
        files = [Path(x) for x in paths]
    parsed = []
    for f in files:
        pre, cols = read_dot_csv(f)
        role = _role_for(f, pre, roles)
        parsed.append((f, pre, cols, role))
    seen: dict[str, Path] = {}
    for f, _, _, role in parsed:
        if role in seen:
            raise BadInputError(f"{f}: role {role} is already taken by {seen[role]}; "
                                f"use --role FILE=ROLE to map each file")
        seen[role] = f
    t0_us = min(float(c["t_us"][0]) for _, _, c, _ in parsed)
    sensors = {}
    for f, pre, cols, role in parsed:
        t = cols["t_sensor_s"]
        d = np.diff(t)
        d = d[d > 0]
        rate = _nominal_rate(1.0 / np.median(d)) if len(d) else 0.0
        tag = _pre_get(pre, "Device Tag", "DeviceTag", "Tag")
        addr = _pre_get(pre, "Address", "Device Address", "MAC")
        info = SensorInfo(
            sensor_id=addr or tag or f.stem, role=role, model="Movella DOT", rate_hz=rate,
            firmware=_pre_get(pre, "Firmware Version", "Firmware"),
            extra={"file": f.name, "device_tag": tag,
                   "sync_status": _pre_get(pre, "Sync Status", "SyncStatus"),
                   "filter_profile": _pre_get(pre, "Filter Profile"),
                   "gyr_units_in_file": "deg/s"})
        t_host = (cols["t_us"] - t0_us) / 1e6
        sensors[role] = SensorData(info, cols["seq"], t, t_host, cols["acc"], cols["gyr"])
    ordered = {r: sensors[r] for r in ROLES if r in sensors}
    src = str(files[0].parent if len(files) > 1 else files[0])
    return Session(meta={"imported_from": src, "source_format": "Movella DOT CSV"},
                   sensors=ordered, events=[], calibration=None, source=src)
