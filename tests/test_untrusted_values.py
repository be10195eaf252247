"""NaN/inf samples and repeated timestamps: counted by ``imu info``, kept out of fusion;
analysis settings checked for coherence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from imu.analysis.settings import Settings
from imu.cli import main
from imu.errors import BadInputError
from imu.session.store import read_recording, write_session
from imu.session.validate import sample_health, usable_session
from imu.types import SensorData, Session


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    p = tmp_path_factory.mktemp("rec") / "s.imu"
    assert main(["simulate", "--exercise", "calibration,hinge", "--reps", "2", "--rate", "52",
                 "-o", str(p), "--quiet"]) == 0
    return p


def _damaged(session: Session, role: str, rows: np.ndarray) -> Session:
    d = session.sensors[role]
    acc = d.acc.copy()
    acc[rows[::2], 1] = np.nan
    acc[rows[1::2], 2] = np.inf
    ts = d.t_sensor_s.copy()
    dup = rows[-1] + 5
    ts[dup] = ts[dup - 1]  # a repeated timestamp
    out = dict(session.sensors)
    out[role] = SensorData(d.info, d.seq, ts, d.t_host_s, acc, d.gyr)
    return Session(session.meta, out, session.events, session.calibration, session.source)


def test_unusable_samples_are_counted_and_dropped_like_a_gap(rec):
    s = read_recording(rec)
    rows = np.arange(400, 420)
    bad = _damaged(s, "right_thigh", rows)
    assert sample_health(bad.sensors["right_thigh"]) == {"nonfinite": 20, "out_of_range": 0,
                                                         "duplicate_times": 1}
    clean = usable_session(bad).sensors["right_thigh"]
    assert len(clean) == len(s.sensors["right_thigh"]) - 21
    assert np.all(np.isfinite(clean.acc)) and np.all(np.diff(clean.t_sensor_s) != 0)
    assert usable_session(s) is s  # nothing to drop: the same session


def test_imu_info_reports_nan_and_repeated_times(rec, tmp_path, capsys):
    bad = _damaged(read_recording(rec), "sacrum", np.arange(100, 110))
    p = write_session(bad, tmp_path / "bad.imu")
    capsys.readouterr()
    assert main(["info", str(p), "--json"]) == 0
    sensors = {x["role"]: x for x in json.loads(capsys.readouterr().out)["sensors"]}
    assert (sensors["sacrum"]["nonfinite"], sensors["sacrum"]["duplicate_times"]) == (10, 1)
    assert (sensors["left_thigh"]["nonfinite"], sensors["left_thigh"]["duplicate_times"]) == (0, 0)


def test_nan_samples_never_reach_the_angles(rec, tmp_path):
    """Angles of a session with NaN/inf rows equal those of the session without the rows."""
    s = read_recording(rec)
    rows = np.arange(1500, 1530)
    bad = _damaged(s, "right_thigh", rows)
    a = tmp_path / "bad.csv"
    b = tmp_path / "clean.csv"
    assert main(["angles", str(write_session(bad, tmp_path / "bad.imu")), "-o", str(a)]) == 0
    assert main(["angles", str(write_session(usable_session(bad), tmp_path / "clean.imu")),
                 "-o", str(b)]) == 0
    ta = np.genfromtxt(a, delimiter=",", names=True)
    tb = np.genfromtxt(b, delimiter=",", names=True)
    assert ta.dtype.names == tb.dtype.names and len(ta) == len(tb) > 1000
    for c in ta.dtype.names:
        np.testing.assert_array_equal(ta[c], tb[c])
    assert np.isfinite(ta["right_hip_flexion"]).mean() > 0.95


@pytest.mark.parametrize("values, words", [
    ({"single_leg.green_deg": 20, "single_leg.amber_deg": 2}, "must be below"),
    ({"hinge.rep_threshold_deg": 0}, "above 0"),
    ({"hinge.rep_threshold_deg": float("inf")}, "finite"),
    ({"hinge.min_rep_s": 1e308}, "3600"),
    ({"single_leg.reference_standing": 7}, "flag"),
    ({"hinge.return_band_deg": 20}, "hinge.return_band_deg = 20 must be below"),
    ({"hinge.score_share_target": 2}, "0 to 1"),
])
def test_incoherent_settings_are_refused(values, words):
    with pytest.raises(BadInputError, match=words):
        Settings(values)


def test_flags_take_booleans():
    assert Settings({"single_leg.reference_standing": True})["single_leg.reference_standing"] == 1
    assert Settings().with_overrides({"single_leg.reference_standing": "false"})[
        "single_leg.reference_standing"] == 0


def test_samples_far_beyond_any_sensor_range_are_counted_and_kept_out_like_nan(rec, tmp_path,
                                                                              capsys):
    # 1e300 rad/s in a CSV overflowed the calibration and fusion: RuntimeWarnings on stderr, a
    # misleading calibration refusal, NaN orientations with exit 0
    from imu.session.csvfolder import write_csv_folder

    s = read_recording(rec)
    d = s.sensors["sacrum"]
    gyr = d.gyr.copy()
    rows = np.arange(700, 705)
    gyr[rows, 2] = 1e300
    folder = tmp_path / "f"
    huge = Session(s.meta, {**s.sensors, "sacrum": SensorData(
        d.info, d.seq, d.t_sensor_s, d.t_host_s, d.acc, gyr)}, s.events, s.calibration,
        s.source)
    write_csv_folder(huge, folder)
    gap = dict(s.sensors)
    gap["sacrum"] = SensorData(d.info, np.delete(d.seq, rows), np.delete(d.t_sensor_s, rows),
                               np.delete(d.t_host_s, rows), np.delete(d.acc, rows, axis=0),
                               np.delete(d.gyr, rows, axis=0))
    write_csv_folder(Session(s.meta, gap, s.events, s.calibration, s.source), tmp_path / "g")
    capsys.readouterr()
    assert main(["info", str(folder), "--json"]) == 0
    sensors = {x["role"]: x for x in json.loads(capsys.readouterr().out)["sensors"]}
    assert sensors["sacrum"]["out_of_range"] == 5 and sensors["sacrum"]["nonfinite"] == 0
    for f in ("f", "g"):
        assert main(["angles", str(tmp_path / f), "-o", str(tmp_path / f"{f}.csv")]) == 0
    err = capsys.readouterr().err
    assert "Warning" not in err, err
    assert (tmp_path / "f.csv").read_text() == (tmp_path / "g.csv").read_text()  # as a gap
    csv = tmp_path / "one.csv"  # imu fuse refuses them in its one CSV, as it refuses NaN
    np.savetxt(csv, np.column_stack([d.t_sensor_s, d.acc * [1, 1, 1e4], d.gyr]), delimiter=",",
               header="time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z", comments="")
    assert main(["fuse", str(csv), "-o", str(tmp_path / "q.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "m/s²" in err[0] and "one.csv" in err[0], err


def test_real_sensor_ranges_are_measurements():
    from imu.session.validate import implausible_sample

    acc = np.full((4, 3), 16 * 9.81)  # ±16 g and ±2000 °/s: saturated, still measurements
    gyr = np.full((4, 3), -np.radians(2000.0))
    gyr[1, 0] = np.nan
    acc[3, 2] = -np.inf  # non-finite: counted and dropped elsewhere, not refused here
    assert implausible_sample(acc, gyr) is None
    gyr[2, 1] = 1e4
    assert implausible_sample(acc, gyr)[0] == 2


def test_profile_intrinsics_beyond_any_sensor_are_not_used(rec, tmp_path, capsys):
    # a gyro bias of 1e300 or an accelerometer scale of 0 in a profile (an untrusted file)
    # gave wrong angles with exit 0, or RuntimeWarnings and a misleading refusal
    from imu.intrinsics import IntrinsicCorrection, IntrinsicStore

    prof = tmp_path / "p.json"
    assert main(["calibrate", str(rec), "-o", str(prof)]) == 0
    assert main(["angles", str(rec), "--calibration", str(prof), "-o",
                 str(tmp_path / "ok.csv")]) == 0
    good = json.loads(prof.read_text())
    for field, value in (("gyr_bias_rad_s", [1e300, 0, 0]), ("acc_scale", [0, 0, 0])):
        d = json.loads(json.dumps(good))
        d["sensors"]["sacrum"]["intrinsics"][field] = value
        with pytest.raises(ValueError, match=field):
            IntrinsicCorrection.from_dict(d["sensors"]["sacrum"]["intrinsics"])
        bad = tmp_path / f"{field}.json"
        bad.write_text(json.dumps(d))
        capsys.readouterr()
        out = tmp_path / f"{field}.csv"
        assert main(["angles", str(rec), "--calibration", str(bad), "-o", str(out)]) == 0
        err = capsys.readouterr().err
        assert "intrinsic corrections are not used" in err and "Warning" not in err, err
        assert out.read_text() == (tmp_path / "ok.csv").read_text()
    store = IntrinsicStore(tmp_path / "store")  # a stored correction out of range: none
    store.root.mkdir(parents=True)
    store.path("x").write_text(json.dumps({"gyr_bias_rad_s": [0, 0, 5.0]}))
    assert store.get("x") is None


def _scaled(session: Session, acc=1.0, gyr=1.0, t=1.0, swap=False) -> Session:
    out = {}
    for role, d in session.sensors.items():
        a, g = d.acc * acc, d.gyr * gyr
        if swap:
            a, g = g, a
        out[role] = SensorData(d.info, d.seq, d.t_sensor_s * t, d.t_host_s * t, a, g)
    return Session(session.meta, out, session.events, session.calibration, session.source)


@pytest.mark.parametrize("change, words", [
    ({"gyr": 180 / np.pi}, "gyr_x..z are not in rad/s"),       # °/s (DOT exports are)
    ({"acc": 1 / 9.80665}, "acc_x..z are not in m/s²: their median magnitude is 0.9"),  # g
    ({"acc": 1000 / 9.80665}, "acc_x..z are not in m/s²"),      # mg
    ({"swap": True}, "acc and gyr columns look swapped"),        # columns swapped
    # a DOT file's Acc_/Gyr_ names swapped: its gyro in °/s read as m/s² (a plausible median)
    # and its accelerometer read as °/s
    ({"acc": np.pi / 180, "gyr": 180 / np.pi, "swap": True}, "acc and gyr columns look swapped"),
    ({"t": 1000.0}, "times are not in seconds"),                # milliseconds
])
def test_samples_in_other_units_are_a_one_line_error_not_angles(rec, tmp_path, capsys, change,
                                                                 words):
    """Before, a CSV folder in °/s (or with acc and gyr swapped) fused into angles off by up to
    250° with exit 0 when given a calibration profile."""
    s = read_recording(rec)
    assert usable_session(s) is s  # the right units pass
    bad = _scaled(s, **change)
    with pytest.raises(BadInputError, match=words):
        usable_session(bad)
    prof = tmp_path / "p.json"
    assert main(["calibrate", str(rec), "-o", str(prof)]) == 0
    path = write_session(bad, tmp_path / "bad.imu")
    capsys.readouterr()
    assert main(["angles", str(path), "--calibration", str(prof), "-o",
                 str(tmp_path / "a.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words.split(":")[0] in err[0] and "(sacrum)" in err[0]
    assert not (tmp_path / "a.csv").exists()


def test_a_profile_without_a_role_or_made_with_other_sensors_is_said(rec, tmp_path, caplog):
    """A profile lacking the left thigh left its angle columns out without a word; one made
    with other sensors (their mountings) was applied without a word."""
    import logging

    from imu.calibration import load_profile
    from imu.chain import Calibrate

    prof = tmp_path / "p.json"
    assert main(["calibrate", str(rec), "-o", str(prof)]) == 0
    doc = json.loads(prof.read_text())
    del doc["sensors"]["left_thigh"]
    doc["sensors"]["right_thigh"]["sensor_id"] = "other-1"
    (tmp_path / "q.json").write_text(json.dumps(doc))
    caplog.set_level(logging.INFO, logger="imu")
    Calibrate(load_profile(prof)).run(read_recording(rec))
    assert "calibration profile" not in caplog.text  # its own profile: nothing to say
    Calibrate(load_profile(tmp_path / "q.json")).run(read_recording(rec))
    assert "the calibration profile has no left_thigh: no angles for it" in caplog.text
    assert "made with other sensors: right_thigh (other-1, here sim-right_thigh)" in caplog.text


def test_a_sample_without_a_time_is_no_start_or_end_and_no_csv_row(rec, tmp_path):
    """A recording whose first sample's host time is NaN had a duration of nan s (imu info,
    the replay refused 'outside the recording (0 to nan s)'), and one whose sensor time is NaN
    exported a CSV folder that imu refused ('nan is not a time')."""
    from imu.commands.info import sensor_summary
    from imu.session.csvfolder import write_csv_folder
    from imu.session.load import load_session

    s = read_recording(rec)
    d = s.sensors["sacrum"]
    th, ts = d.t_host_s.copy(), d.t_sensor_s.copy()
    th[0], ts[1000] = np.nan, np.nan
    bad = dict(s.sensors)
    bad["sacrum"] = SensorData(d.info, d.seq, ts, th, d.acc, d.gyr)
    s2 = Session(s.meta, bad, s.events, s.calibration, s.source)
    assert s2.duration_s == pytest.approx(s.duration_s, abs=0.05)
    x = sensor_summary(bad["sacrum"])
    assert x["start_s"] == float(d.t_host_s[1]) and x["end_s"] == float(d.t_host_s[-1])
    write_csv_folder(s2, tmp_path / "c")
    back = load_session(tmp_path / "c").sensors["sacrum"]
    assert len(back) == len(d) - 1 and np.all(np.isfinite(back.t_host_s))


def _with_first(session: Session, role: str, n: int) -> Session:
    """``session`` with only the first ``n`` samples of ``role`` (its other sensors as they are)."""
    d = session.sensors[role]
    out = dict(session.sensors)
    out[role] = SensorData(d.info, d.seq[:n], d.t_sensor_s[:n], d.t_host_s[:n], d.acc[:n],
                           d.gyr[:n])
    return Session(session.meta, out, session.events, session.calibration, session.source)


@pytest.mark.parametrize("n", [1, 2])
def test_a_thigh_with_too_few_samples_is_left_out_with_one_warning_and_angles_go_on(
        rec, tmp_path, capsys, n):
    """Before, one sample of a thigh refused the session ('clocks do not overlap'), two gave
    'no calibration protocol found': both misleading. Now it is left out, as a sensor without
    samples, and the other angles are those of the session without that sensor."""
    s = read_recording(rec)
    few = write_session(_with_first(s, "left_thigh", n), tmp_path / "few.imu")
    gone = write_session(Session(s.meta, {r: d for r, d in s.sensors.items()
                                          if r != "left_thigh"}, s.events, s.calibration,
                                 s.source), tmp_path / "gone.imu")
    capsys.readouterr()
    assert main(["angles", str(few), "-o", str(tmp_path / "a.csv")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warn = [ln for ln in err if "too few" in ln]
    assert len(warn) == 1 and "(left_thigh)" in warn[0] and str(few) in warn[0]
    assert f"only {n} sample" in warn[0] and "left out" in warn[0]
    assert main(["angles", str(gone), "-o", str(tmp_path / "b.csv")]) == 0
    a = np.genfromtxt(tmp_path / "a.csv", delimiter=",", names=True)
    b = np.genfromtxt(tmp_path / "b.csv", delimiter=",", names=True)
    assert a.dtype.names == b.dtype.names and "left_hip_flexion" not in a.dtype.names
    for c in a.dtype.names:
        assert np.allclose(a[c], b[c], equal_nan=True), c
    # a CSV folder's sensor is named with its file too
    folder = tmp_path / "csv"
    assert main(["export", str(few), "-o", str(folder)]) == 0
    capsys.readouterr()
    assert main(["angles", str(folder), "-o", str(tmp_path / "c.csv")]) == 0
    warn = [ln for ln in capsys.readouterr().err.splitlines() if "too few" in ln]
    assert len(warn) == 1 and f"{folder} (left_thigh, file left_thigh.csv) has only {n}" in warn[0]


def test_a_sacrum_with_too_few_samples_is_one_line_naming_it(rec, tmp_path, capsys):
    few = write_session(_with_first(read_recording(rec), "sacrum", 2), tmp_path / "few.imu")
    capsys.readouterr()
    assert main(["analyze", str(few)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0] == "computing angles…", err  # the progress line, then one
    assert "error:" in err[1] and f"{few} (sacrum) has only 2 samples, too few" in err[1]


@pytest.mark.parametrize("damage", ["none", "nan_acc", "inf_gyr", "far_acc", "far_gyr",
                                    "nan_time", "huge_times"])
def test_usable_samples_are_the_finite_in_range_first_of_repeated_times(damage):
    from imu.session.validate import MAX_ABS_ACC_M_S2, MAX_ABS_GYR_RAD_S, usable_samples
    from imu.types import SensorInfo

    rng = np.random.default_rng(9)
    n = 70_000  # more than one block of rows
    ts = np.arange(n) / 100.0
    th = ts + 0.01
    acc, gyr = rng.normal(0, 3, (n, 3)), rng.normal(0, 1, (n, 3))
    ts[500] = ts[499]  # a repeated time
    rows = rng.choice(n, 40, replace=False)
    if damage == "nan_acc":
        acc[rows, 1] = np.nan
    elif damage == "inf_gyr":
        gyr[rows, 0] = -np.inf
    elif damage == "far_acc":
        acc[rows, 2] = 2 * MAX_ABS_ACC_M_S2
    elif damage == "far_gyr":
        gyr[rows, 1] = -2 * MAX_ABS_GYR_RAD_S
    elif damage == "nan_time":
        th[rows] = np.nan
    elif damage == "huge_times":  # finite, but their sum is not
        ts[rows] = th[rows] = 1e308
    want = (np.isfinite(ts) & np.isfinite(th) & np.isfinite(acc).all(1) & np.isfinite(gyr).all(1)
            & ~(np.abs(np.nan_to_num(acc)) > MAX_ABS_ACC_M_S2).any(1)
            & ~(np.abs(np.nan_to_num(gyr)) > MAX_ABS_GYR_RAD_S).any(1))
    want[1:] &= np.diff(ts) != 0
    d = SensorData(SensorInfo("x", "sacrum", "sim", 100.0), np.arange(n), ts, th, acc, gyr)
    got = usable_samples(d)
    np.testing.assert_array_equal(got, want)
    assert bool(got.sum() < n - 1) == (damage not in ("none", "huge_times"))  # (finite)
