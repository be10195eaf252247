"""``imu batch analyze SESSION_OR_DIR ... --out DIR [--scheduler ADDRESS] [--workers N]
[--settings FILE.toml] [--set key=value ...]``: many sessions on Dask (:mod:`imu.batch`)."""

from __future__ import annotations

import sys

NAME = "batch"
HELP = "analyse many sessions on Dask: one Analysis JSON each and one table of every rep/hold/stride"


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=("analyze",), help="what to run on every session")
    parser.add_argument("sessions", nargs="+", metavar="SESSION_OR_DIR",
                        help="recordings, CSV folders, DOT exports, or folders searched for them")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for <name>.analysis.json per session, items.csv, "
                             "items.parquet and failures.csv")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a running dask.distributed scheduler (tcp://host:8786); default: a "
                             "local cluster on this machine, one worker process per core")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="workers of the local cluster (default: one per core)")
    parser.add_argument("--settings", metavar="FILE.toml", help="analysis thresholds (TOML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override one threshold (repeatable), as for "
                                                  "imu analyze")
    parser.add_argument("--calibration", metavar="PROFILE",
                        help="one calibration profile for every session (default: each "
                             "session's own)")
    parser.add_argument("--filter", default=None, help="fusion filter (default: the default)")
    from imu.session.load import add_session_arguments
    add_session_arguments(parser)
    from imu.output import add_force_argument
    add_force_argument(parser)


def run(args) -> int:
    from pathlib import Path

    from imu.analysis import Settings
    from imu.batch import (FAILURES_CSV, TABLE_CSV, TABLE_PARQUET, BatchResult, batch_analyze,
                           find_sessions, json_names)
    from imu.errors import BadInputError
    from imu.output import check_output

    if args.workers is not None and args.workers < 1:
        raise BadInputError(f"--workers must be at least 1, not {args.workers}")
    if args.workers is not None and args.scheduler:
        raise BadInputError("--workers is for the local cluster; a --scheduler has its own")
    from imu.session.roles import parse_role_args
    roles = parse_role_args(args.role)  # a bad --role fails before any work
    settings = Settings.from_toml(args.settings) if args.settings else Settings()
    if args.overrides:
        settings = settings.with_overrides(Settings.parse_assignments(args.overrides),
                                           source="--set")
    out = Path(args.out)
    sessions = find_sessions(args.sessions)
    names = BatchResult(sessions, json_names=json_names(sessions)).output_names()
    check_output(out, what="batch results folder", force=args.force, folder=True, names=names)
    try:  # fail on a missing pyarrow before the work, not after it
        import pyarrow.parquet  # noqa: F401
        parquet = True
    except ImportError:
        parquet = False
        print(f"imu batch: pyarrow is not installed: writing {TABLE_CSV} without "
              f"{TABLE_PARQUET} (pip install 'imu[tables]')", file=sys.stderr)

    where = args.scheduler or f"a local cluster of {args.workers or 'one worker per core'}"
    print(f"imu batch: {len(sessions)} sessions on {where}", file=sys.stderr, flush=True)

    def progress(done: int, total: int, session: str, error: str | None) -> None:
        state = f"failed: {_without(session, error)}" if error else "ok"
        print(f"[{done}/{total}] {session}: {state}", file=sys.stderr, flush=True)

    res = batch_analyze(sessions, settings=settings, calibration=args.calibration,
                        filter=args.filter, scheduler=args.scheduler, workers=args.workers,
                        progress=progress, roles=roles, align=args.align,
                        use_vendor_orientation=args.use_vendor_orientation)
    res.write(out, force=args.force, parquet=parquet)
    kinds: dict[str, int] = {}
    for r in res.rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    counts = ", ".join(f"{n} {k}s" for k, n in kinds.items()) or "no reps, holds or strides"
    tables = TABLE_CSV + (f" and {TABLE_PARQUET}" if parquet else "")
    print(f"analysed {len(res.results)} of {len(sessions)} sessions: {counts} in {out}/{tables}")
    if res.failures:
        print(f"{len(res.failures)} sessions failed (listed in {out / FAILURES_CSV}):",
              file=sys.stderr)
        for s in res.sessions:
            if s in res.failures:
                print(f"  {s}: {_without(s, res.failures[s])}", file=sys.stderr)
        return 1
    return 0


def _without(session: str, error: str) -> str:
    """``error`` without its leading ``session: `` (the line names the session already)."""
    return error[len(session) + 2:] if error.startswith(session + ": ") else error
