"""Files written by real sensors and vendor software (``/work/shared/data/real``; see its
README). Read from there at test time, skipped when the folder is absent (a clean clone)."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
import pytest

from imu import quat as Q
from imu.cli import main
from imu.session.load import load_session
from imu.session.movella import read_dot_csv
from imu.session.sto import read_sto
from imu.session.store import read_recording
from imu.timing import resample_quat

REAL = Path(os.environ.get("IMU_REAL_DATA", Path(__file__).resolve().parents[3] / "shared" /
                           "data" / "real"))
if not REAL.is_dir():
    REAL = Path("/work/shared/data/real")
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="real sensor files not available")

OFFLINE = REAL / "dot_offline_2021"
REALTIME = REAL / "dot_realtime_2021"
XSENS = REAL / "xsens_mt_opensense"
OFFLINE_ROLES = ["--role", "yao=sacrum", "--role", "ydt=right_thigh", "--role", "bei=trunk"]
XSENS_ROLES = ["--role", "00B42279=sacrum", "--role", "00B4227C=right_thigh", "--role",
               "00B421EE=left_thigh"]


def run(argv, capsys):
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err.strip().splitlines()


def test_dot_offline_clocks_refused_then_aligned(tmp_path, capsys):
    out = tmp_path / "s.imu"
    rc, _, err = run(["import", OFFLINE, *OFFLINE_ROLES, "-o", out], capsys)
    assert rc == 2 and not out.exists()
    assert len(err) == 1 and "error:" in err[0] and "do not overlap" in err[0]  # one line
    assert all(t in err[0] for t in ("yao", "ydt", "bei"))
    rc, _, err = run(["import", OFFLINE, *OFFLINE_ROLES, "--align", "start", "-o", out], capsys)
    assert rc == 0
    notes = [ln for ln in err if "note:" in ln]
    assert len(notes) == 2 and "ydb" in notes[0] and "yxb" in notes[1]  # the arm sensors
    s = read_recording(out)
    assert s.meta["clock_alignment"] == "start"
    for tag, role in (("yao", "sacrum"), ("ydt", "right_thigh"), ("bei", "trunk")):
        d = s.sensors[role]
        f = next(OFFLINE.glob(f"{tag}_*.csv"))
        _, cols = read_dot_csv(f)
        n_rows = sum(1 for ln in f.read_text().splitlines()[8:] if ln.strip())
        assert d.info.rate_hz == 120.0 and d.info.extra["zero_rows_dropped"] == 1
        assert len(d) == n_rows - 1 and np.all(np.linalg.norm(d.acc, axis=1) > 1.0)
        raw = np.loadtxt(f, delimiter=",", skiprows=9, usecols=(8, 9, 10))
        assert np.allclose(d.gyr, np.radians(raw), atol=1e-12)  # deg/s in the file
        assert d.t_host_s[0] == 0.0
    rc, info, _ = run(["info", out], capsys)
    assert rc == 0 and "120" in info and "--align start" in info


def test_dot_offline_angles_never_nan_columns_with_exit_0(tmp_path, capsys):
    out = tmp_path / "s.imu"
    assert run(["import", OFFLINE, *OFFLINE_ROLES, "--align", "start", "-o", out], capsys)[0] == 0
    rc, _, err = run(["angles", out, "-o", tmp_path / "a.csv"], capsys)
    if rc == 0:
        a = np.genfromtxt(tmp_path / "a.csv", delimiter=",", names=True)
        for c in a.dtype.names:
            assert np.isfinite(a[c]).any(), c
        assert any("calibration: method" in ln for ln in err)
    else:
        assert rc == 2 and "error:" in err[-1] and "calibration" in err[-1]
        assert not (tmp_path / "a.csv").exists()


def test_dot_realtime_maps_itself_and_keeps_its_orientation_in_sto(tmp_path, capsys):
    out = tmp_path / "r.imu"
    rc, _, err = run(["import", REALTIME, "-o", out], capsys)
    assert rc == 0, err
    s = read_recording(out)
    assert s.roles == ["sacrum", "right_thigh", "left_thigh"]
    assert all(d.kind == "orientation" and d.info.rate_hz == 60.0 for d in s.sensors.values())
    sto = tmp_path / "r.sto"
    assert run(["export", out, "--format", "sto", "-o", sto], capsys)[0] == 0
    t, rate, cols = read_sto(sto)
    assert rate == 60.0
    t0 = min(float(read_dot_csv(f)[1]["t_sensor_s"][0]) for f in REALTIME.glob("*.csv"))
    for col, stem in (("pelvis_imu", "Pelvis"), ("femur_r_imu", "RFemur"),
                      ("femur_l_imu", "LFemur")):
        _, c = read_dot_csv(next(REALTIME.glob(f"{stem}_*.csv")))
        ts = c["t_sensor_s"] - t0
        q_file = resample_quat(ts, c["quat"], t, max_gap_s=5 / 60)  # the file's, at .sto rows
        ok = np.all(np.isfinite(cols[col]), axis=1) & np.all(np.isfinite(q_file), axis=1)
        assert ok.sum() > 0.9 * np.all(np.isfinite(q_file), axis=1).sum() > 100
        z = np.tile([0.0, 0.0, 1.0], (int(ok.sum()), 1))
        up_sto = Q.rotate(Q.conj(Q.normalize(cols[col][ok])), z)
        up_dot = Q.rotate(Q.conj(Q.normalize(q_file[ok])), z)
        incl = np.degrees(np.arccos(np.clip(np.sum(up_sto * up_dot, axis=1), -1, 1)))
        assert incl.max() < 0.5, (col, incl.max())


@functools.lru_cache(maxsize=None)
def _xsens_session():
    return load_session(XSENS, {"00B42279": "sacrum", "00B4227C": "right_thigh",
                                "00B421EE": "left_thigh"})


def test_xsens_mt_imports_with_rates_and_durations():
    s = _xsens_session()
    for role, n in (("sacrum", 2493), ("right_thigh", 2474), ("left_thigh", 2452)):
        d = s.sensors[role]
        assert len(d) == n and d.info.rate_hz == 100.0 and d.kind == "orientation"
        assert d.t_host_s[-1] - d.t_host_s[0] == pytest.approx((n - 1) / 100.0)
        # the matrix is R_GS: the sensor's specific force at rest points up in the earth frame
        up = Q.rotate(d.quat[:100], d.acc[:100])
        assert np.allclose(up.mean(axis=0), [0, 0, 9.81], atol=0.15)


def test_xsens_walking_auto_calibration_gives_physiological_hip_angles(tmp_path, capsys):
    out = tmp_path / "w.imu"
    assert run(["import", XSENS, *XSENS_ROLES, "-o", out], capsys)[0] == 0
    rc, _, err = run(["angles", out, "-o", tmp_path / "w.csv"], capsys)
    assert rc == 0 and any("method auto" in ln for ln in err)
    a = np.genfromtxt(tmp_path / "w.csv", delimiter=",", names=True)
    stand = a["time_s"] < 4.0
    for side in ("right", "left"):
        assert abs(np.nanmean(a[f"{side}_hip_flexion"][stand])) < 3.0
    rc, _, err = run(["analyze", out, "--json", tmp_path / "w.json"], capsys)
    assert rc == 0
    res = json.loads((tmp_path / "w.json").read_text())
    walks = [s for s in res["sets"] if s["exercise"] == "walking"]
    assert walks and walks[0]["inferred"] and res["session"]["calibration_method"] == "auto"
    strides = [r for w in walks for r in w["strides"]]
    assert len(strides) >= 12
    for side in ("right", "left"):
        rng = [r["hip_flexion_range_deg"] for r in strides if r["side"] == side]
        assert len(rng) >= 6 and 30.0 <= np.median(rng) <= 50.0
    assert 70 <= walks[0]["cadence_steps_per_min"] <= 130


def test_dot_acc_and_gyr_names_swapped_are_one_line_naming_the_file(tmp_path, capsys):
    """The thigh's gyro (°/s) read as m/s² has a plausible median (43): before, angles came out
    wrong without a word (given a calibration) or calibration said 'no quiet standing'."""
    for f in (next(OFFLINE.glob("yao_*.csv")), next(OFFLINE.glob("ydt_*.csv"))):
        (tmp_path / f.name).write_text(f.read_text().replace(
            "Acc_X,Acc_Y,Acc_Z,Gyr_X,Gyr_Y,Gyr_Z", "Gyr_X,Gyr_Y,Gyr_Z,Acc_X,Acc_Y,Acc_Z"))
    # the sacrum's median |acc| is 67, the thigh's 43 (plausible): each is named
    for yao, named in (("sacrum", "(sacrum, file yao_"), ("skip", "(right_thigh, file ydt_")):
        rc, _, err = run(["angles", tmp_path, "--role", f"yao={yao}", "--role", "ydt=right_thigh",
                          "--align", "start", "-o", tmp_path / "a.csv"], capsys)
        assert rc == 2 and "acc and gyr columns look swapped" in err[-1] and named in err[-1], err
        assert not (tmp_path / "a.csv").exists()
    from imu.session.validate import implausible_units

    s = load_session(OFFLINE, {"yao": "sacrum", "ydt": "right_thigh"}, align="start")
    assert all(implausible_units(d) is None for d in s.sensors.values())  # as recorded


def test_nan_values_in_vendor_files_are_gaps_not_refusals(tmp_path, capsys):
    """An Xsens MT file with NaN orientation cells in ten rows: those rows are a gap in the
    angles, every other row as from the file as exported; before, refused whole."""
    for f in XSENS.glob("*.txt"):
        lines = f.read_text().split("\n")
        h = next(i for i, ln in enumerate(lines) if "PacketCounter" in ln)
        for r in range(h + 100, h + 110):
            cells = lines[r].split("\t")
            lines[r] = "\t".join(cells[:2] + ["nan"] * (len(cells) - 2))
        (tmp_path / f.name).write_text("\n".join(lines))
    rc, _, err = run(["info", tmp_path, *XSENS_ROLES], capsys)
    assert rc == 0
    for src, name in ((XSENS, "a.csv"), (tmp_path, "b.csv")):
        assert run(["angles", src, *XSENS_ROLES, "-o", tmp_path / name], capsys)[0] == 0
    a = np.genfromtxt(tmp_path / "a.csv", delimiter=",", names=True)
    b = np.genfromtxt(tmp_path / "b.csv", delimiter=",", names=True)
    gap = np.isnan(b["pelvis_tilt"]) & ~np.isnan(a["pelvis_tilt"])
    assert 10 <= gap.sum() <= 14 and np.ptp(np.flatnonzero(gap)) < 14
    ok = ~np.isnan(b["pelvis_tilt"])
    assert np.allclose(a["pelvis_tilt"][ok], b["pelvis_tilt"][ok], atol=0.5)


@pytest.mark.parametrize("damage", ["truncated", "text", "columns"])
def test_damaged_real_files_are_one_line_exit_2(tmp_path, capsys, damage):
    for src in (next(REALTIME.glob("Pelvis_*.csv")), next(XSENS.glob("*00B42279.txt"))):
        lines = src.read_text().splitlines()
        sep = "\t" if src.suffix == ".txt" else ","
        head = next(i for i, ln in enumerate(lines) if "PacketCounter" in ln)
        if damage == "truncated":
            lines = lines[: head + 50]
            lines[-1] = lines[-1][: len(lines[-1]) // 3]
            lines[-1] = sep.join(lines[-1].split(sep)[:3])
        elif damage == "text":
            cells = lines[head + 30].split(sep)
            cells[-3] = "1.2.3"
            lines[head + 30] = sep.join(cells)
        else:
            lines[head] = lines[head].replace("Quat_", "Q_").replace("Mat[", "M[")
        f = tmp_path / src.name
        f.write_text("\n".join(lines) + "\n")
        rc, _, err = run(["import", f, "--role", "00B42279=sacrum", "-o", tmp_path / "x.imu"],
                         capsys)
        assert rc == 2 and len(err) == 1 and f.name in err[0], err
        assert not (tmp_path / "x.imu").exists()


def test_batch_takes_roles_and_gives_the_numbers_of_imu_analyze_on_an_xsens_folder(tmp_path,
                                                                                    capsys):
    import json

    import imu
    from imu.batch import batch_analyze

    roles = {"00B42279": "sacrum", "00B4227C": "right_thigh", "00B421EE": "left_thigh"}
    res = batch_analyze([XSENS], engine="loop", roles=roles)
    assert not res.failures and list(res.results) == [str(XSENS)]
    api = imu.analyze(imu.load(XSENS, roles)).result
    assert res.results[str(XSENS)]["sets"] == api["sets"]  # (the rest holds creation times)
    assert api["sets"] and api["sets"][0]["exercise"] == "walking"
    # the command takes --role as imu analyze does; --align reaches imu.load
    rc, _, err = run(["batch", "analyze", XSENS, *XSENS_ROLES, "--out", tmp_path / "b",
                      "--workers", "1"], capsys)
    assert rc == 0, err
    got = json.loads((tmp_path / "b" / "xsens_mt_opensense.analysis.json").read_text())
    assert got["sets"] == json.loads(json.dumps(api["sets"]))
    s = imu.load(OFFLINE, {"yao": "sacrum", "ydt": "right_thigh"}, align="start")
    assert s.meta.get("clock_alignment") == "start"


def test_angles_provenance_names_each_roles_sensor_and_the_alignment(tmp_path, capsys):
    # --role / --align decide the numbers: the provenance must say how they were used
    s = tmp_path / "s.imu"
    assert run(["import", XSENS, *XSENS_ROLES, "--align", "start", "-o", s], capsys)[0] == 0
    assert run(["angles", s, "-o", tmp_path / "a.csv"], capsys)[0] == 0
    prov = json.loads((tmp_path / "a.csv.json").read_text())["session"]
    assert prov["sensor_ids"] == {"sacrum": "00B42279", "right_thigh": "00B4227C",
                                  "left_thigh": "00B421EE"}
    assert prov["clock_alignment"] == "start"


def test_the_align_choices_are_the_foreign_readers():
    from imu.session import foreign, load

    assert load.ALIGNMENTS == foreign.ALIGNMENTS
