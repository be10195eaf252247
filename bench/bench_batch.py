"""``imu batch analyze`` on a local Dask cluster against a plain loop, in the same run.

Workload: 40 simulated 5-minute sessions (``imu.sim.simulate``: calibration protocol, then
hinge, single-leg stance, hip airplane and squat sets repeated to fill 5 minutes; every sensor
error on; 104 Hz; sacrum and both thighs), written once as recordings into a cache folder under
the system's temporary folder and reused by later runs. Both paths analyse the same folder with
:func:`imu.batch.batch_analyze`: ``engine="loop"`` (one session after the other in this process)
and the default local cluster (one single-threaded worker process per core; its start-up and
shut-down are included in the time). The two must give identical Analysis JSONs and identical
tables (asserted). Rows: wall times, the speed-up (loop time / Dask time), sessions, table rows,
cores, the load average at the start, and the CPU seconds each path used (this process plus its
ended children, i.e. the cluster's workers): on a machine that other work keeps busy, the wall
time follows the CPU share the machine grants, not the number of workers.

Run alone: ``python -m bench batch [--quick]`` (quick: 6 hinge sessions of 100 s).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

PROGRAM = ["hinge", "single_leg_stance", "hip_airplane", "squat"]
RATE_HZ = 104.0
CACHE_VERSION = 1


def cached_sessions(n: int, duration_s: float, program=PROGRAM) -> Path:
    """A folder of ``n`` simulated recordings of ``duration_s`` (made once, then reused)."""
    from imu.session.store import write_session
    from imu.sim import simulate

    d = (Path(tempfile.gettempdir()) / f"imu-bench-batch-v{CACHE_VERSION}"
         / f"{n}x{duration_s:g}s-{'+'.join(program)}")
    done = d / ".complete"
    if done.exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    for seed in range(1, n + 1):
        path = d / f"session_{seed:03d}.imu"
        if path.exists():
            path.unlink()
        res = simulate(program, rate_hz=RATE_HZ, seed=seed, errors=True, duration_s=duration_s)
        write_session(res.session, path)
        print(f"  simulated {path.name} ({seed}/{n})", file=sys.stderr, flush=True)
    done.write_text("ok\n")
    return d


def _cpu_s() -> float:
    """CPU seconds of this process and of its ended children (the cluster's workers)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _stable(results: dict) -> dict:
    """Analysis JSONs with the moments calibrations were solved (ISO times) blanked out."""
    import re

    text = json.dumps(results, sort_keys=True)
    return json.loads(re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "T", text))


def run(quick: bool = False) -> list[dict]:
    from imu.batch import batch_analyze, default_workers, rows_csv

    n, duration_s, program = (6, 100.0, ["hinge"]) if quick else (40, 300.0, PROGRAM)
    folder = cached_sessions(n, duration_s, program)
    # a private, empty intrinsics store: both paths read the same (no user's corrections)
    os.environ["IMU_CONFIG_DIR"] = tempfile.mkdtemp(prefix="imu-bench-batch-config-")
    load = os.getloadavg()[0]
    workers = default_workers()

    c0, t0 = _cpu_s(), time.perf_counter()
    loop = batch_analyze([folder], engine="loop")
    t_loop, cpu_loop = time.perf_counter() - t0, _cpu_s() - c0
    c0, t0 = _cpu_s(), time.perf_counter()
    dask = batch_analyze([folder], workers=workers)
    t_dask, cpu_dask = time.perf_counter() - t0, _cpu_s() - c0

    assert not loop.failures and not dask.failures, (loop.failures, dask.failures)
    assert _stable(loop.results) == _stable(dask.results), "Dask and the loop disagree on a JSON"
    assert rows_csv(loop.rows) == rows_csv(dask.rows), "Dask and the loop disagree on the table"
    note = f"{n} sessions x {duration_s / 60:g} min; load average {load:.1f} at the start"
    return [
        {"name": "plain loop (this process), wall", "value": t_loop, "unit": "s", "note": note},
        {"name": f"local Dask cluster ({workers} worker processes), wall", "value": t_dask,
         "unit": "s", "baseline": t_loop, "note": "cluster start-up and shut-down included"},
        {"name": "speed-up (loop / Dask)", "value": t_loop / t_dask, "unit": "x",
         "note": f"{workers} cores"},
        {"name": "CPU time, plain loop", "value": cpu_loop, "unit": "s"},
        {"name": "CPU time, Dask (this process and its workers)", "value": cpu_dask, "unit": "s",
         "baseline": cpu_loop, "note": "workers' start-up imports included"},
        {"name": "sessions analysed (identical results both ways)", "value": len(dask.results),
         "unit": "sessions"},
        {"name": "table rows (identical both ways)", "value": len(dask.rows), "unit": "rows"},
    ]


if __name__ == "__main__":
    from bench import format_table

    print(format_table([{"module": "batch", **r} for r in run(quick="--quick" in sys.argv)]))
