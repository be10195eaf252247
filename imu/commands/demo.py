"""``imu demo``: the main job on the built-in default: simulated sensors over the virtual BLE
link, the live dashboard, auto-calibration from the simulated person's calibration phase, and a
recording in the user data folder.

Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY`` and ``QT_QPA_PLATFORM`` not ``offscreen``),
or with ``--headless``, it says so in one line and replays the bundled sample session
(``recordings/demo.imu``; simulated on the fly if absent) through the same live pipeline, then
prints the session's summary.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

NAME = "demo"
HELP = "live dashboard on simulated sensors (headless: replay the bundled session, print a summary)"

#: the bundled sample session (made with the simulator)
BUNDLED = Path(__file__).resolve().parents[2] / "recordings" / "demo.imu"


def add_arguments(parser) -> None:
    parser.add_argument("--headless", action="store_true",
                        help="no window: replay the bundled session through the pipeline and "
                             "print its summary")
    parser.add_argument("--seconds", type=float, default=None, metavar="N",
                        help="stop after N seconds of data")
    parser.add_argument("--session", default=None, metavar="FILE",
                        help="--headless: replay this recording instead of the bundled one")
    parser.add_argument("--rate", type=int, default=104, metavar="HZ",
                        help="simulated sensor rate (default 104)")
    from imu.cliargs import seed
    parser.add_argument("--seed", type=seed, default=0, help="simulator seed")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="recording to create (default: a new file under the user data "
                             "folder, ~/.local/share/imu/sessions)")
    from imu.output import add_force_argument
    add_force_argument(parser)
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated session seconds per wall-clock second (default 1)")
    parser.add_argument("--calibrate", action="store_true",
                        help="the simulated person first does the calibration protocol and the "
                             "dashboard calibrates from it (default: skip it, using the "
                             "simulator's known sensor mounting, so reps start at once)")
    parser.add_argument("--sound", action="store_true",
                        help="start with the sound cue on (a tone when a rep ends with a fault "
                             "or the pelvis leaves the green band on one leg)")


def _status_summary_line(st) -> str:
    return f"{st.samples} samples, {st.dropped} dropped"


def headless(args, reason: str | None) -> int:
    """Replay a recording through the live pipeline as fast as possible and print a summary."""
    from imu.analysis.sets import calibration_windows
    from imu.chain import live_calibrator
    from imu.live.pipeline import LivePipeline
    from imu.live.summary import session_summary
    from imu.session.load import load_session
    from imu.sources.replay import ReplaySource

    if reason:
        print(reason, file=sys.stderr, flush=True)
    if args.session:
        session, title = load_session(args.session), args.session
    elif BUNDLED.exists():
        session, title = load_session(BUNDLED), f"recordings/{BUNDLED.name}"
    else:
        from imu.sim import simulate
        print("no bundled session in recordings/: simulating one (seed "
              f"{args.seed}, {args.rate} Hz)…", file=sys.stderr, flush=True)
        session, title = simulate("demo", rate_hz=args.rate, seed=args.seed).session, \
            "simulated demo session"
    src = ReplaySource(session, speed=math.inf)
    profile = None
    if session.calibration and not calibration_windows(session.events):
        # no calibration phase but one stored in the recording (`imu demo` stores the
        # simulator's mounting): it is the calibration, as for `imu analyze`
        from imu.calibration import Profile
        profile = Profile.from_dict(session.calibration, where=f"{title} (embedded calibration)")
    pipe = LivePipeline(src, calibrator=live_calibrator, profile=profile,
                        auto_calibrate=profile is None and not any(
                            e.kind == "calibration_end" for e in session.events),
                        log=lambda m: print(m, file=sys.stderr))
    print(f"replaying {title} ({session.duration_s:.0f} s) through the live pipeline…",
          file=sys.stderr, flush=True)
    pipe.run_blocking(args.seconds)
    cal = pipe.calibration
    duration = (pipe.t_now_s - pipe.t_first_s) if pipe.t_first_s is not None else 0.0
    cal_line = {"ok": cal.message,
                "refused": f"refused: {cal.message}"}.get(cal.state, "not calibrated (no angles)")
    print(session_summary(title, pipe.sensors, duration, src.status(), pipe.sets, pipe.reps,
                          pipe.holds, cal_line))
    whole = args.seconds is None or args.seconds >= session.duration_s
    if cal.state != "ok" and (cal.state == "refused" or whole) \
            and not (pipe.reps or pipe.holds or pipe.strides):
        _refuse_uncalibrated(session, title, cal)
    return 0


def _refuse_uncalibrated(session, title: str, cal) -> None:
    """A replay whose calibration was refused (or never found) scored nothing: the one-line
    error ``imu analyze`` gives for the recording (its calibration step's), exit status 2."""
    import re

    from imu.chain import Calibrate
    from imu.errors import CalibrationError

    why = cal.message if cal.state == "refused" and cal.message else \
        "no calibration protocol was found in it"
    try:
        Calibrate().run(session)
    except CalibrationError as exc:  # the batch chain refuses it too: its words
        why = None
        msg = re.sub(r"pass --calibration PROFILE",
                     "`imu analyze --calibration PROFILE` scores it with a profile", exc.message)
    if why is not None:
        msg = f"{title}: the live calibration was refused ({why}); nothing was scored"
    raise CalibrationError(msg)


def run(args) -> int:
    from imu.errors import BadInputError
    from imu.live.paths import display_available, new_session_path

    if args.seconds is not None and not args.seconds > 0:
        raise BadInputError(f"--seconds {args.seconds}: must be positive")
    if not (args.speed > 0 and math.isfinite(args.speed)):
        raise BadInputError(f"--speed {args.speed}: must be a positive number")
    if args.output and args.headless:  # headless replays a recording: it records nothing
        raise BadInputError(f"-o {args.output}: --headless records nothing (it replays "
                            "a recording through the pipeline)")
    if args.output:
        from imu.output import check_output
        check_output(args.output, what="recording", force=args.force, recording=True)
    if args.headless:
        return headless(args, None)
    if not display_available():
        return headless(args, "imu demo: no display (DISPLAY/WAYLAND_DISPLAY unset): replaying "
                              "the bundled session headless instead of opening the dashboard"
                              + (f" (nothing is recorded to {args.output})" if args.output
                                 else ""))

    from imu.live.process import LiveProcess

    path = Path(args.output) if args.output else new_session_path("demo")
    print(f"recording to {path}", file=sys.stderr, flush=True)
    # the sensors, our BLE host and the live pipeline (which owns the recording) in a process of
    # their own: the window's process only draws
    pipe = LiveProcess("imu.commands.demo:build_pipeline", {
        "output": str(path), "force": args.force, "seed": args.seed, "rate_hz": args.rate,
        "speed": args.speed, "calibrate": args.calibrate})
    try:
        from imu.gui.app import run_live
        run_live(pipe, seconds=args.seconds, sound=args.sound,
                 title="imu — demo (simulated sensors" +
                       (")" if args.calibrate else "; calibration skipped)"))
    finally:
        pipe.stop()
    from imu.live.pipeline import raise_pipeline_error
    raise_pipeline_error(pipe, path)
    print(f"recorded {path} ({pipe.samples_in} samples, {len(pipe.sets)} sets, "
          f"{len(pipe.reps)} reps, {len(pipe.holds)} holds)", file=sys.stderr)
    return 0


def build_pipeline(output: str | None, force: bool = False, seed: int = 0, rate_hz: int = 104,
                   speed: float = 1.0, calibrate: bool = False, program: str = "demo"):
    """The demo's live pipeline (run in the live process, :mod:`imu.live.process`): the
    simulated person on virtual sensors in a process of their own (as real ones are outside
    ours), auto-calibration or the simulator's known mounting, recording to ``output`` (none:
    no recording)."""
    from imu.chain import live_calibrator, simulator_profile
    from imu.live.pipeline import LivePipeline
    from imu.sources.simulated import SimulatedSource

    writer = None
    if output is not None:
        from imu.session.store import RecordingWriter
        writer = RecordingWriter(Path(output), meta={"source": "imu demo (simulated sensors)",
                                                     "seed": seed}, overwrite=force)
    src = SimulatedSource(program, rate_hz=rate_hz, seed=seed, speed=speed,
                          progress=output is not None, calibration=calibrate, process=True)
    profile = None if calibrate else simulator_profile(src)
    return LivePipeline(src, writer=writer, recording_path=output, calibrator=live_calibrator,
                        auto_calibrate=calibrate, profile=profile,
                        log=lambda m: print(m, file=sys.stderr))
