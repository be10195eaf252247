"""A full disk: every writer ends with one line and exit status 2, leaves nothing partial, and a
recording in progress keeps everything it wrote. Runs on a small tmpfs mounted by the test
(as root: CI); skipped where it cannot be mounted. Plus the lock that keeps a second writer
from replacing a recording in progress."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess

import pytest

from imu.cli import main
from imu.errors import BadInputError
from imu.session.store import RecordingWriter, read_recording
from imu.types import SensorInfo


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    d = tmp_path_factory.mktemp("seed")
    rec = d / "s.imu"
    assert main(["simulate", "--exercise", "calibration,hinge", "--reps", "2", "--rate", "104",
                 "-o", str(rec), "--quiet"]) == 0
    return rec


@contextlib.contextmanager
def small_fs(path, size_kb):
    path.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs",
                            str(path)], capture_output=True, text=True)
    except OSError as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc})")
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder, leave_kb):
    """Fill ``folder``'s file system until only about ``leave_kb`` KiB are free."""
    free = shutil.disk_usage(folder).free
    with open(folder / "ballast", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave_kb * 1024))


def run(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main([str(a) for a in argv])
    return rc, err.getvalue().strip().splitlines()


def one_line(rc, err):
    assert rc == 2, err
    errors = [ln for ln in err if "error:" in ln]
    assert len(errors) == 1 and err[-1] == errors[0], err
    assert not any("Traceback" in ln for ln in err)
    return errors[0]


def test_record_on_a_full_disk_ends_in_one_line_and_keeps_what_it_wrote(tmp_path):
    with small_fs(tmp_path / "fs", 2048) as fs:
        fill(fs, 160)
        out = fs / "r.imu"
        rc, err = run(["record", "--simulate", "--program", "hinge", "--seconds", "600",
                       "--speed", "8", "--rate", "200", "-o", out, "--quiet"])
        line = one_line(rc, err)
        assert "r.imu" in line and ("full" in line or "No space" in line), line
        sess = read_recording(out)  # readable, with every sample committed before
        n = sum(len(d) for d in sess.sensors.values())
        m = re.search(r"holds the (\d+)", line)
        assert m and n == int(m.group(1)) and n > 1000, (n, line)


@pytest.mark.parametrize("cmd", ["import", "export", "angles", "analyze"])
def test_writers_on_a_full_disk_leave_nothing_partial(seed, tmp_path, cmd):
    with small_fs(tmp_path / "fs", 1024) as fs:
        fill(fs, 24 if cmd != "analyze" else 8)
        out = {"import": fs / "x.imu", "export": fs / "csv", "angles": fs / "a.csv",
               "analyze": fs / "a.json"}[cmd]
        argv = {"import": ["import", seed, "-o", out], "export": ["export", seed, "-o", out],
                "angles": ["angles", seed, "-o", out],
                "analyze": ["analyze", seed, "--json", out, "--report", fs / "r.html"]}[cmd]
        line = one_line(*run(argv))
        assert "full" in line or "No space" in line, line
        assert sorted(p.name for p in fs.iterdir()) == ["ballast"]  # nothing partial left


def test_a_recording_in_progress_cannot_be_replaced(tmp_path):
    p = tmp_path / "r.imu"
    first = RecordingWriter(p, {}, [SensorInfo("a", "sacrum")])
    try:
        with pytest.raises(BadInputError, match="being recorded by another process"):
            RecordingWriter(p, {}, [SensorInfo("b", "sacrum")], overwrite=True)
        rc, err = run(["import", p, "-o", p, "--force"])
        assert rc == 2
    finally:
        first.close()
    assert read_recording(p).sensors["sacrum"].info.sensor_id == "a"
    RecordingWriter(p, {}, [SensorInfo("b", "sacrum")], overwrite=True).close()  # now it may
    assert read_recording(p).sensors["sacrum"].info.sensor_id == "b"
