"""``imu fuse``: orientation CSV from a sensor CSV; bad input is one line, exit 2."""

import numpy as np

from imu import quat as Q
from imu.cli import main

from test_fusion import inclination_error_deg, rotating_sensor

HEADER = "time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"


def write_csv(path, t, acc, gyr):
    np.savetxt(path, np.column_stack([t, acc, gyr]), delimiter=",", header=HEADER, comments="",
               fmt="%.9g")


def test_fuse_writes_orientation_csv_matching_truth(tmp_path):
    t, acc, gyr, q_true = rotating_sensor()
    src, out = tmp_path / "s.csv", tmp_path / "any name.txt"
    write_csv(src, t, acc, gyr)
    assert main(["fuse", str(src), "-o", str(out), "--filter", "vqf"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "time_s,qw,qx,qy,qz"
    d = np.loadtxt(out, delimiter=",", skiprows=1)
    assert d.shape == (len(t), 5)
    np.testing.assert_allclose(d[:, 0], t, atol=1e-6)
    assert np.max(inclination_error_deg(d[:, 1:], q_true)) < 1.0
    # the quaternion rotates the at-rest specific force to +z (earth z up)
    up = Q.rotate(d[0, 1:], acc[0])
    assert up[2] > 9.7


def test_fuse_missing_column_is_one_line_exit_2(tmp_path, capsys):
    src = tmp_path / "s.csv"
    src.write_text("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y\n0,0,0,9.8,0,0\n")
    assert main(["fuse", str(src), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gyr_z" in err[0] and "s.csv" in err[0]


def test_fuse_bad_number_names_row_and_column(tmp_path, capsys):
    src = tmp_path / "s.csv"
    src.write_text(HEADER + "\n0,0,0,9.8,0,0,0\n0.01,0,zz,9.8,0,0,0\n")
    assert main(["fuse", str(src), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "row 3" in err and "acc_y" in err and "Traceback" not in err


def test_save_intrinsics_stores_gyro_bias_and_applies_it_next_time(tmp_path, monkeypatch):
    from imu.intrinsics import IntrinsicStore

    monkeypatch.setenv("IMU_CONFIG_DIR", str(tmp_path / "cfg"))
    rate = 100.0
    n = int(10 * rate)
    rng = np.random.default_rng(4)
    bias = np.array([0.01, -0.02, 0.015])
    t = np.arange(n) / rate
    acc = np.array([0.0, 0.0, 9.81]) + rng.normal(0, 0.01, (n, 3))
    gyr = bias + rng.normal(0, 0.002, (n, 3))
    src = tmp_path / "still.csv"
    write_csv(src, t, acc, gyr)
    out = tmp_path / "o.csv"
    assert main(["fuse", str(src), "-o", str(out), "--sensor-id", "dev1", "--save-intrinsics"]) == 0
    corr = IntrinsicStore().get("dev1")
    np.testing.assert_allclose(corr.gyr_bias_rad_s, bias, atol=5e-4)
    # next time: the stored bias is applied, so a still sensor does not turn
    src2 = tmp_path / "still2.csv"
    write_csv(src2, t, acc, gyr)
    assert main(["fuse", str(src2), "-o", str(out), "--force", "--sensor-id", "dev1",
                 "--filter", "vqf_basic"]) == 0
    q = np.loadtxt(out, delimiter=",", skiprows=1)[:, 1:]
    assert Q.angle_deg(q[0], q[-1]) < 0.5  # uncorrected: about 8° of heading drift in 10 s


def test_save_intrinsics_without_sensor_id_is_refused(tmp_path, capsys):
    t, acc, gyr, _ = rotating_sensor(n=200)
    src = tmp_path / "s.csv"
    write_csv(src, t, acc, gyr)
    assert main(["fuse", str(src), "-o", str(tmp_path / "o.csv"), "--save-intrinsics"]) == 2
    assert "--sensor-id" in capsys.readouterr().err


def test_fuse_reads_a_movella_dot_export(tmp_path):
    t, acc, gyr, q_true = rotating_sensor(n=600, rate_hz=60.0)
    src = tmp_path / "dot.csv"
    rows = ["DeviceTag:,sacrum", "PacketCounter,SampleTimeFine,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z"]
    for i in range(len(t)):
        us = int(round(1_000_000 + t[i] * 1e6))
        g = np.degrees(gyr[i])
        rows.append(f"{i},{us},{acc[i, 0]:.6f},{acc[i, 1]:.6f},{acc[i, 2]:.6f},"
                    f"{g[0]:.6f},{g[1]:.6f},{g[2]:.6f}")
    src.write_text("\n".join(rows) + "\n")
    out = tmp_path / "o.csv"
    assert main(["fuse", str(src), "-o", str(out)]) == 0
    d = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(d[:, 0], t, atol=1e-6)
    assert np.max(inclination_error_deg(d[:, 1:], q_true)) < 1.5


def _dot_rows(header, rows):
    return "\n".join(["DeviceTag:,sacrum", header, *rows]) + "\n"


def test_fuse_of_a_dot_orientation_export_is_one_line_exit_2(tmp_path, capsys):
    # the DOT app's default export kind: the sensor's own quaternion, no Acc/Gyr to fuse
    src = tmp_path / "Pelvis.csv"
    rows = [f"{i},{1_000_000 + i * 16667},1,0,0,0,0.01,0.02,0.03,0" for i in range(1, 50)]
    src.write_text(_dot_rows("PacketCounter,SampleTimeFine,Quat_W,Quat_X,Quat_Y,Quat_Z,"
                             "FreeAcc_X,FreeAcc_Y,FreeAcc_Z,Status", rows))
    out = tmp_path / "o.csv"
    assert main(["fuse", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Pelvis.csv" in err[0] and "Gyr" in err[0], err
    assert not out.exists()


def test_fuse_of_a_dot_export_whose_clock_goes_back_is_one_line_exit_2(tmp_path, capsys):
    # a replayed stretch of packets (the same PacketCounter/SampleTimeFine again): the
    # orientation CSV would have time_s going backwards, as a CSV input with it is refused
    rows = [f"{i},{1_000_000 + i * 16667},0,0,9.81,0,0,0" for i in range(1, 200)]
    src = tmp_path / "dot.csv"
    src.write_text(_dot_rows("PacketCounter,SampleTimeFine,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z",
                             rows[:120] + rows[100:]))
    out = tmp_path / "o.csv"
    assert main(["fuse", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dot.csv" in err[0] and "backwards" in err[0], err
    assert "PacketCounter 101" in err[0], err
    assert not out.exists()


def test_fuse_time_going_backwards_names_plain_times(tmp_path, capsys):
    src = tmp_path / "s.csv"
    src.write_text(HEADER + "\n0,0,0,9.8,0,0,0\n0.5,0,0,9.8,0,0,0\n0.25,0,0,9.8,0,0,0\n")
    assert main(["fuse", str(src), "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "row 4" in err[0] and "(0.5 then 0.25)" in err[0], err


def test_fuse_rate_that_the_samples_cannot_fill_is_one_line_exit_2(tmp_path, capsys):
    # --rate 1e9 tried to allocate hundreds of GB for the filled dropouts (a MemoryError
    # traceback); inf and nan are not rates either
    t, acc, gyr, _ = rotating_sensor(n=300, rate_hz=100.0)
    src = tmp_path / "s.csv"
    write_csv(src, t, acc, gyr)
    for rate in ("1e9", "inf", "nan", "0"):
        capsys.readouterr()
        assert main(["fuse", str(src), "-o", str(tmp_path / "o.csv"), "--rate", rate]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "error:" in err[0] and "Traceback" not in err[0], (rate, err)
    assert not (tmp_path / "o.csv").exists()


def test_rate_that_is_not_a_finite_positive_number_is_refused_before_any_work(tmp_path, capsys):
    from pathlib import Path

    rec = Path(__file__).resolve().parents[1] / "recordings" / "hinge_trunk.imu"
    for argv in (["angles", str(rec), "--rate", "inf", "-o", str(tmp_path / "a.csv")],
                 ["export", str(rec), "--rate", "0", "-o", str(tmp_path / "a.sto")],
                 ["export", str(rec), "--rate", "nan", "-o", str(tmp_path / "a.mot")]):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--rate must be a positive number" in err[0], (argv, err)
    assert list(tmp_path.iterdir()) == []


def test_fuse_of_rates_in_degrees_per_second_is_one_line_exit_2(tmp_path, capsys):
    t, acc, gyr, _ = rotating_sensor()
    src = tmp_path / "s.csv"
    write_csv(src, t, acc, np.degrees(gyr))  # °/s (it was fused as rad/s)
    assert main(["fuse", str(src), "-o", str(tmp_path / "q.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gyr_x..z are not in rad/s" in err[0]
    assert not (tmp_path / "q.csv").exists()
