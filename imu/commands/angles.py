"""``imu angles SESSION [--calibration PROFILE] -o ANGLES.csv``: SPEC §3 angles of a session."""

from __future__ import annotations

import os
import sys

import numpy as np

NAME = "angles"
HELP = "pelvis and hip angles of a session as the SPEC angles CSV"


def add_arguments(parser) -> None:
    parser.add_argument("session", help="recording file or CSV folder")
    parser.add_argument("--calibration", metavar="PROFILE",
                        help="calibration profile (default: the session's own calibration)")
    parser.add_argument("-o", "--output", required=True, metavar="ANGLES.csv",
                        help="angles CSV to write")
    parser.add_argument("--filter", default=None, help="fusion filter (default: the default)")
    parser.add_argument("--rate", type=float, default=None, metavar="HZ",
                        help="rate of the output time base (default: the sacrum sensor's)")
    parser.add_argument("--confidence", action="store_true",
                        help="add <column>_confidence columns (0..1) for the rotation angles")


def session_profile(session, calibration_path: str | None):
    """The profile to use: the file given, else the one embedded in the session, else one
    computed from the session's own calibration phase (a CalibrationError if there is none)."""
    from calibration import Profile, calibrate_session, load_profile

    if calibration_path:
        return load_profile(calibration_path)
    if session.calibration:
        return Profile.from_dict(session.calibration,
                                 where=f"{session.source or 'session'} (embedded calibration)")
    print("no --calibration: calibrating from the session's own calibration phase",
          file=sys.stderr)
    return calibrate_session(session)


def _format_column(v: np.ndarray, decimals: int, width: int):
    """Right-aligned ASCII of ``v`` with fixed ``decimals``: (n, width) uint8 and the index of
    each value's first character; NaN/inf → ``nan``. Vectorised (no per-value Python)."""
    n = len(v)
    buf = np.full((n, width), 32, dtype=np.uint8)
    fin = np.isfinite(v)
    x = np.round(np.where(fin, np.abs(v), 0.0) * 10.0 ** decimals).astype(np.int64)
    neg = fin & (v < 0) & (x > 0)
    pos = width - 1
    for _ in range(decimals):
        buf[:, pos] = 48 + (x % 10).astype(np.uint8)
        x //= 10
        pos -= 1
    if decimals > 0:
        buf[:, pos] = 46
        pos -= 1
    buf[:, pos] = 48 + (x % 10).astype(np.uint8)  # at least one integer digit
    x //= 10
    start = np.full(n, pos, dtype=np.int64)
    pos -= 1
    while pos >= 1 and (x > 0).any():
        m = x > 0
        buf[:, pos] = np.where(m, 48 + (x % 10).astype(np.uint8), 32)
        start = np.where(m, pos, start)
        x //= 10
        pos -= 1
    start = np.where(neg, start - 1, start)
    buf[np.flatnonzero(neg), start[neg]] = 45
    if (~fin).any():
        buf[~fin] = 32
        buf[~fin, width - 3:] = np.frombuffer(b"nan", np.uint8)
        start = np.where(fin, start, width - 3)
    return buf, start


def format_csv_rows(data: np.ndarray, decimals, width: int = 14) -> bytes:
    """CSV lines (bytes) of a (n, k) float array, ``decimals`` per column, ``nan`` for gaps.

    Same text as ``"%.{d}f"`` per value (for magnitudes below 10**(width - decimals - 2)).
    """
    data = np.asarray(data, dtype=float)
    n, k = data.shape
    dec = np.broadcast_to(np.asarray(decimals, dtype=np.int64), (k,))
    out = np.empty((n, k * (width + 1)), dtype=np.uint8)
    keep = np.empty((n, k * (width + 1)), dtype=bool)
    cols = np.arange(width)
    for j in range(k):
        buf, start = _format_column(data[:, j], int(dec[j]), width)
        o = j * (width + 1)
        out[:, o:o + width] = buf
        keep[:, o:o + width] = cols[None, :] >= start[:, None]
        out[:, o + width] = 10 if j == k - 1 else 44
        keep[:, o + width] = True
    return out[keep].tobytes()


def write_angles_csv(table, path, confidence: bool = False, decimals: int = 3,
                     chunk_rows: int = 200_000) -> None:
    """SPEC §6 angles CSV (``time_s`` then the angle columns, degrees) to exactly ``path``."""
    names = table.names()
    cols = [table.time_s] + [table[c] for c in names]
    header = ["time_s"] + names
    decs = [4] + [decimals] * len(names)
    if confidence:
        for c, v in table.confidence.items():
            header.append(f"{c}_confidence")
            cols.append(v)
            decs.append(2)
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    n = len(table.time_s)
    with open(tmp, "wb") as f:
        f.write((",".join(header) + "\n").encode())
        for i0 in range(0, n, chunk_rows):
            block = np.column_stack([np.asarray(c[i0:i0 + chunk_rows], float) for c in cols])
            f.write(format_csv_rows(block, decs))
    os.replace(tmp, path)


def run(args) -> int:
    from imu.kinematics.pipeline import DEFAULT_FILTER, compute_angles
    from imu.session.load import load_session

    session = load_session(args.session)
    profile = session_profile(session, args.calibration)
    table = compute_angles(session, profile.alignment(), filter=args.filter or DEFAULT_FILTER,
                           rate_hz=args.rate, progress=True)
    write_angles_csv(table, args.output, confidence=args.confidence)
    print(f"wrote {args.output}: {len(table.time_s)} rows, {len(table.names())} angles",
          file=sys.stderr)
    return 0
