"""``imu calibrate SESSION -o PROFILE``: sensor-to-segment calibration from the SPEC §4 protocol."""

from __future__ import annotations

import sys

NAME = "calibrate"
HELP = "sensor-to-segment calibration from a session's calibration protocol (SPEC §4)"


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION",
                        help="recording file or CSV folder holding the protocol")
    parser.add_argument("-o", "--output", required=True, metavar="PROFILE",
                        help="calibration profile to write (JSON)")
    from imu.commands.angles import add_save_intrinsics_argument
    from imu.output import add_force_argument
    add_force_argument(parser)
    add_save_intrinsics_argument(parser)


def run(args) -> int:
    from imu.calibration import calibrate_session
    from imu.commands.angles import remember_intrinsics, stored_intrinsics
    from imu.output import check_output
    from imu.session.load import load_session

    check_output(args.output, what="calibration profile", force=args.force)  # before any work
    session = load_session(args.session)
    print(f"calibrating {args.session}: {', '.join(session.roles)}", file=sys.stderr)
    profile = calibrate_session(session, intrinsics=stored_intrinsics(session))
    profile.save(args.output, force=args.force)
    remember_intrinsics(profile, session, args.save_intrinsics)
    print(profile.summary())
    print(f"wrote {args.output}")
    return 0
