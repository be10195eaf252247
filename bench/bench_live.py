"""Live pipeline throughput: a simulated demo session replayed as fast as possible through
:class:`imu.live.pipeline.LivePipeline` (recording off; clock model, streaming fusion, alignment,
heading hold, angles, detectors, ring buffer), auto-calibrating from the session's protocol.

Reported: samples per CPU second and the real-time factor (session seconds per CPU second; the
live dashboard needs > 1 with room to spare on a 2-core machine). Baseline in the same run: the
same pipeline computing the angle rows after every BLE block (``flush_s=0``, the reference
``AnglePipeline.update`` cadence) instead of in batches every 0.1 s.

Run alone: ``python -m bench.bench_live [--quick]``.
"""

from __future__ import annotations

import math
import sys
import time


def _run(session, flush_s: float) -> tuple[float, int, int]:
    from imu.calibration import calibrate_session
    from imu.live.pipeline import LivePipeline
    from imu.sources.replay import ReplaySource

    src = ReplaySource(session, speed=math.inf)
    pipe = LivePipeline(src, calibrator=calibrate_session, flush_s=flush_s)
    c0 = time.process_time()
    pipe.run_blocking()
    cpu = time.process_time() - c0
    return cpu, pipe.samples_in, len(pipe.reps) + len(pipe.holds)


def run(quick: bool = False) -> list[dict]:
    from imu.sim import simulate

    rows = []
    for rate in ((104.0,) if quick else (104.0, 200.0)):
        print(f"bench live: simulating the demo session at {rate:g} Hz ...", file=sys.stderr,
              flush=True)
        session = simulate("demo", rate_hz=rate, seed=7).session
        dur = session.duration_s
        cpu, n, items = _run(session, 0.1)
        cpu_b, n_b, items_b = _run(session, 0.0)
        rows.append({"name": f"live pipeline, 3 sensors at {rate:g} Hz", "value": n / cpu,
                     "unit": "samples/CPU s", "baseline": n_b / cpu_b,
                     "ratio": (n / cpu) / (n_b / cpu_b),
                     "note": f"{dur:.0f} s session, {items} reps+holds (baseline {items_b}); "
                             "baseline: rows computed per block"})
        rows.append({"name": f"live real-time factor at {rate:g} Hz", "value": dur / cpu,
                     "unit": "x real time", "baseline": dur / cpu_b,
                     "ratio": cpu_b / cpu, "note": "session seconds per CPU second"})
    return rows


if __name__ == "__main__":  # pragma: no cover
    from bench import format_table
    print(format_table(run(quick="--quick" in sys.argv)))
