"""``imu import SRC [SRC ...] -o FILE``: a CSV folder, Movella DOT / Xsens MT / .sto files → a
recording file."""

from __future__ import annotations

import sys

NAME = "import"
HELP = ("turn a CSV folder (docs/formats.md), Movella DOT CSV, Xsens MT Manager .txt or OpenSense .sto "
        "files into a recording file")


def add_arguments(parser) -> None:
    parser.add_argument("source", metavar="SRC", nargs="+",
                        help="CSV folder or role-named CSV; Movella DOT CSV, Xsens MT .txt or "
                             ".sto files, or folders of them (format recognised by content)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="recording file to write (exactly this path)")
    from imu.session.load import add_session_arguments

    add_session_arguments(parser)
    from imu.output import add_force_argument
    add_force_argument(parser)


def parse_role_args(items: list[str]) -> dict[str, str]:
    """``["KEY=ROLE", ...]`` → dict (:func:`imu.session.roles.parse_role_args`)."""
    from imu.session.roles import parse_role_args as parse

    return parse(items)


def run(args) -> int:
    from imu.session.load import describe_source, load_from_args
    from imu.session.store import write_session

    from imu.output import check_output

    out = check_output(args.output, what="recording", force=args.force, recording=True)
    srcs = args.source if len(args.source) > 1 else args.source[0]
    session = load_from_args(args, srcs)
    kinds = sorted({describe_source(s) for s in args.source})
    session.meta.setdefault("imported_from", [str(s) for s in args.source]
                            if len(args.source) > 1 else str(args.source[0]))
    session.meta["imported_format"] = ", ".join(k for k in kinds if k)
    write_session(session, out, overwrite=args.force, progress=True)
    n = sum(len(d) for d in session.sensors.values())
    roles = ", ".join(f"{r} ({len(session.sensors[r])}, {session.sensors[r].kind})"
                      for r in session.roles)
    dropped = sum(int(d.info.extra.get("zero_rows_dropped", 0)) for d in session.sensors.values())
    extra = f"; {dropped} all-zero rows dropped" if dropped else ""
    align = "; clocks aligned at their starts" if session.meta.get("clock_alignment") else ""
    print(f"imu import: wrote {out}: {n} samples, {session.duration_s:.1f} s; {roles}{extra}"
          f"{align}", file=sys.stderr)
    return 0
