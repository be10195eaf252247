"""The public API (``import imu``): the numbers of the CLI, tables, errors, examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import imu
from imu.cli import main
from imu.sim import simulate
from imu.session.store import write_session

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    """A short simulated session (calibration protocol + 4 hinges) as a recording."""
    path = tmp_path_factory.mktemp("api") / "hinge.imu"
    write_session(simulate("hinge", reps=4, seed=21, rate_hz=60).session, path)
    return path


@pytest.fixture(autouse=True)
def _config(tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_CONFIG_DIR", str(tmp_path / "config"))


def test_api_angles_are_the_numbers_of_imu_angles(rec, tmp_path):
    out = tmp_path / "a.csv"
    assert main(["angles", str(rec), "-o", str(out)]) == 0
    cli = np.genfromtxt(out, delimiter=",", names=True)
    a = imu.angles(imu.load(rec))
    t, vals, names = a.to_numpy()
    assert vals.shape == (len(cli), len(names))
    np.testing.assert_allclose(t, cli["time_s"], atol=5e-5)
    for k, name in enumerate(names):
        np.testing.assert_allclose(vals[:, k], cli[name], atol=5e-4, equal_nan=True)


def test_api_analysis_is_the_analysis_json_of_imu_analyze(rec, tmp_path):
    out = tmp_path / "a.json"
    assert main(["analyze", str(rec), "--json", str(out)]) == 0
    cli = json.loads(out.read_text())
    r = imu.analyze(rec)                      # a path works as well as a Session
    api = json.loads(r.to_json())
    assert api["sets"] == cli["sets"] and len(api["sets"][0]["reps"]) == 4
    assert api["provenance"]["settings"] == cli["provenance"]["settings"]
    assert [x["index"] for x in r.rep_records] == [1, 2, 3, 4]
    # what calibrated it and how well (imu batch writes the API's): was the CLI's alone
    for k in ("calibration", "calibration_method", "roles"):
        assert api["session"][k] == cli["session"][k]
    q_api, q_cli = api["session"]["calibration_quality"], cli["session"]["calibration_quality"]
    q_api.pop("message"), q_cli.pop("message")  # it names the time the calibration was made
    assert q_api == q_cli and q_api["verdict"]


def test_reps_and_angles_come_as_dataframes(rec):
    r = imu.analyze(rec)
    reps = r.reps
    assert list(reps["index"]) == [1, 2, 3, 4]
    assert (reps["exercise"] == "hinge").all()
    np.testing.assert_allclose(reps["hip_flexion_peak_deg"],
                               [x["hip_flexion_peak_deg"] for x in r.rep_records])
    assert r.holds.empty
    df = r.angles.to_pandas()
    assert df.index.name == "time_s" and list(df.columns) == r.angles.names()
    assert len(df) == len(r.angles)


def test_api_errors_are_the_projects_exception_types(tmp_path):
    with pytest.raises(imu.BadInputError):
        imu.load(tmp_path / "missing.imu")
    with pytest.raises(imu.ImuError):
        imu.analyze(tmp_path / "missing.imu")
    s = simulate("hinge", reps=2, seed=3, rate_hz=60, calibration=False).session
    with pytest.raises(imu.CalibrationError):
        imu.angles(s, method="protocol")      # no calibration protocol in the session


def test_settings_given_as_a_mapping_change_the_analysis(rec):
    strict = imu.analyze(rec, settings={"hinge.rep_threshold_deg": 85.0})
    assert strict.rep_records == []
    assert strict.result["provenance"]["settings"]["hinge.rep_threshold_deg"] == 85.0


@pytest.mark.parametrize("script", ["angles_and_reps.py", "pandas_tables.py"])
def test_examples_print_angles_and_reps_of_the_demo_recording(script, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / script)], capture_output=True,
                       text=True, timeout=600, cwd=tmp_path,
                       env={**__import__("os").environ, "IMU_CONFIG_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "pelvis_tilt" in out and "right_hip_flexion" in out
    # the demo recording's 8 hinge reps and 6 single-leg holds, as `imu analyze` finds them
    if script == "angles_and_reps.py":
        assert sum(line.strip().startswith("rep ") and "hip flexion" in line
                   for line in out.splitlines()) == 8
        assert sum(line.strip().startswith("hold ") for line in out.splitlines()) == 6
    else:
        assert "pelvic_drop_max_deg" in out and "hip_flexion_peak_deg" in out
    assert r.stderr == ""                     # the library prints nothing


def test_angles_csv_gets_its_provenance_next_to_it(rec, tmp_path):
    out = tmp_path / "a.csv"
    assert main(["angles", str(rec), "-o", str(out), "--filter", "vqf"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("time_s,pelvis_tilt,")            # one header row, then numbers
    assert all(c.replace(".", "").replace("-", "").replace("nan", "0").replace(",", "").isdigit()
               for c in lines[1:50])
    prov = json.loads((tmp_path / "a.csv.json").read_text())
    assert prov["imu_version"] == imu.__version__ and prov["filter"] == "vqf"
    assert prov["columns"] == lines[0].split(",") and prov["rows"] == len(lines) - 1
    assert prov["calibration"]["method"] == "session's own calibration phase"
    assert prov["calibration"]["source"] == str(rec)
    from imu.analysis.settings import DEFAULTS
    assert set(prov["settings"]) == set(DEFAULTS)


def test_analysis_json_records_version_filter_every_setting_and_the_calibration(rec, tmp_path):
    from imu.analysis.settings import DEFAULTS

    out = tmp_path / "a.json"
    assert main(["analyze", str(rec), "--json", str(out),
                 "--set", "hinge.squat_inclination_deg=30"]) == 0
    prov = json.loads(out.read_text())["provenance"]
    assert prov["imu_version"] == imu.__version__ and prov["filter"] == "vqf"
    assert set(prov["settings"]) == set(DEFAULTS)                   # every setting, not only
    assert prov["settings"]["hinge.squat_inclination_deg"] == 30.0  # the changed ones
    assert prov["settings"]["single_leg.green_deg"] == DEFAULTS["single_leg.green_deg"][0]
    assert prov["calibration"]["method"] == "session's own calibration phase"
    assert prov["calibration"]["source"] == str(rec)
    assert prov["calibration"]["calibrations"][0]["accepted"] is True
