"""``imu live``: the live dashboard on real sensors (roles mapped to BLE addresses) or on the
simulated set (``--simulate``, the default when no sensor is named), recording as it goes."""

from __future__ import annotations

import math
import sys
from pathlib import Path

NAME = "live"
HELP = "live dashboard: --sacrum ADDR --right-thigh ADDR ... (or --simulate), recording as it goes"

ROLE_OPTIONS = (("sacrum", "--sacrum"), ("right_thigh", "--right-thigh"),
                ("left_thigh", "--left-thigh"), ("trunk", "--trunk"))


def add_arguments(parser) -> None:
    for role, opt in ROLE_OPTIONS:
        parser.add_argument(opt, dest=role, metavar="ADDR",
                            help=f"BLE address of the {role.replace('_', ' ')} sensor (see imu scan)")
    parser.add_argument("--simulate", action="store_true",
                        help="the built-in simulated sensors over the virtual BLE link "
                             "(the default when no sensor is named)")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="recording to create (default: a new file under the user data folder, "
                             "~/.local/share/imu/sessions)")
    from imu.output import add_force_argument
    add_force_argument(parser)
    parser.add_argument("--calibration", metavar="PROFILE",
                        help="use this calibration profile (else calibrate with the wizard)")
    parser.add_argument("--seconds", type=float, default=None, metavar="N",
                        help="stop after N seconds of data (default: until the window is closed)")
    parser.add_argument("--rate", type=int, default=104, metavar="HZ",
                        help="sensor output data rate (default 104)")
    parser.add_argument("--sound", action="store_true",
                        help="start with the sound cue on (a tone when a rep ends with a fault "
                             "or the pelvis leaves the green band on one leg)")
    parser.add_argument("--lsl", action="store_true",
                        help="publish each sensor's raw stream and the live angles as Lab "
                             "Streaming Layer outlets: a network service (by default only this "
                             "computer can discover it; see --lsl-scope)")
    from imu.cliargs import add_lsl_scope_argument
    add_lsl_scope_argument(parser)
    parser.add_argument("--identify", action="store_true",
                        help="blink each sensor's LED as it connects, to check the role mapping")
    parser.add_argument("--program", default="demo", help="--simulate: simulator program")
    from imu.cliargs import seed
    parser.add_argument("--seed", type=seed, default=0, help="--simulate: simulator seed")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="--simulate: session seconds per wall-clock second")


def run(args) -> int:
    from imu.chain import live_calibrator as calibrator
    from imu.errors import BadInputError
    from imu.live.paths import display_available, new_session_path

    addresses = {role: getattr(args, role) for role, _ in ROLE_OPTIONS if getattr(args, role)}
    if addresses and args.simulate:
        raise BadInputError("give sensor addresses or --simulate, not both")
    if addresses and "sacrum" not in addresses:
        raise BadInputError("--sacrum ADDR is required (the pelvis sensor)")
    if addresses and not ({"right_thigh", "left_thigh"} & set(addresses)):
        raise BadInputError("at least one thigh sensor is required (--right-thigh or --left-thigh)")
    if args.seconds is not None and not args.seconds > 0:
        raise BadInputError(f"--seconds {args.seconds}: must be positive")
    if not (args.speed > 0 and math.isfinite(args.speed)):
        raise BadInputError(f"--speed {args.speed}: must be a positive number")
    if args.output:
        from imu.output import check_output
        check_output(args.output, what="recording", force=args.force, recording=True)
    if not display_available():
        raise BadInputError("no display (DISPLAY/WAYLAND_DISPLAY unset): use `imu record` to "
                            "record headless, or `imu demo --headless`")
    if args.calibration:
        from imu.calibration import load_profile
        load_profile(args.calibration)          # a bad profile: one line before anything starts

    from imu.live.pipeline import raise_pipeline_error
    from imu.live.process import LiveProcess

    simulate = not addresses
    path = Path(args.output) if args.output else new_session_path("live")
    print(f"recording to {path}", file=sys.stderr, flush=True)
    # the sensors' host stack, the live pipeline and the recording in a process of their own:
    # the window's process only draws
    pipe = LiveProcess("imu.commands.live:build_pipeline", {
        "output": str(path), "force": args.force, "addresses": addresses,
        "rate_hz": args.rate, "identify": args.identify, "calibration": args.calibration,
        "lsl": args.lsl and args.lsl_scope, "program": args.program, "seed": args.seed,
        "speed": args.speed})
    try:
        from imu.gui.app import run_live
        run_live(pipe, seconds=args.seconds, title="imu — live", sound=args.sound,
                 open_wizard=args.calibration is None and not simulate)
    finally:
        pipe.stop()
    raise_pipeline_error(pipe, path)
    from imu.live.paths import no_samples_error, remove_empty

    if not pipe.samples_in:
        remove_empty(path)
        print(f"nothing was recorded; {path} not kept", file=sys.stderr)
        return no_samples_error(pipe, pipe.samples_by_role, path, kept=False) or 1
    print(f"recorded {path} ({pipe.samples_in} samples, {len(pipe.sets)} sets)", file=sys.stderr)
    return no_samples_error(pipe, pipe.samples_by_role, path, kept=True)


def build_pipeline(output: str, force: bool = False, addresses: dict | None = None,
                   rate_hz: int = 104, identify: bool = False, calibration: str | None = None,
                   lsl=False, program: str = "demo", seed: int = 0, speed: float = 1.0):
    """``imu live``'s pipeline (run in the live process, :mod:`imu.live.process`): real
    sensors at ``addresses`` (role → BLE address) or the simulated set, recording to
    ``output``, with a calibration profile when given."""
    from imu.chain import live_calibrator as calibrator
    from imu.live.pipeline import LivePipeline
    from imu.session.store import RecordingWriter

    profile = None
    if calibration:
        from imu.calibration import load_profile
        profile = load_profile(calibration)
    simulate = not addresses
    if simulate:
        from imu.sources.simulated import SimulatedSource
        # the virtual sensors in their own process, as real ones are outside ours
        src = SimulatedSource(program, rate_hz=rate_hz, seed=seed, speed=speed,
                              progress=True, process=True)
    else:
        from imu.sources.ble.reader import BleSource
        src = BleSource(addresses, rate_hz=rate_hz, identify=identify,
                        announce=lambda m: print(m, file=sys.stderr, flush=True))
    meta = {"source": "imu live" + (" (simulated sensors)" if simulate else "")}
    writer = RecordingWriter(Path(output), meta=meta, overwrite=force)
    if profile is not None:
        writer.set_calibration(profile.to_dict())
    return LivePipeline(src, writer=writer, recording_path=str(output), profile=profile,
                        lsl=lsl, calibrator=calibrator,
                        auto_calibrate=simulate and profile is None,
                        log=lambda m: print(m, file=sys.stderr))
