"""OpenSim ``.sto`` orientation table for OpenSense (docs/formats.md).

The file OpenSense's IMU placer and inverse kinematics read::

    DataRate=104.000000
    DataType=Quaternion
    version=3
    OpenSimVersion=4.6
    endheader
    time<TAB>pelvis_imu<TAB>femur_r_imu<TAB>femur_l_imu[<TAB>torso_imu]
    0.000000<TAB>w,x,y,z<TAB>...

Each cell is the orientation of the **sensor** (not the segment) in an earth frame whose z axis
points up, as OpenSense expects from IMU software (its default ``sensor_to_opensim_rotations``
turns z-up into OpenSim's y-up). The IMU placer finds each sensor's mounting from the first
frame, so a session should start in the calibration pose (docs/calibration.md starts with quiet standing).

6D fusion leaves each sensor with its own arbitrary heading; OpenSense needs one common
heading. With a :class:`~imu.kinematics.alignment.SegmentAlignment` the headings of all sensors
are put into the pelvis's frame and held (:mod:`imu.kinematics.heading`), so the table is
usable as is. Without one, the sensors' own fused headings are written (each sensor's heading
then starts where its filter started) and OpenSense's heading correction
(``base_imu_label``/``base_heading_axis``) only fixes the pelvis sensor.
"""

from __future__ import annotations

import os

import numpy as np

from imu import quat as Q
from imu.session.textfmt import format_rows

#: role → OpenSense body IMU column name
STO_COLUMNS = {"sacrum": "pelvis_imu", "right_thigh": "femur_r_imu", "left_thigh": "femur_l_imu",
               "trunk": "torso_imu"}

OPENSIM_VERSION = "4.6"

#: Longest gap in a sensor's orientation that the .sto export fills by slerp, seconds.
MAX_GAP_S = 0.5


def _z_rotation_quat(angle_deg: np.ndarray) -> np.ndarray:
    h = np.radians(np.asarray(angle_deg, dtype=float)) / 2.0
    z = np.zeros_like(h)
    return np.stack([np.cos(h), z, z, np.sin(h)], axis=-1)


def sensor_orientations(session, alignment=None, *, filter: str | None = None,
                        intrinsics=None, rate_hz: float | None = None, causal: bool = False):
    """Fused sensor orientations on one time base, with common heading if aligned.

    Returns
    -------
    time_s : ndarray, shape (N,)
    quats : dict
        Role → (N, 4) ``q_ES`` (``w, x, y, z``), NaN in gaps.
    rate_hz : float
    """
    from imu.errors import BadInputError
    from imu.kinematics.pipeline import DEFAULT_FILTER, fuse_session
    from imu.session.validate import note_too_few_samples, roles_in_use, too_few_samples

    roles = roles_in_use(session, STO_COLUMNS)
    if alignment is not None:
        roles = [r for r in roles if r in alignment.R_BS]
    if not roles:  # (a fusion of no sensor ended in an IndexError)
        few = [too_few_samples(session, r) for r in STO_COLUMNS if r in session.sensors
               and r not in roles_in_use(session, [r])]
        raise BadInputError("; ".join(few) if few and alignment is None else
                            f"{session.source or 'session'}: no sensor to give an orientation"
                            + (" with this calibration profile" if alignment is not None else ""))
    note_too_few_samples(session)  # the others go on without them: said once
    restarts: dict = {}
    time_s, quats, gnorm, base_hz = fuse_session(session, roles, filter=filter or DEFAULT_FILTER,
                                                 intrinsics=intrinsics, rate_hz=rate_hz,
                                                 alignment=alignment, restarts_s=restarts,
                                                 causal=causal)
    if alignment is not None and "sacrum" in roles:
        from imu.kinematics.pipeline import held_headings

        _, hold = held_headings(time_s, {r: quats[r] for r in roles}, gnorm, alignment,
                                restarts_s=restarts)
        # a heading offset about world +Y is a rotation about earth +z by the same angle
        quats = {r: Q.multiply(_z_rotation_quat(hold.offset_deg[r]), quats[r]) for r in roles}
    return time_s, quats, base_hz


