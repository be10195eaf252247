"""``imu export SESSION -o DIR`` (CSV folder), ``--format sto -o FILE.sto`` (OpenSense sensor
orientations) or ``--format mot -o FILE.mot`` (the angles as an OpenSim motion file)."""

from __future__ import annotations

import sys

NAME = "export"
HELP = ("write a session as a CSV folder (docs/formats.md), an OpenSim .sto quaternion table or its "
        "angles as an OpenSim .mot motion file")

FORMATS = ("csv", "sto", "mot")
#: output name suffix → format when --format is not given
SUFFIX_FORMATS = {".sto": "sto", ".mot": "mot"}


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION",
                        help="recording file, CSV folder or Movella DOT export")
    parser.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="folder for --format csv, file for sto/mot (exactly this path)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="csv (default; a .sto or .mot output name selects sto or mot)")
    from imu.session.load import add_session_arguments

    add_session_arguments(parser)
    sto = parser.add_argument_group("sto and mot options")
    from imu.cliargs import add_filter_argument
    from imu.output import add_force_argument
    add_force_argument(parser)
    sto.add_argument("--calibration", metavar="PROFILE",
                     help="calibration profile (default: the session's embedded one, else one made "
                          "from the session's own calibration phase, as imu angles does)")
    sto.add_argument("--uncalibrated", action="store_true",
                     help="sto: write each sensor's own fused heading, without a calibration "
                          "(OpenSense's heading correction then fits the pelvis sensor only)")
    add_filter_argument(sto)
    sto.add_argument("--rate", type=float, default=None, metavar="HZ",
                     help="rate of the table (default: the first sensor's)")
    from imu.session.sto import MAX_GAP_S
    sto.add_argument("--max-gap-s", type=float, default=MAX_GAP_S, metavar="S",
                     help="sto: fill a sensor's gaps up to S seconds by slerp so OpenSense can use "
                          f"every row; longer gaps stay nan,nan,nan,nan (default {MAX_GAP_S:g})")


def export_csv(session, args) -> int:
    from imu.session.csvfolder import write_csv_folder

    files = write_csv_folder(session, args.output, progress=True, force=args.force)
    n = sum(len(d) for d in session.sensors.values())
    print(f"imu export: wrote {args.output}: {', '.join(f.name for f in files)} ({n} samples)",
          file=sys.stderr)
    derived = [r for r, d in session.sensors.items() if d.derived and len(d)]
    if derived:  # the folder cannot hold the orientation its angles came from
        print(f"imu export: note: {', '.join(derived)}: no raw samples, only the sensor's own "
              "orientation, which a CSV folder cannot hold: its acc/gyr columns are derived "
              "from it, and angles of the folder (fused from them) differ from the session's; "
              "imu import keeps the orientation", file=sys.stderr)
    return 0


def export_sto(session, args) -> int:
    from imu.chain import Calibrate, ComputeOrientations
    from imu.session.sto import write_sto_table  # lazily: pulls in fusion and kinematics

    vendor = all(d.kind == "orientation" for d in session.sensors.values())
    if args.uncalibrated or (vendor and not args.calibration and not session.calibration):
        # sensors that carry their own orientation already share the vendor's earth frame
        # and heading: their orientations are written as they are
        if not args.uncalibrated:
            print("imu export: the sensors' own orientations (vendor heading), no calibration",
                  file=sys.stderr)
        cal = None
    else:  # the calibration `imu angles` would use, so every sensor is on the pelvis's heading
        cal = Calibrate(args.calibration, remember=True).run(session)
    o = ComputeOrientations(args.filter, args.rate, causal=args.causal).run(session, cal)
    stats: dict = {}
    rows = write_sto_table(args.output, o.time_s_, o.quats_, o.rate_hz_, force=args.force,
                           max_gap_s=args.max_gap_s, stats=stats)
    filled = sum(stats.get("filled_rows", {}).values())
    print(f"imu export: wrote {args.output}: {rows} rows ({filled} gap samples filled by slerp, "
          f"{stats.get('nan_rows', 0)} rows with a gap longer than {args.max_gap_s:g} s left "
          "as nan)", file=sys.stderr)
    return 0


def export_mot(session, args) -> int:
    from imu.chain import Calibrate, ComputeAngles
    from imu.session.mot import write_mot

    # exactly the angles `imu angles` writes (each stretch through the calibration in force)
    cal = Calibrate(args.calibration, remember=True).run(session)
    table = ComputeAngles(args.filter, args.rate, progress=True,
                          causal=args.causal).run(session, cal).angles_
    rows = write_mot(table, args.output, force=args.force)
    print(f"imu export: wrote {args.output}: {rows} rows", file=sys.stderr)
    return 0


EXPORTERS = {"csv": export_csv, "sto": export_sto, "mot": export_mot}


def run(args) -> int:
    from pathlib import Path

    from imu.session.load import load_from_args

    from imu.errors import BadInputError
    from imu.output import check_output
    from imu.session.csvfolder import SESSION_JSON
    from imu.types import ROLES

    fmt = args.format or SUFFIX_FORMATS.get(Path(args.output).suffix.lower(), "csv")
    if fmt == "csv":  # every output checked before any work
        check_output(args.output, what="CSV export", force=args.force, folder=True,
                     names=[f"{r}.csv" for r in ROLES] + [SESSION_JSON])
    else:
        check_output(args.output, what=f".{fmt} file", force=args.force)
    from imu.chain import check_rate
    check_rate(args.rate)
    if not (0.0 <= args.max_gap_s <= 60.0):
        raise BadInputError(f"--max-gap-s {args.max_gap_s:g}: give 0..60 seconds")
    if args.uncalibrated and (fmt != "sto" or args.calibration):
        raise BadInputError("--uncalibrated goes with --format sto and without --calibration")
    from imu.session.sto import MAX_GAP_S
    both = ("sto", "mot")
    unused = [o for o, given, formats in (
        ("--calibration", args.calibration, both), ("--filter", args.filter, both),
        ("--causal", args.causal, both), ("--rate", args.rate is not None, both),
        ("--max-gap-s", args.max_gap_s != MAX_GAP_S, ("sto",))) if given and fmt not in formats]
    if unused:  # the CSV folder holds the raw samples: an option ignored would mislead
        raise BadInputError(f"{unused[0]} does nothing with --format {fmt} (it goes with "
                            f"{'--format sto' if unused[0] == '--max-gap-s' else 'sto and mot'})")
    session = load_from_args(args)
    return EXPORTERS[fmt](session, args)
