"""Crafted and corrupted inputs for every reader, built from a few small seeds.

The corpus is generated, not stored: :func:`build` writes every case into a folder from

- a short simulated recording (calibration + 2 hinge reps, 52 Hz, ~90 kB),
- its CSV-folder export (3 CSVs + ``session.json``),
- the Movella DOT export under ``tests/data/movella_dot``,
- a TOML settings file,

then damages them the ways an attacker or an unlucky disk would (path-traversing roles,
non-UTF-8 text, wrong JSON types, deep nesting, zlib bombs, lying sample counts, NaN/inf and
absurd times, truncations, random byte flips, incoherent settings). Each case is a
:class:`Case`: a name, the path, and which commands read it.

``python tests/corpus/make_corpus.py OUT`` writes the corpus into OUT (for a look by hand);
``tests/test_corpus.py`` and ``python -m bench corpus`` build it in a temporary folder.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOT = HERE.parent / "data" / "movella_dot"


@dataclass
class Case:
    name: str
    path: Path
    #: "session" (info, export, import), "angles" (also angles), "settings" (analyze --settings)
    kind: str = "session"


def make_seeds(folder: Path) -> dict[str, Path]:
    """The good inputs every case starts from (simulated: no fixture files needed)."""
    from imu.cli import main

    folder.mkdir(parents=True, exist_ok=True)
    rec = folder / "seed.imu"
    if not rec.exists():
        rc = main(["simulate", "--exercise", "calibration,hinge", "--reps", "2", "--rate", "52",
                   "--seed", "3", "-o", str(rec), "--quiet"])
        assert rc == 0, rc
    csv = folder / "seed_csv"
    if not csv.exists():
        assert main(["export", str(rec), "-o", str(csv)]) == 0
    toml = folder / "seed.toml"
    toml.write_text("[hinge]\nrep_threshold_deg = 12\n\n[single_leg]\ngreen_deg = 3.5\n")
    sto = folder / "seed.sto"
    if not sto.exists():  # OpenSense orientations, read back as orientation-only sensors
        assert main(["export", str(rec), "-o", str(sto)]) == 0
    xsens = folder / "xsens"
    if not xsens.exists():  # MT Manager .txt exports of a short simulated session
        from imu.sim import simulate
        from imu.sim.vendor_export import write_xsens_exports

        res = simulate("calibration", rate_hz=40, seed=4, errors=False, calibration=False)
        write_xsens_exports(res, xsens, orientation="quat", gyro=True, fine=True)
    return {"recording": rec, "csv": csv, "toml": toml, "sto": sto, "xsens": xsens}


# -- recordings ---------------------------------------------------------------------------------

def _sql(src: Path, dst: Path, *statements, params=()) -> Path:
    shutil.copy(src, dst)
    db = sqlite3.connect(dst)
    for i, st in enumerate(statements):
        db.execute(st, params if i == 0 else ())
    db.commit()
    db.close()
    return dst


def _chunk_blob(columns: list[tuple[int, float, bytes]]) -> bytes:
    head = bytes([2]) + b"".join(struct.pack("<BdI", m, p, len(z)) for m, p, z in columns)
    return head + b"".join(z for _, _, z in columns)


def zlib_bomb(n_bytes: int) -> bytes:
    """A valid zlib stream of ``n_bytes`` zeros (a multiple of 1 MiB) in ~1/1000 of that,
    built without compressing them: one fully flushed deflate segment repeated."""
    mib = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    seg = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush()
    adler = ((n_bytes % 65521) << 16) | 1  # adler32 of n zero bytes
    return b"\x78\xda" + seg * (n_bytes >> 20) + end + struct.pack(">I", adler)


def recording_cases(seed: Path, out: Path) -> list[Case]:
    cases: list[Case] = []

    def sql(name, *st, params=(), kind="session"):
        cases.append(Case(name, _sql(seed, out / f"{name}.imu", *st, params=params), kind))

    first_sensor = "(SELECT min(id) FROM sensors)"
    first_chunk = "(SELECT min(id) FROM chunks)"
    # roles that would name files outside the target, or nothing known
    for i, role in enumerate(["./../../x", "../../../tmp/pwned", "/etc/evil", "sacrum/../../y",
                              "", "SACRUM", "sacrum\x00", "pelvis", "a" * 5000]):
        sql(f"rec_role_{i}", f"UPDATE sensors SET role=? WHERE id={first_sensor}", params=(role,))
    sql("rec_role_not_utf8", f"UPDATE sensors SET role=CAST(x'ff2e2e2f78' AS TEXT) "
        f"WHERE id={first_sensor}")
    sql("rec_role_blob", f"UPDATE sensors SET role=x'2e2e2f2e2e2f78' WHERE id={first_sensor}")
    # sensor rows of the wrong types or out of range
    for i, v in enumerate(["fast", "1e999", "-5", "1e9", "x'00'"]):
        sql(f"rec_rate_{i}", f"UPDATE sensors SET rate_hz={v if v[0] in '-1x' else repr(v)} "
            f"WHERE id={first_sensor}")
    for i, v in enumerate(["'../../intrinsics/evil'", "x'c3'", "'" + "z" * 5000 + "'",
                           "'id\nwith\nnewlines'", "123", "CAST(x'ff' AS TEXT)"]):
        sql(f"rec_sensor_id_{i}", f"UPDATE sensors SET sensor_id={v} WHERE id={first_sensor}")
    sql("rec_same_sensor_id_twice", "UPDATE sensors SET sensor_id='same'")
    for i, v in enumerate(["'[1,2]'", "'not json'", "'" + "[" * 100000 + "]" * 100000 + "'",
                           "CAST(x'7b22ff223a317d' AS TEXT)", "'null'"]):
        sql(f"rec_extra_{i}", f"UPDATE sensors SET extra={v} WHERE id={first_sensor}")
    sql("rec_model_int", f"UPDATE sensors SET model=5 WHERE id={first_sensor}")
    sql("rec_firmware_blob", f"UPDATE sensors SET firmware=x'00ff' WHERE id={first_sensor}")
    # info table
    for i, v in enumerate(["'[]'", "'5'", "'\"text\"'", "'{\"a\": ' || '[' || '1' || ']}'",
                           "'" + '{"a":' * 50000 + "1" + "}" * 50000 + "'",
                           "CAST(x'7b22ff223a317d' AS TEXT)", "x'7b7d'"]):
        sql(f"rec_meta_{i}", f"UPDATE info SET value={v} WHERE key='meta'")
    sql("rec_format_other", "UPDATE info SET value='\"imu.recording/99\"' WHERE key='format'")
    sql("rec_format_missing", "DELETE FROM info WHERE key='format'")
    for i, v in enumerate(["'5'", "'[1]'", "'{\"schema\": 7}'", "'\"x\"'"]):
        sql(f"rec_calibration_{i}", f"UPDATE info SET value={v} WHERE key='calibration'")
    # chunks: codecs, counts, payloads
    for i, v in enumerate(["7", "'x'"]):
        sql(f"rec_chunk_codec_{i}", f"UPDATE chunks SET codec={v} WHERE id={first_chunk}")
    for i, v in enumerate(["0", "-1", "1099511627776", "'x'", "4096000", "1.5"]):
        sql(f"rec_chunk_n_{i}", f"UPDATE chunks SET n={v} WHERE id={first_chunk}")
    for i, v in enumerate(["'text'", "12345", "x'00'", "x'02'", "zeroblob(1000)"]):
        sql(f"rec_chunk_data_{i}", f"UPDATE chunks SET data={v} WHERE id={first_chunk}")
    sql("rec_chunk_orphan", f"UPDATE chunks SET sensor=999 WHERE id={first_chunk}")
    # a zlib bomb: 4096 samples declared, one column inflating to 512 MB
    bomb = zlib_bomb(512 << 20)
    cols = [(3, 0.0, bomb)] + [(0, 0.0, zlib.compress(b"\0" * 8 * 4096))] * 8
    sql("rec_zlib_bomb", f"UPDATE chunks SET data=?, n=4096 WHERE id={first_chunk}",
        params=(_chunk_blob(cols),))
    # decodable chunks with hostile values
    n = 64
    import numpy as np

    def col(x):
        return (0, 0.0, zlib.compress(np.asarray(x, dtype=np.float64).tobytes()))

    seq = (3, 0.0, zlib.compress(np.ones(n, np.int64).tobytes()))
    t = np.arange(n) / 52.0
    good = [seq, col(t), col(t)] + [col(np.zeros(n))] * 2 + [col(np.full(n, 9.81))] + \
        [col(np.zeros(n))] * 3
    variants = {
        "rec_values_nan": [seq, col(t), col(t), col(np.full(n, np.nan))] + good[4:],
        "rec_values_inf": [seq, col(t), col(t)] + [col(np.full(n, np.inf))] * 6,
        "rec_times_nan": [seq, col(np.full(n, np.nan)), col(np.full(n, np.nan))] + good[3:],
        "rec_times_huge": [seq, col(t + 1e300), col(t + 1e300)] + good[3:],
        "rec_times_span_1e7": [seq, col(np.r_[t[:-1], 1e7]), col(np.r_[t[:-1], 1e7])] + good[3:],
        "rec_times_duplicate": [seq, col(np.zeros(n)), col(np.zeros(n))] + good[3:],
        "rec_seq_backwards": [(3, 0.0, zlib.compress((-np.ones(n, np.int64)).tobytes()))] + good[1:],
        "rec_method_unknown": [(99, 0.0, good[3][2])] + good[1:],
        "rec_scale_nan": good[:3] + [(4, float("nan"), zlib.compress(np.zeros(n, np.int16)
                                                                       .tobytes()))] + good[4:],
        "rec_scale_zero": good[:3] + [(5, 0.0, zlib.compress(np.zeros(n, np.int32).tobytes()))]
        + good[4:],
        "rec_short_column": good[:3] + [col(np.zeros(n - 1))] + good[4:],
    }
    for name, cols in variants.items():
        sql(name, f"UPDATE chunks SET data=?, n={n} WHERE id={first_chunk}",
            params=(_chunk_blob(cols),), kind="angles")
    cols = list(good)
    cols[3] = (0, 0.0, good[3][2])
    blob = bytearray(_chunk_blob(cols))
    struct.pack_into("<I", blob, 1 + 3 * 13 + 9, 0xFFFFFFF0)  # column 3 claims 4 GB
    sql("rec_nbytes_lie", f"UPDATE chunks SET data=?, n={n} WHERE id={first_chunk}",
        params=(bytes(blob),))
    # events
    for i, (col_, v) in enumerate([("t_s", "'x'"), ("t_s", "1e999"), ("kind", "'bad kind\n'"),
                                   ("exercise", "5"), ("exercise", "'flying'"),
                                   ("side", "'middle'"), ("data", "'[]'"), ("data", "'{'"),
                                   ("note", "zeroblob(10)"), ("kind", "x'ff'")]):
        sql(f"rec_event_{i}", "INSERT INTO events (t_s, kind, exercise, side, note, data) "
            "VALUES (1.0, 'note', NULL, NULL, 'n', '{}')",
            f"UPDATE events SET {col_}={v} WHERE id=(SELECT max(id) FROM events)")
    # structure
    sql("rec_no_sensors_table", "DROP TABLE sensors")
    sql("rec_no_chunks_table", "DROP TABLE chunks")
    sql("rec_chunks_as_view", "DROP TABLE events", "CREATE VIEW events AS SELECT 1")
    # truncations and random damage
    raw = seed.read_bytes()
    for i, frac in enumerate([0.0, 0.01, 0.1, 0.33, 0.5, 0.9, 0.999]):
        p = out / f"rec_truncated_{i}.imu"
        p.write_bytes(raw[:max(int(len(raw) * frac), 0)])
        cases.append(Case(p.stem, p))
    rng = random.Random(11)
    for i in range(16):
        b = bytearray(raw)
        for _ in range(1 + i * 4):
            k = rng.randrange(100, len(b))
            b[k] = rng.randrange(256)
        p = out / f"rec_flipped_{i}.imu"
        p.write_bytes(bytes(b))
        cases.append(Case(p.stem, p))
    hdr = bytearray(raw)
    hdr[16:18] = b"\x00\x03"  # impossible page size
    (out / "rec_bad_page_size.imu").write_bytes(bytes(hdr))
    cases.append(Case("rec_bad_page_size", out / "rec_bad_page_size.imu"))
    return cases


# -- CSV folders --------------------------------------------------------------------------------

def csv_cases(seed: Path, out: Path) -> list[Case]:
    cases: list[Case] = []
    sj = json.loads((seed / "session.json").read_text())

    def folder(name, *, json_text=None, json_doc=None, edit=None, kind="session"):
        d = out / name
        shutil.copytree(seed, d)
        if json_doc is not None:
            json_text = json.dumps(json_doc)
        if json_text is not None:
            (d / "session.json").write_bytes(json_text if isinstance(json_text, bytes)
                                             else json_text.encode())
        if edit:
            edit(d)
        cases.append(Case(name, d, kind))

    def doc(**changes):
        d = json.loads(json.dumps(sj))
        for k, v in changes.items():
            d[k] = v
        return d

    def sensor(**kv):
        d = json.loads(json.dumps(sj))
        d["sensors"]["sacrum"].update(kv)
        return d

    folder("csv_json_sensors_list", json_doc=doc(sensors=[1, 2]))
    folder("csv_json_sensor_string", json_doc=doc(sensors={"sacrum": "x"}))
    folder("csv_json_role_traversal", json_doc=doc(sensors={"../../x": {"sensor_id": "a"}}))
    for i, kv in enumerate([{"rate_hz": "fast"}, {"rate_hz": 1e400}, {"rate_hz": -3},
                            {"rate_hz": True}, {"sensor_id": 5}, {"sensor_id": "a\x00b"},
                            {"sensor_id": ["x"]}, {"model": {}}, {"extra": [1]},
                            {"firmware": "f" * 100000}]):
        folder(f"csv_json_sensor_{i}", json_doc=sensor(**kv))
    for i, ev in enumerate([5, {"t_s": "x", "kind": "note"}, {"t_s": 1e400, "kind": "note"},
                            {"kind": "note"}, {"t_s": 1, "kind": 7},
                            {"t_s": 1, "kind": "set_start", "exercise": 9},
                            {"t_s": 1, "kind": "set_start", "exercise": "flying"},
                            {"t_s": 1, "kind": "set_start", "side": "up"},
                            {"t_s": 1, "kind": "note", "data": [1]},
                            {"t_s": 1, "kind": "note", "note": {"a": 1}}]):
        folder(f"csv_json_event_{i}", json_doc=doc(events=[ev]))
    folder("csv_json_events_dict", json_doc=doc(events={"a": 1}))
    folder("csv_json_meta_list", json_doc=doc(meta=[1]))
    folder("csv_json_calibration_list", json_doc=doc(calibration=[1]))
    folder("csv_json_calibration_junk", json_doc=doc(calibration={"schema": "x", "sensors": 5}),
           kind="angles")
    folder("csv_json_deep", json_text='{"schema": "imu.session/1", "meta": '
           + "[" * 200000 + "]" * 200000 + "}")
    folder("csv_json_deep_dicts", json_text='{"schema": "imu.session/1", "meta": '
           + '{"a":' * 100 + "1" + "}" * 100 + "}")
    folder("csv_json_not_utf8", json_text=b'{"schema": "imu.session/1", "meta": {"\xff": 1}}')
    folder("csv_json_truncated", json_text=json.dumps(sj)[:50])
    folder("csv_json_nan", json_text=json.dumps(sj).replace('"rate_hz": 52', '"rate_hz": NaN'))

    def csv_edit(fn):
        def edit(d):
            p = d / "sacrum.csv"
            p.write_bytes(fn(p.read_bytes()))
        return edit

    lines = (seed / "sacrum.csv").read_bytes().splitlines(keepends=True)
    folder("csv_cell_not_utf8", edit=csv_edit(lambda b: b.replace(b"\n0.", b"\n\xff0.", 1)))
    folder("csv_header_not_utf8", edit=csv_edit(lambda b: b"\xfe\xff" + b))
    folder("csv_header_only", edit=csv_edit(lambda b: lines[0]))
    folder("csv_empty", edit=csv_edit(lambda b: b""))
    folder("csv_missing_column", edit=csv_edit(lambda b: b.replace(b"gyr_z", b"gyr_q", 1)))
    folder("csv_time_backwards", edit=csv_edit(lambda b: b"".join([lines[0], lines[5]]
                                                                   + lines[1:5] + lines[6:])))
    folder("csv_last_time_1e7", kind="angles",
           edit=csv_edit(lambda b: b + b"10000000.0,0,0,9.81,0,0,0\n"))
    folder("csv_time_1e300", edit=csv_edit(lambda b: b + b"1e300,0,0,9.81,0,0,0\n"),
           kind="angles")
    folder("csv_value_1e400", edit=csv_edit(lambda b: b + b"1e6,1e400,0,9.81,0,0,0\n"))
    folder("csv_time_nan", edit=csv_edit(lambda b: b + b"nan,0,0,9.81,0,0,0\n"))
    folder("csv_values_nan", kind="angles",
           edit=csv_edit(lambda b: b"".join([lines[0]] + [
               ln.replace(b",", b",nan,", 1) if 100 < i < 140 else ln
               for i, ln in enumerate(lines[1:])]).replace(b",nan,", b",nan,", 1)))
    folder("csv_duplicate_rows", kind="angles",
           edit=csv_edit(lambda b: b"".join([lines[0]] + [ln for ln in lines[1:] for _ in (0, 1)])))
    folder("csv_short_row", edit=csv_edit(lambda b: b + b"1e3,1,2\n"))
    folder("csv_one_row", edit=csv_edit(lambda b: b"".join(lines[:2])), kind="angles")
    folder("csv_nul_bytes", edit=csv_edit(lambda b: b.replace(b"\n", b"\n\0", 3)))
    folder("csv_long_line", edit=csv_edit(lambda b: b + b"1," * 200000 + b"\n"))
    folder("csv_symlinked_role", edit=lambda d: ((d / "trunk.csv").symlink_to("/etc/passwd")))
    return cases


# -- Movella DOT exports ------------------------------------------------------------------------

def dot_cases(out: Path) -> list[Case]:
    cases: list[Case] = []
    src = DOT / "DOT_sacrum_20240312_101502.csv"
    raw = src.read_bytes()
    text_lines = raw.splitlines(keepends=True)
    hdr = next(i for i, ln in enumerate(text_lines) if ln.startswith(b"PacketCounter"))

    def dot(name, data: bytes):
        p = out / f"DOT_sacrum_{name}.csv"
        p.write_bytes(data)
        cases.append(Case(f"dot_{name}", p))

    body = text_lines[hdr + 1:]
    dot("not_utf8", raw.replace(b"\n", b"\n\xff", 1))
    dot("header_only", b"".join(text_lines[:hdr + 1]))
    dot("gyro_inf", b"".join(text_lines[:hdr + 1] + [body[0].replace(b",", b",1e999,", 1)]
                             + body[1:]))
    dot("counter_text", b"".join(text_lines[:hdr + 1] + [b"abc" + body[0][1:]] + body[1:]))
    dot("short_rows", b"".join(text_lines[:hdr + 1] + [ln[:10] + b"\n" for ln in body]))
    dot("time_1e15", b"".join(text_lines[:hdr + 1] + body
                              + [body[-1].replace(body[-1].split(b",")[1], b"999999999999999")]))
    dot("preamble_flood", b"Key:,value\n" * 100000 + raw)
    dot("truncated", raw[:len(raw) // 3])
    dot("nul", raw.replace(b",", b",\0", 5))
    return cases


# -- Xsens MT Manager .txt and OpenSense .sto ----------------------------------------------------

def _line_cases(src: Path, out: Path, prefix: str, suffix: str) -> list[Case]:
    raw = src.read_bytes()
    lines = raw.splitlines(keepends=True)
    mid = len(lines) // 2
    damage = {
        "not_utf8": raw.replace(b"\n", b"\n\xff", 3),
        "truncated": raw[:len(raw) // 3],
        "header_only": b"".join(lines[:min(len(lines), 8)]),
        "nan_inf": b"".join(lines[:mid] + [ln.replace(b"0.", b"nan", 1).replace(b"1.", b"inf", 1)
                                           for ln in lines[mid:]]),
        "huge_time": b"".join(lines[:mid] + [b"1e300" + ln[ln.find(b"\t") if b"\t" in ln
                                                           else 0:] for ln in lines[mid:mid + 3]]
                              + lines[mid + 3:]),
        "short_rows": b"".join(lines[:mid] + [ln[:7] + b"\n" for ln in lines[mid:]]),
        "nul": raw.replace(b"\t", b"\t\0", 20),
        "long_line": raw + b"\t1" * 200000 + b"\n",
        "empty": b"",
    }
    cases = []
    for name, data in damage.items():
        p = out / f"{prefix}_{name}{suffix}"
        p.write_bytes(data)
        cases.append(Case(f"{prefix}_{name}", p))
    return cases


def xsens_cases(folder: Path, out: Path) -> list[Case]:
    src = sorted(folder.glob("*.txt"))[0]
    return _line_cases(src, out, "xsens", src.suffix)


def sto_cases(sto: Path, out: Path) -> list[Case]:
    return _line_cases(sto, out, "sto", ".sto")


# -- settings -----------------------------------------------------------------------------------

def settings_cases(out: Path) -> list[Case]:
    items = {
        "inf": "[hinge]\nrep_threshold_deg = inf\n",
        "huge": "[hinge]\nrep_threshold_deg = 1e400\n",
        "nan": "[hinge]\nrep_threshold_deg = nan\n",
        "not_utf8": b"[hinge]\nrep_threshold_deg = 1 # \xff\n",
        "bands_reversed": "[single_leg]\ngreen_deg = 20\namber_deg = 2\n",
        "zero_threshold": "[hinge]\nrep_threshold_deg = 0\n",
        "flag_7": "[single_leg]\nreference_standing = 7\n",
        "bool": "[hinge]\nrep_threshold_deg = true\n",
        "string": "[hinge]\nrep_threshold_deg = \"x\"\n",
        "nested": "[hinge.deeper]\nx = 1\n",
        "top_level_value": "x = 1\n",
        "unknown_key": "[hinge]\nnope = 1\n",
        "deep_arrays": "[hinge]\nrep_threshold_deg = " + "[" * 5000 + "]" * 5000 + "\n",
        "max_float": "[hinge]\nmin_rep_s = 1e308\n",
    }
    cases = []
    for name, text in items.items():
        p = out / f"settings_{name}.toml"
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
        cases.append(Case(f"settings_{name}", p, "settings"))
    return cases


def build(folder: Path, seeds: dict[str, Path] | None = None) -> list[Case]:
    """Write every case into ``folder`` (seeds included); returns the cases."""
    folder = Path(folder)
    seeds = seeds or make_seeds(folder / "seeds")
    cases = []
    for sub, fn in (("rec", lambda o: recording_cases(seeds["recording"], o)),
                    ("csv", lambda o: csv_cases(seeds["csv"], o)),
                    ("dot", dot_cases), ("settings", settings_cases),
                    ("xsens", lambda o: xsens_cases(seeds["xsens"], o)),
                    ("sto", lambda o: sto_cases(seeds["sto"], o))):
        o = folder / sub
        o.mkdir(parents=True, exist_ok=True)
        cases += fn(o)
    return cases


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    made = build(target)
    print(f"{len(made)} cases in {target}")


def commands(case: Case, seeds: dict[str, Path], target: Path) -> list[list[str]]:
    """The command lines that read ``case``, each writing only under ``target``."""
    p = str(case.path)
    if case.kind == "settings":
        return [["analyze", str(seeds["recording"]), "--settings", p, "--json",
                 str(target / "a.json")]]
    out = [["info", p], ["export", p, "-o", str(target / "export")],
           ["import", p, "-o", str(target / "imported.imu")]]
    if case.kind == "angles":
        out.append(["angles", p, "-o", str(target / "angles.csv")])
    return out
