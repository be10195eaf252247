"""``imu calibrate SESSION -o PROFILE``: sensor-to-segment calibration from the docs/calibration.md protocol."""

from __future__ import annotations

import sys

NAME = "calibrate"
HELP = ("sensor-to-segment calibration from a session: its calibration protocol (docs/calibration.md), or auto (quiet "
        "standing + walking, hinges, squats or leg swings)")


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION",
                        help="recording file or CSV folder holding the protocol")
    from imu.session.load import add_session_arguments

    add_session_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="PROFILE",
                        help="calibration profile to write (JSON)")
    from imu.cliargs import add_method_argument, add_save_intrinsics_argument
    from imu.output import add_force_argument
    add_method_argument(parser)
    add_force_argument(parser)
    add_save_intrinsics_argument(parser)


def run(args) -> int:
    from imu.calibration import calibrate
    from imu.chain import method_text, remember_intrinsics, stored_intrinsics
    from imu.output import check_output
    from imu.session.load import load_from_args

    check_output(args.output, what="calibration profile", force=args.force)  # before any work
    session = load_from_args(args)
    print(f"calibrating {args.session}: {', '.join(session.roles)}", file=sys.stderr)
    ids = [d.info.sensor_id for d in session.sensors.values()]
    profile = calibrate(session, method=args.method, intrinsics=stored_intrinsics(ids))
    profile.save(args.output, force=args.force)
    remember_intrinsics(profile, session, args.save_intrinsics)
    print(profile.summary())
    print(f"calibration: {method_text(profile)}")
    print(f"wrote {args.output}")
    return 0
