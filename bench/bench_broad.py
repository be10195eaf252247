"""Inclination accuracy of every offered filter, causal and not, on BROAD trials (real IMU +
optical truth), against vqf's own non-causal ``offlineVQF`` in the same run.

Columns: each filter as the live view runs it (causal, ``NAME``) and as a recording is processed
(``NAME/offline``: :func:`imu.fusion.fuse` with ``causal=False``, i.e. ``offlineVQF`` for vqf,
a forward–backward smoother for the others), and the reference ``offlineVQF`` (the library
function at its default parameters, called directly). Acceptance (issue 14): the default for
recordings (``vqf/offline``) within 1.05× the reference's error on every trial.

Error measure (the dataset's own, ``../shared/data/broad/README.md``): ``q_err = q_imu ⊗
conj(q_opt)``, inclination error ``2·acos(sqrt(w² + z²))`` in degrees, RMSE over the
``movement`` samples ignoring NaN, no extra alignment. Every filter starts from the same
accelerometer inclination (``imu.fusion.initial_quat``) and runs with its defaults; the baseline
is ``ahrs`` Madgwick at its default gain (0.033).

Run alone: ``python -m bench.bench_broad [--quick] [--filters a,b] [--set k=v ...]``.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import numpy as np

from imu import quat as Q
from imu.fusion import DEFAULT_FILTER, FILTERS, fuse



def _find_broad() -> str:
    """``shared/data/broad`` beside the repository or beside one of its parent folders (a
    worktree under ``wt/``), or ``$IMU_BROAD_DIR``."""
    if os.environ.get("IMU_BROAD_DIR"):
        return os.environ["IMU_BROAD_DIR"]
    d = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    first = None
    for _ in range(3):
        d = os.path.dirname(d)
        cand = os.path.join(d, "shared", "data", "broad")
        first = first or cand
        if os.path.isdir(cand):
            return cand
    return first


#: BROAD trials: ``../shared/data/broad`` beside the repository, or ``$IMU_BROAD_DIR``.
BROAD_DIR = _find_broad()
BASELINE = "ahrs_madgwick"
SLOW = ("ahrs_madgwick", "ahrs_mahony", "ahrs_ekf")
#: the reference column: vqf's offlineVQF at its default parameters, called directly
REFERENCE = "offlineVQF"
#: suffix of a filter's non-causal column
OFFLINE = "/offline"
#: acceptance: the default for recordings within this factor of the reference, every trial
MAX_RATIO = 1.05


def load_trial(path: str) -> dict:
    """One BROAD ``.mat`` trial as numpy arrays (acc m/s², gyr rad/s, opt_quat w,x,y,z)."""
    import scipy.io

    d = scipy.io.loadmat(path)
    return {
        "name": os.path.basename(path).split("_A.mat")[0],
        "acc": np.ascontiguousarray(d["imu_acc"], dtype=float),
        "gyr": np.ascontiguousarray(d["imu_gyr"], dtype=float),
        "opt_quat": np.asarray(d["opt_quat"], dtype=float),
        "rate_hz": float(np.squeeze(d["sampling_rate"])),
        "movement": np.asarray(d["movement"]).reshape(-1).astype(bool),
    }


def inclination_rmse_deg(q_imu: np.ndarray, q_opt: np.ndarray, mask: np.ndarray) -> float:
    """BROAD inclination RMSE (degrees) over ``mask`` samples, NaN truth ignored."""
    e = Q.multiply(q_imu, Q.conj(q_opt))
    inc = np.degrees(2 * np.arccos(np.clip(np.sqrt(e[:, 0] ** 2 + e[:, 3] ** 2), 0, 1)))
    sel = mask & np.isfinite(inc)
    return float(np.sqrt(np.mean(inc[sel] ** 2)))


#: a reference column: VQF with the library's own defaults (not the tuned DEFAULT_SETTINGS)
VQF_LIBRARY_DEFAULTS = "vqf@tauAcc=3;biasSigmaMotion=0.1"


def parse_variant(name: str) -> tuple[str, dict]:
    """``"vqf@tauAcc=3;biasSigmaMotion=0.1"`` → ``("vqf", {"tauAcc": 3.0, ...})``."""
    if "@" not in name:
        return name, {}
    base, rest = name.split("@", 1)
    kw = {}
    for item in rest.split(";"):
        k, v = item.split("=", 1)
        try:
            kw[k] = float(v)
        except ValueError:
            kw[k] = {"true": True, "false": False}.get(v.lower(), v)
    return base, kw


def trial_paths() -> list[str]:
    return sorted(glob.glob(os.path.join(BROAD_DIR, "*.mat")))


def evaluate(filters: list[str], quick: bool = False, settings: dict | None = None,
             progress: bool = True) -> dict[str, dict[str, float]]:
    """RMSE (degrees) per trial per filter: ``{trial: {filter: rmse}}``."""
    out: dict[str, dict[str, float]] = {}
    for path in trial_paths():
        tr = load_trial(path)
        n = len(tr["acc"])
        if quick:  # first 40 s (the trials start with rest, then move)
            n = min(n, int(40 * tr["rate_hz"]))
        row = {}
        for name in filters:
            t0 = time.perf_counter()
            if name == REFERENCE:
                import vqf

                q = vqf.offlineVQF(tr["gyr"][:n], tr["acc"][:n], None, 1.0 / tr["rate_hz"],
                                   {})["quat6D"]
            else:
                causal = not name.endswith(OFFLINE)
                base, kw = parse_variant(name.removesuffix(OFFLINE))
                kw = {**kw, **(settings or {}).get(name.removesuffix(OFFLINE), {})}
                q = fuse(tr["acc"][:n], tr["gyr"][:n], tr["rate_hz"], name=base, causal=causal,
                         **kw)
            row[name] = inclination_rmse_deg(q, tr["opt_quat"][:n], tr["movement"][:n])
            if progress:
                print(f"  {tr['name']:<40} {name:<14} {row[name]:6.3f}°  "
                      f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        out[tr["name"]] = row
    return out


def all_columns(quick: bool = False) -> list[str]:
    """Every offered filter causal and non-causal, VQF at its library defaults, the reference."""
    names = list(FILTERS)
    if quick:
        names = [f for f in names if f not in SLOW or f == BASELINE]
    cols = []
    for f in names:
        cols += [f, f + OFFLINE]
    return cols + [VQF_LIBRARY_DEFAULTS, REFERENCE]


def run(quick: bool = False) -> list[dict]:
    """Bench rows: inclination RMSE per trial per filter (causal and not), the mean per
    filter, and the acceptance check of the default for recordings against ``offlineVQF``."""
    filters = all_columns(quick)
    if not trial_paths():
        return [{"name": "broad", "value": float("nan"), "unit": "deg",
                 "note": f"no BROAD trials in {BROAD_DIR}"}]
    res = evaluate(filters, quick=quick)
    rows = []
    for trial, r in res.items():
        base = r.get(BASELINE)
        for name, v in r.items():
            rows.append({"name": f"broad {trial} {name}", "value": round(v, 3), "unit": "deg",
                         "baseline": round(base, 3), "ratio": round(v / base, 3),
                         "note": "inclination RMSE vs ahrs Madgwick default gain"
                                 + (" (first 40 s)" if quick else "")})
    means = {f: float(np.mean([r[f] for r in res.values()])) for f in filters}
    rec = DEFAULT_FILTER + OFFLINE
    ratios = {t: r[rec] / r[REFERENCE] for t, r in res.items()}
    worst = max(ratios, key=ratios.get)
    rows.append({"name": "broad default for recordings / offlineVQF (worst trial)",
                 "value": round(ratios[worst], 3), "unit": "x",
                 "note": f"{worst}; acceptance ≤ {MAX_RATIO} on every trial: "
                         + ("holds" if ratios[worst] <= MAX_RATIO else "DOES NOT HOLD")})
    offered = [f for f in filters if f.removesuffix(OFFLINE) in FILTERS]
    best = min(offered, key=means.get)
    for name, v in means.items():
        note = "mean over trials" + ("" if name.removesuffix(OFFLINE) in FILTERS
                                     else " (reference, not offered)")
        if name == DEFAULT_FILTER:
            note += "; DEFAULT live (causal)"
        if name == rec:
            note += f"; DEFAULT for recordings, {v - means[best]:+.3f}° vs best ({best})"
        rows.append({"name": f"broad mean {name}", "value": round(v, 3), "unit": "deg",
                     "baseline": round(means[BASELINE], 3),
                     "ratio": round(v / means[BASELINE], 3), "note": note})
    return rows


def format_table(res: dict[str, dict[str, float]]) -> str:
    filters = list(next(iter(res.values())))
    w = max(len(t) for t in res) + 2
    cw = {f: max(15, len(f) + 2) for f in filters}
    lines = ["trial".ljust(w) + "".join(f"{f:>{cw[f]}}" for f in filters)]
    for trial, r in res.items():
        lines.append(trial.ljust(w) + "".join(f"{r[f]:>{cw[f]}.3f}" for f in filters))
    lines.append("mean".ljust(w) + "".join(
        f"{np.mean([r[f] for r in res.values()]):>{cw[f]}.3f}" for f in filters))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="first 40 s of each trial")
    ap.add_argument("--filters", default=None,
                    help="comma-separated columns (default: every filter, causal and "
                         f"{OFFLINE}, and {REFERENCE})")
    ap.add_argument("--set", action="append", default=[], metavar="FILTER.KEY=VALUE",
                    help="a filter setting, e.g. vqf.tauAcc=4")
    a = ap.parse_args(argv)
    settings: dict = {}
    for s in a.set:
        k, v = s.split("=", 1)
        f, key = k.split(".", 1)
        settings.setdefault(f, {})[key] = float(v) if v.replace(".", "", 1).lstrip("-").isdigit() \
            else {"true": True, "false": False}.get(v.lower(), v)
    cols = a.filters.split(",") if a.filters else all_columns(a.quick)
    res = evaluate(cols, quick=a.quick, settings=settings)
    print("BROAD inclination RMSE (deg), movement samples")
    print(format_table(res))
    rec = DEFAULT_FILTER + OFFLINE
    if rec in cols and REFERENCE in cols:
        ratios = {t: r[rec] / r[REFERENCE] for t, r in res.items()}
        ok = all(v <= MAX_RATIO for v in ratios.values())
        print(f"default for recordings ({rec}) / {REFERENCE}: "
              + ", ".join(f"{t[:2]} {v:.3f}x" for t, v in ratios.items())
              + f" -> {'holds' if ok else 'DOES NOT HOLD'} (≤ {MAX_RATIO}x on every trial)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
