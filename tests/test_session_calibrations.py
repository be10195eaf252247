"""Every set counts: a session calibrated several times (sensors re-strapped in between) is
analysed set by set with the calibration in force when the set was done."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imu.analysis import analyze_angles
from imu.analysis.calibrations import CalibrationUse, in_force, in_force_index
from imu.analysis.compare import compare_sets
from imu.cli import main
from imu.chain import session_angles
from imu.sim import simulate
from imu.types import AngleTable, Event

PROGRAM = ["calibration", "hinge", "calibration", "squat", "calibration", "hinge"]


@pytest.fixture(scope="module")
def sim():
    """Three calibrations, the sensors re-strapped (new mountings) before the 2nd and 3rd,
    every sensor error on, a seed not used while writing the code."""
    return simulate(PROGRAM, rate_hz=60, seed=23, errors=True, reps=3, restrap=True)


@pytest.fixture(scope="module")
def analysed(sim):
    angles, cals, which = session_angles(sim.session, progress=False)
    return analyze_angles(angles, sim.session.events, calibrations=cals), cals


def test_every_set_is_analysed_with_the_calibration_before_it(sim, analysed):
    result, cals = analysed
    assert [c.accepted for c in cals] == [True, True, True]
    assert [s["exercise"] for s in result["sets"]] == [s["exercise"] for s in sim.truth_sets]
    assert [s["calibration"] for s in result["sets"]] == [c.name for c in cals]
    assert "sets_not_analysed" not in result
    assert [c["name"] for c in result["calibrations"]] == [c.name for c in cals]


def test_numbers_match_truth_as_with_one_calibration(sim, analysed):
    result, _ = analysed
    c = compare_sets(sim.truth_sets, result["sets"])
    assert (c["set_pairs"], c["missed"], c["extra"]) == (3, 0, 0)
    for f in ("hip_flexion_peak_deg", "pelvis_tilt_peak_deg"):
        assert c["max_abs"][f] < 1.5, (f, c["max_abs"][f])
    assert c["max_abs"]["start_s"] < 0.2 and c["max_abs"]["end_s"] < 0.2


def test_the_first_calibration_alone_is_wrong_after_a_restrap(sim, analysed, tmp_path):
    """The check above can fail: the old mounting does not fit the re-strapped sensors."""
    _, cals = analysed
    p = tmp_path / "first.json"
    cals[0].profile.save(p)
    angles, only, _ = session_angles(sim.session, str(p), progress=False)
    result = analyze_angles(angles, sim.session.events, calibrations=only)
    c = compare_sets(sim.truth_sets[1:], result["sets"][1:])
    worst = max(abs(e) for it in c["items"] for f, e in it["errors"].items()
                if f == "hip_flexion_peak_deg") if c["items"] else np.inf
    assert worst > 5.0


def test_calibration_in_force_is_the_last_accepted_before_else_the_next():
    cals = [CalibrationUse("a", "session", (0.0, 10.0), None, "poor"),
            CalibrationUse("b", "session", (50.0, 60.0), object()),
            CalibrationUse("c", "session", (100.0, 110.0), None, "poor"),
            CalibrationUse("d", "session", (150.0, 160.0), object())]
    assert in_force_index(20.0, cals) == 1       # before any accepted one: the next
    assert in_force_index(70.0, cals) == 1       # after b
    assert in_force_index(120.0, cals) == 1      # c was refused: b still
    assert in_force_index(170.0, cals) == 3
    assert list(in_force(np.array([5.0, 59.0, 60.0, 130.0, 160.0]), cals)) == [1, 1, 1, 1, 3]
    assert in_force_index(5.0, [cals[0]]) is None


def test_a_set_that_cannot_be_analysed_is_listed_with_the_reason():
    t = np.arange(0, 60, 0.02)
    flex = np.where((t > 12) & (t < 14), 40.0, 0.0)
    cols = {"pelvis_tilt": flex * 0.8, "pelvis_obliquity": 0 * t, "pelvis_rotation": 0 * t,
            "right_hip_flexion": flex, "right_hip_adduction": 0 * t, "right_hip_rotation": 0 * t,
            "right_thigh_inclination": 0 * t}
    cols = {c: v.copy() for c, v in cols.items()}
    gap = (t > 30) & (t < 50)
    for v in cols.values():
        v[gap] = np.nan
    events = [Event(10.0, "set_start", "hinge"), Event(20.0, "set_end"),
              Event(32.0, "set_start", "hinge"), Event(45.0, "set_end")]
    res = analyze_angles(AngleTable(t, cols), events)
    assert [s["start_s"] for s in res["sets"]] == [10.0]
    assert len(res["sets"][0]["reps"]) == 1
    (skipped,) = res["sets_not_analysed"]
    assert skipped["start_s"] == 32.0 and "no angle data" in skipped["reason"]


def test_a_stored_profile_is_named_as_such(sim, analysed, tmp_path, capsys):
    """A recording whose profile is stored and has no calibration phase in its events: the
    JSON says the stored profile was used, not the session's own calibration phase."""
    from dataclasses import replace

    from imu.session.store import write_session

    _, cals = analysed
    s = sim.session
    evs = [e for e in s.events if e.kind in ("set_start", "set_end") and e.t_s < 70]
    one = replace(s, events=evs, calibration=cals[0].profile.to_dict())
    rec = tmp_path / "stored.imu"
    write_session(one, rec)
    out = tmp_path / "a.json"
    assert main(["analyze", str(rec), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["session"]["calibration"] == "profile stored in the recording"
    assert doc["sets"][0]["calibration"] == "profile stored in the recording"


def test_angles_csv_of_a_session_calibrated_several_times_is_the_spliced_table(
        sim, analysed, tmp_path, monkeypatch):
    """``imu angles`` writes each row through the calibration in force (its rows' text is
    made from the spliced table, not taken from one calibration's workers)."""
    from imu.session.angles_csv import write_angles_csv
    from imu.session.store import write_session

    monkeypatch.setenv("IMU_CONFIG_DIR", str(tmp_path / "cfg"))
    rec = tmp_path / "s.imu"
    write_session(sim.session, rec)
    out = tmp_path / "a.csv"
    assert main(["angles", str(rec), "-o", str(out)]) == 0
    angles, cals, which = session_angles(sim.session, progress=False)
    assert sum(c.accepted for c in cals) > 1 and len(set(which.tolist()) - {-1}) > 1
    want = tmp_path / "want.csv"
    write_angles_csv(angles, want)
    assert out.read_bytes() == want.read_bytes()