def write_sto(session, path, alignment=None, *, filter: str | None = None, intrinsics=None,
              rate_hz: float | None = None, decimals: int = 6, force: bool = False,
              causal: bool = False, max_gap_s: float = MAX_GAP_S,
              stats: dict | None = None) -> int:
    """Write an OpenSense quaternion table of ``session`` to exactly ``path``.

    Parameters
    ----------
    session : imu.types.Session
    path : str or path-like
    alignment : SegmentAlignment, optional
        Puts all sensors on the pelvis's heading and holds it (see module notes).
    filter : str, optional
        Fusion filter name (default: :data:`imu.fusion.DEFAULT_FILTER`).
    intrinsics : dict, optional
        Role or sensor id → correction with ``apply(acc, gyr)``.
    rate_hz : float, optional
        Rate of the table (default: the first sensor's rate).
    decimals : int
        Digits after the point of quaternion components.
    causal : bool
        True: the live view's causal filter instead of the recording's non-causal estimate.
    force : bool
        Replace an existing file (never a recording; :mod:`imu.output`).
    max_gap_s : float
        Gaps in a sensor's data up to this long are filled by slerp between the orientations
        on either side (at the start or end of the data: the nearest orientation), so that
        OpenSense can use every row. Longer gaps stay ``nan,nan,nan,nan`` (OpenSim's missing
        value); the time column stays uniform at ``DataRate``.
    stats : dict, optional
        Filled with ``filled_rows`` (per column) and ``nan_rows`` (rows with a NaN cell).

    Returns
    -------
    int
        Number of time rows written: every row of the uniform time base from the first to the
        last row where a sensor has data.
    """
    from imu.output import check_output

    check_output(path, what=".sto table", force=force)  # before any work
    time_s, quats, base_hz = sensor_orientations(session, alignment, filter=filter,
                                                 intrinsics=intrinsics, rate_hz=rate_hz,
                                                 causal=causal)
    return write_sto_table(path, time_s, quats, base_hz, decimals=decimals, force=force,
                           max_gap_s=max_gap_s, stats=stats)


def write_sto_table(path, time_s: np.ndarray, quats: dict, rate_hz: float, *,
                    decimals: int = 6, force: bool = False, max_gap_s: float = MAX_GAP_S,
                    stats: dict | None = None) -> int:
    """Write fused sensor orientations (:func:`sensor_orientations`, or
    :class:`imu.chain.ComputeOrientations`) as an OpenSense table to exactly ``path``, under
    the output rule (:mod:`imu.output`).

    Parameters
    ----------
    path : str or path-like
    time_s : ndarray, shape (N,)
        Uniform time base, seconds.
    quats : dict
        Role → (N, 4) sensor → earth ``w, x, y, z`` (NaN in gaps).
    rate_hz : float
        ``DataRate`` of the header, Hz.
    decimals, force, max_gap_s, stats
        As for :func:`write_sto`.

    Returns
    -------
    int
        Rows written.
    """
    from imu.output import Output

    out = Output(path, what=".sto table", force=force)
    try:
        n = _write(out, np.asarray(time_s, dtype=float), dict(quats), float(rate_hz), decimals,
                   max_gap_s, stats if stats is not None else {})
        out.commit()
    except BaseException:
        out.discard()
        raise
    return n


def _write(out, time_s, quats, base_hz, decimals, max_gap_s, stats) -> int:
    roles = [r for r in STO_COLUMNS if r in quats]
    filled = {}
    for r in roles:
        quats[r], filled[STO_COLUMNS[r]] = Q.fill_short_gaps(time_s, quats[r], max_gap_s)
    Qs = np.stack([quats[r] for r in roles], axis=1)  # (N, R, 4)
    some = np.flatnonzero(np.any(np.all(np.isfinite(Qs), axis=2), axis=1))
    keep = slice(some[0], some[-1] + 1) if len(some) else slice(0, 0)
    t = time_s[keep]
    Qs = Q.canonical(Qs[keep])
    stats["filled_rows"] = filled
    stats["nan_rows"] = int(np.sum(~np.all(np.isfinite(Qs), axis=(1, 2))))
    seps = "".join("\t,,," for _ in roles)
    with out.open("wb") as f:  # (its fresh temp file, without O_TRUNC)
        f.write((f"DataRate={base_hz:f}\nDataType=Quaternion\nversion=3\n"
                 f"OpenSimVersion={OPENSIM_VERSION}\nendheader\n").encode())
        f.write(("time\t" + "\t".join(STO_COLUMNS[r] for r in roles) + "\n").encode())
        for i0 in range(0, len(t), 200_000):
            block = np.column_stack([t[i0:i0 + 200_000]] +
                                    [Qs[i0:i0 + 200_000, k] for k in range(len(roles))])
            f.write(format_rows(block, [6] + [decimals] * (4 * len(roles)), seps))
    return int(len(t))


