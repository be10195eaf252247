"""``imu angles SESSION [--calibration PROFILE] -o ANGLES.csv``: docs/angles.md angles of a session
(through :mod:`imu.chain`), with its provenance next to it as ``ANGLES.csv.json``."""

from __future__ import annotations

import sys

NAME = "angles"
HELP = "pelvis and hip angles of a session as the SPEC angles CSV"


def add_arguments(parser) -> None:
    from imu.cliargs import add_filter_argument, add_method_argument, add_save_intrinsics_argument
    from imu.output import add_force_argument
    from imu.session.load import add_session_arguments

    parser.add_argument("session", metavar="SESSION", help="recording file or CSV folder")
    add_session_arguments(parser)
    parser.add_argument("--calibration", metavar="PROFILE",
                        help="calibration profile (default: the session's own calibration)")
    add_method_argument(parser)
    parser.add_argument("-o", "--output", required=True, metavar="ANGLES.csv",
                        help="angles CSV to write (and its provenance, ANGLES.csv.json)")
    add_filter_argument(parser)
    parser.add_argument("--rate", type=float, default=None, metavar="HZ",
                        help="rate of the output time base (default: the sacrum sensor's)")
    parser.add_argument("--confidence", action="store_true",
                        help="add <column>_confidence columns (0..1) for the rotation angles")
    add_force_argument(parser)
    add_save_intrinsics_argument(parser)


def run(args) -> int:
    from imu.chain import Calibrate, ComputeAngles, import_steps, provenance
    from imu.output import Outputs, check_output
    from imu.session.angles_csv import CsvRows, write_angles_csv
    from imu.session.load import load_from_args

    rows = CsvRows(confidence=args.confidence)  # the rows' text, made with the angles
    angles = ComputeAngles(args.filter, args.rate, progress=True, causal=args.causal,
                           csv_rows=rows).check()  # before any work
    check_output(args.output, what="angles CSV", force=args.force)
    check_output(f"{args.output}.json", what="angles provenance JSON", force=args.force)
    with Outputs(force=args.force) as outs:  # the rows go into the CSV as they are made
        rows.write_into(outs.file(args.output, what="angles CSV"))
        session = load_from_args(args, meanwhile=import_steps)
        cal = Calibrate(args.calibration, remember=True, save_intrinsics=args.save_intrinsics,
                        method=args.method).run(session)
        table = angles.run(session, cal).angles_
        if len(cal.calibrations_) > 1:
            print("calibrations: " + "; ".join(
                c.name + ("" if c.accepted else f" (refused: {c.reason})")
                for c in cal.calibrations_), file=sys.stderr)
        write_angles_csv(table, args.output, confidence=args.confidence, force=args.force,
                         rows=rows, outputs=outs,
                         provenance=provenance(filter=args.filter, calibration=cal,
                                               rate_hz=args.rate, session=session,
                                               causal=args.causal))
    print(f"wrote {args.output}: {len(table.time_s)} rows, {len(table.names())} angles "
          f"(provenance: {args.output}.json)", file=sys.stderr)
    return 0
