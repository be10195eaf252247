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

Sensor-fusion exports carry ``Quat_W..Quat_Z`` or ``Euler_X..Euler_Z`` (degrees, ``R = Rz·Ry·Rx``),
optionally ``FreeAcc_X..Z`` (earth frame, gravity removed), and no raw samples. App versions
2020–2024 differ in small ways, all read here: a ``sep=,`` first line, leading spaces, trailing
commas, skipped packet counters. Rows whose measurement columns are all zero (the first row of
offline exports) are dropped and counted. Roles and clocks: :mod:`imu.session.foreign`.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np

from imu import quat as Q
from imu.errors import BadInputError
from imu.session.vendor import csv_rows, float_cells, quat_from_euler_zyx_deg
from imu.types import Session

HEADER_KEY = "PacketCounter"
#: How far into a file the header row is looked for (preamble lines).
MAX_PREAMBLE_LINES = 64
MAX_HEAD_CHARS = 65536
ACC = ("Acc_X", "Acc_Y", "Acc_Z")
GYR = ("Gyr_X", "Gyr_Y", "Gyr_Z")
DQ = ("dq_W", "dq_X", "dq_Y", "dq_Z")
DV = ("dv[1]", "dv[2]", "dv[3]")
QUAT = ("Quat_W", "Quat_X", "Quat_Y", "Quat_Z")
EULER = ("Euler_X", "Euler_Y", "Euler_Z")
FREEACC = ("FreeAcc_X", "FreeAcc_Y", "FreeAcc_Z")


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
            if cells and cells[0] and not cells[0].lower().startswith("sep="):
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
    from imu.session.roles import guess_role as _guess

    return _guess(*names)


def role_keys(path: Path, pre: dict[str, str]) -> tuple[list[str], list[str]]:
    """(``--role`` keys, names to guess a role from) of one DOT export."""
    tag = _pre_get(pre, "Device Tag", "DeviceTag", "Tag")
    addr = _pre_get(pre, "Address", "Device Address", "MAC")
    # offline exports are named <tag>_<address>_<date>_<time>.csv
    parts = path.stem.split("_")
    keys = [tag, addr, path.name, path.stem, str(path), parts[0]]
    if len(parts) > 1:
        keys.append(parts[1])
    return [k for k in keys if k], [path.stem, tag]


def _column_error(path: Path, names: list[str], want: tuple[str, ...]) -> BadInputError:
    missing = [c for c in want if c not in names]
    return BadInputError(f"{path}: missing column {', '.join(missing)} in the DOT export header")


def _has(lower: list[str], cols) -> bool:
    return all(c.lower() in lower for c in cols)


