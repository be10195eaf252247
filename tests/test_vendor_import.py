"""Importers against truth: the simulator writes Movella DOT and Xsens MT exports of every kind,
the importers read them back (orientation, units, clocks, roles, quirks of app versions)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from imu import quat as Q
from imu.cli import main
from imu.session.load import load_session
from imu.session.store import read_recording
from imu.sim import simulate
from imu.sim.vendor_export import write_dot_exports, write_xsens_exports


@functools.lru_cache(maxsize=None)
def sim():
    return simulate("walking", rate_hz=60.0, seed=11, errors=False, calibration=False,
                    duration_s=16.0)


def _angle_deg(a, b):
    return Q.angle_deg(Q.normalize(a), Q.normalize(b))


@pytest.mark.parametrize("app", ["2020", "2021", "2024"])
def test_dot_raw_export_reads_back_in_si_units_across_app_versions(tmp_path, app):
    res = sim()
    write_dot_exports(res, tmp_path, kind="raw", app=app)
    s = load_session(tmp_path)  # pelvis / RFemur / LFemur tags map by themselves
    assert s.roles == ["sacrum", "right_thigh", "left_thigh"]
    for role, d in s.sensors.items():
        true = res.session.sensors[role]
        assert d.kind == "raw" and d.info.extra["zero_rows_dropped"] == 1
        assert len(d) == len(true)
        assert np.allclose(d.gyr, true.gyr, atol=1e-7)  # deg/s in the file, rad/s here
        assert np.allclose(d.acc, true.acc, atol=1e-7)
        assert np.all(np.diff(d.t_host_s) > 0)  # SampleTimeFine wrapped inside the file
        assert d.info.rate_hz == 60.0


@pytest.mark.parametrize("kind", ["quat", "euler", "raw+euler"])
def test_dot_orientation_exports_keep_the_sensors_orientation(tmp_path, kind):
    res = sim()
    write_dot_exports(res, tmp_path, kind=kind)
    s = load_session(tmp_path)
    for role, d in s.sensors.items():
        assert d.kind == ("raw+orientation" if kind == "raw+euler" else "orientation")
        err = _angle_deg(d.quat, res.sensor_orientation(role))
        assert np.max(err) < 0.01
        if kind != "raw+euler":  # specific force rebuilt from FreeAcc + gravity
            assert np.allclose(d.acc, res.session.sensors[role].acc, atol=1e-4)


def test_dot_skipped_packets_and_delta_exports(tmp_path):
    res = sim()
    write_dot_exports(res, tmp_path / "skip", kind="raw", skip_packets=7)
    d = load_session(tmp_path / "skip").sensors["sacrum"]
    n = len(res.session.sensors["sacrum"])
    assert len(d) == n - n // 7 and np.count_nonzero(np.diff(d.seq) == 2) == n // 7
    write_dot_exports(res, tmp_path / "delta", kind="delta")
    d = load_session(tmp_path / "delta").sensors["right_thigh"]
    true = res.session.sensors["right_thigh"]
    assert np.allclose(d.gyr[1:], true.gyr[1:], atol=1e-4)


@pytest.mark.parametrize("orientation,gyro", [("matrix", False), ("quat", True),
                                              ("euler", False), ("none", True)])
def test_xsens_exports_every_orientation_with_and_without_gyro(tmp_path, orientation, gyro):
    res = sim()
    write_xsens_exports(res, tmp_path, orientation=orientation, gyro=gyro)
    s = load_session(tmp_path, {"00B40001": "sacrum", "00B40002": "right_thigh",
                                "00B40003": "left_thigh"})
    for role, d in s.sensors.items():
        true = res.session.sensors[role]
        assert d.info.rate_hz == 60.0 and d.info.sensor_id.startswith("00B4000")
        assert np.allclose(d.t_host_s - d.t_host_s[0], true.t_sensor_s - true.t_sensor_s[0],
                           atol=1e-9)
        assert np.allclose(d.acc, true.acc, atol=1e-5)
        if orientation == "none":
            assert d.kind == "raw"
        else:
            assert d.kind == ("raw+orientation" if gyro else "orientation")
            assert np.max(_angle_deg(d.quat, res.sensor_orientation(role))) < 0.01
        if gyro:
            assert np.allclose(d.gyr, true.gyr, atol=1e-5)
        else:
            assert d.derived == ["gyr"]


def test_orientation_only_sensors_are_stored_and_reopened(tmp_path):
    res = sim()
    write_dot_exports(res, tmp_path / "q", kind="quat")
    out = tmp_path / "q.imu"
    assert main(["import", str(tmp_path / "q"), "-o", str(out)]) == 0
    s = read_recording(out)
    for role, d in s.sensors.items():
        assert d.kind == "orientation"
        assert np.max(_angle_deg(d.quat, res.sensor_orientation(role))) < 0.01


def test_a_csv_export_of_orientation_only_sensors_says_its_samples_are_derived(tmp_path,
                                                                                capsys):
    """A CSV folder holds acc/gyr only: exported, an orientation-only sensor's samples are
    the ones derived from its orientation; the export says so and the folder reads back as
    ``derived`` (it read back as ``raw``, its fused angles differing without a word)."""
    write_dot_exports(sim(), tmp_path / "q", kind="quat")
    assert main(["export", str(tmp_path / "q"), "--format", "csv", "-o",
                 str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err
    assert "note: sacrum, right_thigh, left_thigh: no raw samples" in err
    s = load_session(tmp_path / "c")
    assert [d.kind for d in s.sensors.values()] == ["derived"] * 3


def test_clocks_that_never_meet_are_refused_unless_aligned(tmp_path, capsys):
    res = sim()
    files = write_dot_exports(res, tmp_path, kind="raw", zero_first_row=False)
    thigh = files[1]
    lines = thigh.read_text().splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("PacketCounter"))
    for i in range(head + 1, len(lines)):  # this sensor's clock runs an hour later
        cells = lines[i].split(",")
        cells[1] = str((int(cells[1]) + 3_600_000_000) % 2 ** 32)
        lines[i] = ",".join(cells)
    thigh.write_text("\n".join(lines) + "\n")
    assert main(["import", str(tmp_path), "-o", str(tmp_path / "x.imu")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "do not overlap" in err[0] and "--align start" in err[0]
    assert all(r in err[0] for r in ("sacrum", "right_thigh", "left_thigh"))
    assert main(["import", str(tmp_path), "--align", "start", "-o", str(tmp_path / "x.imu")]) == 0
    s = read_recording(tmp_path / "x.imu")
    assert s.meta["clock_alignment"] == "start"
    assert all(d.t_host_s[0] == 0.0 for d in s.sensors.values())
    assert main(["info", str(tmp_path / "x.imu")]) == 0
    assert "--align start" in capsys.readouterr().out


def _damage(path, how):
    lines = path.read_text().splitlines()
    sep = "\t" if path.suffix == ".txt" else ","
    head = next(i for i, ln in enumerate(lines) if "PacketCounter" in ln)
    if how == "truncated":  # the last row cut in the middle (a full disk, a killed app)
        lines = lines[: head + 40]
        lines[-1] = sep.join(lines[-1].split(sep)[:4])
    elif how == "reversed":  # rows out of order: was taken as clocks that never meet
        lines = lines[: head + 1] + [ln for ln in lines[head + 1:] if ln.strip()][::-1]
    elif how == "text":
        cells = lines[head + 20].split(sep)
        cells[4] = "n/a"
        lines[head + 20] = sep.join(cells)
    else:  # a column renamed: the header no longer has the orientation / acc it needs
        lines[head] = (lines[head].replace("Quat_W", "Quat_V").replace("FreeAcc_X", "Free_X")
                       .replace("Mat[1][1]", "Mat11").replace("Acc_X", "AccX"))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("damage", ["truncated", "text", "columns", "reversed"])
def test_malformed_exports_are_one_line_and_keep_the_recording(tmp_path, capsys, damage):
    res = sim()
    files = write_dot_exports(res, tmp_path / "dot", kind="quat") + \
        write_xsens_exports(res, tmp_path / "mt", orientation="matrix")
    out = tmp_path / "kept.imu"
    assert main(["import", str(tmp_path / "dot"), "-o", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    for f in (files[0], files[-1]):
        _damage(f, damage)
        for target in (out, tmp_path / "new.imu"):
            rc = main(["import", str(f), "--role", "00B40003=left_thigh", "-o", str(target)])
            err = capsys.readouterr().err.strip().splitlines()
            assert rc == 2 and len(err) == 1, err
            assert f.name in err[0] or (target == out and "exists" in err[0])
        assert not (tmp_path / "new.imu").exists()
    assert out.read_bytes() == before


def test_vendor_orientation_drives_the_angles_without_fusion(tmp_path):
    from imu.calibration import calibrate_session
    from imu.kinematics.pipeline import compute_angles, uses_vendor_orientation

    res = simulate("hinge", rate_hz=60.0, seed=12, errors=False, reps=2)
    write_dot_exports(res, tmp_path, kind="raw+euler", zero_first_row=False)
    raw = load_session(tmp_path)
    vendor = load_session(tmp_path, use_vendor_orientation=True)
    assert not uses_vendor_orientation(raw, "sacrum")
    assert uses_vendor_orientation(vendor, "sacrum")
    prof = calibrate_session(vendor)
    table = compute_angles(vendor, prof.alignment())
    t_true = res.truth_time_s
    for c in ("pelvis_tilt", "right_hip_flexion", "left_hip_adduction"):
        est = np.interp(t_true, table.time_s - table.time_s[0], table[c])
        assert np.sqrt(np.nanmean((est - res.truth_angles[c]) ** 2)) < 0.5, c


def test_a_role_key_that_matches_no_sensor_is_noted_and_a_file_named_twice_read_once(tmp_path,
                                                                                     capsys):
    from imu.cli import main
    from imu.session.store import read_recording

    d = tmp_path / "dot"
    d.mkdir()
    for tag in ("pelvis", "femur_r"):
        rows = [f"{i},{1_000_000 + i * 16667},0,0,9.81,0,0,0" for i in range(1, 300)]
        (d / f"{tag}.csv").write_text("\n".join([f"DeviceTag:,{tag}", "PacketCounter,"
                                                 "SampleTimeFine,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,"
                                                 "Gyr_Z", *rows]) + "\n")
    out = tmp_path / "s.imu"
    capsys.readouterr()
    assert main(["import", str(d), str(d / "pelvis.csv"), "--role", "pelvsi=trunk",
                 "-o", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    notes = [ln for ln in err if "note:" in ln]
    assert len(notes) == 1 and "--role pelvsi=trunk" in notes[0] and "pelvis" in notes[0], err
    assert read_recording(out).roles == ["sacrum", "right_thigh"]
