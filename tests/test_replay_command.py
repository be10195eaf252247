import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from live_helpers import recording

pytest.importorskip("PySide6.QtWidgets")


def test_replay_screenshot_renders_the_dashboard_at_the_requested_moment(tmp_path, capsys):
    from PySide6 import QtGui
    from imu.cli import main

    rec = recording(tmp_path)
    out = tmp_path / "shot.png"
    assert main(["replay", rec, "--screenshot", str(out), "--at", "60", "--size", "1200x720"]) == 0
    img = QtGui.QImage(str(out))
    assert (img.width(), img.height()) == (1200, 720)
    assert "at 60.0 s" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["--at", "9999"], "--at 9999"),
    (["--at", "-1"], "outside the recording"),
    (["--size", "big"], "--size"),
    (["--size", "300x300"], "needs at least"),
    (["--speed", "0"], "--speed"),
    (["--window", "0"], "--window 0.0"),
    (["--window", "-5"], "--window -5.0"),
    (["--window", "nan"], "--window nan"),
    (["--start", "nan"], "--start nan"),
])
def test_replay_bad_arguments_give_one_line_and_status_2(tmp_path, capsys, args, words):
    from imu.cli import main

    rec = recording(tmp_path)
    assert main(["replay", rec, "--screenshot", str(tmp_path / "x.png"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0]


def test_replay_of_a_missing_file_or_a_non_recording_is_a_one_line_error(tmp_path, capsys):
    from imu.cli import main

    assert main(["replay", str(tmp_path / "nope.imu"), "--screenshot", "x.png"]) == 2
    bad = tmp_path / "bad.imu"
    bad.write_bytes(b"not a recording at all")
    assert main(["replay", str(bad), "--screenshot", str(tmp_path / "x.png")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("imu replay: error:") for line in lines)


def test_replay_without_display_and_without_screenshot_says_what_to_do(tmp_path, capsys, monkeypatch):
    from imu.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert main(["replay", recording(tmp_path)]) == 2
    assert "--screenshot" in capsys.readouterr().err
