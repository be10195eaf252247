"""``imu export SESSION -o DIR`` (CSV folder) or ``--format sto -o FILE.sto`` (OpenSense)."""

from __future__ import annotations

import sys

NAME = "export"
HELP = "write a session as a CSV folder (SPEC §6) or an OpenSim .sto quaternion table"

FORMATS = ("csv", "sto")


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION",
                        help="recording file, CSV folder or Movella DOT export")
    parser.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="folder for --format csv, file for --format sto (exactly this path)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="csv (default; a .sto output name selects sto)")
    parser.add_argument("--role", action="append", default=[], metavar="KEY=ROLE",
                        help="DOT exports: role of a file / device tag / address")
    sto = parser.add_argument_group("sto options")
    parser.add_argument("--force", action="store_true",
                        help="replace existing files at PATH (default: refuse)")
    sto.add_argument("--calibration", metavar="PROFILE",
                     help="calibration profile (default: the session's embedded one, if any)")
    sto.add_argument("--filter", default=None, help="fusion filter (default: the default)")
    sto.add_argument("--rate", type=float, default=None, metavar="HZ",
                     help="rate of the table (default: the first sensor's)")


def export_csv(session, args) -> int:
    from imu.session.csvfolder import write_csv_folder

    files = write_csv_folder(session, args.output, progress=True)
    n = sum(len(d) for d in session.sensors.values())
    print(f"imu export: wrote {args.output}: {', '.join(f.name for f in files)} ({n} samples)",
          file=sys.stderr)
    return 0


def export_sto(session, args) -> int:
    from imu.session import sto  # lazily: pulls in fusion and kinematics

    alignment = None
    if args.calibration or session.calibration:
        from imu.commands.angles import session_profile
        alignment = session_profile(session, args.calibration).alignment()
    rows = sto.write_sto(session, args.output, alignment, filter=args.filter, rate_hz=args.rate)
    print(f"imu export: wrote {args.output}: {rows} rows", file=sys.stderr)
    return 0


EXPORTERS = {"csv": export_csv, "sto": export_sto}


def run(args) -> int:
    from pathlib import Path

    from imu.commands.import_ import parse_role_args
    from imu.errors import BadInputError
    from imu.session.load import load_session

    fmt = args.format or ("sto" if Path(args.output).suffix.lower() == ".sto" else "csv")
    out = Path(args.output)
    if fmt == "csv" and out.exists() and not out.is_dir():
        raise BadInputError(f"{out}: exists and is not a folder (a CSV export is a folder)")
    if fmt == "sto" and out.is_dir():
        raise BadInputError(f"{out}: is a folder; --format sto writes a file")
    if not args.force:
        if fmt == "sto" and out.exists():
            raise BadInputError(f"{out}: already exists; refusing to overwrite it (use --force)")
        if fmt == "csv" and out.is_dir():
            from imu.session.csvfolder import SESSION_JSON, role_files
            if role_files(out) or (out / SESSION_JSON).exists():
                raise BadInputError(f"{out}: already holds a session's CSV files; refusing to "
                                    "overwrite them (use --force or another folder)")
    session = load_session(args.session, parse_role_args(args.role))
    return EXPORTERS[fmt](session, args)
