"""Movella DOT CSV exports: header found after the preamble, wraps, units, roles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imu.errors import BadInputError
from imu.session.load import load_session
from imu.session.movella import guess_role, read_dot, read_dot_csv

DATA = Path(__file__).parent / "data" / "movella_dot"
SACRUM = DATA / "DOT_sacrum_20240312_101502.csv"
THIGH = DATA / "DOT_right_thigh_20240312_101502.csv"
TAGGED = DATA / "D4-22-CD-00-36-82_20240312_101502.csv"


def fixture_rows(path):
    lines = path.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("PacketCounter"))
    return np.array([[float(x) for x in ln.rstrip(",").split(",")] for ln in lines[start + 1:]])


def test_header_found_after_preamble_and_units_converted():
    pre, cols = read_dot_csv(SACRUM)
    raw = fixture_rows(SACRUM)
    assert pre["Firmware Version"] == "2.6.0" and pre["Device Tag"] == "sacrum"
    assert int(pre["_header_line"]) == 11
    assert np.array_equal(cols["acc"], raw[:, 5:8])  # m/s² as exported
    assert np.allclose(cols["gyr"], np.deg2rad(raw[:, 8:11]), rtol=0, atol=1e-15)
    assert np.mean(cols["gyr"][:, 2]) == pytest.approx(np.pi / 2, abs=1e-3)  # 90 deg/s


def test_sample_time_fine_and_packet_counter_wraps_are_undone():
    _, cols = read_dot_csv(SACRUM)
    raw = fixture_rows(SACRUM)
    assert np.any(np.diff(raw[:, 1]) < 0) and np.any(np.diff(raw[:, 0]) < 0)  # fixture wraps
    assert np.all(np.diff(cols["t_sensor_s"]) > 0)
    assert np.allclose(np.diff(cols["t_sensor_s"]), 1 / 60, atol=2e-6)
    assert np.array_equal(cols["seq"], 65500 + np.arange(len(raw)))


def test_folder_with_role_mapping_shares_one_clock():
    s = read_dot(DATA, roles={"3": "left_thigh"})
    assert s.roles == ["sacrum", "right_thigh", "left_thigh"]
    assert s.sensors["sacrum"].t_host_s[0] == 0.0
    assert s.sensors["right_thigh"].t_host_s[0] == pytest.approx(0.004, abs=1e-9)
    assert s.sensors["left_thigh"].t_host_s[0] == pytest.approx(0.008, abs=1e-9)
    info = s.sensors["right_thigh"].info
    assert info.sensor_id == "D4:22:CD:00:36:81" and info.model == "Movella DOT"
    assert info.rate_hz == 60.0 and info.firmware == "2.6.0"
    assert np.mean(s.sensors["right_thigh"].gyr[:, 2]) == pytest.approx(-np.pi / 4, abs=1e-3)


def test_load_session_maps_by_file_name_and_address():
    s = load_session(DATA, roles={TAGGED.name: "trunk"})
    assert "trunk" in s.roles
    s = load_session(TAGGED, roles={"D4:22:CD:00:36:82": "left_thigh"})
    assert s.roles == ["left_thigh"]


def test_sensor_without_role_is_skipped_with_a_note_naming_the_file():
    notes = []
    s = load_session(DATA, on_note=notes.append)
    assert s.roles == ["sacrum", "right_thigh"]
    assert len(notes) == 1 and TAGGED.name in notes[0] and "--role" in notes[0]
    with pytest.raises(BadInputError, match="no sensor has a role") as ei:
        load_session(TAGGED)
    assert TAGGED.name in str(ei.value) and "--role" in str(ei.value)


def test_role_guess_from_names():
    assert guess_role("DOT_sacrum_2024") == "sacrum"
    assert guess_role("x", "Pelvis") == "sacrum"
    assert guess_role("left thigh") == "left_thigh"
    assert guess_role("thigh_r_01") == "right_thigh"
    assert guess_role("D4-22-CD-00-36-82") is None


def _write(path: Path, body: str) -> Path:
    path.write_text("DOT,Movella DOT\nDevice Tag:,sacrum\n" + body)
    return path


def test_missing_column_and_bad_number_are_named(tmp_path):
    p = _write(tmp_path / "sacrum.csv",
               "PacketCounter,SampleTimeFine,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y\n1,1000,0,0,9.8,0,0\n")
    with pytest.raises(BadInputError, match="missing column Gyr_Z"):
        load_session(p)
    p = _write(tmp_path / "sacrum.csv",
               "PacketCounter,SampleTimeFine,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z\n"
               "1,1000,0,0,9.8,0,0,0\n2,17667,0,0,9.8,0,x1,0\n")
    with pytest.raises(BadInputError, match="row 5, column Gyr_Y: 'x1' is not a number"):
        load_session(p)


def test_a_value_that_is_not_finite_is_kept_as_a_csv_folder_keeps_it(tmp_path):
    """NaN/inf measurements are kept (counted, out of fusion) as in a CSV folder; before, the
    DOT file was refused whole while the same samples in a CSV folder were read."""
    from imu.session.validate import sample_health, usable_samples

    p = _write(tmp_path / "sacrum.csv",
               "PacketCounter,SampleTimeFine,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z\n"
               "1,1000,0,0,9.8,0,0,0\n2,17667,0,0,9.8,0,inf,0\n3,34334,nan,0,9.8,0,0,0\n"
               "4,51001,0,0,9.8,0,0,0\n")
    d = load_session(p).sensors["sacrum"]
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "sacrum.csv").write_text("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n"
                                       "0.0,0,0,9.8,0,0,0\n0.0167,0,0,9.8,0,inf,0\n"
                                       "0.0333,nan,0,9.8,0,0,0\n0.05,0,0,9.8,0,0,0\n")
    c = load_session(folder).sensors["sacrum"]
    assert len(d) == len(c) == 4
    assert sample_health(d) == sample_health(c) == {"nonfinite": 2, "out_of_range": 0,
                                                    "duplicate_times": 0}
    assert list(usable_samples(d)) == list(usable_samples(c)) == [True, False, False, True]
    assert np.isinf(d.gyr[1, 1]) and np.isnan(d.acc[2, 0])


@pytest.mark.parametrize("cell, column, what", [(1, "SampleTimeFine", "time"),
                                                (0, "PacketCounter", "packet counter")])
def test_a_time_or_counter_that_is_not_finite_names_its_row_and_column(tmp_path, cell, column,
                                                                      what):
    """As a CSV folder's time_s: a sample without a time cannot be placed."""
    row = ["2", "17667", "0", "0", "9.8", "0", "0", "0"]
    row[cell] = "nan"
    p = _write(tmp_path / "sacrum.csv",
               "PacketCounter,SampleTimeFine,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z\n"
               "1,1000,0,0,9.8,0,0,0\n" + ",".join(row) + "\n")
    with pytest.raises(BadInputError, match=f"row 5, column {column}: nan is not a {what}"):
        load_session(p)


