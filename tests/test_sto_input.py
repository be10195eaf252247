"""OpenSense ``.sto`` orientation tables as input: one orientation-only sensor per column."""

from __future__ import annotations

import numpy as np

from imu import quat as Q
from imu.cli import main
from imu.session.load import load_session
from imu.session.sto import read_sto
from imu.sim import simulate
from imu.sim.vendor_export import write_dot_exports


def test_sto_written_then_read_back_as_orientation_only_sensors(tmp_path, capsys):
    res = simulate("walking", rate_hz=60.0, seed=21, errors=False, calibration=False,
                   duration_s=12.0)
    write_dot_exports(res, tmp_path / "dot", kind="quat")
    sto = tmp_path / "s.sto"
    assert main(["export", str(tmp_path / "dot"), "--format", "sto", "-o", str(sto)]) == 0
    t, rate, cols = read_sto(sto)
    assert rate == 60.0 and set(cols) == {"pelvis_imu", "femur_r_imu", "femur_l_imu"}
    s = load_session(sto)  # pelvis_imu / femur_r_imu / femur_l_imu map by themselves
    assert s.roles == ["sacrum", "right_thigh", "left_thigh"]
    for role in s.roles:
        d = s.sensors[role]
        assert d.kind == "orientation" and d.info.rate_hz == 60.0
        ok = np.all(np.isfinite(d.quat), axis=1)
        truth = res.sensor_orientation(role)
        n = min(int(ok.sum()), len(truth))
        assert n > 600
        assert np.max(Q.angle_deg(d.quat[ok][:n], truth[:n])) < 0.01  # 6 decimals in the file
    out = tmp_path / "s.imu"
    assert main(["import", str(sto), "--role", "femur_l_imu=skip", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped s.sto (femur_l_imu)" in err


def test_sto_time_going_backwards_or_not_a_number_names_the_line(tmp_path):
    """A table whose rows are out of order was read, then refused as 'the sensors' clocks do
    not overlap: ... 24.9-0.0 s'."""
    import pytest

    from imu.errors import BadInputError

    head = "DataRate=100\nDataType=Quaternion\nendheader\ntime\tpelvis_imu\n"
    rows = ["0.00\t1,0,0,0", "0.01\t1,0,0,0", "0.005\t1,0,0,0"]
    (tmp_path / "b.sto").write_text(head + "\n".join(rows) + "\n")
    with pytest.raises(BadInputError, match=r"b.sto: line 7: time goes backwards \(0.01 then "
                                            r"0.005 s\)"):
        read_sto(tmp_path / "b.sto")
    (tmp_path / "n.sto").write_text(head + "0.00\t1,0,0,0\nnan\t1,0,0,0\n")
    with pytest.raises(BadInputError, match=r"n.sto: line 6: time nan is not a time"):
        read_sto(tmp_path / "n.sto")
