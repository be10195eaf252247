"""Property-based fuzzing (hypothesis, bounded: a few seconds per reader) of every reader of
untrusted bytes: recordings, CSV folders, ``session.json``, Movella DOT exports, Xsens MT
Manager exports, OpenSense ``.sto``, TOML settings and every BLE frame kind. The only outcomes allowed are a value or the reader's own one-line
error (BadInputError / MalformedPacket): never another exception, never a crash."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imu.analysis.settings import Settings
from imu.errors import BadInputError
from imu.session.csvfolder import read_csv_folder, write_csv_folder
from imu.session.movella import read_dot
from imu.session.store import RecordingWriter, read_recording
from imu.sources.ble import protocol as P
from imu.sources.ble.decoder import (MalformedPacket, StreamTracker, decode_control_response,
                                     decode_info, decode_notification)
from imu.sources.ble.vendors import (decode_movella_rate_quantities, decode_polar_pmd,
                                     decode_witmotion)
from imu.types import Event, SampleBlock, SensorData, SensorInfo, Session

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
DOT = Path(__file__).parent / "data" / "movella_dot" / "DOT_sacrum_20240312_101502.csv"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=12)
sql_values = (st.none() | st.integers(min_value=-2**63, max_value=2**63 - 1) | st.floats()
              | st.text(max_size=30) | st.binary(max_size=60))


def _session(n=300) -> Session:
    rng = np.random.default_rng(0)
    t = np.arange(n) / 100.0
    sensors = {}
    for role in ("sacrum", "right_thigh"):
        sensors[role] = SensorData(SensorInfo(f"id-{role}", role, "test", 100.0), np.arange(n),
                                   t.copy(), t.copy(), np.round(rng.normal(size=(n, 3)), 3),
                                   np.round(rng.normal(size=(n, 3)), 3))
    return Session({"subject": "x"}, sensors, [Event(0.5, "note", note="hello")])


@pytest.fixture(scope="module")
def seed_recording(tmp_path_factory):
    p = tmp_path_factory.mktemp("fuzz") / "seed.imu"
    s = _session()
    with RecordingWriter(p, s.meta, [d.info for d in s.sensors.values()]) as w:
        for role, d in s.sensors.items():
            w.add_block(role, SampleBlock(d.info.sensor_id, d.seq, d.t_sensor_s, d.t_host_s,
                                          d.acc, d.gyr))
        for e in s.events:
            w.add_event(e)
    return p


@pytest.fixture(scope="module")
def seed_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz") / "csv"
    write_csv_folder(_session(), d)
    return d


def _reads_or_refuses(fn, *args):
    try:
        return fn(*args)
    except BadInputError as exc:
        assert "\n" not in exc.message
        return None


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(100, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=40))
def test_recordings_with_damaged_bytes(seed_recording, tmp_path, flips):
    raw = bytearray(seed_recording.read_bytes())
    for pos, b in flips:
        raw[pos % len(raw)] = b
    p = tmp_path / "f.imu"
    p.write_bytes(bytes(raw))
    _reads_or_refuses(read_recording, p)


COLUMNS = [("sensors", c) for c in ("sensor_id", "role", "model", "rate_hz", "firmware", "extra")] \
    + [("chunks", c) for c in ("n", "codec", "seq_first", "t_host_min_s", "data")] \
    + [("events", c) for c in ("t_s", "kind", "exercise", "side", "note", "data")] \
    + [("info", "value")]


@FUZZ
@given(where=st.sampled_from(COLUMNS), value=sql_values)
def test_recordings_with_hostile_field_values(seed_recording, tmp_path, where, value):
    p = tmp_path / "v.imu"
    shutil.copy(seed_recording, p)
    db = sqlite3.connect(p)
    try:
        db.execute(f"UPDATE {where[0]} SET {where[1]}=? WHERE rowid=(SELECT min(rowid) FROM "
                   f"{where[0]})", (value,))
        db.commit()
    except sqlite3.IntegrityError:  # NOT NULL / UNIQUE: the file cannot hold it
        return
    finally:
        db.close()
    s = _reads_or_refuses(read_recording, p)
    if s is not None:
        for d in s.sensors.values():
            assert d.acc.shape == (len(d), 3)


@FUZZ
@given(chunk=st.binary(max_size=400), n=st.integers(-5, 5000))
def test_recording_chunks_of_random_bytes(seed_recording, tmp_path, chunk, n):
    p = tmp_path / "c.imu"
    shutil.copy(seed_recording, p)
    db = sqlite3.connect(p)
    db.execute("UPDATE chunks SET data=?, n=? WHERE id=(SELECT min(id) FROM chunks)",
               (bytes([2]) + chunk, n))
    db.commit()
    db.close()
    _reads_or_refuses(read_recording, p)


cells = st.one_of(st.floats(), st.integers(), st.text(max_size=12),
                  st.sampled_from(["nan", "inf", "-inf", "1e400", "", " ", "0x10", "1,2"]))


@FUZZ
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=9), min_size=0, max_size=20),
       header=st.booleans())
def test_sensor_csvs_with_random_rows(seed_folder, tmp_path, rows, header):
    d = tmp_path / "csv"
    shutil.copytree(seed_folder, d, dirs_exist_ok=True)
    text = ("time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n" if header else "") + "".join(
        ",".join(str(c) for c in r) + "\n" for r in rows)
    (d / "sacrum.csv").write_text(text, encoding="utf-8")
    _reads_or_refuses(read_csv_folder, d)


@FUZZ
@given(key=st.sampled_from(["meta", "sensors", "events", "calibration", "schema"]),
       value=json_values, sensor_field=st.sampled_from(["sensor_id", "model", "rate_hz",
                                                        "firmware", "extra", None]))
def test_session_json_with_random_values(seed_folder, tmp_path, key, value, sensor_field):
    d = tmp_path / "sj"
    shutil.copytree(seed_folder, d, dirs_exist_ok=True)
    doc = json.loads((d / "session.json").read_text())
    if sensor_field is not None and key == "sensors":
        doc["sensors"]["sacrum"][sensor_field] = value
    elif key == "events":
        doc["events"] = [value] if not isinstance(value, list) else value
    else:
        doc[key] = value
    (d / "session.json").write_text(json.dumps(doc), encoding="utf-8")
    _reads_or_refuses(read_csv_folder, d)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 400), st.text(max_size=30)), min_size=1,
                      max_size=8))
def test_dot_exports_with_damaged_lines(tmp_path, edits):
    lines = DOT.read_text(encoding="utf-8").splitlines()
    for k, text in edits:
        lines[k % len(lines)] = text
    p = tmp_path / DOT.name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _reads_or_refuses(read_dot, p)


toml_scalars = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                         st.booleans(), st.text(max_size=10))


@FUZZ
@given(table=st.dictionaries(st.sampled_from(["hinge", "single_leg", "airplane", "squat",
                                              "posture", "common", "nope"]),
                             st.dictionaries(st.sampled_from([
                                 "rep_threshold_deg", "return_band_deg", "green_deg",
                                 "amber_deg", "reference_standing", "min_rep_s",
                                 "score_share_target", "baseline_window_s", "x"]),
                                 toml_scalars, max_size=4), max_size=4),
       junk=st.binary(max_size=20))
def test_toml_settings_with_random_values(tmp_path, table, junk):
    def toml_value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "inf" if math.isinf(v) and v > 0 else "-inf" if math.isinf(v) else repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        return str(v)

    text = "".join(f"[{sec}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in kv.items())
                   for sec, kv in table.items())
    p = tmp_path / "s.toml"
    p.write_bytes(text.encode() + (b"# " + junk if junk else b""))
    s = _reads_or_refuses(Settings.from_toml, p)
    if s is not None:
        assert s["single_leg.green_deg"] < s["single_leg.amber_deg"]
        assert all(math.isfinite(v) for v in s.values.values())


@FUZZ
@given(data=st.binary(max_size=300))
def test_every_ble_frame_kind_decodes_or_is_malformed(data):
    from imu.sources.ble import dot as D

    dot = [lambda b, m=m: D.decode_payload(m, b) for m in D.PAYLOAD_MODES.values()]
    for decode in (decode_notification, decode_control_response, decode_info,
                   decode_movella_rate_quantities, decode_witmotion,
                   lambda b: decode_polar_pmd(b, rate_hz=52.0), *dot, D.parse_message,
                   D.DeviceControl.from_bytes, D.DeviceInfo.from_bytes):
        try:
            decode(data)
        except MalformedPacket:
            pass


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(["v", "id", "model", "fw", "rate_hz", "rates_hz",
                                                "acc_range_g", "gyr_range_dps", "acc_scale",
                                                "gyr_scale", "tick_s", "batch"]),
                               json_values, min_size=1, max_size=3))
def test_info_characteristic_with_random_values(changes):
    d = json.loads(P.SensorConfig("abc", "m", "fw").info_bytes())
    d.update(changes)
    try:
        info = decode_info(json.dumps(d).encode())
    except MalformedPacket:
        return
    StreamTracker(info.sensor_id, info.acc_scale, info.gyr_scale, info.rate_hz, info.tick_s)


@FUZZ
@given(packets=st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
                                  st.integers(1, 20), st.integers(0, 2**16 - 1)),
                        min_size=1, max_size=30))
def test_stream_tracker_survives_any_well_formed_sequence(packets):
    """Any order of sequence numbers and clock values: counted, never raising, monotonic."""
    tr = StreamTracker("s", 0.002, 0.001, 104.0, P.TICK_S)
    last = None
    for k, (seq, t0, n, dt) in enumerate(packets):
        pkt = P.encode_batch(seq, t0, max(dt, 1), [(1, 2, 3, 4, 5, 6)] * n)
        blk = tr.feed(pkt, 0.01 * k)
        if blk is not None and len(blk):
            assert np.all(np.diff(blk.seq) == 1)
            if last is not None:
                assert blk.seq[0] > last
            last = int(blk.seq[-1])


@pytest.fixture(scope="module")
def foreign_seeds(tmp_path_factory):
    """A small OpenSense .sto (written here) and Xsens MT Manager .txt exports (simulated)."""
    from imu.sim import simulate
    from imu.sim.vendor_export import write_xsens_exports

    d = tmp_path_factory.mktemp("foreign")
    rng = np.random.default_rng(2)
    q = rng.normal(size=(200, 3, 4))
    q /= np.linalg.norm(q, axis=2, keepdims=True)
    rows = [f"{k / 50:.6f}\t" + "\t".join(",".join(f"{v:.6f}" for v in q[k, j]) for j in range(3))
            for k in range(200)]
    sto = d / "s.sto"
    sto.write_text("DataRate=50.000000\nDataType=Quaternion\nversion=3\nOpenSimVersion=4.6\n"
                   "endheader\ntime\tpelvis_imu\tfemur_r_imu\tfemur_l_imu\n" + "\n".join(rows)
                   + "\n")
    res = simulate("calibration", rate_hz=25, seed=4, errors=False, calibration=False)
    txt = sorted(write_xsens_exports(res, d / "xsens", orientation="quat", gyro=True))[0]
    return sto, txt


@FUZZ
@given(which=st.sampled_from([0, 1]), edits=st.lists(
    st.tuples(st.integers(0, 10**5), st.text(max_size=40)), min_size=1, max_size=6))
def test_sto_and_xsens_exports_with_damaged_lines(foreign_seeds, tmp_path, which, edits):
    from imu.session.load import load_session

    src = foreign_seeds[which]
    lines = src.read_text(encoding="utf-8").splitlines()
    for k, text in edits:
        lines[k % len(lines)] = text
    p = tmp_path / src.name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _reads_or_refuses(load_session, p, {p.name: "sacrum"})