@pytest.mark.parametrize("n, words", [(100_000, "row 5, column Gyr_Y: 'x1x1"),
                                      (1_000_000, "row 5: not CSV text (field larger")])
def test_a_huge_cell_is_a_short_one_line_error(tmp_path, n, words):
    p = _write(tmp_path / "sacrum.csv",
               "PacketCounter,SampleTimeFine,Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z\n"
               "1,1000,0,0,9.8,0,0,0\n2,17667,0,0,9.8,0," + "x1" * (n // 2) + ",0\n")
    with pytest.raises(BadInputError) as ei:
        load_session(p)
    msg = str(ei.value)
    assert words in msg and len(msg) < 200 and "\n" not in msg


def test_delta_quantity_export_gives_rate_and_specific_force(tmp_path):
    rate = 60.0
    w_rad_s = np.array([0.3, -0.2, 1.0])
    ang = np.linalg.norm(w_rad_s) / rate
    dq = np.concatenate([[np.cos(ang / 2)], np.sin(ang / 2) * w_rad_s / np.linalg.norm(w_rad_s)])
    f = np.array([0.1, 0.2, 9.8])
    rows = [f"{i},{1000 + round(i * 1e6 / rate)}," + ",".join(f"{v:.9f}" for v in dq) + "," +
            ",".join(f"{v:.9f}" for v in f / rate) for i in range(10)]
    p = _write(tmp_path / "DOT_sacrum.csv",
               "PacketCounter,SampleTimeFine,dq_W,dq_X,dq_Y,dq_Z,dv[1],dv[2],dv[3]\n" +
               "\n".join(rows) + "\n")
    _, cols = read_dot_csv(p)
    assert np.allclose(cols["gyr"], w_rad_s, atol=1e-4)
    assert np.allclose(cols["acc"], f, rtol=1e-4)  # µs-rounded intervals
