"""docs/formats.md CSV folders: reading, exact round trip through a recording, bad-input messages."""

from __future__ import annotations

import numpy as np
import pytest

from imu.errors import BadInputError
from imu.session.csvfolder import COLUMNS, read_csv_folder, read_sensor_csv, write_csv_folder
from imu.session.load import load_session
from imu.session.store import read_recording, write_session
from imu.types import Event

HEADER = ",".join(COLUMNS)


def make_folder(d, roles=("sacrum", "right_thigh"), n=50, seed=1):
    rng = np.random.default_rng(seed)
    d.mkdir(exist_ok=True)
    for role in roles:
        t = np.round(np.arange(n) / 104.0 + 0.125, 6)
        vals = np.round(rng.normal(0, 3, (n, 6)), 7)
        lines = [HEADER] + [",".join([f"{t[i]:.6f}"] + [f"{v:.7f}" for v in vals[i]])
                            for i in range(n)]
        (d / f"{role}.csv").write_text("\n".join(lines) + "\n")
    (d / "truth.csv").write_text("time_s,pelvis_tilt\n0,1\n")  # ignored (simulator output)
    return d


def test_reads_role_files_with_shared_clock_and_sequence(tmp_path):
    d = make_folder(tmp_path / "s")
    s = read_csv_folder(d)
    assert s.roles == ["sacrum", "right_thigh"]
    sac = s.sensors["sacrum"]
    raw = np.loadtxt(d / "sacrum.csv", delimiter=",", skiprows=1)
    assert np.array_equal(sac.t_host_s, raw[:, 0]) and np.array_equal(sac.t_sensor_s, raw[:, 0])
    assert np.array_equal(sac.seq, np.arange(50))
    assert np.array_equal(sac.acc, raw[:, 1:4]) and np.array_equal(sac.gyr, raw[:, 4:7])
    assert sac.info.rate_hz == pytest.approx(104.0, rel=1e-3)


def test_column_order_may_differ(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / "sacrum.csv").write_text("gyr_z,gyr_y,gyr_x,acc_z,acc_y,acc_x,time_s\n6,5,4,3,2,1,0.5\n")
    s = read_csv_folder(d)
    assert s.sensors["sacrum"].acc.tolist() == [[1, 2, 3]]
    assert s.sensors["sacrum"].gyr.tolist() == [[4, 5, 6]]
    assert s.sensors["sacrum"].t_host_s.tolist() == [0.5]


def test_csv_to_recording_to_csv_is_lossless_at_printed_precision(tmp_path):
    src = make_folder(tmp_path / "src", roles=("sacrum", "right_thigh", "left_thigh"))
    s = read_csv_folder(src)
    s.events.append(Event(0.2, "set_start", exercise="hinge"))
    rec = write_session(s, tmp_path / "s.imu")
    out = tmp_path / "out"
    write_csv_folder(read_recording(rec), out)
    for role in ("sacrum", "right_thigh", "left_thigh"):
        a = np.loadtxt(src / f"{role}.csv", delimiter=",", skiprows=1)
        b = np.loadtxt(out / f"{role}.csv", delimiter=",", skiprows=1)
        assert np.array_equal(a, b)
        # the printed text is the shortest exact form: same digits as the source, no noise
        src_rows = (src / f"{role}.csv").read_text().splitlines()[1:]
        out_rows = (out / f"{role}.csv").read_text().splitlines()[1:]
        assert [list(map(float, r.split(","))) for r in src_rows] == \
               [list(map(float, r.split(","))) for r in out_rows]
        assert max(len(c) for r in out_rows for c in r.split(",")) <= 11
    again = read_csv_folder(out)  # session.json brings the events back
    assert [(e.t_s, e.kind, e.exercise) for e in again.events] == [(0.2, "set_start", "hinge")]
    write_csv_folder(again, tmp_path / "out2")
    for role in ("sacrum", "right_thigh", "left_thigh"):
        assert (out / f"{role}.csv").read_text() == (tmp_path / "out2" / f"{role}.csv").read_text()


