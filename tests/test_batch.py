"""``imu batch analyze`` / ``imu.batch_analyze``: many sessions on Dask, failures per session,
one table of every rep, hold and stride; the same results as a plain loop and as ``imu analyze``."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from imu.batch import (FAILURES_CSV, LEAD_COLUMNS, TABLE_CSV, TABLE_PARQUET, batch_analyze,
                       find_sessions, local_cluster, rows_csv)
from imu.session.csvfolder import write_csv_folder
from imu.session.store import write_session
from imu.sim import simulate

distributed = pytest.importorskip("distributed")


def stable(results: dict) -> dict:
    """Analysis JSONs with the moments calibrations were solved (ISO times) blanked out."""
    import re

    text = json.dumps(results, sort_keys=True)
    return json.loads(re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "T", text))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Tiny sessions: a hinge recording, a single-leg-stance CSV folder in a sub-folder, a
    walking recording, and a damaged recording."""
    d = tmp_path_factory.mktemp("cohort")
    hinge = simulate("hinge", rate_hz=50.0, seed=5101, reps=2)
    write_session(hinge.session, d / "a_hinge.imu")
    sls = simulate("single_leg_stance", rate_hz=50.0, seed=5102, reps=1)
    (d / "group").mkdir()
    write_csv_folder(sls.session, d / "group" / "b_stance")
    walk = simulate("walking", rate_hz=50.0, seed=5103, duration_s=60)
    write_session(walk.session, d / "d_walk.imu")
    (d / "c_broken.imu").write_bytes(b"SQLite format 3\x00" + b"\x07" * 300)
    (d / "notes.txt").write_text("not a session\n")
    return d


@pytest.fixture(scope="module")
def client():
    """One in-process (threads) local cluster for the module: fast to start."""
    cluster = local_cluster(2, processes=False)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def loop_result(cohort):
    return batch_analyze([cohort], engine="loop")


def test_finds_recordings_and_session_folders_and_keeps_damaged_files(cohort):
    found = find_sessions([cohort])
    assert [p.rsplit("/", 2)[-1] for p in found] == ["a_hinge.imu", "c_broken.imu", "d_walk.imu",
                                                   "b_stance"]


def test_a_damaged_session_is_reported_and_the_others_analysed(loop_result):
    res = loop_result
    assert len(res.results) == 3 and len(res.failures) == 1
    (bad, msg), = res.failures.items()
    assert bad.endswith("c_broken.imu") and "c_broken.imu" in msg and "\n" not in msg
    kinds = {(r["exercise"], r["kind"]) for r in res.rows}
    assert kinds == {("hinge", "rep"), ("single_leg_stance", "hold"), ("walking", "stride")}


def test_table_columns_and_values_come_from_each_analysis(loop_result):
    rows = loop_result.rows
    cols = list(rows_csv(rows).splitlines()[0].split(","))
    assert cols[:len(LEAD_COLUMNS)] == LEAD_COLUMNS
    for c in ("start_s", "end_s", "hip_flexion_peak_deg", "faults", "pelvic_drop_max_deg",
              "grade", "stride_time_s"):
        assert c in cols
    for s, result in loop_result.results.items():
        reps = [r for st in result["sets"]
                for r in st.get("reps", []) + st.get("holds", []) + st.get("strides", [])]
        mine = [r for r in rows if r["session"] == s]
        assert len(mine) == len(reps) > 0
        for item, row in zip(reps, mine):
            assert row["start_s"] == item["start_s"] and row["index"] == item["index"]


def test_dask_and_plain_loop_give_identical_results(cohort, client, loop_result):
    res = batch_analyze([cohort], scheduler=client)
    assert stable(res.results) == stable(loop_result.results)
    assert res.failures == loop_result.failures
    assert rows_csv(res.rows) == rows_csv(loop_result.rows)


def test_same_numbers_as_imu_analyze(cohort, loop_result, tmp_path):
    from imu.cli import main

    session = str(cohort / "a_hinge.imu")
    out = tmp_path / "a.json"
    assert main(["analyze", session, "--json", str(out)]) == 0
    mine = loop_result.results[session]
    theirs = json.loads(out.read_text())
    assert theirs["sets"] == mine["sets"]
    assert stable({"x": theirs})["x"]["calibrations"] == stable({"x": mine})["x"]["calibrations"]


def test_settings_reach_the_workers(cohort, client):
    strict = batch_analyze([cohort / "a_hinge.imu"], scheduler=client,
                           settings={"hinge.squat_inclination_deg": 0.1})
    reps = [r for r in strict.rows if r["kind"] == "rep"]
    assert reps and all("squat_pattern" in r["faults"] for r in reps)


def test_local_cluster_listens_on_localhost_only_without_dashboard():
    cluster = local_cluster(1, processes=False)
    try:
        c = distributed.Client(cluster)
        info = c.scheduler_info()
        addrs = [cluster.scheduler_address] + list(info["workers"])
        assert all(a.startswith("tcp://127.0.0.1:") for a in addrs), addrs
        # the scheduler's HTTP endpoint (no dashboard pages) too, on a free port
        assert cluster.scheduler.http_server.address == "127.0.0.1"
        assert cluster.scheduler.http_server.port != 8787
        c.close()
    finally:
        cluster.close()


