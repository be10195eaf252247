"""``imu simulate``: a simulated person doing the calibration and exercises, as sensor files.

``-o DIR`` writes the docs/formats.md CSV folder plus ``truth.csv`` / ``truth.json``; ``-o FILE.<ext>``
(any extension) writes a recording file (truth sets in its metadata; ``--truth DIR`` writes the
truth files too).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from imu.errors import BadInputError

NAME = "simulate"
HELP = "simulate sensors on a person doing calibration and exercises (CSV folder or recording)"


def add_arguments(parser) -> None:
    from imu.sim.programs import PROGRAMS

    parser.add_argument("--exercise", default="demo", metavar="NAME",
                        help=f"program, or several joined by commas: {', '.join(PROGRAMS)} "
                             "(default demo)")
    parser.add_argument("--reps", type=int, default=None, help="reps (or holds) per set")
    from imu.cliargs import seed
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    parser.add_argument("--rate", type=float, default=104.0, help="sensor rate in Hz (default 104)")
    parser.add_argument("--no-errors", action="store_true",
                        help="exact signals: no noise, bias, wobble, clock errors or drops")
    parser.add_argument("--outages", action="store_true",
                        help="also simulate BLE link outages (0.5–3 s, about one per 2 minutes)")
    parser.add_argument("--no-calibration", action="store_true",
                        help="do not start with the docs/calibration.md calibration protocol")
    parser.add_argument("--restrap", action="store_true",
                        help="take the sensors off and strap them on again (new mountings) "
                             "before every calibration protocol after the first (e.g. "
                             "--exercise calibration,hinge,calibration,squat)")
    parser.add_argument("--trunk", action="store_true", help="add a trunk sensor (L1)")
    parser.add_argument("--sides", default="right,left", metavar="SIDES",
                        help="instrumented thighs: right, left or right,left (default both)")
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="total length; exercise sets repeat to fill it")
    parser.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="folder (CSV files + truth) or FILE.<ext> (recording)")
    parser.add_argument("--truth", default=None, metavar="DIR",
                        help="also write truth.csv and truth.json into DIR (recordings)")
    from imu.output import add_force_argument
    add_force_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _parse_sides(text: str) -> list[str]:
    sides = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in sides if s not in ("right", "left")]
    if bad or not sides:
        raise BadInputError(f"--sides {text!r}: use right, left or right,left")
    return [s for s in ("right", "left") if s in sides]


def _errors(args):
    from imu.sim import ErrorModel

    if args.no_errors:
        if args.outages:
            raise BadInputError("--outages contradicts --no-errors")
        return False
    return ErrorModel.harsh() if args.outages else True


def run(args) -> int:
    from imu.sim import simulate
    from imu.sim.output import write_sim_csv_folder, write_sim_recording
    from imu.sim.programs import PROGRAMS

    names = [n.strip() for n in args.exercise.split(",") if n.strip()]
    for n in names:
        if n not in PROGRAMS:
            raise BadInputError(f"--exercise {n!r}: unknown; choose from {', '.join(PROGRAMS)}")
    if not names:
        raise BadInputError("--exercise is empty")
    if args.reps is not None and not 1 <= args.reps <= 200:
        raise BadInputError(f"--reps {args.reps}: must be 1..200")
    if not 10.0 <= args.rate <= 1000.0:
        raise BadInputError(f"--rate {args.rate:g}: must be 10..1000 Hz")
    if args.duration is not None and not 0 < args.duration <= 6 * 3600:
        raise BadInputError(f"--duration {args.duration:g}: must be in (0, 21600] s")
    sides = _parse_sides(args.sides)
    roles = ["sacrum"] + [f"{s}_thigh" for s in sides] + (["trunk"] if args.trunk else [])
    from imu.output import check_output
    from imu.session.csvfolder import SESSION_JSON
    from imu.types import ROLES

    out = Path(args.output)
    as_file = out.suffix != "" and not out.is_dir() and not args.output.endswith(("/", "\\"))
    truth_names = ["truth.csv", "truth.json"]
    if as_file:  # every output checked before any work
        check_output(out, what="recording", force=args.force, recording=True)
    else:
        check_output(out, what="simulated session", force=args.force, folder=True,
                     names=[f"{r}.csv" for r in ROLES] + [SESSION_JSON] + truth_names)
    if args.truth:
        check_output(args.truth, what="truth folder", force=args.force, folder=True,
                     names=truth_names)

    t0 = time.monotonic()
    res = simulate(names[0] if len(names) == 1 else names, rate_hz=args.rate, seed=args.seed,
                   errors=_errors(args), roles=tuple(roles), reps=args.reps,
                   calibration=not args.no_calibration, duration_s=args.duration,
                   restrap=args.restrap,
                   progress=not args.quiet)
    if not args.quiet:
        print(f"simulate: {res.truth_time_s[-1]:.1f} s simulated in {time.monotonic() - t0:.1f} s;"
              f" writing {out}", file=sys.stderr, flush=True)
    if as_file:
        write_sim_recording(res, out, overwrite=args.force)
        if args.truth:
            from imu.output import FolderOutput
            truth = FolderOutput(args.truth, what="truth folder", force=args.force,
                                 names=truth_names)
            try:
                res.write_truth(truth.stage())
                truth.commit()
            except BaseException:
                truth.discard()
                raise
    else:
        write_sim_csv_folder(res, out, progress=not args.quiet, force=args.force)
    n = {r: len(d) for r, d in res.session.sensors.items()}
    sets = ", ".join(f"{s['exercise']}{'/' + s['side'] if s.get('side') else ''}"
                     for s in res.truth_sets) or "none"
    print(f"{out}: {len(n)} sensors ({', '.join(n)}), {res.truth_time_s[-1]:.1f} s at "
          f"{args.rate:g} Hz, {sum(n.values())} samples; sets: {sets}")
    return 0