def test_full_precision_values_survive_exactly(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    rng = np.random.default_rng(3)
    vals = rng.normal(0, 1, (20, 7))
    vals[:, 0] = np.cumsum(rng.random(20))
    (d / "sacrum.csv").write_text(HEADER + "\n" + "\n".join(
        ",".join(repr(float(v)) for v in row) for row in vals) + "\n")
    out = tmp_path / "o"
    write_csv_folder(read_recording(write_session(read_csv_folder(d), tmp_path / "x.imu")), out)
    assert np.array_equal(read_sensor_csv(out / "sacrum.csv"), vals)


@pytest.mark.parametrize("text, message", [
    ("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y\n0,1,2,3,4,5\n", "missing column gyr_z"),
    (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,2,abc,4,5,6\n",
     "row 3, column acc_z: 'abc' is not a number"),
    (HEADER + "\n0,1,2,3,4,5,6\n0.01,1,2,3\n", "row 3"),
    (HEADER + "\n", "no samples"),
    (HEADER.replace(",", ";") + "\n0;1;2;3;4;5;6\n", "columns separated by ';', not commas"),
    ("", "empty file"),
    (HEADER + "\n0.5,1,2,3,4,5,6\n0.4,1,2,3,4,5,6\n", "row 3, column time_s: time goes backwards"),
])
def test_bad_csv_names_file_row_and_column(tmp_path, text, message):
    d = tmp_path / "s"
    d.mkdir()
    (d / "sacrum.csv").write_text(text)
    with pytest.raises(BadInputError) as ei:
        load_session(d)
    msg = str(ei.value)
    assert message in msg and "sacrum.csv" in msg and "\n" not in msg


def test_folder_without_sensor_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadInputError, match="holds no session"):
        load_session(tmp_path)


def test_single_role_named_csv_loads(tmp_path):
    d = make_folder(tmp_path / "s", roles=("sacrum",))
    s = load_session(d / "sacrum.csv")
    assert s.roles == ["sacrum"] and len(s.sensors["sacrum"]) == 50


def test_angles_csv_is_the_same_text_formatted_in_forked_children(tmp_path, monkeypatch):
    import numpy as np

    from imu.session.angles_csv import write_angles_csv
    from imu.types import AngleTable

    rng = np.random.default_rng(7)
    n = 2500
    cols = {"pelvis_tilt": rng.normal(0, 30, n), "pelvis_obliquity": rng.normal(0, 5, n)}
    cols["pelvis_tilt"][::97] = np.nan
    table = AngleTable(time_s=np.arange(n) / 100.0, columns=cols, confidence={})
    texts = []
    for mode in ("0", "always"):
        monkeypatch.setenv("IMU_FORK", mode)
        p = tmp_path / f"a{mode}.csv"
        write_angles_csv(table, p, chunk_rows=300)  # 9 chunks: several per child, in order
        texts.append(p.read_text())
    assert texts[0] == texts[1] and texts[0].count("\n") == n + 1


@pytest.mark.parametrize("confidence,fork", [(False, "always"), (True, "always"),
                                              (True, "0"), (False, "threads")])
