"""Benchmarks: ``python -m bench [NAME ...] [--quick]`` (``make bench``).

Every module ``bench/bench_<name>.py`` exposes ``run(quick: bool = False) -> list[dict]``; each
row has ``name``, ``value``, ``unit`` and optionally ``baseline`` (the same quantity for a
reference measured in the same run), ``ratio`` (value / baseline unless the module says
otherwise) and ``note``. The runner discovers the modules, runs them and prints one table.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def discover() -> list[str]:
    """Short names of the bench modules (``recording`` for ``bench/bench_recording.py``)."""
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(PACKAGE_DIR)])
                  if m.name.startswith("bench_"))


def load(name: str):
    """Import ``bench.bench_<name>``."""
    return importlib.import_module(f"bench.bench_{name}")


def seeds_parser(doc: str, details_help: str):
    """The command line of a bench run alone on simulator seeds: ``--quick``, ``--tune``,
    ``--seeds``, ``--details`` (a bench adds its own options to the parser returned)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tune", action="store_true", help="use the tuning seeds")
    ap.add_argument("--seeds", help="comma-separated seeds")
    ap.add_argument("--details", action="store_true", help=details_help)
    return ap


def parse_seeds(text: str | None) -> tuple[int, ...] | None:
    """``"1,2,3"`` → ``(1, 2, 3)``; None stays None."""
    return tuple(int(s) for s in text.split(",")) if text else None


def fmt_number(v) -> str:
    """A compact human form of a number (4 significant digits, thousands grouped)."""
    if v is None or v == "":
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    x = float(v)
    if x != x:
        return "nan"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e4:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.3g}" if a < 10 else f"{x:.2f}"
    return f"{x:.3g}"


def format_table(rows: list[dict]) -> str:
    """One text table of bench rows (``module`` column first)."""
    head = ["bench", "name", "value", "unit", "baseline", "ratio", "note"]
    body = []
    for r in rows:
        ratio = r.get("ratio")
        if ratio is None and r.get("baseline") not in (None, 0, "") and \
                isinstance(r.get("value"), (int, float)):
            ratio = float(r["value"]) / float(r["baseline"])
        body.append([str(r.get("module", "")), str(r.get("name", "")), fmt_number(r.get("value")),
                     str(r.get("unit", "")), fmt_number(r.get("baseline")),
                     "" if ratio is None else f"{float(ratio):.3g}x" if not isinstance(ratio, str)
                     else ratio, str(r.get("note", ""))])
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    right = {2, 4, 5}
    lines = []
    for k, row in enumerate([head] + body):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in
                 enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
