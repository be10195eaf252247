"""``imu angles SESSION [--calibration PROFILE] -o ANGLES.csv``: SPEC §3 angles of a session."""

from __future__ import annotations

import os
import sys

import numpy as np

from imu.session.textfmt import format_rows

NAME = "angles"
HELP = "pelvis and hip angles of a session as the SPEC angles CSV"


def add_arguments(parser) -> None:
    parser.add_argument("session", help="recording file or CSV folder")
    parser.add_argument("--calibration", metavar="PROFILE",
                        help="calibration profile (default: the session's own calibration)")
    parser.add_argument("-o", "--output", required=True, metavar="ANGLES.csv",
                        help="angles CSV to write")
    add_filter_argument(parser)
    parser.add_argument("--rate", type=float, default=None, metavar="HZ",
                        help="rate of the output time base (default: the sacrum sensor's)")
    parser.add_argument("--confidence", action="store_true",
                        help="add <column>_confidence columns (0..1) for the rotation angles")
    from imu.output import add_force_argument
    add_force_argument(parser)


def add_filter_argument(parser) -> None:
    """``--filter NAME``: the fusion filter, with its choices and default (every command)."""
    from imu.fusion import DEFAULT_FILTER, FILTERS

    parser.add_argument("--filter", default=None, choices=list(FILTERS), metavar="NAME",
                        help=f"fusion filter: {', '.join(FILTERS)} (default {DEFAULT_FILTER})")


def session_profile(session, calibration_path: str | None):
    """The profile to use: the file given, else the one embedded in the session, else one
    computed from the session's own calibration phase (a CalibrationError if there is none)."""
    from imu.calibration import Profile, calibrate_session, load_profile

    if calibration_path:
        return load_profile(calibration_path)
    if session.calibration:
        return Profile.from_dict(session.calibration,
                                 where=f"{session.source or 'session'} (embedded calibration)")
    from imu.errors import CalibrationError

    print("no --calibration: calibrating from the session's own calibration phase",
          file=sys.stderr)
    try:
        profile = calibrate_session(session, intrinsics=stored_intrinsics(session))
    except CalibrationError as exc:
        raise CalibrationError(f"{exc.message} (or pass --calibration PROFILE)") from None
    remember_intrinsics(profile)
    return profile


def stored_intrinsics(session) -> dict:
    """Sensor id → the correction stored for each of the session's sensors (imu.intrinsics)."""
    from imu.intrinsics import stored_corrections

    return stored_corrections(d.info.sensor_id for d in session.sensors.values()
                              if d.info.sensor_id)


def remember_intrinsics(profile) -> None:
    """Store the intrinsic corrections of a fresh calibration under each sensor's id, so the
    next session of the same sensors starts from them; a store that cannot be written is
    reported on stderr, never fatal."""
    from imu.intrinsics import IntrinsicStore, store_corrections

    store = IntrinsicStore()
    try:
        paths = store_corrections(profile.sensor_ids, profile.intrinsic_corrections(), store)
    except OSError as exc:
        print(f"warning: intrinsics not stored ({exc})", file=sys.stderr)
        return
    if paths:
        print(f"stored the intrinsics of {len(paths)} sensors in {store.root}", file=sys.stderr)


def session_intrinsics(session, profile) -> dict:
    """Role → intrinsic correction for the angles: the profile's (when it was made with the
    same sensor in that role), else the stored one of the sensor's id
    (:func:`imu.intrinsics.session_corrections`)."""
    from imu.intrinsics import session_corrections

    ids = {r: d.info.sensor_id for r, d in session.sensors.items()}
    try:
        prof = profile.intrinsic_corrections()
    except ValueError:  # a damaged intrinsics entry in a profile: fall back to the store
        prof = {}
    prof = {r: c for r, c in prof.items()
            if not profile.sensor_ids.get(r) or not ids.get(r) or profile.sensor_ids[r] == ids[r]}
    return session_corrections(ids, prof)


def write_angles_csv(table, path, confidence: bool = False, decimals: int = 3,
                     chunk_rows: int = 200_000, force: bool = False) -> None:
    """SPEC §6 angles CSV (``time_s`` then the angle columns, degrees) to exactly ``path``
    (under the output rule, :mod:`imu.output`). Rows inside a data gap hold NaN."""
    from imu.output import Output

    out = Output(path, what="angles CSV", force=force)
    try:
        _write_angles(table, out.temp_path(), confidence, decimals, chunk_rows)
        out.commit()
    except BaseException:
        out.discard()
        raise


def _write_angles(table, tmp, confidence, decimals, chunk_rows) -> None:
    names = table.names()
    cols = [table.time_s] + [table[c] for c in names]
    header = ["time_s"] + names
    decs = [4] + [decimals] * len(names)
    if confidence:
        for c, v in table.confidence.items():
            header.append(f"{c}_confidence")
            cols.append(v)
            decs.append(2)
    n = len(table.time_s)
    from concurrent.futures import ThreadPoolExecutor

    def chunk(i0):
        block = np.column_stack([np.asarray(c[i0:i0 + chunk_rows], float) for c in cols])
        return format_rows(block, decs)

    workers = max(1, min(2, os.cpu_count() or 1))
    with open(tmp, "wb") as f, ThreadPoolExecutor(max_workers=workers) as pool:
        f.write((",".join(header) + "\n").encode())
        for text in pool.map(chunk, range(0, n, chunk_rows)):  # in order
            f.write(text)


def run(args) -> int:
    from imu.errors import BadInputError
    from imu.fusion import FILTERS
    from imu.kinematics.pipeline import DEFAULT_FILTER, compute_angles
    from imu.session.load import load_session

    from imu.output import check_output

    if args.filter and args.filter not in FILTERS:
        raise BadInputError(f"unknown filter {args.filter!r}; choose one of {', '.join(FILTERS)}")
    if args.rate is not None and not (args.rate > 0):
        raise BadInputError(f"--rate must be positive, not {args.rate:g}")
    check_output(args.output, what="angles CSV", force=args.force)  # before any work
    session = load_session(args.session)
    profile = session_profile(session, args.calibration)
    table = compute_angles(session, profile.alignment(), filter=args.filter or DEFAULT_FILTER,
                           intrinsics=session_intrinsics(session, profile), rate_hz=args.rate,
                           progress=True)
    write_angles_csv(table, args.output, confidence=args.confidence, force=args.force)
    print(f"wrote {args.output}: {len(table.time_s)} rows, {len(table.names())} angles",
          file=sys.stderr)
    return 0
