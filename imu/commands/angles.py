"""``imu angles SESSION [--calibration PROFILE] -o ANGLES.csv``: SPEC §3 angles of a session."""

from __future__ import annotations

import os
import sys

NAME = "angles"
HELP = "pelvis and hip angles of a session as the SPEC angles CSV"


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION", help="recording file or CSV folder")
    from imu.session.load import add_session_arguments

    add_session_arguments(parser)
    parser.add_argument("--calibration", metavar="PROFILE",
                        help="calibration profile (default: the session's own calibration)")
    add_method_argument(parser)
    parser.add_argument("-o", "--output", required=True, metavar="ANGLES.csv",
                        help="angles CSV to write")
    add_filter_argument(parser)
    parser.add_argument("--rate", type=float, default=None, metavar="HZ",
                        help="rate of the output time base (default: the sacrum sensor's)")
    parser.add_argument("--confidence", action="store_true",
                        help="add <column>_confidence columns (0..1) for the rotation angles")
    from imu.output import add_force_argument
    add_force_argument(parser)
    add_save_intrinsics_argument(parser)


def add_filter_argument(parser) -> None:
    """``--filter NAME``: the fusion filter, with its choices and default (every command), and
    ``--causal``."""
    from imu.fusion import DEFAULT_FILTER, FILTERS

    parser.add_argument("--filter", default=None, choices=list(FILTERS), metavar="NAME",
                        help=f"fusion filter: {', '.join(FILTERS)} (default {DEFAULT_FILTER})")
    add_causal_argument(parser)


def add_causal_argument(parser) -> None:
    """``--causal``: the live view's causal filter instead of a recording's non-causal one."""
    parser.add_argument("--causal", action="store_true",
                        help="the causal filter the live view runs (reproduces what it showed) "
                             "instead of the non-causal estimate of a recording")


def add_method_argument(parser) -> None:
    parser.add_argument("--method", choices=("protocol", "auto"), default=None,
                        help="calibration from the session itself: the SPEC §4 protocol, or auto "
                             "(quiet standing + walking, hinges, squats or swings); default: the "
                             "protocol when the session has it, else auto")


def method_text(profile) -> str:
    """``method protocol (…)`` or ``method auto, quality fair (…)`` for people."""
    if getattr(profile, "method", "protocol") != "auto":
        return "method protocol (SPEC §4 phases)"
    q = profile.quality or {}
    axes = ", ".join(f"{r} {f.get('method', '?')}" for r, f in (q.get("auto") or {}).items())
    return (f"method auto, quality {q.get('auto_verdict', '?')} (standing "
            f"{(q.get('standing') or {}).get('duration_s', 0):.1f} s; {axes})")


def add_save_intrinsics_argument(parser) -> None:
    """``--save-intrinsics``: let a session from elsewhere write the intrinsics store."""
    parser.add_argument("--save-intrinsics", action="store_true",
                        help="store the sensors' intrinsic corrections found in this session "
                             "even if it was imported or comes from elsewhere (they are then "
                             "applied to later sessions of the same sensor ids)")


def is_foreign(session) -> bool:
    """Whether ``session`` was not recorded by this program (an import, a CSV folder, an export
    of another product): its sensor ids are only claims, so it never writes the intrinsics
    store unless the user asks."""
    from imu.session.load import describe_source

    return bool(session.meta.get("imported_from")) or (
        describe_source(session.source) != "recording" if session.source else True)


def session_profile(session, calibration_path: str | None, save_intrinsics: bool = False,
                    method: str | None = None):
    """The profile to use: the file given, else the one embedded in the session, else one
    computed from the session itself (:func:`imu.calibration.calibrate`: the SPEC §4 protocol
    when found, else auto; ``method`` forces one; a one-line CalibrationError when neither
    works)."""
    from imu.calibration import Profile, calibrate, load_profile

    if calibration_path:
        return load_profile(calibration_path)
    if session.calibration:
        return Profile.from_dict(session.calibration,
                                 where=f"{session.source or 'session'} (embedded calibration)")
    from imu.errors import CalibrationError

    print("no --calibration: calibrating from the session itself", file=sys.stderr)
    try:
        profile = calibrate(session, method=method, intrinsics=stored_intrinsics(session))
    except CalibrationError as exc:
        raise CalibrationError(f"{exc.message} (or pass --calibration PROFILE)") from None
    print(f"calibration: {method_text(profile)}", file=sys.stderr)
    remember_intrinsics(profile, session, save_intrinsics)
    return profile