def test_command_on_the_default_cluster_writes_results_and_failures(cohort, tmp_path,
                                                                    loop_result):
    """The default path: worker processes, one per core (here 2)."""
    from imu.cli import main

    out = tmp_path / "out"
    assert main(["batch", "analyze", str(cohort), "--out", str(out), "--workers", "2"]) == 1
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["a_hinge.analysis.json", "b_stance.analysis.json",
                            "d_walk.analysis.json", TABLE_CSV, TABLE_PARQUET, FAILURES_CSV])
    for s, result in loop_result.results.items():
        stem = s.rsplit("/", 1)[-1].removesuffix(".imu")
        written = json.loads((out / f"{stem}.analysis.json").read_text())
        assert stable({s: written}) == stable({s: result})
    with open(out / FAILURES_CSV, newline="") as f:
        fails = list(csv.DictReader(f))
    assert [r["session"].rsplit("/", 1)[-1] for r in fails] == ["c_broken.imu"]
    assert (out / TABLE_CSV).read_text() == rows_csv(loop_result.rows)
    pd = pytest.importorskip("pandas")
    table = pd.read_parquet(out / TABLE_PARQUET)
    csv_table = pd.read_csv(out / TABLE_CSV)
    assert list(table.columns) == list(csv_table.columns) and len(table) == len(csv_table)
    assert np.allclose(table["start_s"], csv_table["start_s"])
    # results already there: refused without --force
    assert main(["batch", "analyze", str(cohort), "--out", str(out)]) == 2


def test_core_imports_without_pandas_or_pyarrow():
    code = ("import sys; sys.modules['pandas'] = None; sys.modules['pyarrow'] = None\n"
            "import imu, imu.batch, imu.commands.batch\n"
            "assert 'pandas' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_command_on_a_running_scheduler(cohort, client, tmp_path, loop_result):
    from imu.cli import main

    out = tmp_path / "out"
    session = str(cohort / "a_hinge.imu")
    assert main(["batch", "analyze", session, "--out", str(out),
                 "--scheduler", client.scheduler.address]) == 0
    written = json.loads((out / "a_hinge.analysis.json").read_text())
    assert stable({session: written}) == stable({session: loop_result.results[session]})
    assert (out / FAILURES_CSV).read_text() == "session,error\n"
    assert (out / TABLE_CSV).stat().st_mode & 0o777 == 0o600


def test_vendor_export_folders_are_sessions_and_an_empty_named_folder_is_an_error(tmp_path):
    from imu.errors import BadInputError

    mt = tmp_path / "mt"
    mt.mkdir()
    header = "PacketCounter\tSampleTimeFine\tAcc_X\tAcc_Y\tAcc_Z\tGyr_X\tGyr_Y\tGyr_Z"
    rows = [f"{i}\t{i * 10000}\t0\t0\t9.81\t0\t0\t0" for i in range(1, 30)]
    (mt / "MT_012005D6_009-001_00B42279.txt").write_text(
        "// Update Rate: 100.0Hz\n" + "\n".join([header, *rows]) + "\n")
    (tmp_path / "empty").mkdir()
    assert find_sessions([mt]) == [str(mt)]
    assert find_sessions([tmp_path]) == [str(mt)]  # found by searching too
    with pytest.raises(BadInputError, match="empty: no sessions found"):
        find_sessions([mt, tmp_path / "empty"])
    # .sto files exported next to recordings: each is a session, the recordings are not hidden
    both = tmp_path / "both"
    both.mkdir()
    (both / "a.imu").write_bytes(b"SQLite format 3\x00" + b"\x07" * 300)
    sto = "\n".join(["DataRate=100.000000", "DataType=Quaternion", "version=3",
                     "OpenSimVersion=4.5", "endheader", "time\tpelvis_imu",
                     "0\t1,0,0,0", "0.01\t1,0,0,0"]) + "\n"
    (both / "a.sto").write_text(sto)
    (both / "b.sto").write_text(sto)
    assert [p.rsplit("/", 1)[-1] for p in find_sessions([both])] == ["a.imu", "a.sto", "b.sto"]


def test_file_names_that_are_not_utf8_reach_the_tables_and_report_escaped(cohort, tmp_path):
    # a Linux file name may hold any bytes: writing the table (and the HTML report) failed
    # with a UnicodeEncodeError traceback
    import os
    import shutil

    from imu.cli import main

    d = tmp_path / "in"
    d.mkdir()
    rec = d / os.fsdecode(b"h\xff.imu")
    try:
        shutil.copy(cohort / "a_hinge.imu", rec)
    except (OSError, UnicodeError):
        pytest.skip("the file system takes no such name")
    res = batch_analyze([d], engine="loop")
    assert not res.failures
    out = res.write(tmp_path / "out", parquet=False)
    text = (tmp_path / "out" / TABLE_CSV).read_text(encoding="utf-8")
    assert "h\\udcff.imu" in text and len(out) == 3
    assert main(["analyze", str(rec), "--report", str(tmp_path / "r.html")]) == 0
    assert "h\\udcff.imu" in (tmp_path / "r.html").read_text(encoding="utf-8")
