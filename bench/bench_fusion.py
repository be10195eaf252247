"""Batch fusion speed: 1 h of 3 sensors at 200 Hz (2.16 M samples).

Every compiled filter fuses the whole data through :func:`imu.fusion.fuse` (with timestamps,
so the gap check runs too). The baseline is ``ahrs`` Madgwick's per-sample Python loop
(``Madgwick.updateIMU``) over the same data in the same run; being slow, it is timed over a
leading fraction of every sensor's data and extrapolated linearly (the note says which
fraction). The data are synthetic body-like motion (smooth random rotation rates, gravity plus
noise): filter run time does not depend on what the motion is.

Run alone: ``python -m bench.bench_fusion [--quick]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from imu.fusion import DEFAULT_FILTER, fuse

RATE_HZ = 200.0
HOURS = 1.0
N_SENSORS = 3


def synthetic_sensor(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t_s, acc m/s², gyr rad/s) of ``n`` samples of smooth random motion."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE_HZ
    k = max(2, n // 200)
    knots = rng.normal(0, 0.8, (k, 3))
    tk = np.linspace(0, t[-1], k)
    gyr = np.column_stack([np.interp(t, tk, knots[:, i]) for i in range(3)])
    gyr += rng.normal(0, 0.005, gyr.shape)
    acc = np.array([0.0, 0.0, 9.81]) + rng.normal(0, 0.5, (n, 3))
    return t, acc, gyr


def _madgwick_loop(acc, gyr, rate_hz) -> float:
    from ahrs.filters import Madgwick

    f = Madgwick(frequency=rate_hz)
    q = np.array([1.0, 0.0, 0.0, 0.0])
    t0 = time.perf_counter()
    for i in range(len(acc)):
        q = f.updateIMU(q, gyr[i], acc[i])
    return time.perf_counter() - t0


def run(quick: bool = False) -> list[dict]:
    hours = 0.1 if quick else HOURS
    n = int(hours * 3600 * RATE_HZ)
    sensors = [synthetic_sensor(n, s) for s in range(N_SENSORS)]
    total = n * N_SENSORS
    label = f"{hours:g} h x {N_SENSORS} sensors @ {RATE_HZ:g} Hz ({total / 1e6:.2f} M samples)"

    frac_n = min(n, int(20 * RATE_HZ))  # 20 s of each sensor
    t_base = sum(_madgwick_loop(acc[:frac_n], gyr[:frac_n], RATE_HZ) for _, acc, gyr in sensors)
    base_s = t_base * n / frac_n
    print(f"  ahrs Madgwick loop: {t_base:.2f} s for {frac_n * N_SENSORS} samples "
          f"-> {base_s:.0f} s extrapolated", file=sys.stderr)
    rows = [{"name": "fusion ahrs_madgwick per-sample loop", "value": round(base_s, 1), "unit": "s",
             "note": f"{label}; timed on the first {frac_n} samples of each sensor "
                     f"({t_base:.2f} s) and extrapolated x{n / frac_n:.0f}"}]
    for name in ["vqf", "vqf_basic", "imufusion"]:
        if quick and name == "imufusion":
            continue
        t0 = time.perf_counter()
        for t, acc, gyr in sensors:
            fuse(acc, gyr, RATE_HZ, name=name, t_s=t)
        el = time.perf_counter() - t0
        print(f"  {name}: {el:.2f} s", file=sys.stderr)
        rows.append({"name": f"fusion {name} batch" + (" (default)" if name == DEFAULT_FILTER else ""),
                     "value": round(el, 2), "unit": "s", "baseline": round(base_s, 1),
                     "ratio": round(el / base_s, 5),
                     "note": f"{label}; {total / el / 1e6:.2f} M samples/s"})
    return rows


def main(argv=None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    for r in run(quick=quick):
        extra = f"  baseline {r['baseline']} s, ratio {r['ratio']}" if "baseline" in r else ""
        print(f"{r['name']:<45} {r['value']:>10} {r['unit']}{extra}  [{r['note']}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