def is_sto(path) -> bool:
    """Whether ``path`` is an OpenSim table with a quaternion ``time`` column (``.sto`` input)."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        return False
    try:
        with open(p, encoding="utf-8", errors="replace") as fh:
            head = [fh.readline() for _ in range(64)]
    except OSError:
        return False
    for i, ln in enumerate(head):
        if ln.strip().lower() == "endheader":
            nxt = head[i + 1] if i + 1 < len(head) else ""
            return nxt.split("\t")[0].strip().lower() == "time"
    return False


def read_sto(path) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    """Read an OpenSense orientation table (``DataType=Quaternion``).

    Returns
    -------
    time_s : ndarray, shape (N,)
    rate_hz : float
        ``DataRate`` of the header (0 when absent).
    quats : dict
        Column name → (N, 4) ``w, x, y, z`` (earth frame z up, as OpenSense reads them).
    """
    from pathlib import Path

    from imu.errors import BadInputError, shown

    p = Path(path)
    with open(p, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    header = {}
    k = 0
    while k < len(lines) and lines[k].strip().lower() != "endheader":
        key, sep, val = lines[k].partition("=")
        if sep:
            header[key.strip().lower()] = val.strip()
        k += 1
    if k >= len(lines) - 1:
        raise BadInputError(f"{p}: no 'endheader' line followed by a time column header")
    dtype = header.get("datatype", "Quaternion")
    if dtype.lower() != "quaternion":
        raise BadInputError(f"{p}: DataType={dtype}; only quaternion tables are read")
    try:
        rate = float(header.get("datarate", 0) or 0)
    except ValueError:
        raise BadInputError(f"{p}: DataRate={shown(header.get('datarate'))} is not a number") from None
    names = [c.strip() for c in lines[k + 1].split("\t")]
    if names[0].lower() != "time" or len(names) < 2:
        raise BadInputError(f"{p}: line {k + 2}: expected 'time' and sensor columns")
    t, cols, at = [], [[] for _ in names[1:]], []
    for lineno, ln in enumerate(lines[k + 2:], start=k + 3):
        if not ln.strip():
            continue
        at.append(lineno)
        cells = ln.split("\t")
        if len(cells) != len(names):
            raise BadInputError(f"{p}: line {lineno}: {len(cells)} cells, expected {len(names)} "
                                f"(truncated file?)")
        try:
            t.append(float(cells[0]))
            for j, c in enumerate(cells[1:]):
                v = [float(x) for x in c.split(",")]
                if len(v) != 4:
                    raise ValueError
                cols[j].append(v)
        except ValueError:
            raise BadInputError(f"{p}: line {lineno}: {ln.strip()[:40]!r}: expected time and "
                                f"w,x,y,z quaternions") from None
    if not t:
        raise BadInputError(f"{p}: no rows below the header")
    tt = np.asarray(t, dtype=float)
    bad = np.flatnonzero(~np.isfinite(tt))
    if len(bad):
        raise BadInputError(f"{p}: line {at[bad[0]]}: time {tt[bad[0]]} is not a time")
    back = np.flatnonzero(np.diff(tt) < 0)
    if len(back):
        i = int(back[0]) + 1
        raise BadInputError(f"{p}: line {at[i]}: time goes backwards ({tt[i - 1]:g} then "
                            f"{tt[i]:g} s)")
    out = {}
    for name, c in zip(names[1:], cols):
        q = np.asarray(c, dtype=float)
        n = np.linalg.norm(q, axis=1)
        if np.any(np.isfinite(n) & (np.abs(n - 1.0) > 0.05)):
            raise BadInputError(f"{p}: column {name}: not unit quaternions")
        out[name] = Q.normalize(q)
    return tt, rate, out
