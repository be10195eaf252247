"""``imu analyze SESSION [--calibration PROFILE] [--exercise NAME] [--side left|right]
[--json OUT] [--report OUT.html] [--settings FILE.toml] [--set key=value ...]``.

Loads the session, computes its docs/angles.md angles with the calibration in force for each stretch
(every calibration phase of the session, or the profile given), finds the exercise sets from its
events (without any: the sets recognised from the angles, marked inferred; ``--exercise``
makes the whole session one set of that exercise), writes the docs/formats.md Analysis JSON and the
HTML report when asked, and prints a readable summary (one line per set with ``--json``).
"""

from __future__ import annotations

import json
import os
import sys

NAME = "analyze"
HELP = "reps, holds, faults and scores of a session (Analysis JSON, optional HTML report)"


def add_arguments(parser) -> None:
    from imu.cliargs import (add_exercise_arguments, add_filter_argument, add_method_argument,
                             add_save_intrinsics_argument)
    from imu.output import add_force_argument

    parser.add_argument("session", metavar="SESSION", help="recording file or CSV folder")
    from imu.session.load import add_session_arguments

    add_session_arguments(parser)
    parser.add_argument("--calibration", metavar="PROFILE",
                        help="calibration profile (default: the session's own calibration phase)")

    add_method_argument(parser)
    add_exercise_arguments(parser)
    parser.add_argument("--json", metavar="OUT",
                        help="write the Analysis JSON (- : to the standard output; without it: "
                             "a readable summary only)")
    parser.add_argument("--report", metavar="OUT.html", help="also write the HTML report")
    parser.add_argument("--settings", metavar="FILE.toml", help="analysis thresholds (TOML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one threshold, e.g. hinge.squat_inclination_deg=30 (repeatable)")
    add_filter_argument(parser)
    add_force_argument(parser)
    add_save_intrinsics_argument(parser)
    import argparse

    from imu.analysis.settings import DEFAULTS
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    width = max(len(k) for k in DEFAULTS)
    parser.epilog = ("analysis settings (--set KEY=VALUE, or [section] tables in --settings FILE.toml):\n"
                     + "\n".join(f"  {k:<{width}}  {v:<5g} {d}" for k, (v, d) in DEFAULTS.items()))


def load_settings(settings_path: str | None, overrides: list[str]):
    """Settings from the defaults, a TOML file and ``KEY=VALUE`` overrides (in that order)."""
    from imu.analysis import Settings

    s = Settings.from_toml(settings_path) if settings_path else Settings()
    if overrides:
        s = s.with_overrides(Settings.parse_assignments(overrides), source="--set")
    return s


def json_text(result: dict) -> str:
    """The Analysis JSON text of ``result``."""
    return json.dumps(result, indent=2, allow_nan=False) + "\n"


def write_json(path: str, result: dict, force: bool = False) -> None:
    """Write the Analysis JSON to exactly ``path`` under the output rule (:mod:`imu.output`)."""
    from imu.output import write_file

    write_file(path, json_text(result), what="analysis JSON", force=force)


def run(args) -> int:
    from imu.analysis.language import quick_look_lines, session_summary_lines
    from imu.analysis.sets import normalize_exercise
    from imu.chain import Chain, import_steps, method_text
    from imu.output import Outputs
    from imu.session.load import load_from_args

    settings = load_settings(args.settings, args.overrides)  # bad settings fail before any work
    normalize_exercise(args.exercise, "--exercise")
    chain = Chain(args.calibration, filter=args.filter, settings=settings, exercise=args.exercise,
                  side=args.side, remember_intrinsics=True, progress=True, causal=args.causal,
                  save_intrinsics=args.save_intrinsics, method=args.method)
    with Outputs(force=args.force) as outputs:  # every output checked before any work
        to_stdout = args.json == "-"  # the JSON is the standard output (the rest: stderr)
        js = outputs.file(args.json, what="analysis JSON") if args.json and not to_stdout else None
        rep = outputs.file(args.report, what="report") if args.report else None
        session = load_from_args(args, meanwhile=import_steps)  # imports overlap the reading
        print("computing angles…", file=sys.stderr)
        cal = chain.calibrate(session)
        result = chain.run(session).result_
        used = result["session"]["calibration"]  # the chain's account of the calibration
        last = cal.profile_
        if js is not None:
            with js.open() as fh:
                fh.write(json_text(result))
        if rep is not None:
            from imu.analysis.report import render_report
            meta = {"name": os.path.basename(os.path.normpath(str(args.session))),
                    "source": session.source or str(args.session)}
            recorded = (session.meta or {}).get("created_utc")
            if recorded:
                meta["recorded"] = str(recorded)
            meta.update({"duration": f"{session.duration_s:.1f} s",
                         "sensors": ", ".join(session.roles),
                         "calibration": used, "calibration method": method_text(last)})
            html = render_report(result, chain.angles_, meta, cal.quality_for_report())
            from imu.output import valid_text
            with rep.open() as fh:
                fh.write(valid_text(html))  # a file name that is not UTF-8 appears in it
    if to_stdout:
        sys.stdout.write(json_text(result))
    for line in (session_summary_lines(result) if args.json else quick_look_lines(result)):
        print(line, file=sys.stderr if to_stdout else sys.stdout)
    written = [p for p in (args.json, args.report) if p and p != "-"]
    if written:
        print(f"wrote {' and '.join(written)}", file=sys.stderr)
    return 0