def read_dot_csv(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse one DOT export into its preamble and columns (no role, no clock alignment).

    Every export kind is read: raw (``Acc``/``Gyr``), delta quantities (``dq``/``dv``) and
    sensor fusion (``Quat`` or ``Euler``, with or without ``FreeAcc``); a file may carry an
    orientation next to raw samples. Rows whose measurement columns are all zero (the first
    row of offline exports) are dropped and counted.

    Returns
    -------
    preamble : dict
        ``Key → value`` of the lines above the header, plus ``_header_line``.
    columns : dict
        ``seq`` (int64, unwrapped PacketCounter), ``t_us``/``t_sensor_s`` (unwrapped
        SampleTimeFine), ``acc`` (N, 3) m/s² and ``gyr`` (N, 3) rad/s or None, ``quat``
        (N, 4) ``w, x, y, z`` or None, ``free_acc`` (N, 3) m/s² or None, ``zero_rows`` (int).
    """
    p = Path(path)
    head = _read_head(p)
    if head is None:
        raise BadInputError(f"{p}: not a Movella DOT export (no {HEADER_KEY} header row in the "
                            f"first {MAX_PREAMBLE_LINES} lines)")
    hline, names, pre = head
    lower = [n.lower() for n in names]
    if "sampletimefine" not in lower:
        raise _column_error(p, names, ("SampleTimeFine",))
    has_rate = _has(lower, ACC + GYR)
    has_delta = _has(lower, DQ + DV)
    has_quat = _has(lower, QUAT)
    has_euler = _has(lower, EULER)
    has_free = _has(lower, FREEACC)
    if not (has_rate or has_delta or has_quat or has_euler):
        if any(c.lower() in lower for c in ACC + GYR):
            raise _column_error(p, names, ACC + GYR)
        raise BadInputError(f"{p}: no Acc_X..Gyr_Z, dq/dv, Quat_W..Quat_Z or Euler_X..Euler_Z "
                            f"columns in the DOT export header")
    groups: list[tuple[str, tuple[str, ...]]] = [("counter", ("PacketCounter", "SampleTimeFine"))]
    if has_rate:
        groups.append(("raw", ACC + GYR))
    elif has_delta:
        groups.append(("delta", DQ + DV))
    if has_quat:
        groups.append(("quat", QUAT))
    elif has_euler:
        groups.append(("euler", EULER))
    if has_free:
        groups.append(("free", FREEACC))
    want = [c for _, cols in groups for c in cols]
    idx = [lower.index(c.lower()) for c in want]
    a = _parse_rows(p, hline, names, idx)
    sl, k = {}, 0
    for g, cols in groups:
        sl[g] = slice(k, k + len(cols))
        k += len(cols)
    # all-zero rows (export artefact): every measurement column exactly zero
    meas = [g for g in ("raw", "delta", "free") if g in sl] or [g for g in ("quat",) if g in sl]
    if meas:
        zero = np.all(np.concatenate([a[:, sl[g]] for g in meas], axis=1) == 0.0, axis=1)
    else:
        zero = np.zeros(len(a), bool)
    n_zero = int(zero.sum())
    a = a[~zero]
    if not len(a):
        raise BadInputError(f"{p}: no samples below the {HEADER_KEY} header (all rows are zero)")
    seq = _unwrap(a[:, 0], 2 ** 16).astype(np.int64)
    t_us = _unwrap(a[:, 1], 2 ** 32)
    t_s = t_us / 1e6
    acc = gyr = quat = free = None
    if "raw" in sl:
        r = a[:, sl["raw"]]
        acc, gyr = np.ascontiguousarray(r[:, 0:3]), np.ascontiguousarray(np.deg2rad(r[:, 3:6]))
    elif "delta" in sl:
        r = a[:, sl["delta"]]
        acc, gyr = _from_deltas(p, t_s, r[:, 0:4], r[:, 4:7])
    if "quat" in sl:
        quat = a[:, sl["quat"]]
        norm = np.linalg.norm(quat, axis=1)
        bad = np.flatnonzero(np.isfinite(norm) & ~(np.abs(norm - 1.0) < 0.05))  # NaN: a gap
        if len(bad):
            raise BadInputError(f"{p}: row {hline + 1 + int(bad[0])}: Quat_W..Quat_Z is not a unit "
                                f"quaternion")
        quat = Q.normalize(np.ascontiguousarray(quat))
    elif "euler" in sl:
        quat = quat_from_euler_zyx_deg(a[:, sl["euler"]])
    if "free" in sl:
        free = np.ascontiguousarray(a[:, sl["free"]])
    pre = dict(pre)
    pre["_header_line"] = str(hline)
    return pre, {"seq": seq, "t_us": t_us, "t_sensor_s": t_s, "acc": acc, "gyr": gyr,
                 "quat": quat, "free_acc": free, "zero_rows": n_zero}


def _parse_rows(p: Path, hline: int, names: list[str], idx: list[int]) -> np.ndarray:
    """The numbers of columns ``idx`` of every data row (N, len(idx)); one-line errors."""
    rows, at = [], []
    with open(p, newline="", encoding="utf-8-sig", errors="replace") as fh:
        for lineno, row in csv_rows(fh, p):
            if lineno <= hline or not row or all(not c.strip() for c in row):
                continue
            rows.append(float_cells(row, idx, names, p, lineno))
            at.append(lineno)
    if not rows:
        raise BadInputError(f"{p}: no samples below the {HEADER_KEY} header")
    a = np.asarray(rows, dtype=np.float64)
    # the counter and the time must be numbers; a NaN/inf value is kept, as in a CSV folder
    # (counted by imu info, kept out of fusion)
    bad = np.flatnonzero(~np.all(np.isfinite(a[:, :2]), axis=1))
    if len(bad):
        i = int(bad[0])
        j = int(np.flatnonzero(~np.isfinite(a[i, :2]))[0])
        raise BadInputError(f"{p}: row {at[i]}, column {names[idx[j]]}: {a[i, j]} is not a "
                            f"{'time' if j else 'packet counter'}")
    return a


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


def read_dot(paths, roles: dict[str, str] | None = None, *, align: str | None = None) -> Session:
    """Load DOT export CSV files (or a folder of them) as one :class:`~imu.types.Session`
    (:func:`imu.session.foreign.read_foreign`, which also reads the other vendors' files)."""
    from imu.session.foreign import read_foreign

    return read_foreign(paths, roles, align=align)
