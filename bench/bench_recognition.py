"""Exercise recognition from angles alone (issue 10) against the simulator's truth.

Simulated sessions (``imu.sim.simulate``, every sensor error on, sacrum + both thighs, 60 Hz) of
the calibration protocol, then every exercise (hinge, squat, single-leg stance on each leg, hip
airplane on each leg, posture, walking, split squat with each leg in front), a second
calibration in the middle. Each goes through the product path (the session's calibrations,
batch angles: :func:`imu.chain.session_angles`) and then
:func:`imu.analysis.recognition.recognize`, which sees the angles only (no events). Every true
set (``SimResult.truth_sets``), walking bout and calibration (``SimResult.timeline``) is paired
with the recognised segment that overlaps it most: labelled right when the label (and, for
single-leg work, the stance side) agrees; bounds within 1 s when both ends are.
Acceptance seeds (``ACCEPT_SEEDS``) were never used while tuning (``TUNE_SEEDS``).

Run alone: ``python -m bench.bench_recognition [--quick] [--seeds 1,2] [--tune] [--details]``.
"""

from __future__ import annotations

import sys

ACCEPT_SEEDS = (501, 502, 503, 504, 505, 506)
TUNE_SEEDS = (11, 12, 13)
PROGRAM = ["hinge", "squat", "single_leg_stance", "calibration", "hip_airplane", "posture",
           "walking", "split_squat"]
SIDED = ("single_leg_stance", "hip_airplane")


def truth_items(res) -> list[dict]:
    """What the person did: every set, walking bout and calibration, with its bounds."""
    items = [{"label": s["exercise"], "side": s.get("side") if s["exercise"] in SIDED else None,
              "start_s": s["start_s"], "end_s": s["end_s"]} for s in res.truth_sets]
    for b in res.timeline:
        if b["name"] in ("calibration", "walking"):
            items.append({"label": b["name"], "side": None, "start_s": b["start_s"],
                          "end_s": b["end_s"]})
    return sorted(items, key=lambda d: d["start_s"])


def score(truth: list[dict], segs) -> list[dict]:
    """Each true item with its best-overlapping recognised segment."""
    out = []
    for it in truth:
        best, ov = None, 0.0
        for s in segs:
            o = min(it["end_s"], s.end_s) - max(it["start_s"], s.start_s)
            if o > ov:
                best, ov = s, o
        row = dict(it, got=None, got_side=None, d_start=float("inf"), d_end=float("inf"),
                   conf=0.0)
        if best is not None:
            row.update(got=best.label, got_side=best.side, conf=best.confidence,
                       d_start=abs(best.start_s - it["start_s"]),
                       d_end=abs(best.end_s - it["end_s"]),
                       s_start=best.start_s - it["start_s"], s_end=best.end_s - it["end_s"])
        row["right"] = row["got"] == it["label"] and (it["side"] is None
                                                      or row["got_side"] == it["side"])
        row["bounds_ok"] = max(row["d_start"], row["d_end"]) <= 1.0
        out.append(row)
    return out


def extra_segments(truth, segs) -> int:
    """Recognised exercise segments that overlap no true item."""
    from imu.analysis.recognition import OTHER_LABELS

    n = 0
    for s in segs:
        if s.label in OTHER_LABELS:
            continue
        if not any(min(t["end_s"], s.end_s) - max(t["start_s"], s.start_s) > 0 for t in truth):
            n += 1
    return n


def session_rows(seed: int, rate_hz: float = 60.0):
    import os
    import tempfile

    from imu.analysis.recognition import recognize
    from imu.chain import session_angles
    from imu.sim import simulate

    # the chain stores each calibration's intrinsics: keep them out of the user's config
    os.environ["IMU_CONFIG_DIR"] = tempfile.mkdtemp(prefix="bench-recognition-")
    res = simulate(PROGRAM, rate_hz=rate_hz, seed=seed, errors=True,
                   roles=("sacrum", "right_thigh", "left_thigh"))
    angles, _, _ = session_angles(res.session, progress=False)
    segs = recognize(angles)
    truth = truth_items(res)
    return score(truth, segs), extra_segments(truth, segs)


def measure(seeds, progress: bool = True) -> tuple[list[dict], int]:
    rows, extra = [], 0
    for s in seeds:
        if progress:
            print(f"recognition: seed {s}", file=sys.stderr, flush=True)
        r, e = session_rows(s)
        for x in r:
            x["seed"] = s
        rows += r
        extra += e
    return rows, extra


def table_rows(rows: list[dict], extra: int, note: str) -> list[dict]:
    out = []
    labels = sorted({r["label"] for r in rows})
    for lab in labels:
        rs = [r for r in rows if r["label"] == lab]
        right = sum(r["right"] for r in rs)
        worst = max(max(r["d_start"], r["d_end"]) for r in rs)
        out.append({"name": f"{lab}: labelled right", "value": f"{right}/{len(rs)}", "unit": "",
                    "note": f"worst bound {worst:.2f} s"})
    n = len(rows)
    right = sum(r["right"] for r in rows)
    bounds = sum(r["right"] and r["bounds_ok"] for r in rows)
    out.append({"name": "all: labelled right", "value": round(100.0 * right / n, 1), "unit": "%",
                "note": f"{right}/{n}, {note} (acceptance >= 95 %)"})
    out.append({"name": "all: right and bounds within 1 s", "value": round(100.0 * bounds / n, 1),
                "unit": "%", "note": f"{bounds}/{n}"})
    out.append({"name": "extra exercise segments", "value": extra, "unit": "",
                "note": "recognised exercise where the person did none"})
    return out


def run(quick: bool = False, seeds=None) -> list[dict]:
    seeds = seeds or (ACCEPT_SEEDS[:2] if quick else ACCEPT_SEEDS)
    rows, extra = measure(seeds)
    return table_rows(rows, extra, f"seeds {seeds[0]}..{seeds[-1]}")


def main(argv=None) -> int:
    from bench import format_table, parse_seeds, seeds_parser

    a = seeds_parser(__doc__, "print every pairing").parse_args(argv)
    seeds = parse_seeds(a.seeds) or (
        TUNE_SEEDS if a.tune else (ACCEPT_SEEDS[:2] if a.quick else ACCEPT_SEEDS))
    rows, extra = measure(seeds)
    print(format_table([{"module": "recognition", **r}
                        for r in table_rows(rows, extra, f"seeds {','.join(map(str, seeds))}")]))
    if a.details:
        for r in rows:
            flag = "" if r["right"] and r["bounds_ok"] else "  <--"
            print(f"seed {r['seed']} {r['label']:<18}{r['side'] or '':<6} got {r['got']} "
                  f"{r['got_side'] or ''} conf {r['conf']:.2f} d_start {r['d_start']:.2f} "
                  f"d_end {r['d_end']:.2f} (signed {r.get('s_start', 0):+.2f} "
                  f"{r.get('s_end', 0):+.2f}){flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