def session_calibrations(session, calibration_path: str | None,
                         save_intrinsics: bool = False, method: str | None = None) -> list:
    """Every calibration of ``session`` (:class:`~imu.analysis.calibrations.CalibrationUse`).

    ``--calibration PROFILE`` applies everywhere. Otherwise each calibration phase marked by
    the session's events is solved from its raw data (raw data is the truth); a phase whose
    calibration is poor is kept with the reason it was refused. Without any phase in the
    events, the profile stored in the recording applies everywhere, else the protocol is
    looked for in the data (:func:`session_profile`). A CalibrationError when nothing could
    be calibrated.
    """
    from dataclasses import replace

    from imu.analysis.calibrations import CalibrationUse
    from imu.analysis.sets import calibration_windows
    from imu.errors import CalibrationError

    if calibration_path:
        return [CalibrationUse(f"profile {calibration_path}", "file",
                               profile=session_profile(session, calibration_path))]
    windows = calibration_windows(session.events)
    if not windows:
        profile = session_profile(session, None, save_intrinsics, method)
        if session.calibration:
            return [CalibrationUse("profile stored in the recording", "stored", profile=profile)]
        end = _protocol_end(profile)
        return [CalibrationUse("the session's calibration phase" if end is None else
                               f"the session's calibration phase (to {end:.1f} s)", "session",
                               window_s=None if end is None else (-float("inf"), end),
                               profile=profile)]
    from imu.calibration import calibrate_session

    evs = [e for e in session.events if e.kind not in ("calibration_start", "calibration_end")]
    stored = stored_intrinsics(session)
    cals = []
    for k, (w0, w1) in enumerate(windows):
        name = f"calibration {k + 1} ({max(w0, 0.0):.1f}-{w1:.1f} s)"
        one = replace(session, events=evs + _window_events(session.events, w0, w1))
        try:
            prof = calibrate_session(one, intrinsics=stored)
        except CalibrationError as exc:
            cals.append(CalibrationUse(name, "session", (w0, w1), None, exc.message))
            continue
        cals.append(CalibrationUse(name, "session", (w0, w1), prof))
    if not any(c.accepted for c in cals):
        if session.calibration:
            return cals + [CalibrationUse("profile stored in the recording", "stored",
                                          profile=session_profile(session, None))]
        raise CalibrationError(f"{session.source or 'session'}: no calibration phase could be "
                               f"used ({'; '.join(c.name + ': ' + c.reason for c in cals)}); "
                               "pass --calibration PROFILE")
    remember_intrinsics([c for c in cals if c.accepted][-1].profile, session, save_intrinsics)
    return cals


def _window_events(events, w0: float, w1: float) -> list:
    """The calibration events that bound the phase ``(w0, w1)`` (for solving it alone)."""
    from imu.types import Event

    return [Event(w0, "calibration_start"), Event(w1, "calibration_end")]


def _protocol_end(profile) -> float | None:
    from imu.commands.analyze import calibration_end_from_phases

    return calibration_end_from_phases(getattr(profile, "phases", None) or {})


def session_angles(session, calibration_path: str | None = None, *, filter: str | None = None,
                   rate_hz: float | None = None, progress: bool = True,
                   save_intrinsics: bool = False, causal: bool = False,
                   method: str | None = None):
    """SPEC §3 angles of ``session``, each stretch through the calibration in force then.

    Returns ``(angles, calibrations, which)``: the :class:`~imu.types.AngleTable`, the list of
    :class:`~imu.analysis.calibrations.CalibrationUse` and the index of the calibration in
    force at each row (``-1``: none). ``causal``: the live view's causal filter instead of
    the recording's non-causal estimate.
    """
    from imu.analysis.calibrations import in_force, splice_angles
    from imu.kinematics.pipeline import DEFAULT_FILTER, compute_angles

    cals = session_calibrations(session, calibration_path, save_intrinsics, method)
    tables = {}
    which = None
    for k, c in enumerate(cals):
        if not c.accepted:
            continue
        if which is not None and not (which == k).any():
            continue
        tab = compute_angles(session, c.profile.alignment(), filter=filter or DEFAULT_FILTER,
                             intrinsics=session_intrinsics(session, c.profile), rate_hz=rate_hz,
                             progress=progress, causal=causal)
        if which is None:
            which = in_force(tab.time_s, cals)
            if not (which == k).any():
                continue
        tables[k] = tab
    if len(tables) == 1:
        (k, tab), = tables.items()
        return tab, cals, which
    first = next(iter(tables.values()))
    return splice_angles(tables, first.time_s, which), cals, which


def stored_intrinsics(session) -> dict:
    """Sensor id → the correction stored for each of the session's sensors (imu.intrinsics)."""
    from imu.intrinsics import stored_corrections

    return stored_corrections(d.info.sensor_id for d in session.sensors.values()
                              if d.info.sensor_id)


def remember_intrinsics(profile, session=None, save: bool = False) -> None:
    """Store the intrinsic corrections of a fresh calibration under each sensor's id, so the
    next session of the same sensors starts from them; a store that cannot be written is
    reported on stderr, never fatal. A foreign session (:func:`is_foreign`) stores nothing
    unless ``save`` (``--save-intrinsics``)."""
    from imu.intrinsics import IntrinsicStore, store_corrections

    if not save and session is not None and is_foreign(session):
        if profile.intrinsic_corrections():
            print("intrinsics not stored: the session was not recorded here "
                  "(--save-intrinsics stores them)", file=sys.stderr)
        return
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
    import numpy as np  # here, not at the top: every command's --filter option imports this module

    from imu.session.textfmt import format_rows

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
    from imu.session.load import load_from_args

    from imu.output import check_output

    if args.filter and args.filter not in FILTERS:
        raise BadInputError(f"unknown filter {args.filter!r}; choose one of {', '.join(FILTERS)}")
    if args.rate is not None and not (args.rate > 0):
        raise BadInputError(f"--rate must be positive, not {args.rate:g}")
    check_output(args.output, what="angles CSV", force=args.force)  # before any work
    session = load_from_args(args)
    table, cals, _ = session_angles(session, args.calibration, filter=args.filter,
                                    rate_hz=args.rate, save_intrinsics=args.save_intrinsics,
                                    causal=args.causal, method=args.method)
    if len(cals) > 1:
        print("calibrations: " + "; ".join(
            c.name + ("" if c.accepted else f" (refused: {c.reason})") for c in cals),
            file=sys.stderr)
    write_angles_csv(table, args.output, confidence=args.confidence, force=args.force)
    print(f"wrote {args.output}: {len(table.time_s)} rows, {len(table.names())} angles",
          file=sys.stderr)
    return 0
