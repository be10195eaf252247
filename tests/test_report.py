"""The HTML session report: self-contained, plain language, opens in headless Chromium cleanly."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from imu.analysis import Settings, analyze_angles
from imu.analysis.report import render_report, write_report
from imu.sim import simulate
from imu.types import AngleTable

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    res = simulate(["hinge", "single_leg_stance", "hinge", "hip_airplane", "posture"], rate_hz=40,
                   seed=8, errors=False, calibration=False, reps=3)
    table = AngleTable(res.truth_time_s, dict(res.truth_angles))
    result = analyze_angles(table, res.session.events)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, result, table, {"name": "seed 8", "duration": "300 s"},
                 {"verdict": "ok", "message": "all phases found",
                  "standing": {"duration_s": 5.0, "gravity_spread_deg": 0.4}})
    return res, table, result, path


def run_chromium(url: str, tmp_path, screenshot=None) -> tuple[str, list[str]]:
    """Load ``url`` in headless Chromium; returns ``(dom, console_lines)``.

    Chromium logs every console message (``console.*``, uncaught exceptions, resources that fail
    to load) to stderr as ``...:CONSOLE:...`` lines with ``--enable-logging=stderr``.
    """
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    if screenshot:
        args += ["--window-size=1000,2600", f"--screenshot={screenshot}"]
    else:
        args += ["--dump-dom"]
    p = subprocess.run(args + [url], capture_output=True, text=True, timeout=120)
    console = [ln for ln in p.stderr.splitlines() if ":CONSOLE" in ln]
    return p.stdout, console


def test_report_is_self_contained(session):
    *_, path = session
    html = path.read_text()
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert "@import" not in html and "url(http" not in html
    assert html.count("<svg") >= 5


def test_report_has_the_sections_and_plain_language(session):
    res, table, result, path = session
    html = path.read_text()
    for heading in ("Session summary", "Calibration quality", "Trends across sets",
                    "Set 1: Hip hinge", "Single-leg stance, standing on the right leg",
                    "Hip airplane", "Posture"):
        assert heading in html, heading
    for s in result["sets"]:
        for r in s.get("reps", []) + s.get("holds", []):
            assert (f"Rep {r['index']}:" in html) or (f"Hold {r['index']}" in html)
    squat_reps = [r for s in result["sets"] if s["exercise"] == "hinge" for r in s["reps"]
                  if "squat_pattern" in r["faults"]]
    assert squat_reps
    r = squat_reps[0]
    assert (f"Rep {r['index']}: the hinge turned into a squat (thigh "
            f"{round(r['thigh_inclination_peak_deg']):.0f}° forward)") in html
    # one pelvic-drop chart per hold, with the three grade bands
    n_holds = sum(len(s.get("holds", [])) for s in result["sets"])
    assert html.count("pelvic drop (positive = lifted side lower)</text>") == n_holds
    assert html.count('fill="#d8f0dd"') >= n_holds and html.count('fill="#f8d4cf"') >= n_holds
    assert "Hinge score per set" in html  # two hinge sets give a trend chart


def test_report_says_when_there_is_no_calibration_quality(session, tmp_path):
    res, table, result, _ = session
    html = render_report(result, table, None, None)
    assert "No calibration quality figures" in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make sysdeps installs it)")
def test_console_check_catches_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom');"
                   "notDefined();</script></body></html>")
    dom, console = run_chromium(bad.as_uri(), tmp_path)
    assert any("boom" in ln for ln in console)
    assert any("notDefined" in ln for ln in console)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make sysdeps installs it)")
def test_report_opens_in_headless_chromium_without_console_errors(session, tmp_path):
    res, table, result, path = session
    dom, console = run_chromium(path.as_uri(), tmp_path)
    assert console == []
    assert "Session summary" in dom and dom.count("<svg") >= 5
    shot = tmp_path / "report.png"
    _, console = run_chromium(path.as_uri(), tmp_path, screenshot=shot)
    assert console == []
    assert shot.exists() and shot.stat().st_size > 20_000


def test_settings_changed_are_listed(session):
    res, table, _, _ = session
    result = analyze_angles(table, res.session.events,
                            Settings({"hinge.squat_inclination_deg": 30}))
    html = render_report(result, table)
    assert "hinge.squat_inclination_deg=30" in html
