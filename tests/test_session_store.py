"""Recording store: bit-exact round trip, metadata, events, refusal to overwrite, bad files."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from imu.errors import BadInputError
from imu.session.store import RecordingWriter, is_recording, read_recording
from imu.types import Event, SampleBlock, SensorInfo

ROLES = ["sacrum", "right_thigh", "left_thigh"]


def synthetic(n: int, seed: int = 0, rate_hz: float = 200.0) -> dict[str, tuple]:
    """Quantised synthetic samples per role: (seq, t_sensor_s, t_host_s, acc, gyr)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, role in enumerate(ROLES):
        t = np.arange(n) / rate_hz + 0.01 * i
        lsb_a, lsb_g = 9.80665 * 8 / 32768, np.deg2rad(2000 / 32768)
        acc = np.stack([np.sin(2 * t), np.cos(t) + 9.81, 0.1 * t], 1) + rng.normal(0, 0.02, (n, 3))
        gyr = np.stack([np.sin(3 * t), np.cos(2 * t), 0 * t], 1) + rng.normal(0, 0.01, (n, 3))
        out[role] = (np.arange(n) + 100 * i, t + 3.0, t + 0.02 + rng.random(n) * 0.005,
                     np.round(acc / lsb_a) * lsb_a, np.round(gyr / lsb_g) * lsb_g)
    return out


def write(path, data, block=10, **kw):
    sensors = [SensorInfo(f"id-{r}", r, model="synthetic", rate_hz=200.0, firmware="1.2")
               for r in data]
    with RecordingWriter(path, {"subject": "S1"}, sensors, **kw) as w:
        n = len(next(iter(data.values()))[0])
        for k in range(0, n, block):
            for r, cols in data.items():
                w.add_block(r, SampleBlock(f"id-{r}", *(c[k:k + block] for c in cols)))
        w.add_event(Event(1.5, "set_start", exercise="hinge", side=None))
        w.add_event(Event(0.5, "note", note="strapped on", data={"k": 1}))
        w.set_calibration({"sensors": {"id-sacrum": [1, 0, 0, 0]}})
        w.update_meta({"exercise_plan": ["hinge"]})
    return path


def test_round_trip_is_bit_exact_with_metadata_and_events(tmp_path):
    data = synthetic(9000)  # crosses the 4096-sample seal twice, ends with unsealed chunks
    p = write(tmp_path / "s.imu", data)
    assert is_recording(p)
    s = read_recording(p)
    assert s.roles == ROLES
    for r, cols in data.items():
        d = s.sensors[r]
        for want, got in zip(cols, (d.seq, d.t_sensor_s, d.t_host_s, d.acc, d.gyr)):
            assert got.dtype == np.asarray(want).dtype or got.dtype == np.float64
            assert np.array_equal(np.asarray(want, dtype=got.dtype), got)
        assert d.info.sensor_id == f"id-{r}" and d.info.model == "synthetic"
        assert d.info.rate_hz == 200.0 and d.info.firmware == "1.2"
    assert [e.kind for e in s.events] == ["note", "set_start"]  # sorted by time
    assert s.events[0].data == {"k": 1} and s.events[1].exercise == "hinge"
    assert s.calibration == {"sensors": {"id-sacrum": [1, 0, 0, 0]}}
    assert s.meta["subject"] == "S1" and s.meta["exercise_plan"] == ["hinge"]
    assert s.meta["format"] == "imu.recording/1"


def test_closed_recording_is_one_file_with_sealed_chunks(tmp_path):
    p = write(tmp_path / "s.imu", synthetic(9000))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s.imu"]
    db = sqlite3.connect(p)
    sizes = [n for (n,) in db.execute("SELECT n FROM chunks ORDER BY id")]
    db.close()
    assert sum(sizes) == 3 * 9000
    assert len(sizes) <= 3 * 3  # 0.25 s commits were sealed into large chunks


def test_nan_and_odd_values_are_stored_exactly(tmp_path):
    data = synthetic(50)
    seq, ts, th, acc, gyr = data["sacrum"]
    acc = acc.copy()
    acc[3] = [np.nan, -0.0, np.inf]
    acc[4] = [5e-324, 1e308, -1e-300]
    data = {"sacrum": (seq, ts, th, acc, gyr)}
    s = read_recording(write(tmp_path / "s.imu", data))
    assert np.array_equal(s.sensors["sacrum"].acc.view(np.uint64), acc.view(np.uint64))


