"""``imu import SRC -o FILE``: a CSV folder or Movella DOT export → a recording file."""

from __future__ import annotations

import sys

NAME = "import"
HELP = "turn a CSV folder (SPEC §6) or Movella DOT CSV exports into a recording file"


def add_arguments(parser) -> None:
    parser.add_argument("source", metavar="SRC",
                        help="CSV folder, role-named CSV, Movella DOT export CSV or folder of them")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="recording file to write (exactly this path)")
    parser.add_argument("--role", action="append", default=[], metavar="KEY=ROLE",
                        help="DOT exports: role of the file (name or stem), device tag or address "
                             "KEY; repeat for each sensor "
                             "(e.g. --role D4-22-CD-00-36-82=left_thigh)")
    from imu.output import add_force_argument
    add_force_argument(parser)


def parse_role_args(items: list[str]) -> dict[str, str]:
    """``["KEY=ROLE", ...]`` → dict; a malformed item is a one-line BadInputError."""
    from imu.errors import BadInputError
    from imu.types import ROLES

    out = {}
    for item in items:
        key, sep, role = item.rpartition("=")
        if not sep or not key or role not in ROLES:
            raise BadInputError(f"--role {item}: expected KEY=ROLE with ROLE one of "
                                f"{', '.join(ROLES)}")
        out[key] = role
    return out


def run(args) -> int:
    from imu.session.load import describe_source, load_session
    from imu.session.store import write_session

    from imu.output import check_output

    out = check_output(args.output, what="recording", force=args.force, recording=True)
    session = load_session(args.source, parse_role_args(args.role))
    kind = describe_source(args.source)
    session.meta.setdefault("imported_from", str(args.source))
    session.meta["imported_format"] = kind
    write_session(session, out, overwrite=args.force, progress=True)
    n = sum(len(d) for d in session.sensors.values())
    roles = ", ".join(f"{r} ({len(session.sensors[r])})" for r in session.roles)
    print(f"imu import: wrote {out}: {n} samples, {session.duration_s:.1f} s; {roles}",
          file=sys.stderr)
    return 0
