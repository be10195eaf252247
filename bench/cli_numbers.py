"""Every number the CLI prints, now and at an earlier commit: what changed, and by how much.

Runs ``imu angles``, ``imu analyze --json`` and ``imu info`` on the bundled recordings and on a
few simulator seeds (``imu simulate`` of the *current* tree, so both trees read the same
files), once with the current tree and once with the tree of ``--base`` (a git revision,
exported with ``git archive``), each in a fresh intrinsics store (``IMU_CONFIG_DIR``), and lists
every difference: angle columns (largest absolute difference, degrees), every number of the
Analysis JSON (by path; sets, reps, holds, strides), and every line of ``imu info``.

Run: ``python -m bench.cli_numbers --base REV [--seeds 1,2] [--keep DIR]``. Not part of
``python -m bench`` (it compares two trees, it measures nothing).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: simulator sessions (program, seed): short, with the calibration protocol
SIM = (("hinge,single_leg_stance,squat", 1), ("hip_airplane,posture", 2), ("walking", 3))


#: ``python -m imu`` from the tree on PYTHONPATH only: an editable install's import hook
#: (which maps packages to this checkout) is taken out first
_MAIN = ("import runpy, sys; sys.meta_path[:] = [f for f in sys.meta_path "
         "if not type(f).__module__.startswith('__editable__')]; "
         "sys.argv[0] = 'imu'; runpy.run_module('imu', run_name='__main__', alter_sys=True)")


def _run(tree: Path, args: list[str], cfg: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(tree), IMU_CONFIG_DIR=str(cfg))
    cmd = ["-m", "imu"] if tree == ROOT else ["-c", _MAIN]
    return subprocess.run([sys.executable, *cmd, *args], cwd=tree, env=env,
                          capture_output=True, text=True)


def _export(rev: str, tree: Path) -> None:
    """The tree of ``rev`` in ``tree``, importable from PYTHONPATH alone (packages that the
    install maps under ``imu``, e.g. ``imu.calibration``, linked into place)."""
    tree.mkdir(parents=True)
    arch = subprocess.run(["git", "-C", str(ROOT), "archive", rev],
                          capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=arch, check=True)
    text = (tree / "pyproject.toml").read_text()
    for sub in ("calibration", "gui"):
        if f'"imu.{sub}" = "{sub}"' in text and not (tree / "imu" / sub).exists():
            (tree / "imu" / sub).symlink_to(Path("..") / sub)


def _outputs(tree: Path, session: Path, out: Path) -> dict:
    """``{"angles": {col: [...]}, "analysis": dict, "info": [lines]}`` (or an ``error``)."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = out / "config"
    res: dict = {}
    a = _run(tree, ["angles", str(session), "-o", str(out / "angles.csv"), "--force"], cfg)
    if a.returncode == 0:
        with open(out / "angles.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        res["angles"] = {c: [float(r[k]) if r[k] not in ("", "nan") else math.nan
                             for r in rows[1:]] for k, c in enumerate(rows[0])}
    else:
        res["angles_error"] = a.stderr.strip().splitlines()[-1:]
    j = _run(tree, ["analyze", str(session), "--json", str(out / "a.json"), "--force"], cfg)
    if j.returncode == 0:
        res["analysis"] = json.loads((out / "a.json").read_text())
    else:
        res["analysis_error"] = j.stderr.strip().splitlines()[-1:]
    i = _run(tree, ["info", str(session)], cfg)
    res["info"] = i.stdout.splitlines()
    return res


def _numbers(obj, path=""):
    """``{path: value}`` of every number (and string) in a JSON object."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_numbers(v, f"{path}.{k}" if path else k))
    elif isinstance(obj, list):
        for k, v in enumerate(obj):
            out.update(_numbers(v, f"{path}[{k}]"))
    else:
        out[path] = obj
    return out


def _untimed(v):
    """A value with the wall-clock times it may hold (when a calibration was made) masked."""
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+\d\d:\d\d)?", "<time>", v) \
        if isinstance(v, str) else v


def compare(old: dict, new: dict, tol: float = 1e-9) -> list[str]:
    """Lines naming every difference between two :func:`_outputs`."""
    diffs = []
    for key in ("angles_error", "analysis_error"):
        if old.get(key) != new.get(key):
            diffs.append(f"{key}: {old.get(key)} -> {new.get(key)}")
    oa, na = old.get("angles", {}), new.get("angles", {})
    if list(oa) != list(na):
        diffs.append(f"angle columns: {list(oa)} -> {list(na)}")
    for c in oa:
        if c not in na:
            continue
        x, y = oa[c], na[c]
        if len(x) != len(y):
            diffs.append(f"angles {c}: {len(x)} rows -> {len(y)}")
            continue
        worst = max((abs(p - q) for p, q in zip(x, y) if math.isfinite(p) and math.isfinite(q)),
                    default=0.0)
        nan_changed = sum(math.isfinite(p) != math.isfinite(q) for p, q in zip(x, y))
        if worst > tol or nan_changed:
            diffs.append(f"angles {c}: max |diff| {worst:.4g}" +
                         (f", {nan_changed} rows NaN changed" if nan_changed else ""))
    on, nn = _numbers(old.get("analysis", {})), _numbers(new.get("analysis", {}))
    for p in sorted(set(on) | set(nn)):
        if p.startswith(("provenance", "settings")):
            continue              # provenance is new with the chain; settings listed in full
        a, b = on.get(p, "<absent>"), nn.get(p, "<absent>")
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
                and not isinstance(a, bool) and not isinstance(b, bool):
            if abs(a - b) > tol:
                diffs.append(f"analysis {p}: {a} -> {b}")
        elif _untimed(a) != _untimed(b):
            diffs.append(f"analysis {p}: {a!r} -> {b!r}")
    oi, ni = old.get("info", []), new.get("info", [])
    for k in range(max(len(oi), len(ni))):
        a = oi[k] if k < len(oi) else "<absent>"
        b = ni[k] if k < len(ni) else "<absent>"
        if a != b:
            diffs.append(f"info line {k + 1}: {a!r} -> {b!r}")
    return diffs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cli_numbers", description=__doc__)
    ap.add_argument("--base", required=True, help="git revision to compare with")
    ap.add_argument("--seeds", help="simulator seeds instead of the default sessions' seeds")
    ap.add_argument("--keep", help="keep the outputs in this folder")
    args = ap.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="cli_numbers_"))
    old_tree = work / "base"
    if not old_tree.exists():
        _export(args.base, old_tree)
    sessions = sorted((ROOT / "recordings").glob("*.imu"))
    sims = SIM if not args.seeds else [(SIM[0][0], int(s)) for s in args.seeds.split(",")]
    for program, seed in sims:
        p = work / "sim" / f"{program.replace(',', '+')}_{seed}.imu"
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            r = _run(ROOT, ["simulate", "--exercise", program, "--seed", str(seed), "--reps", "3",
                            "-o", str(p), "--quiet"], work / "simcfg")
            if r.returncode:
                print(f"simulate {program} {seed}: {r.stderr.strip()}", file=sys.stderr)
                continue
        sessions.append(p)
    total = 0
    for s in sessions:
        old = _outputs(old_tree, s, work / "out" / "base" / s.stem)
        new = _outputs(ROOT, s, work / "out" / "new" / s.stem)
        diffs = compare(old, new)
        total += len(diffs)
        print(f"== {s.name}: {len(diffs)} difference(s)")
        for d in diffs:
            print("   " + d)
    print(f"{total} difference(s) in {len(sessions)} session(s); outputs in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
