"""The one output rule (imu.output), writer by writer: an existing recording given as an output
stays byte-identical without --force and is never replaced by a non-recording with it; outputs
are checked before any work; files are 0600 and folders 0700 whatever the umask."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from imu.cli import main
from imu.errors import BadInputError
from imu.output import FolderOutput, Output, Outputs, check_output, is_recording, private_dir

NOT_A_SESSION = "no-such-session-folder"


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    p = tmp_path_factory.mktemp("rec") / "s.imu"
    assert main(["simulate", "--exercise", "hinge", "--reps", "2", "--rate", "60",
                 "--seed", "1", "--quiet", "-o", str(p)]) == 0
    return p


@pytest.fixture
def victim(recording, tmp_path):
    """A copy of a recording, under a name that does not say it is one."""
    p = tmp_path / "victim.json"
    p.write_bytes(recording.read_bytes())
    assert is_recording(p)
    return p


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def digest(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def one_line_error(argv, capsys, *expected) -> str:
    rc = main([str(a) for a in argv])
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if "error:" in ln]
    assert rc == 2
    assert len(err) == 1, err
    for e in expected:
        assert e in err[0], err[0]
    return err[0]


# every writer, with the output given last; SESSION stands for the session argument
WRITERS = {
    "angles": ["angles", "SESSION", "-o"],
    "analyze --json": ["analyze", "SESSION", "--json"],
    "analyze --report": ["analyze", "SESSION", "--report"],
    "calibrate": ["calibrate", "SESSION", "-o"],
    "fuse": ["fuse", "SENSOR_CSV", "-o"],
    "export csv": ["export", "SESSION", "--format", "csv", "-o"],
    "export sto": ["export", "SESSION", "--format", "sto", "-o"],
    "export mot": ["export", "SESSION", "--format", "mot", "-o"],
    "simulate folder": ["simulate", "--exercise", "hinge", "--reps", "1", "--quiet",
                        "--sides", "right", "-o"],
    "simulate --truth": ["simulate", "--exercise", "hinge", "--reps", "1", "--quiet",
                         "-o", "TMP/new.imu", "--truth"],
    "replay --screenshot": ["replay", "SESSION", "--screenshot"],
}
# writers whose output is itself a recording: they may replace a recording with --force only
RECORDING_WRITERS = {
    "import": ["import", "CSV_FOLDER", "-o"],
    "simulate recording": ["simulate", "--exercise", "hinge", "--reps", "1", "--quiet", "-o"],
    "record": ["record", "--simulate", "--seconds", "1", "--quiet", "-o"],
}


def argv_for(template, recording, tmp_path, out):
    sensor_csv = tmp_path / "sacrum.csv"
    if not sensor_csv.exists():
        sensor_csv.write_text("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n"
                              + "".join(f"{i / 100},0,0,9.81,0,0,0\n" for i in range(50)))
    subst = {"SESSION": str(recording), "SENSOR_CSV": str(sensor_csv),
             "CSV_FOLDER": str(tmp_path)}
    argv = [subst.get(a, a).replace("TMP", str(tmp_path)) for a in template]
    if "--sides" in template:  # "simulate folder"
        return argv + [str(out) + "/"]  # a trailing slash asks simulate for a CSV folder
    return argv + [str(out)]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_recording_is_never_replaced_by_a_non_recording(writer, recording, victim, tmp_path,
                                                          capsys):
    before = digest(victim)
    argv = argv_for(WRITERS[writer], recording, tmp_path, victim)
    one_line_error(argv, capsys, str(victim))
    assert digest(victim) == before
    one_line_error(argv + ["--force"], capsys, str(victim), "is a recording")
    assert digest(victim) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("writer", sorted(RECORDING_WRITERS))
def test_a_recording_writer_replaces_a_recording_only_with_force(writer, recording, victim,
                                                                 tmp_path, capsys):
    before = digest(victim)
    argv = argv_for(RECORDING_WRITERS[writer], recording, tmp_path, victim)
    one_line_error(argv, capsys, str(victim), "already exists", "--force")
    assert digest(victim) == before


@pytest.mark.parametrize("writer", sorted(WRITERS) + sorted(RECORDING_WRITERS))
def test_output_into_a_missing_folder_fails_before_any_work(writer, tmp_path, capsys):
    """The session does not even exist: the output's folder is checked first."""
    template = {**WRITERS, **RECORDING_WRITERS}[writer]
    argv = [NOT_A_SESSION if a in ("SESSION", "SENSOR_CSV", "CSV_FOLDER") else
            a.replace("TMP", str(tmp_path)) for a in template]
    out = tmp_path / "missing" / "out.x"
    msg = one_line_error(argv + [str(out)], capsys, "folder does not exist")
    assert str(tmp_path / "missing") in msg
    assert NOT_A_SESSION not in msg
    assert not (tmp_path / "missing").exists()


