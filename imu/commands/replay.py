"""``imu replay SESSION``: the dashboard driven by a recording (play/pause/seek/speed), or
``--screenshot OUT.png --at SECONDS`` to render it offscreen at that moment and exit."""

from __future__ import annotations

import math
import sys

NAME = "replay"
HELP = "replay a recorded session in the dashboard (or --screenshot OUT.png --at SECONDS)"


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION", help="recording file or CSV folder")
    from imu.session.load import add_session_arguments

    add_session_arguments(parser)
    parser.add_argument("--calibration", metavar="PROFILE",
                        help="calibration profile (default: the session's own calibration)")
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1)")
    from imu.cliargs import add_causal_argument
    add_causal_argument(parser)
    parser.add_argument("--start", type=float, default=0.0, metavar="SECONDS",
                        help="start playing at this time")
    parser.add_argument("--window", type=float, default=20.0, metavar="SECONDS",
                        help="length of the trace window (default 20 s)")
    parser.add_argument("--sound", action="store_true",
                        help="start with the sound cue on (a tone when a rep ends with a fault "
                             "or the pelvis leaves the green band on one leg)")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="render the dashboard offscreen into this PNG and exit")
    parser.add_argument("--at", type=float, default=None, metavar="SECONDS",
                        help="moment of the screenshot, seconds from the start (default: the end)")
    parser.add_argument("--size", default="1280x800", metavar="WxH",
                        help="screenshot size in pixels (default 1280x800)")
    from imu.cliargs import add_exercise_arguments
    from imu.output import add_force_argument
    add_exercise_arguments(parser)
    add_force_argument(parser)


def _size(text: str) -> tuple[int, int]:
    from imu.errors import BadInputError
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise BadInputError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x800") from None
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise BadInputError(f"--size {text!r}: width and height must be 200..8000 pixels")
    return w, h


def run(args) -> int:
    from imu.errors import BadInputError
    from imu.live.paths import display_available
    from imu.session.load import load_from_args

    if not (args.speed > 0 and math.isfinite(args.speed)):
        raise BadInputError(f"--speed {args.speed}: must be a positive number")
    if not (args.window > 0 and math.isfinite(args.window)):
        raise BadInputError(f"--window {args.window}: must be a positive number of seconds")
    if not math.isfinite(args.start):
        raise BadInputError(f"--start {args.start}: must be a number of seconds")
    size = _size(args.size)
    from imu.analysis.sets import normalize_exercise
    normalize_exercise(args.exercise, "--exercise")
    if not args.screenshot and not display_available():
        raise BadInputError("no display (DISPLAY/WAYLAND_DISPLAY unset): use "
                            "--screenshot OUT.png --at SECONDS, or `imu analyze` for a report")
    shot = None
    if args.screenshot:
        from imu.output import Output
        shot = Output(args.screenshot, what="screenshot", force=args.force)  # before any work
        from imu.gui.app import check_size
        check_size(size)
    session = load_from_args(args)
    if session.duration_s <= 0:
        raise BadInputError(f"{args.session}: the recording holds no samples")
    at = session.duration_s if args.at is None else args.at
    if not (0.0 <= at <= session.duration_s + 1e-6):
        raise BadInputError(f"--at {args.at}: outside the recording (0 to "
                            f"{session.duration_s:.1f} s)")
    print(f"analysing {args.session} ({session.duration_s:.1f} s)…", file=sys.stderr)
    from imu.live.player import build_player

    player = build_player(session, args.calibration, window_s=args.window, speed=args.speed,
                          causal=args.causal, exercise=args.exercise, side=args.side,
                          remember_intrinsics=True)
    if args.screenshot:
        from imu.gui.app import render

        player.seek(at)
        try:
            w, h = render(player, shot.temp_path(), size=size)
            shot.commit()
        except BaseException:
            shot.discard()
            raise
        print(f"wrote {args.screenshot}: {w}×{h} px at {at:.1f} s", file=sys.stderr)
        return 0
    from imu.gui.app import run_replay

    player.seek(args.start)
    return run_replay(player, title=f"imu — replay {args.session}", sound=args.sound)
