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