def test_report_failure_leaves_no_json(recording, tmp_path, capsys):
    """--json and --report are checked together before the work: nothing is written."""
    js = tmp_path / "a.json"
    one_line_error(["analyze", recording, "--json", js, "--report", tmp_path / "nodir" / "r.html"],
                   capsys, "folder does not exist")
    assert not js.exists()


def test_live_and_demo_check_their_recording_first(victim, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    before = digest(victim)
    one_line_error(["live", "--simulate", "-o", victim], capsys, "already exists")
    one_line_error(["demo", "-o", victim], capsys, "already exists")
    assert digest(victim) == before


def test_overwrite_is_an_alias_of_force(recording, tmp_path, capsys):
    out = tmp_path / "a.csv"
    out.write_text("old\n")
    one_line_error(["calibrate", NOT_A_SESSION, "-o", out], capsys, "already exists", "--force")
    one_line_error(["calibrate", NOT_A_SESSION, "-o", out, "--overwrite"], capsys, NOT_A_SESSION)
    assert out.read_text() == "old\n"


# -- modes under umask 022 ----------------------------------------------------------------

def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_outputs_are_private_under_umask_022(recording, tmp_path, umask022, capsys,
                                             monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("IMU_DATA_DIR", str(data))
    cfg = tmp_path / "cfg"
    monkeypatch.setenv("IMU_CONFIG_DIR", str(cfg))
    assert main(["angles", str(recording), "-o", str(tmp_path / "a.csv")]) == 0
    assert main(["analyze", str(recording), "--json", str(tmp_path / "a.json"),
                 "--report", str(tmp_path / "r.html")]) == 0
    assert main(["export", str(recording), "-o", str(tmp_path / "exp")]) == 0
    assert main(["export", str(recording), "-o", str(tmp_path / "s.sto")]) == 0
    assert main(["import", str(tmp_path / "exp"), "-o", str(tmp_path / "i.imu")]) == 0
    assert main(["simulate", "--exercise", "hinge", "--reps", "1", "--no-calibration", "--quiet",
                 "-o", str(tmp_path / "sim")]) == 0
    assert main(["calibrate", str(recording), "-o", str(tmp_path / "p.json")]) == 0
    assert main(["fuse", str(tmp_path / "exp" / "sacrum.csv"), "-o", str(tmp_path / "q.csv")]) == 0
    assert main(["record", "--simulate", "--seconds", "1", "--quiet",
                 "-o", str(tmp_path / "r.imu")]) == 0
    from imu.live.paths import new_session_path
    new_session_path()
    files = ["a.csv", "a.json", "r.html", "s.sto", "i.imu", "p.json", "q.csv", "r.imu",
             "exp/sacrum.csv", "exp/session.json", "sim/truth.csv", "sim/truth.json"]
    assert {f: oct(mode(tmp_path / f)) for f in files} == {f: oct(0o600) for f in files}
    folders = [tmp_path / "exp", tmp_path / "sim", data, data / "sessions", cfg,
               cfg / "intrinsics"]
    assert {str(d): oct(mode(d)) for d in folders} == {str(d): oct(0o700) for d in folders}
    stored = list((cfg / "intrinsics").iterdir())
    assert stored and {oct(mode(p)) for p in stored} == {oct(0o600)}
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_screenshot_is_private(recording, tmp_path, umask022):
    out = tmp_path / "shot.png"
    assert main(["replay", str(recording), "--screenshot", str(out), "--at", "5"]) == 0
    assert mode(out) == 0o600 and out.read_bytes()[:4] == b"\x89PNG"


# -- the module itself --------------------------------------------------------------------

def test_outputs_commit_together_and_discard_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with Outputs() as out:
            a = out.file(tmp_path / "a.txt")
            with a.open() as fh:
                fh.write("a")
            raise RuntimeError("the work failed")
    assert list(tmp_path.iterdir()) == []
    with Outputs() as out:
        a = out.file(tmp_path / "a.txt")
        with a.open() as fh:
            fh.write("a")
    assert (tmp_path / "a.txt").read_text() == "a"


def test_an_output_that_appeared_meanwhile_is_not_clobbered(tmp_path):
    o = Output(tmp_path / "a.txt")
    with o.open() as fh:
        fh.write("new")
    (tmp_path / "a.txt").write_text("theirs")
    with pytest.raises(BadInputError, match="already exists"):
        o.commit()
    assert (tmp_path / "a.txt").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_folder_output_leaves_foreign_files_and_needs_force_for_its_own(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    f = FolderOutput(d, names=["x.csv"])
    f.file("x.csv").write_text("1")
    f.commit()
    assert (d / "x.csv").read_text() == "1" and (d / "notes.txt").read_text() == "mine"
    with pytest.raises(BadInputError, match="already exists"):
        FolderOutput(d, names=["x.csv"])
    f = FolderOutput(d, names=["x.csv"], force=True)
    f.file("x.csv").write_text("2")
    f.commit()
    assert (d / "x.csv").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_check_output_names_the_problem(tmp_path, victim):
    with pytest.raises(BadInputError, match="is a folder"):
        check_output(tmp_path)
    with pytest.raises(BadInputError, match="is a recording"):
        check_output(victim, force=True, folder=True)
    check_output(victim, force=True, recording=True)  # a recording may replace one


def test_private_dir_is_0700_whatever_the_umask(tmp_path, umask022):
    d = private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a") == 0o700 and mode(d) == 0o700


def test_csv_folder_replaced_with_force_holds_only_the_new_session(tmp_path, capsys):
    # another session's trunk.csv left next to the new files would be read as part of it
    d = tmp_path / "export"
    sim = ["simulate", "--exercise", "hinge", "--reps", "1", "--no-errors", "--quiet"]
    assert main([*sim, "--trunk", "-o", str(d)]) == 0
    assert (d / "trunk.csv").exists()
    (d / "notes.txt").write_text("mine")
    assert main([*sim, "--sides", "right", "-o", str(d)]) == 2  # its files are there
    assert "already exists" in capsys.readouterr().err
    assert main([*sim, "--sides", "right", "-o", str(d), "--force"]) == 0
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt", "right_thigh.csv", "sacrum.csv",
                                                   "session.json", "truth.csv", "truth.json"]
    rec = tmp_path / "r.imu"
    assert main(["import", str(d), "-o", str(rec)]) == 0
    e = tmp_path / "e"
    e.mkdir()
    (e / "left_thigh.csv").write_text("another session's\n")
    assert main(["export", str(rec), "--format", "csv", "-o", str(e)]) == 2
    assert main(["export", str(rec), "--format", "csv", "-o", str(e), "--force"]) == 0
    assert sorted(p.name for p in e.iterdir()) == ["right_thigh.csv", "sacrum.csv", "session.json"]


def test_csv_folder_never_removes_a_recording_named_like_a_role_file(tmp_path, capsys):
    d = tmp_path / "export"
    sim = ["simulate", "--exercise", "hinge", "--reps", "1", "--no-errors", "--quiet"]
    assert main([*sim, "--sides", "right", "-o", str(tmp_path / "r.imu")]) == 0
    d.mkdir()
    victim = d / "left_thigh.csv"
    victim.write_bytes((tmp_path / "r.imu").read_bytes())
    assert main(["export", str(tmp_path / "r.imu"), "--format", "csv", "-o", str(d),
                 "--force"]) == 2
    assert "is a recording" in capsys.readouterr().err
    assert victim.read_bytes() == (tmp_path / "r.imu").read_bytes()
    assert [p.name for p in d.iterdir()] == ["left_thigh.csv"]


def test_one_path_for_two_outputs_of_a_command_is_refused_before_any_work(tmp_path, capsys):
    # imu analyze --json X --report X did the work, committed the JSON, then failed on the
    # report (exit 2 with the JSON left there), or with --force replaced one by the other
    rec = tmp_path / "r.imu"
    assert main(["simulate", "--exercise", "hinge", "--reps", "1", "--sides", "right",
                 "--no-errors", "--quiet", "-o", str(rec)]) == 0
    capsys.readouterr()
    for extra in ([], ["--force"]):
        assert main(["analyze", str(rec), "--json", str(tmp_path / "x"), "--report",
                     str(tmp_path / "x"), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "both the analysis JSON and the report" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.imu"]


def test_an_output_that_is_not_a_regular_file_is_never_replaced(tmp_path, capsys):
    """As root, `--report /dev/full --force` renamed the report onto /dev/full: the device
    node became a file. A pipe (or device, or socket) is refused even with --force."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for force in (False, True):
        with pytest.raises(BadInputError, match="pipe: is not a regular file"):
            check_output(fifo, what="report", force=force)
    folder = tmp_path / "f"
    folder.mkdir()
    os.mkfifo(folder / "sacrum.csv")
    with pytest.raises(BadInputError, match="sacrum.csv: is not a regular file"):
        check_output(folder, what="CSV export", force=True, folder=True, names=["sacrum.csv"])
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert stat.S_ISFIFO(os.stat(folder / "sacrum.csv").st_mode)


def test_a_temp_file_opened_again_starts_empty_and_is_never_opened_with_o_trunc(tmp_path,
                                                                               monkeypatch):
    # O_TRUNC would make ext4 flush the whole output to disk at close (~40 ms an hour of angles)
    from imu.output import Output

    flags = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda p, f, *a: flags.append(f) or real_open(p, f, *a))
    out = Output(tmp_path / "a.csv", what="test")
    with out.open("w") as f:
        f.write("first, longer text\n")
    with out.open("w") as f:
        f.write("second\n")
    out.commit()
    assert (tmp_path / "a.csv").read_text() == "second\n"
    assert flags and not any(f & os.O_TRUNC for f in flags)