def test_angles_csv_rows_made_with_the_angles_are_the_tables_text(tmp_path, monkeypatch,
                                                                  confidence, fork):
    """Rows formatted where the angles are computed (forked workers, the parent's share, gaps)
    are the same bytes as formatting the finished table; other settings format the table."""
    import numpy as np
    from scipy.spatial.transform import Rotation

    from imu import quat as Q
    from imu.kinematics import pipeline
    from imu.kinematics.alignment import SegmentAlignment
    from imu.session.angles_csv import CsvRows, write_angles_csv

    # "0": every row here; "threads": split, but no fork when it comes to it (the load
    # changed): the shares on threads of this process, writing into one file
    monkeypatch.setenv("IMU_FORK", "0" if fork == "0" else "always")
    monkeypatch.setattr(pipeline, "_FORK_MIN_ROWS", 1000)
    if fork == "threads":
        monkeypatch.setattr(pipeline, "can_fork", lambda: True)
        monkeypatch.setenv("IMU_FORK", "0")
    n = 50_000  # several blocks per worker
    t = np.arange(n) / 200.0
    rng = np.random.default_rng(3)
    roles = ("sacrum", "right_thigh", "left_thigh")
    quats = {r: Q.from_scipy(Rotation.random(n, random_state=k)) for k, r in enumerate(roles)}
    quats["left_thigh"][20_000:20_400] = np.nan  # a gap
    gnorm = {r: np.abs(rng.normal(0, 0.1, n)) for r in roles}
    align = SegmentAlignment({r: np.eye(3) for r in roles})
    rows = CsvRows(confidence=confidence)
    table = pipeline.angles_from_orientations(t, quats, gnorm, align, csv_rows=rows)
    assert rows.rows_ == n and len(rows.parts_) > 2
    made, plain, other = tmp_path / "made.csv", tmp_path / "plain.csv", tmp_path / "other.csv"
    write_angles_csv(table, made, confidence=confidence, rows=rows)
    write_angles_csv(table, plain, confidence=confidence)
    assert made.read_bytes() == plain.read_bytes()
    assert b"nan" in made.read_bytes() and made.read_bytes().count(b"\n") == n + 1
    write_angles_csv(table, other, confidence=not confidence, rows=rows)  # not these rows
    assert (b"_confidence" in other.read_bytes().split(b"\n")[0]) == (not confidence)

    # written into the CSV's temp file as they are made (the first share by a worker as it
    # goes, the rest appended): the same bytes, the output rule's file and mode
    from imu.output import Outputs

    streamed = tmp_path / "streamed.csv"
    with Outputs() as outs:
        into = CsvRows(confidence=confidence)
        into.write_into(outs.file(streamed, what="angles CSV"))
        table2 = pipeline.angles_from_orientations(t, quats, gnorm, align, csv_rows=into)
        assert into._output.temp_path().read_bytes() == plain.read_bytes()  # all there
        assert not streamed.exists()  # not before the commit
        write_angles_csv(table2, streamed, confidence=confidence, rows=into, outputs=outs)
    assert streamed.read_bytes() == plain.read_bytes()
    assert (streamed.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # rows in a file the table does not fit (other settings): the table is formatted there
    again = tmp_path / "again.csv"
    with Outputs() as outs:
        into = CsvRows(confidence=confidence)
        into.write_into(outs.file(again, what="angles CSV"))
        table3 = pipeline.angles_from_orientations(t, quats, gnorm, align, csv_rows=into)
        write_angles_csv(table3, again, confidence=not confidence, rows=into, outputs=outs)
    assert again.read_bytes() == other.read_bytes()


def test_csv_files_on_clocks_that_never_meet_are_named_not_a_missing_calibration(tmp_path,
                                                                                 capsys):
    from imu.cli import main

    d = tmp_path / "f"
    assert main(["simulate", "--exercise", "calibration,hinge", "--reps", "1", "--sides", "right",
                 "--no-errors", "--quiet", "-o", str(d)]) == 0
    p = d / "right_thigh.csv"
    a = np.loadtxt(p, delimiter=",", skiprows=1)
    a[:, 0] += 1000.0  # another clock: the thigh's file never meets the sacrum's
    np.savetxt(p, a, delimiter=",", header=",".join(COLUMNS), comments="", fmt="%.9g")
    capsys.readouterr()
    assert main(["angles", str(d), "-o", str(tmp_path / "a.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "do not overlap" in err[-1] and "one clock" in err[-1], err
    assert "--align" not in err[-1] and "calibration" not in err[-1]  # neither applies here


@pytest.mark.parametrize("n, words", [
    (100_000, "sacrum.csv: row 3, column acc_z: '\\x00\\x00"),  # the cell, cut, and its length
    (1_000_000, "sacrum.csv: row 3: not CSV text (field larger"),  # beyond the csv module's limit
])
def test_a_cell_of_nul_bytes_is_a_short_one_line_error(tmp_path, n, words):
    d = tmp_path / "s"
    d.mkdir()
    (d / "sacrum.csv").write_text(HEADER + "\n0,1,2,3,4,5,6\n0.01,1,2," + "\0" * n + ",4,5,6\n")
    with pytest.raises(BadInputError) as ei:
        load_session(d)
    msg = str(ei.value)
    assert words in msg and len(msg) < 200 and "\n" not in msg


@pytest.mark.parametrize("make, words", [("folder", "a folder"),
                                         ("dangling link", "a link to nothing")])
def test_a_role_name_that_is_not_a_file_is_refused_by_name(tmp_path, make, words):
    d = make_folder(tmp_path / "s", roles=("right_thigh",))
    if make == "folder":
        (d / "sacrum.csv").mkdir()
    else:
        (d / "sacrum.csv").symlink_to(tmp_path / "gone.csv")
    with pytest.raises(BadInputError, match=rf"sacrum.csv: {words}, not a sensor CSV"):
        load_session(d)


def test_packets_sent_twice_are_written_once_and_the_folder_reads_back(tmp_path):
    """A DOT export's resent packets (sequence number and time repeating) stepped the CSV's
    time back: the folder written could not be read (time goes backwards); any other step
    back is a one-line error naming the folder, which is then not written."""
    from imu.types import SensorData, SensorInfo, Session

    seq = np.r_[0:211, 200:211, 211:400]
    t = 5.0 + seq / 120.0
    rng = np.random.default_rng(0)
    acc, gyr = rng.normal(0, 1, (len(t), 3)), rng.normal(0, 1, (len(t), 3))
    d = SensorData(SensorInfo("a", "sacrum", "Movella DOT", 120.0), seq, t, t - 5.0, acc, gyr)
    write_csv_folder(Session({}, {"sacrum": d}, [], None, "x"), tmp_path / "c")
    back = load_session(tmp_path / "c").sensors["sacrum"]
    assert len(back) == 400 and np.array_equal(back.t_host_s, t[np.r_[0:211, 222:411]] - 5.0)
    assert np.array_equal(back.acc, acc[np.r_[0:211, 222:411]])
    rev = SensorData(d.info, seq[::-1].copy(), t[::-1].copy(), t[::-1] - 5.0, acc, gyr)
    with pytest.raises(BadInputError, match=r"/r: sacrum's sample 2 goes back in time"):
        write_csv_folder(Session({}, {"sacrum": rev}, [], None, "x"), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_a_role_csv_that_is_a_copy_of_another_is_refused(tmp_path):
    """left_thigh.csv copied from right_thigh.csv gave the left leg the right's angles."""
    import shutil

    d = make_folder(tmp_path / "s", roles=("sacrum", "right_thigh"))
    shutil.copy(d / "right_thigh.csv", d / "left_thigh.csv")
    with pytest.raises(BadInputError, match=r"left_thigh.csv: the same samples as "
                                            r"right_thigh.csv \(a copy"):
        load_session(d)


def test_events_off_the_csvs_clock_are_named_not_a_missing_calibration(tmp_path):
    """time_s moved to epoch seconds, session.json's events left at 0-60 s: the calibration
    was refused as 'no calibration protocol found'."""
    import json

    d = make_folder(tmp_path / "s", roles=("sacrum", "right_thigh"))
    for role in ("sacrum", "right_thigh"):
        p = d / f"{role}.csv"
        lines = p.read_text().splitlines()
        p.write_text("\n".join([lines[0]] + [f"{float(ln.split(',')[0]) + 1.7e9!r},"
                                              + ln.split(",", 1)[1] for ln in lines[1:]]) + "\n")
    (d / "session.json").write_text(json.dumps({"schema": "imu.session/1", "events": [
        {"t_s": 0.0, "kind": "calibration_start"}, {"t_s": 41.5, "kind": "calibration_end"}]}))
    with pytest.raises(BadInputError, match=r"session.json: its events \(0.0–41.5 s\) lie "
                                            r"outside the samples' times \(1700000000.1–"):
        load_session(d)
