"""``python -m bench [NAME ...] [--quick] [--json OUT]``: run benchmarks, print one table."""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
import traceback

from bench import discover, format_table, load


def main(argv: list[str] | None = None) -> int:
    # benches run the CLI in this process: what they store (sensor intrinsics) goes to a
    # throw-away config folder, never into the user's own
    if "IMU_CONFIG_DIR" not in os.environ:
        os.environ["IMU_CONFIG_DIR"] = tmp_config = tempfile.mkdtemp(prefix="imu-bench-config-")
        atexit.register(shutil.rmtree, tmp_config, True)
    names = discover()
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=f"modules to run (default: all): {', '.join(names)}")
    p.add_argument("--quick", action="store_true", help="smaller workloads (a smoke run)")
    p.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    args, extra = p.parse_known_args(argv)
    if extra:  # options of one bench (``python -m bench angles --speed-only``): its own runner
        if len(args.names) != 1 or args.names[0] not in names \
                or not hasattr(load(args.names[0]), "main"):
            p.error(f"unrecognized arguments: {' '.join(extra)} (a bench's own options need "
                    "exactly one NAME)")
        return load(args.names[0]).main(extra + (["--quick"] if args.quick else []))
    unknown = [n for n in args.names if n not in names]
    if unknown:
        p.error(f"unknown bench {', '.join(unknown)} (have: {', '.join(names)})")
    rows: list[dict] = []
    failed = []
    for name in args.names or names:
        t0 = time.perf_counter()
        print(f"bench {name}: running{' (quick)' if args.quick else ''} ...", file=sys.stderr,
              flush=True)
        try:
            out = load(name).run(quick=args.quick)
        except Exception as exc:  # one failing bench must not hide the others
            traceback.print_exc()
            failed.append(name)
            rows.append({"module": name, "name": "FAILED", "value": "", "unit": "",
                         "note": f"{type(exc).__name__}: {exc}"})
            continue
        for r in out:
            rows.append({"module": name, **r})
        print(f"bench {name}: done in {time.perf_counter() - t0:.1f} s", file=sys.stderr,
              flush=True)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
