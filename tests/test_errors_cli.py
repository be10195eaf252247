"""Bad input to import / export / info: one line naming what and where, exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from imu.cli import main

DOT = Path(__file__).parent / "data" / "movella_dot"
HEADER = "time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"


def run_cli(argv, capsys):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err


def one_line_error(argv, capsys, *expected):
    rc, err = run_cli(argv, capsys)
    assert rc == 2
    errors = [ln for ln in err if "error:" in ln]
    assert len(errors) == 1, err
    for e in expected:
        assert e in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def rec(tmp_path):
    p = tmp_path / "good.imu"
    assert main(["import", str(DOT / "DOT_sacrum_20240312_101502.csv"), "-o", str(p)]) == 0
    return p


def test_missing_session(tmp_path, capsys):
    for cmd in ("info", "export"):
        extra = [] if cmd == "info" else ["-o", tmp_path / "o"]
        one_line_error([cmd, tmp_path / "nope.imu", *extra], capsys, "nope.imu", "no such file")


def test_not_a_recording(tmp_path, capsys):
    p = tmp_path / "photo.imu"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    one_line_error(["info", p], capsys, str(p), "not a recording")


def test_truncated_recording(rec, capsys):
    raw = rec.read_bytes()
    rec.write_bytes(raw[: len(raw) // 2])
    one_line_error(["info", rec], capsys, str(rec), "truncated")


def test_empty_file(tmp_path, capsys):
    p = tmp_path / "empty.imu"
    p.write_bytes(b"")
    one_line_error(["export", p, "-o", tmp_path / "o"], capsys, str(p), "empty")


def test_missing_column_in_csv_folder(tmp_path, capsys):
    (tmp_path / "sacrum.csv").write_text("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y\n0,0,0,0,0,0\n")
    one_line_error(["import", tmp_path, "-o", tmp_path / "x.imu"], capsys,
                   "sacrum.csv", "missing column gyr_z")
    assert not (tmp_path / "x.imu").exists()


def test_bad_number_in_csv_names_row_and_column(tmp_path, capsys):
    (tmp_path / "right_thigh.csv").write_text(HEADER + "\n0,0,0,9.8,0,0,0\n0.01,0,0,9.8,0,1e,0\n")
    one_line_error(["info", tmp_path], capsys, "right_thigh.csv", "row 3", "gyr_y", "'1e'")


def test_folder_without_a_session(tmp_path, capsys):
    (tmp_path / "readme.txt").write_text("x")
    one_line_error(["import", tmp_path, "-o", tmp_path / "x.imu"], capsys, str(tmp_path),
                   "holds no session")


def test_dot_export_without_role_is_skipped_with_a_note(tmp_path, capsys):
    rc, err = run_cli(["import", DOT, "-o", tmp_path / "x.imu"], capsys)
    assert rc == 0
    notes = [ln for ln in err if "note:" in ln]
    assert len(notes) == 1 and "D4-22-CD-00-36-82_20240312_101502.csv" in notes[0]
    assert "--role" in notes[0]
    # shown once: not also as the library's own log line
    assert [ln for ln in err if "D4-22-CD-00-36-82" in ln] == notes, err


def test_dot_exports_none_with_a_role(tmp_path, capsys):
    one_line_error(["import", DOT / "D4-22-CD-00-36-82_20240312_101502.csv", "-o",
                    tmp_path / "x.imu"], capsys, "D4-22-CD-00-36-82_20240312_101502.csv",
                   "--role")
    assert not (tmp_path / "x.imu").exists()


def test_a_refused_vendor_folder_is_one_line_without_the_notes_it_repeats(tmp_path, capsys):
    # before: a note for the file skipped and one for the --role that matched nothing, then
    # the error naming the same file
    rc, err = run_cli(["import", DOT / "D4-22-CD-00-36-82_20240312_101502.csv", "--role",
                       "nosuch=sacrum", "-o", tmp_path / "x.imu"], capsys)
    assert rc == 2 and len(err) == 1 and "no sensor has a role" in err[0], err


def test_bad_role_argument(tmp_path, capsys):
    one_line_error(["import", DOT, "--role", "3=elbow", "-o", tmp_path / "x.imu"], capsys,
                   "--role 3=elbow")


def test_import_refuses_to_overwrite_a_recording(rec, capsys):
    before = rec.read_bytes()
    one_line_error(["import", DOT / "DOT_sacrum_20240312_101502.csv", "-o", rec], capsys,
                   str(rec), "already exists")
    assert rec.read_bytes() == before


def test_export_refuses_to_overwrite_a_csv_folder(rec, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", str(rec), "-o", str(out)]) == 0
    one_line_error(["export", rec, "-o", out], capsys, str(out), "refusing to overwrite")
    assert main(["export", str(rec), "-o", str(out), "--force"]) == 0


def test_export_to_a_file_path_is_refused(rec, tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep")
    one_line_error(["export", rec, "-o", f], capsys, str(f), "not a folder")
    assert f.read_text() == "keep"


def test_error_is_one_line_without_traceback_in_a_real_process(tmp_path):
    p = tmp_path / "broken.imu"
    p.write_text("this is not a recording\n")
    r = subprocess.run([sys.executable, "-m", "imu", "info", str(p)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert str(p) in r.stderr


def test_import_into_a_missing_folder(tmp_path, capsys):
    one_line_error(["import", DOT / "DOT_sacrum_20240312_101502.csv", "-o",
                    tmp_path / "no" / "such" / "x.imu"], capsys, "folder does not exist")


def test_a_file_name_that_is_not_utf8_prints_under_a_strict_utf8_locale(rec, tmp_path):
    # a UTF-8 locale such as en_US.UTF-8 makes stdout strict: imu info crashed printing the name
    import os
    import shutil

    p = tmp_path / os.fsdecode(b"rec\xff.imu")
    try:
        shutil.copy(rec, p)
    except (OSError, UnicodeError):
        pytest.skip("the file system takes no such name")
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
    r = subprocess.run([sys.executable, "-m", "imu", "info", os.fsencode(str(p))],
                       capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert b"Traceback" not in r.stderr and b"rec\\udcff.imu" in r.stdout


def test_export_options_that_do_nothing_for_the_format_are_refused(rec, tmp_path, capsys):
    # --rate 50 with the CSV folder wrote the raw samples, not a 50 Hz table, without a word
    for argv, opt in ((["--format", "csv", "--rate", "50", "-o", tmp_path / "c"], "--rate"),
                      (["--format", "csv", "--causal", "-o", tmp_path / "c"], "--causal"),
                      (["--format", "mot", "--max-gap-s", "2", "-o", tmp_path / "a.mot"],
                       "--max-gap-s")):
        line = one_line_error(["export", rec, *argv], capsys, opt, "does nothing")
        assert argv[1] in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.imu"]


def test_sto_export_of_sensors_with_one_sample_each_is_one_line(tmp_path, capsys):
    # a DOT export of one row imports as a one-sample recording: its .sto export raised
    # IndexError in the fusion of no sensor
    src = tmp_path / "dot.csv"
    src.write_text("DeviceTag:,sacrum\nPacketCounter,SampleTimeFine,Acc_X,Acc_Y,Acc_Z,Gyr_X,"
                   "Gyr_Y,Gyr_Z\n1,1000000,0,0,9.81,0,0,0\n")
    rec = tmp_path / "one.imu"
    assert main(["import", str(src), "-o", str(rec)]) == 0
    one_line_error(["export", rec, "--uncalibrated", "-o", tmp_path / "a.sto"], capsys,
                   "one.imu (sacrum", "has only 1 sample, too few to use")
    assert not (tmp_path / "a.sto").exists()


def test_an_output_on_the_commands_own_input_is_refused_even_with_force(tmp_path, capsys):
    # imu fuse raw.csv -o raw.csv --force replaced the raw samples with the orientations
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + "\n" + "\n".join(f"{i / 100},0,0,9.81,0,0,0" for i in range(50)) + "\n")
    before = raw.read_bytes()
    one_line_error(["fuse", raw, "-o", raw, "--force"], capsys, "raw.csv", "input")
    one_line_error(["angles", raw.parent / "." / raw.name, "-o", raw, "--force"], capsys, "input")
    assert raw.read_bytes() == before


def test_a_role_key_that_matches_no_sensor_of_a_recording_is_noted(rec, capsys):
    """As for vendor files: a mistyped key went unnoticed on a recording or CSV folder."""
    rc, err = run_cli(["info", rec, "--role", "sacrun=skip"], capsys)
    assert rc == 0
    notes = [ln for ln in err if "note:" in ln]
    assert len(notes) == 1 and "--role sacrun=skip matches no sensor here" in notes[0]
    assert "sacrum" in notes[0]


def test_an_error_naming_a_file_with_a_line_break_is_still_one_line(tmp_path, capsys):
    bad = tmp_path / "bad\nname.imu"
    bad.write_bytes(b"not a recording at all")
    rc, err = run_cli(["info", bad], capsys)
    assert rc == 2 and len(err) == 1 and "bad\\nname.imu: not a recording" in err[0], err
