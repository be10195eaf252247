"""Fusion on the body simulator (accuracy) and batch fusion speed (1 h, 3 sensors, 200 Hz).

Accuracy: simulated sessions (``imu.sim.simulate``, every sensor error on), each sensor fused on
its true sample times (the clock model is measured separately: ``clock`` rows), compared with
the true sensor orientation ``R_WE^T · R_WB · R_BS``: inclination RMSE (BROAD's measure) and
heading drift (heading error at the end after aligning the heading over the first 5 s).
Tuning seeds (``TUNE_SEEDS``) are kept apart from the acceptance seeds (``ACCEPT_SEEDS``).

Speed: 1 h of 3 sensors at 200 Hz (2.16 M samples).

Every compiled filter fuses the whole data through :func:`imu.fusion.fuse` (with timestamps,
so the gap check runs too). The baseline is ``ahrs`` Madgwick's per-sample Python loop
(``Madgwick.updateIMU``) over the same data in the same run; being slow, it is timed over a
leading fraction of every sensor's data and extrapolated linearly (the note says which
fraction). The data are synthetic body-like motion (smooth random rotation rates, gravity plus
noise): filter run time does not depend on what the motion is.

Run alone: ``python -m bench.bench_fusion [--quick] [--speed-only|--sim-only]
[--seeds 1,2] [--filters vqf,imufusion] [--set vqf.tauAcc=4]``.
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
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(len(acc)):
        q = f.updateIMU(q, gyr[i], acc[i])
    return time.perf_counter() - t0, time.process_time() - c0


TUNE_SEEDS = (100, 101, 102)
ACCEPT_SEEDS = (1, 2, 3)
SIM_RATES_HZ = (60.0, 104.0, 200.0)


def _incl_err_deg(q_est, q_true):
    from imu import quat as Q

    e = Q.multiply(q_est, Q.conj(q_true))
    return np.degrees(2 * np.arccos(np.clip(np.sqrt(e[..., 0] ** 2 + e[..., 3] ** 2), 0, 1)))


def _heading_err_deg(q_est, q_true):
    from imu import quat as Q

    e = Q.multiply(q_est, Q.conj(q_true))
    return np.degrees(2 * np.arctan2(e[..., 3], e[..., 0]))


def true_sensor_quats(res, role: str) -> np.ndarray:
    """q_ES truth of ``role`` on ``res.truth_time_s``."""
    from imu import quat as Q
    from imu.kinematics.frames import R_WE

    R_ES = R_WE.T @ res.truth_segments[role] @ res.mounts[role]
    return Q.from_matrix(R_ES)


def sim_errors(res, name: str, settings: dict | None = None, true_time: bool = True,
               true_acc_intrinsics: bool = False) -> dict:
    """Per role: inclination RMSE and max (deg) and heading drift (deg) of one filter.

    ``true_acc_intrinsics``: first remove the accelerometer offset and scale error with the
    simulator's true values (what a perfect intrinsic calibration gives), leaving the
    filter's own error (gyro bias handling, dynamics, noise, wobble).
    """
    from imu.fusion import fuse
    from imu.intrinsics import IntrinsicCorrection
    from imu.timing import resample_quat, session_times

    out = {}
    for role, d in res.session.sensors.items():
        t = res.sample_true_times(role) if true_time else session_times(d)
        acc, gyr = d.acc, d.gyr
        if true_acc_intrinsics:
            e = res.sensor_errors[role]
            acc, gyr = IntrinsicCorrection(np.zeros(3), e["acc_offset_m_s2"],
                                           1.0 / (1.0 + np.asarray(e["acc_scale"]))).apply(acc, gyr)
        q = fuse(acc, gyr, res.rate_hz, name=name, t_s=t, **(settings or {}))
        qe = resample_quat(t, q, res.truth_time_s, max_gap_s=5.0 / res.rate_hz)
        qt = true_sensor_quats(res, role)
        ok = np.all(np.isfinite(qe), axis=1)
        inc = _incl_err_deg(qe[ok], qt[ok])
        head = _heading_err_deg(qe[ok], qt[ok])
        tt = res.truth_time_s[ok]
        h0 = np.degrees(np.angle(np.mean(np.exp(1j * np.radians(head[tt < tt[0] + 5.0])))))
        hd = (head - h0 + 180.0) % 360.0 - 180.0
        out[role] = {"incl_rmse_deg": float(np.sqrt(np.mean(inc ** 2))),
                     "incl_max_deg": float(np.max(inc)),
                     "heading_drift_deg": float(np.mean(np.abs(hd[tt > tt[-1] - 5.0]))),
                     "duration_s": float(tt[-1] - tt[0])}
    return out


def sim_clock_errors(res) -> dict:
    """Per role: the fitted clock model against the simulator's clock (drift error in ppm,
    time error of the mapped samples in ms: mean (≈ the unobservable minimum latency) and
    spread (max − min))."""
    from imu.timing import fit_clock

    out = {}
    for role, d in res.session.sensors.items():
        m = fit_clock(d)
        c = res.clock[role]
        true_drift = 1.0 / (1.0 + c["drift_ppm"] * 1e-6) - 1.0  # host per sensor second
        err_s = m.to_session(d.t_sensor_s) - res.sample_true_times(role)
        out[role] = {"drift_err_ppm": (m.drift - true_drift) * 1e6,
                     "time_err_mean_ms": float(np.mean(err_s) * 1e3),
                     "time_err_spread_ms": float((np.max(err_s) - np.min(err_s)) * 1e3)}
    return out


def simulate_session(seed: int, rate_hz: float, quick: bool = False):
    from imu.sim import simulate

    if quick:
        return simulate("hinge", rate_hz=rate_hz, seed=seed, reps=4)
    return simulate("demo", rate_hz=rate_hz, seed=seed)


def sim_table(filters, seeds, rates, quick=False, settings=None, progress=True) -> dict:
    """``{(seed, rate): {filter: per-role errors}}`` plus clock errors under key ``"clock"``."""
    table = {}
    for seed in seeds:
        for rate in rates:
            t0 = time.perf_counter()
            res = simulate_session(seed, rate, quick)
            cell = {"clock": sim_clock_errors(res)}
            for name in filters:
                cell[name] = sim_errors(res, name, (settings or {}).get(name))
                cell[name + "+acc"] = sim_errors(res, name, (settings or {}).get(name),
                                                 true_acc_intrinsics=True)
            table[(seed, rate)] = cell
            if progress:
                print(f"  sim seed {seed} @ {rate:g} Hz: " + ", ".join(
                    f"{f} {np.mean([v['incl_rmse_deg'] for v in cell[f].values()]):.2f}°"
                    for f in filters) + f" ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return table


def sim_rows(table, filters, quick=False) -> list[dict]:
    rows = []
    for name in filters:
        inc = [v["incl_rmse_deg"] for c in table.values() for v in c[name].values()]
        mx = [v["incl_max_deg"] for c in table.values() for v in c[name].values()]
        hd = [v["heading_drift_deg"] for c in table.values() for v in c[name].values()]
        what = f"{len(table)} sessions x sensors, {'hinge' if quick else 'demo'} program, errors on"
        rows.append({"name": f"sim {name} inclination RMSE", "value": round(float(np.mean(inc)), 3),
                     "unit": "deg", "note": f"mean over {what}; worst {max(inc):.2f}, max {max(mx):.2f}"})
        inc_c = [v["incl_rmse_deg"] for c in table.values() for v in c[name + "+acc"].values()]
        mx_c = [v["incl_max_deg"] for c in table.values() for v in c[name + "+acc"].values()]
        rows.append({"name": f"sim {name} inclination RMSE, acc errors removed",
                     "value": round(float(np.mean(inc_c)), 3), "unit": "deg",
                     "note": f"filter's own error (true acc offset/scale removed); worst "
                             f"{max(inc_c):.2f}, max {max(mx_c):.2f}"})
        rows.append({"name": f"sim {name} heading drift", "value": round(float(np.mean(hd)), 2),
                     "unit": "deg", "note": f"|heading error| at end after 5 s alignment; worst {max(hd):.1f}"})
    clk = [v for c in table.values() for v in c["clock"].values()]
    rows.append({"name": "sim clock drift error", "value": round(float(np.max([abs(v["drift_err_ppm"]) for v in clk])), 2),
                 "unit": "ppm", "note": "worst |fitted - true| drift"})
    rows.append({"name": "sim clock time error spread", "value": round(float(np.max([v["time_err_spread_ms"] for v in clk])), 2),
                 "unit": "ms", "note": "worst max-min of mapped - true sample time; mean offset "
                 f"{np.mean([v['time_err_mean_ms'] for v in clk]):.1f} ms = unobservable minimum latency"})
    return rows


def run(quick: bool = False, speed: bool = True, sim: bool = True, filters=None, seeds=None,
        settings=None) -> list[dict]:
    rows = []
    if sim:
        filters = filters or ["vqf", "vqf_basic", "imufusion"]
        seeds = seeds or (ACCEPT_SEEDS[:1] if quick else ACCEPT_SEEDS)
        rates = (104.0,) if quick else SIM_RATES_HZ
        table = sim_table(filters, seeds, rates, quick=quick, settings=settings)
        rows += sim_rows(table, filters, quick)
    if speed:
        rows += run_speed(quick)
    return rows


def run_speed(quick: bool = False) -> list[dict]:
    hours = 0.1 if quick else HOURS
    n = int(hours * 3600 * RATE_HZ)
    sensors = [synthetic_sensor(n, s) for s in range(N_SENSORS)]
    total = n * N_SENSORS
    label = f"{hours:g} h x {N_SENSORS} sensors @ {RATE_HZ:g} Hz ({total / 1e6:.2f} M samples)"

    frac_n = min(n, int(20 * RATE_HZ))  # 20 s of each sensor
    tb = [_madgwick_loop(acc[:frac_n], gyr[:frac_n], RATE_HZ) for _, acc, gyr in sensors]
    t_base, c_base = sum(x[0] for x in tb), sum(x[1] for x in tb)
    base_s, base_cpu_s = t_base * n / frac_n, c_base * n / frac_n
    print(f"  ahrs Madgwick loop: {t_base:.2f} s for {frac_n * N_SENSORS} samples "
          f"-> {base_s:.0f} s extrapolated", file=sys.stderr)
    rows = [{"name": "fusion ahrs_madgwick per-sample loop", "value": round(base_s, 1), "unit": "s",
             "note": f"{label}; timed on the first {frac_n} samples of each sensor "
                     f"({t_base:.2f} s) and extrapolated x{n / frac_n:.0f}; "
                     f"CPU {base_cpu_s:.0f} s"}]
    for name in ["vqf", "vqf_basic", "imufusion"]:
        if quick and name == "imufusion":
            continue
        # imufusion is compiled but called once per sample from Python: time a tenth
        m = n if name != "imufusion" else max(1, n // 10)
        t0, c0 = time.perf_counter(), time.process_time()
        for t, acc, gyr in sensors:
            fuse(acc[:m], gyr[:m], RATE_HZ, name=name, t_s=t[:m])
        el, cpu = (time.perf_counter() - t0) * n / m, (time.process_time() - c0) * n / m
        print(f"  {name}: {el:.2f} s", file=sys.stderr)
        rows.append({"name": f"fusion {name} batch" + (" (default)" if name == DEFAULT_FILTER else ""),
                     "value": round(el, 2), "unit": "s", "baseline": round(base_s, 1),
                     "ratio": round(el / base_s, 5),
                     "note": f"{label}; {total / el / 1e6:.2f} M samples/s; CPU {cpu:.2f} s "
                             f"(ratio {cpu / base_cpu_s:.5f})"
                             + ("" if m == n else f"; timed on 1/{n // m} and extrapolated")})
    return rows


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--sim-only", action="store_true")
    ap.add_argument("--seeds", default=None, help="comma-separated simulator seeds")
    ap.add_argument("--filters", default=None)
    ap.add_argument("--set", action="append", default=[], metavar="FILTER.KEY=VALUE")
    a = ap.parse_args(argv)
    settings: dict = {}
    for item in a.set:
        k, v = item.split("=", 1)
        f, key = k.split(".", 1)
        try:
            val = float(v)
        except ValueError:
            val = {"true": True, "false": False}.get(v.lower(), v)
        settings.setdefault(f, {})[key] = val
    seeds = [int(x) for x in a.seeds.split(",")] if a.seeds else None
    filters = a.filters.split(",") if a.filters else None
    for r in run(quick=a.quick, speed=not a.sim_only, sim=not a.speed_only, filters=filters,
                 seeds=seeds, settings=settings):
        extra = f"  baseline {r['baseline']} s, ratio {r['ratio']}" if "baseline" in r else ""
        print(f"{r['name']:<45} {r['value']:>10} {r['unit']}{extra}  [{r['note']}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
