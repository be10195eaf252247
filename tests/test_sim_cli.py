"""``imu simulate`` and the simulator's writers: CSV folder + truth, recording, bad arguments."""

import csv
import json

import numpy as np
import pytest

from imu.cli import main
from imu.session.csvfolder import read_csv_folder
from imu.session.store import read_recording
from imu.sim import simulate
from imu.sim.output import write_sim_csv_folder, write_sim_recording


@pytest.fixture(scope="module")
def small():
    return simulate("hinge", rate_hz=60.0, seed=3, reps=2, calibration=False)


def test_csv_folder_holds_true_sample_times_and_exact_values(small, tmp_path):
    write_sim_csv_folder(small, tmp_path)
    s = read_csv_folder(tmp_path)
    assert set(s.sensors) == set(small.session.sensors)
    for role, d in small.session.sensors.items():
        got = s.sensors[role]
        np.testing.assert_array_equal(got.t_host_s, small.sample_true_times(role))
        np.testing.assert_array_equal(got.acc, d.acc)
        np.testing.assert_array_equal(got.gyr, d.gyr)
    assert [e.kind for e in s.events] == [e.kind for e in small.session.events]
    with open(tmp_path / "sacrum.csv") as fh:
        assert next(csv.reader(fh)) == ["time_s", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y",
                                        "gyr_z"]


def test_truth_files_hold_angles_and_sets(small, tmp_path):
    small.write_truth(tmp_path)
    with open(tmp_path / "truth.csv") as fh:
        header = next(csv.reader(fh))
    assert header == ["time_s"] + list(small.truth_angles)
    data = np.loadtxt(tmp_path / "truth.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(data[:, 0], small.truth_time_s, atol=1e-6)
    np.testing.assert_allclose(data[:, 1], small.truth_angles["pelvis_tilt"], atol=1e-6)
    doc = json.loads((tmp_path / "truth.json").read_text())
    assert doc["sets"] == json.loads(json.dumps(small.truth_sets))
    assert doc["seed"] == 3
    np.testing.assert_allclose(doc["mounts"]["sacrum"], small.mounts["sacrum"])
    assert set(doc["clock"]) == set(small.session.sensors)


def test_recording_keeps_raw_timestamps_sequence_numbers_and_events(small, tmp_path):
    p = write_sim_recording(small, tmp_path / "s.rec")
    s = read_recording(p)
    for role, d in small.session.sensors.items():
        got = s.sensors[role]
        for f in ("seq", "t_sensor_s", "t_host_s", "acc", "gyr"):
            np.testing.assert_array_equal(getattr(got, f), getattr(d, f))
    assert [(e.kind, e.exercise) for e in s.events] == [(e.kind, e.exercise)
                                                        for e in small.session.events]
    assert s.meta["simulated"]["truth_sets"][0]["exercise"] == "hinge"


def test_command_writes_folder_with_truth(tmp_path, capsys):
    out = tmp_path / "sim"
    rc = main(["simulate", "--exercise", "hinge", "--reps", "2", "--seed", "3", "--rate", "60",
               "--no-calibration", "--quiet", "-o", str(out)])
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["left_thigh.csv", "right_thigh.csv", "sacrum.csv", "session.json",
                     "truth.csv", "truth.json"]
    doc = json.loads((out / "truth.json").read_text())
    assert len(doc["sets"][0]["reps"]) == 2
    assert "hinge" in capsys.readouterr().out


def test_command_writes_recording_for_a_file_name(tmp_path):
    out = tmp_path / "session.anything"
    rc = main(["simulate", "--exercise", "posture", "--reps", "1", "--rate", "60", "--sides",
               "left", "--trunk", "--no-calibration", "--quiet", "-o", str(out),
               "--truth", str(tmp_path / "t")])
    assert rc == 0
    s = read_recording(out)
    assert set(s.sensors) == {"sacrum", "left_thigh", "trunk"}
    assert (tmp_path / "t" / "truth.csv").is_file()
    assert main(["simulate", "--quiet", "--no-calibration", "--exercise", "posture", "--reps",
                 "1", "-o", str(out)]) == 2   # never overwrites without --force


@pytest.mark.parametrize("args, words", [
    (["--exercise", "jumping"], "jumping"),
    (["--sides", "middle"], "--sides"),
    (["--rate", "2"], "--rate"),
    (["--reps", "0"], "--reps"),
    (["--exercise", "hinge", "--duration", "4"], "too short"),
])
def test_bad_arguments_end_with_one_line_and_status_2(tmp_path, capsys, args, words):
    rc = main(["simulate", "--quiet", "-o", str(tmp_path / "x")] + args)
    err = capsys.readouterr().err
    assert rc == 2
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_negative_seed_is_one_line_and_status_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as ei:  # argparse's own refusal (was a ValueError traceback)
        main(["simulate", "--quiet", "--exercise", "hinge", "--seed", "-1", "-o",
              str(tmp_path / "x.imu")])
    err = capsys.readouterr().err
    assert ei.value.code == 2 and err.count("\n") == 1 and "invalid seed -1" in err
