"""Peak memory of every reader on the crafted-input corpus (``tests/corpus/make_corpus.py``).

Each input goes through the commands that read it (``imu info``, ``export``, ``import``,
``angles`` for sample-level damage, ``analyze --settings`` for settings files), each as its own
process; the row is the largest peak resident memory (``VmHWM`` of the process, start-up
included) of that input's commands, next to the same commands on the good seed recording (the
baseline). A row also says whether every command ended with exit status 0 or 2 and no
traceback. ``--quick`` runs one command per input. Acceptance: every input under 500 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

LIMIT_MB = 500.0
ROOT = Path(__file__).resolve().parent.parent


def _corpus():
    sys.path.insert(0, str(ROOT / "tests" / "corpus"))
    try:
        import make_corpus
    finally:
        sys.path.pop(0)
    return make_corpus


# The child reports its own peak: VmHWM of its memory map (``ru_maxrss`` of a child would
# include the parent's resident memory at fork time).
_CHILD = """
import atexit, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("\\n__peak_kb__ " + line.split()[1] + "\\n")
atexit.register(peak)
from imu.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _peak_mb(argv: list[str], cwd: Path, env: dict) -> tuple[float, int, bool]:
    """(peak resident memory MB, exit status, traceback seen) of one ``imu`` process."""
    p = subprocess.run([sys.executable, "-c", _CHILD, *argv], cwd=cwd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.decode("utf-8", "replace")
    kb = [int(ln.split()[1]) for ln in err.splitlines() if ln.startswith("__peak_kb__ ")]
    return (kb[-1] / 1024.0 if kb else float("nan")), p.returncode, "Traceback" in err


def run(quick: bool = False) -> list[dict]:
    mc = _corpus()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, IMU_CONFIG_DIR=str(tmp / "config"), QT_QPA_PLATFORM="offscreen")
        print("  building the corpus", file=sys.stderr, flush=True)
        # the seeds are made in this process: keep their intrinsics out of the user's config
        saved = os.environ.get("IMU_CONFIG_DIR")
        os.environ["IMU_CONFIG_DIR"] = env["IMU_CONFIG_DIR"]
        try:
            seeds = mc.make_seeds(tmp / "seeds")
        finally:
            if saved is None:
                os.environ.pop("IMU_CONFIG_DIR", None)
            else:
                os.environ["IMU_CONFIG_DIR"] = saved
        cases = mc.build(tmp / "corpus", seeds)
        (tmp / "seed-out").mkdir()
        seed_case = mc.Case("seed", seeds["recording"], "angles")
        base = max(_peak_mb(a, tmp, env)[0]
                   for a in mc.commands(seed_case, seeds, tmp / "seed-out"))
        worst, bad = 0.0, []
        for i, case in enumerate(cases):
            target = tmp / "out" / case.name
            target.mkdir(parents=True)
            argvs = mc.commands(case, seeds, target)
            if quick:
                argvs = argvs[:1]
            peak, ok = 0.0, True
            for argv in argvs:
                mb, rc, tb = _peak_mb(argv, tmp, env)
                peak = max(peak, mb)
                ok &= rc in (0, 2) and not tb
            worst = max(worst, peak)
            if not ok or peak >= LIMIT_MB:
                bad.append(case.name)
            rows.append({"name": f"{case.name} ({', '.join(a[0] for a in argvs)})",
                         "value": round(peak, 1), "unit": "MB peak", "baseline": round(base, 1),
                         "note": "ok" if ok else "TRACEBACK or bad exit status"})
            if (i + 1) % 20 == 0:
                print(f"  {i + 1}/{len(cases)} inputs", file=sys.stderr, flush=True)
        rows.append({"name": f"all {len(cases)} inputs: largest peak", "value": round(worst, 1),
                     "unit": "MB", "baseline": LIMIT_MB,
                     "note": "every input under the limit, exit 0/2, no traceback" if not bad
                     else f"FAILED: {', '.join(bad[:10])}"})
    return rows
