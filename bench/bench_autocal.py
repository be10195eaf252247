"""Calibration without the protocol (``imu.calibration.auto``) against the docs/calibration.md protocol.

For fresh seeds and each program (standing + walking, standing + hinges, standing + squats) two
simulated sessions of the same person and motion seed go through the product path: one with the
protocol (``calibrate_session``; the walking then lasts as long), one without it (``calibrate_auto``: quiet standing plus the
session's own motion). Both are compared with truth over the exercise part (after the protocol
where there is one). Rows: per program and angle group, the worst RMSE over the seeds (degrees)
with auto and with the protocol; the ratio is auto / protocol.

Run alone: ``python -m bench.bench_autocal [--quick] [--seeds 1,2,3]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

PROGRAMS = ("walking", "hinge", "squat")
GROUPS = ("pelvis_tilt", "pelvis_obliquity", "pelvis_rotation", "hip_flexion", "hip_adduction",
          "hip_rotation", "thigh_inclination")
RATE_HZ = 100.0


def _group(col: str) -> str:
    for g in GROUPS:
        if col.endswith(g):
            return g
    return col


def session_rmse(program: str, seed: int, protocol: bool, duration_s: float | None) -> dict:
    """Per angle group: worst RMSE over the sides (degrees) of one session."""
    from imu.calibration import calibrate_auto, calibrate_session
    from imu.kinematics.pipeline import compute_angles
    from imu.sim import simulate

    # with the protocol the session is longer by it (≈ 40 s), the walking part the same length
    kw = ({"duration_s": duration_s + (45.0 if protocol else 0.0)} if program == "walking"
          else {"reps": 5})
    res = simulate(program, rate_hz=RATE_HZ, seed=seed, errors=True, calibration=protocol, **kw)
    prof = calibrate_session(res.session) if protocol else calibrate_auto(res.session)
    table = compute_angles(res.session, prof.alignment())
    ends = [e.t_s for e in res.session.events if e.kind == "calibration_end"]
    m = res.truth_time_s > (ends[0] if ends else 0.0)
    out: dict = {}
    for c in table.names():
        if c not in res.truth_angles:
            continue
        est = np.interp(res.truth_time_s[m], table.time_s, table[c], left=np.nan, right=np.nan)
        e = est - res.truth_angles[c][m]
        g = _group(c)
        out[g] = max(out.get(g, 0.0), float(np.sqrt(np.nanmean(e ** 2))))
    if not protocol:
        out["_how"] = ", ".join(f"{r} {f.get('method')}" for r, f in prof.quality["auto"].items())
    return out


def run(quick: bool = False, seeds=None) -> list[dict]:
    from bench.bench_angles import fresh_seeds

    from imu.errors import CalibrationError

    seeds = list(seeds) if seeds else fresh_seeds(1 if quick else 3)
    print(f"  seeds {','.join(map(str, seeds))}", file=sys.stderr, flush=True)
    dur = 40.0 if quick else 60.0
    rows = []
    for program in PROGRAMS:
        auto, prot, hows, refused = [], [], [], []
        for seed in seeds:
            t0 = time.perf_counter()
            try:
                a = session_rmse(program, seed, False, dur)
            except CalibrationError as exc:  # reported, not hidden
                refused.append(seed)
                print(f"  {program} seed {seed}: auto refused: {exc.message}", file=sys.stderr)
                continue
            p = session_rmse(program, seed, True, dur)
            auto.append(a)
            prot.append(p)
            hows.append(a.pop("_how"))
            print(f"  {program} seed {seed}: " + ", ".join(
                f"{g} {a.get(g, np.nan):.2f}/{p.get(g, np.nan):.2f}" for g in GROUPS if g in a)
                + f" (auto/protocol, {time.perf_counter() - t0:.0f} s)", file=sys.stderr,
                flush=True)
        for g in GROUPS:
            va = [x[g] for x in auto if g in x]
            vp = [x[g] for x in prot if g in x]
            if not va or not vp:
                continue
            wa, wp = max(va), max(vp)
            rows.append({"name": f"{program}: RMSE {g} auto vs protocol", "value": round(wa, 2),
                         "unit": "deg", "baseline": round(wp, 2),
                         "ratio": round(wa / wp, 2) if wp > 0 else None,
                         "note": f"worst of {len(va)} seeds ({','.join(map(str, seeds))}); "
                                 f"auto axes: {hows[0]}"
                                 + (f"; auto refused on seeds {refused}" if refused else "")})
        if refused:
            rows.append({"name": f"{program}: auto calibration refused", "value": len(refused),
                         "unit": "sessions", "note": f"seeds {refused} of {len(seeds)}"})
    return rows


def main(argv=None) -> int:
    import argparse

    from bench import format_table

    p = argparse.ArgumentParser(prog="python -m bench.bench_autocal", description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: fresh)")
    a = p.parse_args(argv)
    seeds = [int(s) for s in a.seeds.split(",")] if a.seeds else None
    rows = [{"module": "autocal", **r} for r in run(a.quick, seeds)]
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