def test_refuses_to_overwrite_unless_asked(tmp_path):
    p = write(tmp_path / "s.imu", synthetic(100))
    with pytest.raises(BadInputError, match="already exists"):
        RecordingWriter(p, {}, [])
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    with pytest.raises(BadInputError, match="already exists"):
        RecordingWriter(other, {}, [])
    assert other.read_text() == "keep me"
    write(p, synthetic(20), overwrite=True)
    assert len(read_recording(p).sensors["sacrum"]) == 20


def test_unknown_role_is_registered_not_dropped(tmp_path):
    p = tmp_path / "s.imu"
    cols = synthetic(30)["sacrum"]
    with RecordingWriter(p, {}, []) as w:
        w.add_block("trunk", SampleBlock("dev-9", *cols))
    d = read_recording(p).sensors["trunk"]
    assert d.info.sensor_id == "dev-9" and len(d) == 30


def test_reading_while_the_writer_is_open_sees_committed_samples(tmp_path):
    p = tmp_path / "s.imu"
    cols = synthetic(100)["sacrum"]
    w = RecordingWriter(p, {}, [SensorInfo("a", "sacrum")])
    w.add_block("sacrum", SampleBlock("a", *cols))
    w.flush()
    assert len(read_recording(p).sensors["sacrum"]) == 100
    w.close()


@pytest.mark.parametrize("content, what", [
    (b"", "empty file"),
    (b"time_s,acc_x\n1,2\n", "not a recording"),
    (b"SQLite format 3\x00" + b"\x00" * 200, "not an imu recording"),
])
def test_bad_files_are_named_in_one_line(tmp_path, content, what):
    p = tmp_path / "bad.imu"
    p.write_bytes(content)
    assert not is_recording(p)
    with pytest.raises(BadInputError, match=what) as ei:
        read_recording(p)
    assert str(p) in str(ei.value) and "\n" not in str(ei.value)


# The damage tests write with commit_interval_s=3600: every sample is committed at close, so
# the file's layout (which pages a cut keeps) does not depend on when the background flusher
# ran on a loaded machine.


def _subsequence(got, want) -> bool:
    """Whether ``got`` is ``want`` with some values left out, in order."""
    idx = np.searchsorted(want, got)
    return bool(np.all(idx < len(want)) and np.array_equal(want[np.minimum(idx, len(want) - 1)],
                                                            got) and np.all(np.diff(idx) > 0))


@pytest.mark.parametrize("frac", [0.6, 0.9, 0.99])
def test_a_recording_cut_short_is_read_up_to_the_cut_said_in_one_warning(tmp_path, caplog,
                                                                         frac):
    """A copy cut at an arbitrary byte (a killed copy, a full disk): what precedes the cut is
    read, bit-exact, and one warning names the file and the cut; before, nothing was read."""
    import logging

    data = synthetic(9000)
    p = write(tmp_path / "s.imu", data, commit_interval_s=3600.0)  # layout: load-proof
    raw = p.read_bytes()
    cut = tmp_path / "cut.imu"
    cut.write_bytes(raw[: int(len(raw) * frac)])
    caplog.set_level(logging.WARNING, logger="imu")
    s = read_recording(cut)
    assert sum(len(d) for d in s.sensors.values()) >= 9000  # at least one sensor's samples
    for r, cols in data.items():
        d = s.sensors[r]
        assert _subsequence(d.seq, cols[0])
        keep = np.searchsorted(cols[0], d.seq)
        assert np.array_equal(d.acc, cols[3][keep]) and np.array_equal(d.gyr, cols[4][keep])
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert str(cut) in warnings[0].getMessage()
    assert f"truncated recording ({len(raw[: int(len(raw) * frac)])} of {len(raw)} bytes)" \
        in warnings[0].getMessage()


def test_a_damaged_page_in_the_middle_loses_only_what_it_held(tmp_path, caplog):
    """A page of zeros inside the file (bad sector): the chunks stored elsewhere are read."""
    import logging

    data = synthetic(9000)
    p = write(tmp_path / "s.imu", data, commit_interval_s=3600.0)  # layout: load-proof
    raw = bytearray(p.read_bytes())
    k = len(raw) // 4096 // 2
    raw[k * 4096:(k + 1) * 4096] = bytes(4096)
    p.write_bytes(bytes(raw))
    caplog.set_level(logging.WARNING, logger="imu")
    s = read_recording(p)
    n = {r: len(d) for r, d in s.sensors.items()}
    assert sum(n.values()) >= 2 * 9000 and min(n.values()) < 9000, n
    for r, cols in data.items():
        assert _subsequence(s.sensors[r].seq, cols[0])
    assert len(caplog.records) == 1 and str(p) in caplog.records[0].getMessage()


