"""Sensor-to-segment calibration (docs/calibration.md) on simulated sessions with every sensor error on."""

import json

import numpy as np
import pytest

from imu.calibration import Profile, calibrate_session, detect_phases, load_profile
from imu.errors import BadInputError, CalibrationError
from imu.sim import simulate
from imu.types import Session, SensorData


def rotation_error_deg(A, B):
    c = (np.trace(A @ B.T) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


@pytest.fixture(scope="module")
def cal_sim():
    return simulate("calibration", rate_hz=104.0, seed=4242, errors=True)


@pytest.fixture(scope="module")
def cal_profile(cal_sim):
    return calibrate_session(cal_sim.session)


def cut(session: Session, t_end_s: float) -> Session:
    """The session with every sensor's samples after ``t_end_s`` (host time) removed."""
    sensors = {}
    for role, d in session.sensors.items():
        m = d.t_host_s <= t_end_s
        sensors[role] = SensorData(d.info, d.seq[m], d.t_sensor_s[m], d.t_host_s[m], d.acc[m],
                                   d.gyr[m])
    events = [e for e in session.events if e.t_s <= t_end_s and e.kind != "calibration_end"]
    return Session(session.meta, sensors, events, None, "cut session")


def test_mounting_rotations_recovered_within_3_degrees(cal_sim, cal_profile):
    for role, R in cal_sim.mounts.items():
        # (the accelerometer offset tilts the standing vertical by ~1°; angles cancel it)
        assert rotation_error_deg(cal_profile.mounts[role], R) < 4.0, role


def test_phases_found_where_the_simulator_put_them(cal_sim):
    ph = detect_phases(cal_sim.session)
    truth = {p["phase"]: (p["t0"], p["t1"]) for p in cal_sim.timeline[0]["info"]["phases"]} \
        if "info" in cal_sim.timeline[0] else None
    assert ph.standing is not None and ph.standing[1] - ph.standing[0] >= 4.0
    assert ph.hinges is not None and ph.still_end is not None
    assert set(ph.swings) == {"right_thigh", "left_thigh"}
    # order of the protocol
    assert ph.standing[1] <= ph.hinges[0] < ph.hinges[1] <= ph.swings["right_thigh"][0]
    assert ph.swings["right_thigh"][1] <= ph.swings["left_thigh"][0]
    if truth:
        assert abs(ph.hinges[0] - truth["hinges"][0]) < 1.5


def test_quality_figures_reported_per_phase(cal_profile):
    q = cal_profile.quality
    assert q["hinges"]["reps"] == 3
    assert q["swings_right"]["reps"] >= 3 and q["swings_left"]["reps"] >= 3
    assert q["hinges"]["axis_vertical_deg"] > 80
    assert q["standing"]["sensors"]["sacrum"]["gravity_spread_deg"] < 1.0
    assert q["swings_left"]["asymmetry"] > 1.15


def test_missing_leg_swings_refused_naming_the_phase(cal_sim):
    ph = detect_phases(cal_sim.session)
    short = cut(cal_sim.session, ph.hinges[1] + 1.0)
    with pytest.raises(CalibrationError, match="leg swings"):
        calibrate_session(short)


def test_session_without_protocol_refused_naming_standing():
    res = simulate("hinge", rate_hz=60.0, seed=77, errors=True, calibration=False, reps=3)
    with pytest.raises(CalibrationError, match="no calibration protocol found.*quiet standing"):
        calibrate_session(res.session)


def test_restless_standing_refused(cal_sim):
    s = cal_sim.session
    sensors = dict(s.sensors)
    d = s.sensors["sacrum"]
    gyr = d.gyr.copy()
    m = d.t_host_s < 5.0
    gyr[m, 0] += 0.05 * np.sin(2 * np.pi * 1.3 * d.t_host_s[m])  # fidgeting, 2.9°/s
    acc = d.acc.copy()
    acc[m, 0] += 1.0 * np.sin(2 * np.pi * 0.7 * d.t_host_s[m])   # and swaying
    sensors["sacrum"] = SensorData(d.info, d.seq, d.t_sensor_s, d.t_host_s, acc, gyr)
    with pytest.raises(CalibrationError, match="standing"):
        calibrate_session(Session(s.meta, sensors, s.events, None, "restless"))


def test_profile_round_trip(tmp_path, cal_profile):
    path = tmp_path / "p.json"
    cal_profile.save(path)
    d = json.loads(path.read_text())
    assert d["schema"] == "imu.calibration/1"
    assert d["sensors"]["sacrum"]["sensor_id"]
    back = load_profile(path)
    for role, R in cal_profile.mounts.items():
        assert np.allclose(back.mounts[role], R, atol=1e-9)
    al = back.alignment()
    assert set(al.R_BS) == set(cal_profile.mounts)
    assert back.quality["hinges"]["reps"] == 3


@pytest.mark.parametrize("content, what", [
    ("{not json", "invalid JSON"),
    ('{"schema": "imu.analysis/1"}', "not a calibration profile"),
    ('{"schema": "imu.calibration/1", "sensors": {"sacrum": {"mounting_wxyz": [1, 2]}}}',
     "mounting_wxyz"),
])
def test_bad_profile_file_is_bad_input(tmp_path, content, what):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(BadInputError, match=what):
        load_profile(p)


def test_missing_profile_file_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        load_profile(tmp_path / "nope.json")


def test_profile_from_dict_rejects_other_schema():
    with pytest.raises(BadInputError):
        Profile.from_dict({"schema": "something/1"})


def test_calibrate_command_writes_profile(tmp_path, cal_sim, capsys):
    from imu.cli import main
    from imu.session.csvfolder import write_csv_folder

    folder = tmp_path / "sess"
    write_csv_folder(cal_sim.session, folder)
    out = tmp_path / "profile.anything"
    assert main(["calibrate", str(folder), "-o", str(out)]) == 0
    prof = load_profile(out)
    for role, R in cal_sim.mounts.items():
        assert rotation_error_deg(prof.mounts[role], R) < 3.0, role


def test_calibrate_command_refusal_is_one_line_exit_2(tmp_path, capsys):
    from imu.cli import main
    from imu.session.csvfolder import write_csv_folder

    res = simulate("walking", rate_hz=60.0, seed=78, errors=True, calibration=False,
                   duration_s=30.0)
    for d in res.session.sensors.values():  # only the steady walking: no standing anywhere
        keep = (d.t_host_s > 8.0) & (d.t_host_s < 22.0)
        d.seq, d.t_sensor_s, d.t_host_s = d.seq[keep], d.t_sensor_s[keep], d.t_host_s[keep]
        d.acc, d.gyr = d.acc[keep], d.gyr[keep]
    folder = tmp_path / "sess"
    write_csv_folder(res.session, folder)
    assert main(["calibrate", str(folder), "-o", str(tmp_path / "p.json")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("imu calibrate: error:") and "quiet standing" in last
    assert not (tmp_path / "p.json").exists()


def test_rows_between_picks_the_rows_a_mask_picks_in_order_or_not():
    from imu.calibration.phases import in_order, row_count, rows_between

    rng = np.random.default_rng(5)
    t = np.sort(rng.uniform(0.0, 10.0, 500))
    t[100:103] = t[100]  # repeated times
    back = t.copy()
    back[300] = 1.0  # a step back
    nan = t.copy()
    nan[200] = np.nan
    for times, ordered in ((t, True), (back, False), (nan, False)):
        assert in_order(times) is ordered
        for lo, hi in ((2.0, 4.0), (t[100], t[100]), (-1.0, 20.0), (11.0, 12.0), (5.0, 4.0)):
            mask = (times >= lo) & (times <= hi)
            rows = rows_between(times, lo, hi)
            assert isinstance(rows, slice) is ordered
            np.testing.assert_array_equal(times[rows], times[mask])
            assert row_count(rows) == np.count_nonzero(mask)
