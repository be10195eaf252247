"""Crafted and corrupted inputs through every reader: no traceback, nothing written outside the
target, every refusal one line with exit status 2 (corpus: ``tests/corpus/make_corpus.py``)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from pathlib import Path

import pytest

from imu.cli import main

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
import make_corpus  # noqa: E402

sys.path.pop(0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    seeds = make_corpus.make_seeds(root / "seeds")
    return seeds, make_corpus.build(root, seeds)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run(argv) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, err.getvalue().strip().splitlines()


def test_the_corpus_is_large_and_covers_every_reader(corpus):
    _, cases = corpus
    assert len(cases) >= 100
    prefixes = {c.name.split("_", 1)[0] for c in cases}
    assert prefixes >= {"rec", "csv", "dot", "settings", "xsens", "sto"}


def test_no_input_of_the_corpus_crashes_or_writes_outside_the_target(corpus, tmp_path,
                                                                      monkeypatch):
    seeds, cases = corpus
    inputs = seeds["recording"].parent.parent
    before_inputs = _files(inputs)
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    refused = 0
    for case in cases:
        target = work / "out" / case.name
        target.mkdir(parents=True)
        for argv in make_corpus.commands(case, seeds, target):
            try:
                rc, err = run(argv)
            except BaseException as exc:  # noqa: BLE001 - the point of the test
                pytest.fail(f"{case.name}: imu {argv[0]} raised {type(exc).__name__}: {exc}\n"
                            + traceback.format_exc())
            assert rc in (0, 2), (case.name, argv[0], rc, err)
            if rc == 2:
                refused += 1
                errors = [ln for ln in err if "error:" in ln]
                assert len(errors) == 1 and err[-1] == errors[0], (case.name, argv[0], err)
                assert "Traceback" not in "\n".join(err)
        # nothing written beside the target folder: no traversal, no stray temporary files
        assert _files(tmp_path) <= {"a", "a/b"} | {f"a/b/{p}" for p in _files(work)}
        assert all(p.startswith("out") for p in _files(work)), (case.name, _files(work))
    assert _files(inputs) == before_inputs  # reading never adds files (-wal, -shm, ...)
    assert refused > 300


def test_a_role_that_climbs_out_of_the_target_is_refused_before_anything_is_written(
        corpus, tmp_path):
    seeds, cases = corpus
    case = next(c for c in cases if c.name == "rec_role_0")  # role "./../../x"
    target = tmp_path / "t1" / "t2" / "T"
    target.parent.mkdir(parents=True)
    rc, err = run(["export", str(case.path), "-o", str(target)])
    assert rc == 2 and "unknown sensor role './../../x'" in err[-1]
    assert not any(tmp_path.rglob("x.csv")) and not target.exists()


@pytest.mark.parametrize("name, words", [
    ("rec_rate_1", "rate"), ("rec_meta_4", "metadata"), ("rec_extra_2", "metadata"),
    ("rec_event_1", "event"), ("rec_sensor_id_3", "control characters"),
    ("csv_json_deep", "not valid JSON"), ("csv_cell_not_utf8", "not UTF-8"),
    ("csv_json_sensor_0", "rate"), ("csv_json_event_6", "unknown exercise 'flying'"),
    ("settings_not_utf8", "not UTF-8"), ("settings_inf", "finite"),
    ("settings_bands_reversed", "single_leg.green_deg = 20 must be below single_leg.amber_deg"),
    ("settings_zero_threshold", "hinge.rep_threshold_deg"),
    ("settings_flag_7", "flag"), ("settings_deep_arrays", "nested too deeply"),
    ("rec_times_huge", "time 1e+300"),
])
def test_each_kind_of_damage_is_named_in_one_line(corpus, tmp_path, name, words):
    seeds, cases = corpus
    case = next(c for c in cases if c.name == name)
    rc, err = run(make_corpus.commands(case, seeds, tmp_path)[0])
    assert rc == 2 and words in err[-1], err


def test_a_zlib_bomb_chunk_is_a_gap_said_in_one_line(corpus, tmp_path):
    """Its column would inflate to 512 MB: decoding stops at the 4096 samples it declares and
    the chunk is read as a gap (the recording's other samples are read)."""
    seeds, cases = corpus
    case = next(c for c in cases if c.name == "rec_zlib_bomb")
    rc, err = run(["info", str(case.path)])
    assert rc == 0 and len(err) == 1, err
    # the damaged chunk is the recording's first: whichever sensor's block was sealed first
    # when it was recorded (the simulated sensors' blocks arrive in any order)
    import sqlite3

    with sqlite3.connect(case.path) as db:
        role, = db.execute("SELECT s.role FROM chunks c JOIN sensors s ON c.sensor = s.id "
                           "WHERE c.id = (SELECT min(id) FROM chunks)").fetchone()
    assert f"damaged sample chunks: 4096 samples of {role} could not be read" in err[0]


def test_a_chunk_claiming_more_samples_than_its_bytes_is_a_gap_said_in_one_line(corpus,
                                                                               tmp_path):
    """Never allocated (2^40 samples); the recording's other chunks are read."""
    seeds, cases = corpus
    case = next(c for c in cases if c.name == "rec_chunk_n_2")
    rc, err = run(["info", str(case.path)])
    assert rc == 0 and len(err) == 1 and "1 sample chunk could not be read (damaged or of impossible structure" in err[0], err


def test_an_absurd_time_span_is_refused_before_resampling(corpus, tmp_path):
    """One CSV row at 1e7 s would make a 5e8-point time base (16 GB): one line instead."""
    seeds, cases = corpus
    case = next(c for c in cases if c.name == "csv_last_time_1e7")
    rc, err = run(["angles", str(case.path), "-o", str(tmp_path / "a.csv")])
    assert rc == 2 and "refusing to resample" in err[-1] and "1e+07 s" in err[-1]
    assert not (tmp_path / "a.csv").exists()


def test_a_foreign_session_writes_the_intrinsics_store_only_when_asked(corpus, tmp_path):
    seeds, _ = corpus
    store = Path(os.environ["IMU_CONFIG_DIR"]) / "intrinsics"
    rc, err = run(["angles", str(seeds["csv"]), "-o", str(tmp_path / "a.csv")])
    assert rc == 0 and any("intrinsics not stored" in ln for ln in err)
    assert not store.exists() or not any(store.iterdir())
    rc, _ = run(["angles", str(seeds["csv"]), "-o", str(tmp_path / "b.csv"),
                 "--save-intrinsics"])
    assert rc == 0 and len(list(store.iterdir())) == 3
    # the recording made here is no foreign session: it stores without being asked
    for p in store.iterdir():
        p.unlink()
    rc, _ = run(["angles", str(seeds["recording"]), "-o", str(tmp_path / "c.csv")])
    assert rc == 0 and len(list(store.iterdir())) == 3
