"""``imu analyze``: session in, Analysis JSON + report + plain summary out; bad input exits 2."""

from __future__ import annotations

import dataclasses
import json

import pytest

from imu.cli import main
from imu.session.csvfolder import write_csv_folder
from imu.sim import simulate


@pytest.fixture(scope="module")
def sim():
    return simulate(["hinge"], rate_hz=50, seed=21, errors=True, reps=3)


@pytest.fixture(scope="module")
def folder(sim, tmp_path_factory):
    d = tmp_path_factory.mktemp("sess") / "session"
    write_csv_folder(sim.session, d)
    return d


def test_analyze_writes_json_report_and_a_plain_summary(sim, folder, tmp_path, capsys):
    out, rep = tmp_path / "a.json", tmp_path / "a.html"
    rc = main(["analyze", str(folder), "--json", str(out), "--report", str(rep),
               "--set", "hinge.twist_range_deg=6"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["schema"] == "imu.analysis/1"
    (s,) = res["sets"]
    (t,) = sim.truth_sets
    assert s["exercise"] == "hinge" and len(s["reps"]) == len(t["reps"]) == 3
    # the calibration phase is not part of the set
    cal_end = max(e.t_s for e in sim.session.events if e.kind == "calibration_end")
    assert s["start_s"] >= cal_end
    for tr, gr in zip(t["reps"], s["reps"]):
        assert abs(gr["start_s"] - tr["start_s"]) < 0.5 and abs(gr["end_s"] - tr["end_s"]) < 0.5
        assert abs(gr["hip_flexion_peak_deg"] - tr["hip_flexion_peak_deg"]) < 2.0
    html = rep.read_text()
    assert "Set 1: Hip hinge" in html and "Calibration quality" in html
    stdout = capsys.readouterr().out
    assert stdout.startswith("Set 1 – Hip hinge") and "3 reps" in stdout


def test_bad_setting_is_one_line_and_exit_2(folder, tmp_path, capsys):
    rc = main(["analyze", str(folder), "--json", str(tmp_path / "x.json"),
               "--set", "hinge.bogus=3"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown analysis setting 'hinge.bogus'" in err[0]
    assert not (tmp_path / "x.json").exists()


def test_missing_settings_file_is_one_line_and_exit_2(folder, tmp_path, capsys):
    rc = main(["analyze", str(folder), "--json", str(tmp_path / "x.json"),
               "--settings", str(tmp_path / "none.toml")])
    assert rc == 2
    assert "settings file not found" in capsys.readouterr().err
    rc = main(["analyze", str(folder), "--json", str(tmp_path / "x.json"),
               "--settings", str(tmp_path)])
    assert rc == 2  # a folder was 'not found'
    assert "is a folder, not a TOML file" in capsys.readouterr().err


def test_session_without_sets_needs_exercise_and_then_is_one_set(sim, tmp_path, capsys):
    # no events at all: the calibration phase is found in the data and is not part of the set
    plain = dataclasses.replace(sim.session, events=[])
    d = tmp_path / "nosets"
    write_csv_folder(plain, d)
    out = tmp_path / "n.json"
    assert main(["analyze", str(d), "--json", str(out)]) == 0  # sets inferred
    inferred = json.loads(out.read_text())["sets"]
    assert [(x["exercise"], x["inferred"], len(x["reps"])) for x in inferred] == [
        ("hinge", True, 3)]
    assert main(["analyze", str(d), "--json", str(out), "--exercise", "hinge", "--force"]) == 0
    (s,) = json.loads(out.read_text())["sets"]
    assert len(s["reps"]) == 3  # the 3 calibration hinges are not counted
    cal_end = max(e.t_s for e in sim.session.events if e.kind == "calibration_end")
    assert cal_end - 1.0 < s["start_s"] < sim.truth_sets[0]["reps"][0]["start_s"]


def test_json_dash_writes_the_analysis_to_the_standard_output(folder, tmp_path, capsys,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(folder), "--json", str(tmp_path / "a.json")]) == 0
    capsys.readouterr()
    assert main(["analyze", str(folder), "--json", "-"]) == 0
    out = capsys.readouterr()
    dash, file = json.loads(out.out), json.loads((tmp_path / "a.json").read_text())
    assert dash["sets"] == file["sets"]  # the same analysis, and nothing else on stdout
    assert "Set 1" in out.err
    assert not (tmp_path / "-").exists()
