"""Xsens MT Manager ``.txt`` exports (MTw / MTi; the files OpenSim OpenSense reads).

One tab-separated file per sensor: ``//`` preamble lines (``// Update Rate: 100.0Hz``,
``// Device ID: …``), one header row, one row per sample; empty cells where a field was not
exported. Columns used:

- ``PacketCounter`` (uint16, wraps) and ``SampleTimeFine`` (10 kHz ticks, uint32, wraps; often
  empty: the time then comes from the packet counter and the update rate);
- ``Acc_X..Z`` (m/s²), ``Gyr_X..Z`` (rad/s), optional;
- the orientation as ``Quat_q0..q3``, Euler ``Roll``/``Pitch``/``Yaw`` (degrees, ``R = Rz·Ry·Rx``)
  or the matrix ``Mat[i][j]`` (``R_GS``, sensor → earth, z up).

Without gyro the sensor is orientation-only (its acc is kept, its rate is derived). The device
id (the ``00B42279`` in ``MT_012005D6_009-001_00B42279.txt``) is the ``--role`` key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from imu import quat as Q
from imu.errors import BadInputError, shown
from imu.session.vendor import float_cells, quat_from_euler_zyx_deg, quat_from_matrix_checked

MAX_HEAD_LINES = 64
ACC = ("Acc_X", "Acc_Y", "Acc_Z")
GYR = ("Gyr_X", "Gyr_Y", "Gyr_Z")
QUAT = ("Quat_q0", "Quat_q1", "Quat_q2", "Quat_q3")
EULER = ("Roll", "Pitch", "Yaw")
MAT = tuple(f"Mat[{i}][{j}]" for j in (1, 2, 3) for i in (1, 2, 3))
#: SampleTimeFine ticks per second
FINE_HZ = 10_000.0


def _read_head(p: Path):
    """(header line index 0-based, column names, preamble dict) or None."""
    try:
        with open(p, encoding="utf-8-sig", errors="replace") as fh:
            lines = [fh.readline() for _ in range(MAX_HEAD_LINES)]
    except OSError:
        return None
    pre = {}
    for i, ln in enumerate(lines):
        s = ln.strip()
        if s.startswith("//"):
            key, _, val = s[2:].partition(":")
            pre[key.strip()] = val.strip()
            continue
        if not s:
            continue
        cells = [c.strip() for c in ln.rstrip("\r\n").split("\t")]
        if "PacketCounter" in cells and len(cells) > 2:
            return i, cells, pre
        return None
    return None


def is_xsens_txt(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an MT Manager export (tab-separated, ``PacketCounter`` header)."""
    p = Path(path)
    return p.is_file() and _read_head(p) is not None


def device_id(path: Path, pre: dict) -> str:
    """The sensor's device id: from the preamble, else the file name's last ``_`` part."""
    for k, v in pre.items():
        if re.sub(r"[^a-z]", "", k.lower()) in ("deviceid", "devid"):
            return v.split()[0] if v else ""
    m = re.search(r"_([0-9A-Fa-f]{8})$", path.stem)
    return m.group(1).upper() if m else path.stem


def rate_hz(pre: dict) -> float:
    for k, v in pre.items():
        if "rate" in k.lower():
            m = re.search(r"[\d.]+", v)
            if m:
                try:
                    return float(m.group(0))
                except ValueError:
                    pass
    return 0.0


