"""The console command ends the process at once after a file command (imu.cli.entry): what it
wrote and printed is all there, and its exit status is the command's."""

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from imu import cli

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recordings" / "demo.imu"


def _imu(*args, cwd):
    return subprocess.run([sys.executable, "-m", "imu", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_quick_exit_keeps_the_whole_output_and_the_printed_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_CONFIG_DIR", str(tmp_path / "cfg"))
    r = _imu("angles", str(DEMO), "-o", str(tmp_path / "a.csv"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stderr
    assert cli.main(["angles", str(DEMO), "-o", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv.json").stat().st_size > 0
    info = _imu("info", str(DEMO), cwd=tmp_path)
    assert info.returncode == 0
    assert info.stdout == _imu_inprocess_info(DEMO)


def _imu_inprocess_info(path) -> str:
    out = subprocess.run([sys.executable, "-c", "import sys; from imu.cli import main; "
                          f"sys.exit(main(['info', {str(path)!r}]))"],
                         capture_output=True, text=True, timeout=600)
    return out.stdout


def test_quick_exit_keeps_the_error_status(tmp_path):
    r = _imu("info", str(tmp_path / "missing.imu"), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "missing.imu" in r.stderr


def test_entry_waits_for_a_running_thread(tmp_path, monkeypatch):
    """A thread still at work after the command (not an idle worker pool) gets the usual
    exit, which waits for it."""
    done = tmp_path / "done"

    def late_work():
        import time
        time.sleep(0.2)
        done.write_text("x")

    def fake_main(argv=None):
        cli._ran = "info"
        threading.Thread(target=late_work).start()
        return 0

    monkeypatch.setattr(cli, "main", fake_main)
    with pytest.raises(SystemExit) as e:
        cli.entry()
    assert e.value.code == 0  # (a quick exit would have ended this test process)
    for t in threading.enumerate():
        if t is not threading.main_thread():
            t.join(timeout=5)
    assert done.read_text() == "x"
