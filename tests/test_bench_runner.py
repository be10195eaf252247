"""The bench runner: discovery, one table, ratios, a failing bench reported not fatal."""

from __future__ import annotations

import types

import bench
from bench import __main__ as runner


def test_discovers_bench_modules():
    assert "recording" in bench.discover()


def test_table_has_ratio_against_baseline():
    text = bench.format_table([{"module": "m", "name": "read", "value": 1.5, "unit": "s",
                                "baseline": 0.5, "note": "x"}])
    header, rule, row = text.splitlines()
    assert header.split() == ["bench", "name", "value", "unit", "baseline", "ratio", "note"]
    assert row.split() == ["m", "read", "1.5", "s", "0.5", "3x", "x"]
    assert bench.fmt_number(1234567.0) == "1,234,567" and bench.fmt_number(0.01234) == "0.0123"


def test_runner_prints_rows_and_survives_a_failing_bench(monkeypatch, capsys):
    good = types.SimpleNamespace(run=lambda quick=False: [
        {"name": "speed", "value": 10.0, "unit": "1/s", "note": f"quick={quick}"}])

    def bad_run(quick=False):
        raise RuntimeError("boom")

    mods = {"good": good, "bad": types.SimpleNamespace(run=bad_run)}
    monkeypatch.setattr(runner, "discover", lambda: ["bad", "good"])
    monkeypatch.setattr(runner, "load", lambda name: mods[name])
    assert runner.main(["--quick"]) == 1
    out = capsys.readouterr().out
    assert "good" in out and "quick=True" in out and "FAILED" in out and "boom" in out
    assert runner.main(["good"]) == 0