def test_a_damaged_recording_read_by_time_window_gives_the_whole_reads_samples_in_it(tmp_path):
    """A window read goes by the time index, which may be among what is lost: it gives what
    the whole read gives in the window (before the fix, a filtered scan stopped at the damaged
    page and read nothing of two sensors)."""
    data = synthetic(9000)
    p = write(tmp_path / "s.imu", data, commit_interval_s=3600.0)  # layout: load-proof
    raw = bytearray(p.read_bytes())
    for k in range(30, len(raw) // 4096, 9):  # a zeroed page every 9 past the first 30
        raw[k * 4096:(k + 1) * 4096] = bytes(4096)
    p.write_bytes(bytes(raw))
    whole = read_recording(p)
    part = read_recording(p, start_s=10.0, end_s=20.0)
    assert sum(len(d) for d in part.sensors.values()) > 0
    for r, d in whole.sensors.items():
        keep = (d.t_host_s >= 10.0) & (d.t_host_s <= 20.0)
        assert np.array_equal(part.sensors[r].seq, d.seq[keep]), r


@pytest.mark.parametrize("keep", [50, 99, 4096, 8000])
def test_a_recording_cut_before_any_sample_is_one_line(tmp_path, keep):
    p = write(tmp_path / "s.imu", synthetic(3000), commit_interval_s=3600.0)
    raw = p.read_bytes()
    p.write_bytes(raw[:keep])
    with pytest.raises(BadInputError, match="truncated recording.*no sensor data can be read"
                       ) as ei:
        read_recording(p)
    assert str(p) in str(ei.value) and "\n" not in str(ei.value)


def test_a_chunk_of_impossible_structure_is_a_gap(tmp_path, caplog):
    """A chunk claiming more samples than its bytes hold is skipped (never allocated), the rest
    of the recording read; before, it refused the whole recording."""
    import logging

    data = synthetic(300)
    p = write(tmp_path / "s.imu", data)
    db = sqlite3.connect(p)
    cid, role = db.execute("SELECT c.id, s.role FROM chunks c JOIN sensors s ON s.id = c.sensor "
                           "ORDER BY c.id LIMIT 1").fetchone()
    db.execute("UPDATE chunks SET n=? WHERE id=?", (1 << 40, cid))
    db.commit()
    db.close()
    caplog.set_level(logging.WARNING, logger="imu")
    s = read_recording(p)
    assert len(s.sensors[role]) == 0
    assert all(len(d) == 300 for r, d in s.sensors.items() if r != role)
    assert (f"1 sample chunk could not be read (damaged or of impossible structure: chunk {cid} "
            f"of {role})") in caplog.text


def _damage_one_chunk(p, which="min"):
    """Flip bits in the middle of one chunk's data (bit rot: the zlib checksum fails); returns
    (its sensor's role, its first sample, its n)."""
    db = sqlite3.connect(p)
    cid, rid, n, data = db.execute(f"SELECT id, sensor, n, data FROM chunks WHERE id=(SELECT "
                                   f"{which}(id) FROM chunks)").fetchone()
    first = db.execute("SELECT coalesce(sum(n), 0) FROM chunks WHERE sensor=? AND id<?",
                       (rid, cid)).fetchone()[0]
    role = db.execute("SELECT role FROM sensors WHERE id=?", (rid,)).fetchone()[0]
    data = bytearray(data)
    for k in range(len(data) // 2, len(data) // 2 + 8):
        data[k] ^= 0x5A
    db.execute("UPDATE chunks SET data=? WHERE id=?", (bytes(data), cid))
    db.commit()
    db.close()
    return role, first, n


def test_a_damaged_chunk_is_a_gap_and_the_rest_of_the_recording_is_read(tmp_path, caplog):
    import logging

    data = synthetic(300)
    p = write(tmp_path / "s.imu", data)
    caplog.set_level(logging.WARNING, logger="imu")
    role, first, n = _damage_one_chunk(p)
    s = read_recording(p)
    keep = np.r_[0:first, first + n:300]
    for r, cols in data.items():
        want = keep if r == role else np.arange(300)
        assert np.array_equal(s.sensors[r].seq, cols[0][want])
        assert np.array_equal(s.sensors[r].acc, cols[3][want])
    assert s.meta["unreadable_samples"] == {role: n}
    assert f"damaged sample chunks: {n} samples of {role} could not be read" in caplog.text


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(BadInputError, match="no such file"):
        read_recording(tmp_path / "nope.imu")


def test_big_blocks_are_split_into_sealed_chunks(tmp_path):
    data = synthetic(10000)
    p = write(tmp_path / "s.imu", data, block=10000)  # one add_block per sensor
    db = sqlite3.connect(p)
    sizes = sorted(n for (n,) in db.execute("SELECT n FROM chunks"))
    db.close()
    assert sizes == sorted([4096, 4096, 1808] * 3)
    s = read_recording(p)
    assert np.array_equal(s.sensors["left_thigh"].acc, data["left_thigh"][3])


def test_failed_commit_keeps_samples_for_the_next_attempt(tmp_path, monkeypatch):
    from imu.session import codec
    p = tmp_path / "s.imu"
    cols = synthetic(60)["sacrum"]
    w = RecordingWriter(p, {}, [SensorInfo("a", "sacrum")], commit_interval_s=3600)
    w.add_block("sacrum", SampleBlock("a", *(c[:30] for c in cols)))
    real = codec.encode
    def failing(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(codec, "encode", failing)
    with pytest.raises(OSError):
        w.flush()
    monkeypatch.setattr(codec, "encode", real)
    w.add_block("sacrum", SampleBlock("a", *(c[30:] for c in cols)))
    w.close()
    d = read_recording(p).sensors["sacrum"]
    assert np.array_equal(d.seq, cols[0]) and np.array_equal(d.acc, cols[3])


def test_reading_a_time_window_decodes_only_what_overlaps(tmp_path):
    data = synthetic(12000)  # 60 s at 200 Hz, host times from ~0.02 s
    p = write(tmp_path / "s.imu", data)
    s = read_recording(p, start_s=20.0, end_s=25.0)
    for r, cols in data.items():
        th = cols[2]
        keep = (th >= 20.0) & (th <= 25.0)
        d = s.sensors[r]
        assert np.array_equal(d.t_host_s, th[keep]) and np.array_equal(d.acc, cols[3][keep])
    assert [e.kind for e in s.events] == []  # events at 0.5 s and 1.5 s are outside
    assert [e.kind for e in read_recording(p, end_s=1.0).events] == ["note"]


def test_nan_host_times_are_stored(tmp_path):
    seq, ts, th, acc, gyr = synthetic(40)["sacrum"]
    th = np.full_like(th, np.nan)
    p = tmp_path / "s.imu"
    with RecordingWriter(p, {}, [SensorInfo("a", "sacrum")]) as w:
        w.add_block("sacrum", SampleBlock("a", seq, ts, th, acc, gyr))
    assert np.isnan(read_recording(p).sensors["sacrum"].t_host_s).all()
    assert len(read_recording(p, start_s=0.0, end_s=1.0).sensors["sacrum"]) == 0


def test_forked_decoding_reads_the_same_samples(tmp_path, monkeypatch):
    from imu.session import store

    data = synthetic(9000)
    p = write(tmp_path / "s.imu", data)
    plain = read_recording(p)
    monkeypatch.setattr(store, "FORK_MIN_CHUNKS", 0)  # children decode into shared memory
    monkeypatch.setenv("IMU_FORK", "always")
    forked = read_recording(p)
    for r in data:
        a, b = plain.sensors[r], forked.sensors[r]
        for x, y in ((a.seq, b.seq), (a.t_sensor_s, b.t_sensor_s), (a.t_host_s, b.t_host_s),
                     (a.acc, b.acc), (a.gyr, b.gyr)):
            assert x.dtype == y.dtype and np.array_equal(x, y)


def test_forked_decoding_reads_around_a_damaged_chunk(tmp_path, monkeypatch):
    from imu.session import store

    data = synthetic(9000)
    p = write(tmp_path / "s.imu", data)
    role, first, n = _damage_one_chunk(p, "max")
    monkeypatch.setattr(store, "FORK_MIN_CHUNKS", 0)
    monkeypatch.setenv("IMU_FORK", "always")
    s = read_recording(p)
    keep = np.r_[0:first, first + n:9000]
    assert np.array_equal(s.sensors[role].t_host_s, data[role][2][keep])
    assert s.meta["unreadable_samples"] == {role: n}