def read_xsens_txt(path: str | os.PathLike) -> dict:
    """Parse one MT Manager export.

    Returns
    -------
    dict
        ``device_id``, ``rate_hz``, ``preamble``, ``seq`` (N,) int64, ``t_sensor_s`` (N,),
        ``acc`` (N, 3) or None, ``gyr`` (N, 3) rad/s or None, ``quat`` (N, 4) or None.
    """
    p = Path(path)
    head = _read_head(p)
    if head is None:
        raise BadInputError(f"{p}: not an Xsens MT Manager export (no tab-separated PacketCounter "
                            f"header in the first {MAX_HEAD_LINES} lines)")
    hline, names, pre = head
    pos = {n: i for i, n in enumerate(names)}

    def have(cols):
        return all(c in pos for c in cols)

    groups = [("seq", ("PacketCounter",))]
    if have(ACC):
        groups.append(("acc", ACC))
    if have(GYR):
        groups.append(("gyr", GYR))
    if have(QUAT):
        groups.append(("quat", QUAT))
    elif have(MAT):
        groups.append(("mat", MAT))
    elif have(EULER):
        groups.append(("euler", EULER))
    kinds = {g for g, _ in groups}
    if not ({"acc", "gyr"} <= kinds or kinds & {"quat", "mat", "euler"}):
        present = [c for c in ACC + GYR if c in pos]
        missing = [c for c in ACC + GYR if c not in pos]
        what = f"missing column {', '.join(missing)}" if present else "no Acc/Gyr columns"
        raise BadInputError(f"{p}: {what} and no orientation (Quat_q0..q3, Mat[i][j] or "
                            f"Roll/Pitch/Yaw) in the MT export header")
    want = [c for _, cols in groups for c in cols]
    idx = [pos[c] for c in want]
    fine_i = pos.get("SampleTimeFine")
    rows, fine = [], []
    with open(p, encoding="utf-8-sig", errors="replace") as fh:
        for lineno, ln in enumerate(fh, start=1):
            if lineno <= hline + 1 or not ln.strip() or ln.lstrip().startswith("//"):
                continue
            cells = ln.rstrip("\r\n").split("\t")
            rows.append(float_cells(cells, idx, names, p, lineno))
            if fine_i is not None and fine_i < len(cells) and cells[fine_i].strip():
                try:
                    fine.append(float(cells[fine_i]))
                except ValueError:
                    raise BadInputError(f"{p}: row {lineno}, column SampleTimeFine: "
                                        f"{shown(cells[fine_i].strip())} is not a number") from None
    if not rows:
        raise BadInputError(f"{p}: no samples below the header")
    a = np.asarray(rows, dtype=float)  # a NaN/inf value is kept, as in a CSV folder
    if fine and not np.all(np.isfinite(fine)):
        bad = int(np.flatnonzero(~np.isfinite(fine))[0])
        raise BadInputError(f"{p}: data row {bad + 1}: SampleTimeFine {fine[bad]} is not a time")
    sl, k = {}, 0
    for g, cols in groups:
        sl[g] = slice(k, k + len(cols))
        k += len(cols)
    from imu.session.movella import _unwrap

    counter = a[:, 0]
    off = (counter < 0) | (counter >= 2 ** 16) | (counter != np.round(counter))
    if np.any(off):
        bad = int(np.flatnonzero(off)[0])
        raise BadInputError(f"{p}: data row {bad + 1}: PacketCounter {counter[bad]:g} is not a "
                            "16-bit packet counter (0–65535)")
    seq = _unwrap(counter, 2 ** 16).astype(np.int64)
    r_hz = rate_hz(pre)
    if len(fine) == len(a):
        t = _unwrap(np.asarray(fine), 2 ** 32) / FINE_HZ
    else:
        if not r_hz:
            d = np.diff(seq)
            raise BadInputError(f"{p}: no SampleTimeFine and no '// Update Rate' line: cannot "
                                f"tell the sample times" if len(d) else f"{p}: one sample only")
        t = seq / r_hz
    acc = np.ascontiguousarray(a[:, sl["acc"]]) if "acc" in sl else None
    gyr = np.ascontiguousarray(a[:, sl["gyr"]]) if "gyr" in sl else None
    quat = None
    if "quat" in sl:
        quat = a[:, sl["quat"]]
        norm = np.linalg.norm(quat, axis=1)
        if np.any(np.isfinite(norm) & ~(np.abs(norm - 1.0) < 0.05)):  # NaN: a gap
            raise BadInputError(f"{p}: Quat_q0..q3 are not unit quaternions")
        quat = Q.normalize(quat)
    elif "mat" in sl:
        m = a[:, sl["mat"]].reshape(-1, 3, 3)  # columns Mat[1][1], Mat[2][1], Mat[3][1], ...
        m = np.transpose(m, (0, 2, 1))          # → m[n, i, j] = Mat[i+1][j+1]
        with np.errstate(invalid="ignore"):  # a row with NaN cells: NaN (a gap)
            det = np.linalg.det(m)
        if np.any(np.isfinite(det) & ~(np.abs(det - 1.0) < 0.05)):  # NaN: a gap
            raise BadInputError(f"{p}: Mat[i][j] columns are not rotation matrices")
        quat = quat_from_matrix_checked(m, acc)
    elif "euler" in sl:
        quat = quat_from_euler_zyx_deg(a[:, sl["euler"]])
    return {"device_id": device_id(p, pre), "rate_hz": r_hz, "preamble": pre, "seq": seq,
            "t_sensor_s": t, "acc": acc, "gyr": gyr, "quat": quat}
