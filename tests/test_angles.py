"""Angle pipeline (session → docs/angles.md angles) against the simulator's truth, every error on."""

import functools

import numpy as np
import pytest

from imu.calibration import calibrate_session
from imu.kinematics.alignment import SegmentAlignment, rot_y, segment_matrix
from imu.kinematics.frames import hip_matrix, pelvis_matrix, segment_angles
from imu.kinematics.heading import HeadingHoldSettings, hold_heading
from imu.kinematics.pipeline import AnglePipeline, compute_angles
from imu.sim import simulate
from imu.types import Session, SensorData

#: issue 3 acceptance, degrees RMSE after the calibration
TARGETS = {"pelvis_tilt": 1.0, "pelvis_obliquity": 1.0, "pelvis_rotation": 4.0,
           "hip_flexion": 1.5, "hip_adduction": 2.0, "hip_rotation": 4.0,
           "thigh_inclination": 1.5}


def target(col):
    return next(v for k, v in TARGETS.items() if col.endswith(k))


def rmse_after_calibration(res, table):
    cal_end = next(e.t_s for e in res.session.events if e.kind == "calibration_end")
    m = res.truth_time_s > cal_end
    out = {}
    for c in table.names():
        est = np.interp(res.truth_time_s[m], table.time_s, table[c])
        e = est - res.truth_angles[c][m]
        out[c] = float(np.sqrt(np.nanmean(e ** 2)))
    return out


@pytest.fixture(scope="module", params=[(60.0, 9060), (104.0, 9104), (200.0, 9200)],
                ids=["60Hz", "104Hz", "200Hz"])
def run(request):
    rate, seed = request.param
    res = simulate("demo", rate_hz=rate, seed=seed, errors=True, reps=3)
    prof = calibrate_session(res.session)
    table = compute_angles(res.session, prof.alignment())
    return res, prof, table


def test_rmse_within_acceptance_targets(run):
    res, _, table = run
    errs = rmse_after_calibration(res, table)
    assert set(errs) == set(res.truth_angles)
    bad = {c: round(v, 2) for c, v in errs.items() if not v <= target(c)}
    assert not bad, bad


def test_table_is_on_one_time_base_with_spec_columns(run):
    res, _, table = run
    assert table.names() == list(res.truth_angles)
    dt = np.diff(table.time_s)
    assert np.allclose(dt, dt[0], rtol=1e-6)
    assert abs(table.time_s[0] - res.truth_time_s[0]) < 0.5


def test_rotation_confidence_reported_and_high_after_standing(run):
    res, _, table = run
    for c in ("pelvis_rotation", "right_hip_rotation", "left_hip_rotation"):
        conf = table.confidence[c]
        assert conf.shape == table.time_s.shape
        assert np.all((conf >= 0) & (conf <= 1))
        assert np.median(conf) > 0.8  # a demo session stands often


def test_gap_gives_nan_only_in_that_sides_columns():
    res = simulate("demo", rate_hz=60.0, seed=9061, errors=False, reps=2)
    prof = calibrate_session(res.session)
    s = res.session
    d = s.sensors["right_thigh"]
    keep = (d.t_host_s < 60.0) | (d.t_host_s > 63.0)
    sensors = dict(s.sensors)
    sensors["right_thigh"] = SensorData(d.info, d.seq[keep], d.t_sensor_s[keep], d.t_host_s[keep],
                                        d.acc[keep], d.gyr[keep])
    table = compute_angles(Session(s.meta, sensors, s.events, None, "gap"), prof.alignment())
    inside = (table.time_s > 60.5) & (table.time_s < 62.5)
    assert np.all(np.isnan(table["right_hip_flexion"][inside]))
    assert np.all(np.isnan(table["right_thigh_inclination"][inside]))
    assert np.all(np.isfinite(table["pelvis_tilt"][inside]))
    assert np.all(np.isfinite(table["left_hip_flexion"][inside]))


def test_heading_hold_removes_linear_heading_drift():
    """A femur sensor whose heading drifts 0.05°/s: re-zeroing at the standing stretches and
    interpolating between them leaves the hip rotation error small."""
    rate = 50.0
    t = np.arange(0, 300, 1 / rate)
    moving = (np.sin(2 * np.pi * t / 60) > -0.3) & (t > 5)  # stand ~40% of each minute
    flex = np.where(moving, 30 * np.sin(2 * np.pi * t / 4) ** 2, 0.0)
    ir_true = np.where(moving, 10 * np.sin(2 * np.pi * t / 7), 0.0)
    P = pelvis_matrix(np.where(moving, 10 * np.sin(2 * np.pi * t / 4) ** 2, 0), 0, 0)
    F = P @ hip_matrix(flex, 0, ir_true, "right")
    drift = rot_y(0.05 * t + 20.0)  # heading of the thigh's earth frame runs away
    raw = {"sacrum": rot_y(-35.0) @ P, "right_thigh": np.einsum("nij,njk->nik", drift, F)}
    still = {r: ~moving for r in raw}
    hold = hold_heading(t, raw, still, HeadingHoldSettings())
    segs = {r: np.einsum("nij,njk->nik", rot_y(hold.offset_deg[r]), raw[r]) for r in raw}
    a = segment_angles(segs)
    err = a["right_hip_rotation"] - ir_true
    assert np.sqrt(np.mean(err ** 2)) < 0.5
    assert np.abs(a["pelvis_rotation"]).max() < 0.5
    # without the hold the error grows with the drift
    a0 = segment_angles({r: m for r, m in raw.items()})
    assert np.sqrt(np.mean((a0["right_hip_rotation"] - ir_true) ** 2)) > 5


def test_segment_angles_are_the_cardan_angles_of_the_spec_conventions():
    """The closed form against scipy's own Euler decomposition (pelvis Y-X-Z of R_WP, hip
    Z-X-Y of R_PF with the left side mirrored) and the heading of matrices and quaternions."""
    from scipy.spatial.transform import Rotation

    from imu import quat as Q
    from imu.kinematics.frames import heading_deg, thigh_inclination

    rng = np.random.default_rng(5)
    n = 2000
    P = pelvis_matrix(rng.uniform(-70, 70, n), rng.uniform(-40, 40, n), rng.uniform(-170, 170, n))
    segs = {"sacrum": P, "trunk": Rotation.random(n, random_state=1).as_matrix()}
    for side in ("right", "left"):
        segs[f"{side}_thigh"] = P @ hip_matrix(rng.uniform(-30, 110, n), rng.uniform(-40, 40, n),
                                               rng.uniform(-60, 60, n), side)
    got = segment_angles(segs)

    def close(a, b, c):
        d = (np.asarray(a) - np.asarray(b) + 180) % 360 - 180
        assert np.abs(d).max() < 1e-7, c

    rot, obl, mtilt = Rotation.from_matrix(P).as_euler("YXZ", degrees=True).T
    close(got["pelvis_tilt"], -mtilt, "tilt")
    close(got["pelvis_obliquity"], obl, "obliquity")
    close(got["pelvis_rotation"], rot, "rotation")
    for side, s in (("right", 1.0), ("left", -1.0)):
        R_PF = np.swapaxes(P, 1, 2) @ segs[f"{side}_thigh"]
        flex, add, ir = Rotation.from_matrix(R_PF).as_euler("ZXY", degrees=True).T
        close(got[f"{side}_hip_flexion"], flex, side)
        close(got[f"{side}_hip_adduction"], s * add, side)
        close(got[f"{side}_hip_rotation"], s * ir, side)
        close(got[f"{side}_thigh_inclination"], thigh_inclination(P, segs[f"{side}_thigh"]), side)
    t_rot, t_obl, t_mtilt = Rotation.from_matrix(segs["trunk"]).as_euler("YXZ", degrees=True).T
    close(got["lumbar_flexion"], -t_mtilt - got["pelvis_tilt"], "lumbar")
    q = Q.from_matrix(P) if hasattr(Q, "from_matrix") else Rotation.from_matrix(P).as_quat()[:, [3, 0, 1, 2]]
    close(heading_deg(q), rot, "heading of quaternions")
    close(heading_deg(P), rot, "heading of matrices")

def test_alignment_round_trip_from_sensor_quaternions():
    from imu.kinematics.alignment import sensor_quat_from_segment
    from scipy.spatial.transform import Rotation

    R_BS = Rotation.from_euler("xyz", [40, -70, 15], degrees=True).as_matrix()
    R_WB = pelvis_matrix([0, 20, -10], [0, 5, 3], [0, 0, 30])
    q = sensor_quat_from_segment(R_WB, R_BS)
    assert np.allclose(segment_matrix(q, R_BS), R_WB, atol=1e-9)
    assert np.allclose(SegmentAlignment({"sacrum": R_BS}).segment_matrix("sacrum", q), R_WB,
                       atol=1e-9)


def test_streaming_pipeline_follows_batch():
    res = simulate("demo", rate_hz=60.0, seed=9062, errors=True, reps=1)
    prof = calibrate_session(res.session)
    batch = compute_angles(res.session, prof.alignment())
    s = res.session
    from tests.live_helpers import stream_angles

    t, column = stream_angles(s, prof.alignment())
    assert np.all(np.diff(t) > 0)
    cal_end = next(e.t_s for e in s.events if e.kind == "calibration_end")
    m = t > cal_end
    for c in ("pelvis_tilt", "right_hip_flexion", "left_thigh_inclination", "pelvis_obliquity"):
        live = column(c)[m]
        ref = np.interp(t[m], batch.time_s, batch[c])
        assert np.sqrt(np.nanmean((live - ref) ** 2)) < 1.0, c
        truth = np.interp(t[m], res.truth_time_s, res.truth_angles[c])
        assert np.sqrt(np.nanmean((live - truth) ** 2)) < 1.5, c
    live_rot = column("right_hip_rotation")[m]
    truth_rot = np.interp(t[m], res.truth_time_s, res.truth_angles["right_hip_rotation"])
    assert np.sqrt(np.nanmean((live_rot - truth_rot) ** 2)) < 4.0


def test_angles_command_writes_spec_csv(tmp_path):
    from imu.cli import main
    from imu.session.csvfolder import write_csv_folder

    res = simulate("hinge", rate_hz=60.0, seed=9063, errors=True, reps=2)
    folder = tmp_path / "sess"
    write_csv_folder(res.session, folder)
    out = tmp_path / "angles.out"
    assert main(["angles", str(folder), "-o", str(out)]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert header == ["time_s"] + list(res.truth_angles)
    data = np.loadtxt(out, delimiter=",", skiprows=1)
    assert data.shape[1] == len(header) and len(data) > 100
    # the hinge reps show up as anterior tilt
    assert np.nanmax(data[:, 1]) > 25


def test_angles_command_bad_profile_is_one_line_error(tmp_path, capsys):
    from imu.cli import main
    from imu.session.csvfolder import write_csv_folder

    res = simulate("hinge", rate_hz=60.0, seed=9064, errors=False, reps=1)
    folder = tmp_path / "sess"
    write_csv_folder(res.session, folder)
    bad = tmp_path / "p.json"
    bad.write_text("[]")
    assert main(["angles", str(folder), "--calibration", str(bad), "-o",
                 str(tmp_path / "a.csv")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("imu angles: error:") and "p.json" in last


def test_csv_formatting_matches_printf():
    from imu.session.textfmt import format_rows

    rng = np.random.default_rng(3)
    d = rng.normal(0, 40, (500, 4))
    d[0] = [-0.0004, 0.0004, -0.0006, 123456789.6789]
    d[1] = [np.nan, -99.9996, 99.9996, -np.inf]
    d[2] = [0.0, -0.0, 1e-9, -5.0]
    text = format_rows(d, [4, 3, 3, 3]).decode().splitlines()
    for row, line in zip(d, text):
        want = ",".join("nan" if not np.isfinite(v) else f"{v:.{k}f}" for v, k in
                        zip(row, [4, 3, 3, 3]))
        want = want.replace("-0.000,", "0.000,").replace("-0.0000,", "0.0000,")
        assert line == want
    tabbed = format_rows(d[:3], [4, 3, 3, 3], separators="\t,,").decode().splitlines()
    assert tabbed[2] == "0.0000\t0.000,0.000,-5.000"


def test_csv_word_formatting_matches_printf_for_every_precision():
    """Values below 10**7 take the word-at-a-time path: the same text as the character-position
    path (checked against printf above) for 0..7 decimals, every integer-part length, values
    on rounding boundaries, NaN/inf and negative zero; printf itself where the scaled value is
    exact enough."""
    from imu.session.textfmt import _format_rows_bytewise, format_rows

    rng = np.random.default_rng(5)
    base = np.concatenate([rng.normal(0, 40, 3000), rng.uniform(-4e6, 4e6, 3000),
                           rng.integers(-9999, 9999, 500) + 0.5,
                           10.0 ** rng.integers(0, 7, 500) * rng.choice([-1, 1], 500),
                           [np.nan, np.inf, -np.inf, 0.0, -0.0, -1e-12, 999.9999, -999.9999]])
    decs = [0, 1, 2, 3, 4, 5, 6, 7]
    d = np.column_stack([np.roll(base, 7 * j) for j in range(len(decs))])
    seps = "\t,;:| ,"
    got = format_rows([d[:, j] for j in range(len(decs))], decs, seps)
    assert got == _format_rows_bytewise(d, decs, seps)
    lines = got.decode().splitlines()
    assert len(lines) == len(d)
    for row, line in zip(d[:3000], lines):  # |v| ~ 40: printf's rounding
        cells = []
        for v, k in zip(row, decs):
            c = "nan" if not np.isfinite(v) else f"{v:.{k}f}"
            cells.append(c[1:] if c.startswith("-") and float(c) == 0 else c)
        if all(abs(v) < 1000 for v in row if np.isfinite(v)):
            assert line == cells[0] + "".join(sep + c for sep, c in zip(seps, cells[1:]))


@functools.lru_cache(maxsize=None)
def outage_session():
    """Single-leg stance (60 Hz, every error on) with link outages cut out: the right thigh for
    2.7 s while it is raised to ~50° for a left-leg hold, the sacrum for 1 s and the left thigh
    for 1.5 s. Returns ``(res, session, profile)``."""
    res = simulate("single_leg_stance", rate_hz=60.0, seed=11, errors=True, reps=2)
    prof = calibrate_session(res.session)
    s = res.session
    sensors = dict(s.sensors)
    for role, a, b in (("right_thigh", 80.5, 83.2), ("sacrum", 60.0, 61.0),
                       ("left_thigh", 100.0, 101.5)):
        d = sensors[role]
        keep = (d.t_host_s < a) | (d.t_host_s > b)
        sensors[role] = SensorData(d.info, d.seq[keep], d.t_sensor_s[keep], d.t_host_s[keep],
                                   d.acc[keep], d.gyr[keep])
    return res, Session(s.meta, sensors, s.events, None, "outage"), prof


def test_thigh_raised_during_a_link_outage_is_right_after_it():
    res, session, prof = outage_session()
    table = compute_angles(session, prof.alignment())
    after = (table.time_s > 85.2) & (table.time_s < 94.0)  # 2 s after the link returns
    truth = {c: np.interp(table.time_s[after], res.truth_time_s, res.truth_angles[c])
             for c in table.names()}
    assert truth["right_hip_flexion"].mean() > 40.0  # the leg is up
    for c, tol in (("right_hip_flexion", 2.5), ("right_thigh_inclination", 2.5),
                   ("right_hip_adduction", 2.0), ("right_hip_rotation", 4.0)):
        err = np.max(np.abs(table[c][after] - truth[c]))
        assert err < tol, (c, err)
    # its rotation is less certain from the restart until the next quiet standing
    conf = table.confidence["right_hip_rotation"]
    assert conf[(table.time_s > 83.3) & (table.time_s < 94.0)].max() <= 0.5
    assert conf[(table.time_s > 78.0) & (table.time_s < 80.0)].min() > 0.9


def test_streaming_pipeline_matches_batch_across_link_outages():
    res, session, prof = outage_session()
    batch = compute_angles(session, prof.alignment())
    from imu.kinematics.pipeline import sensor_times_s
    times = {r: sensor_times_s(d) for r, d in session.sensors.items()}
    pipe = AnglePipeline(prof.alignment(), {r: d.info.rate_hz for r, d in session.sensors.items()})
    chunks, idx = [], {r: 0 for r in times}
    for t_end in np.arange(0.0, max(t[-1] for t in times.values()) + 0.2, 0.1):  # 0.1 s blocks
        for r, d in session.sensors.items():
            i0, i1 = idx[r], int(np.searchsorted(times[r], t_end, side="right"))
            if i1 > i0:
                out = pipe.update(r, times[r][i0:i1], d.acc[i0:i1], d.gyr[i0:i1])
                idx[r] = i1
                if len(out.time_s):
                    chunks.append(out)
    t = np.concatenate([c.time_s for c in chunks])
    m = t > next(e.t_s for e in session.events if e.kind == "calibration_end")
    for c in ("pelvis_tilt", "pelvis_obliquity", "right_hip_flexion", "right_thigh_inclination",
              "left_hip_flexion", "left_thigh_inclination"):
        live = np.concatenate([ch[c] for ch in chunks])[m]
        ref = np.interp(t[m], batch.time_s, batch[c])
        assert np.nanmax(np.abs(live - ref)) < 1.0, c
    conf = np.concatenate([ch.confidence["right_hip_rotation"] for ch in chunks])
    assert np.nanmax(conf[(t > 83.3) & (t < 94.0)]) <= 0.5  # restarted: rotation less certain


def test_streaming_gap_rows_have_unknown_not_zero_rotation_confidence():
    res, session, prof = outage_session()
    from imu.kinematics.pipeline import sensor_times_s
    pipe = AnglePipeline(prof.alignment(), {r: d.info.rate_hz for r, d in session.sensors.items()})
    chunks = []
    for r, d in session.sensors.items():  # one sensor at a time: rows wait for the others
        out = pipe.update(r, sensor_times_s(d), d.acc, d.gyr)
        if len(out.time_s):
            chunks.append(out)
    flex = np.concatenate([c["right_hip_flexion"] for c in chunks])
    conf = np.concatenate([c.confidence["right_hip_rotation"] for c in chunks])
    gap = ~np.isfinite(flex)
    assert gap.any() and (~gap).any()
    assert np.all(np.isnan(conf[gap]))
    assert np.nanmin(conf[~gap]) >= 0.0 and np.all(np.isfinite(conf[~gap]))


def _turn_and_stand(turn_deg: float, rate: float = 50.0):
    """Quiet standing, a hinge set, then the whole body turned by ``turn_deg`` (pelvis and both
    femurs together: hip rotation stays 0) standing still again; a slow sacrum heading drift."""
    t = np.arange(0, 240, 1 / rate)
    moving = (t > 20) & (t < 100)
    tilt = np.where(moving, 30 * np.sin(2 * np.pi * t / 5) ** 2, 0.0)
    turn = np.where(t > 100, turn_deg * np.clip((t - 100) / 2, 0, 1), 0.0)
    moving |= (t > 100) & (t < 102.5)
    P = rot_y(turn) @ pelvis_matrix(tilt, 0, 0)
    F = rot_y(turn) @ hip_matrix(0, 0, 0, "right")
    raw = {"sacrum": rot_y(0.005 * t + 10.0) @ P, "right_thigh": rot_y(-25.0) @ F}
    still = {r: ~moving for r in raw}
    return t, raw, still, turn


def test_heading_hold_keeps_a_small_turn_instead_of_snapping_back():
    t, raw, still, turn = _turn_and_stand(15.0)
    hold = hold_heading(t, raw, still, HeadingHoldSettings())
    segs = {r: np.einsum("nij,njk->nik", rot_y(hold.offset_deg[r]), raw[r]) for r in raw}
    a = segment_angles(segs)
    late = t > 150
    assert np.abs(a["pelvis_rotation"][late] - turn[late]).max() < 1.5   # the 15° turn is kept
    assert np.abs(a["right_hip_rotation"][late]).max() < 1.0


def test_streaming_heading_hold_has_no_steps_at_rest():
    from imu.kinematics.heading import HeadingHoldStream

    t, raw, still, _ = _turn_and_stand(0.0)
    raw["sacrum"] = np.einsum("nij,njk->nik", rot_y(0.02 * t), raw["sacrum"])  # a faster drift
    hs = HeadingHoldStream(list(raw), 50.0)
    rot = []
    for k in range(len(t)):
        off, _ = hs.update(t[k], {r: raw[r][k] for r in raw},
                           {r: 0.0 if still[r][k] else 1.0 for r in raw})
        segs = {r: (rot_y(off[r]) @ raw[r][k])[None] for r in raw}
        rot.append([segment_angles(segs)[c][0] for c in ("pelvis_rotation", "right_hip_rotation")])
    rot = np.array(rot)
    rest = still["sacrum"][1:] & still["sacrum"][:-1]
    assert np.abs(np.diff(rot, axis=0))[rest].max() < 1.0
    # the femur's 25° heading offset is taken out at the first standing, smoothly (2°/s)
    assert np.abs(rot[(t > 19) & (t < 20), 1]).max() < 1.0


def test_held_angles_equal_the_angles_of_the_segments_turned_by_their_offsets():
    """The batch path turns each segment by its heading offset relative to the pelvis's and
    adds the pelvis's offset to its rotation: the same angles as turning every segment."""
    from scipy.spatial.transform import Rotation

    from imu import quat as Q
    from imu.kinematics.alignment import rotate_heading
    from imu.kinematics.heading import wrap_deg
    from imu.kinematics.pipeline import _held_angles

    n = 40000  # several blocks
    t = np.linspace(0, 200, n)
    q = {r: Q.from_scipy(Rotation.random(n, random_state=k))
         for k, r in enumerate(("sacrum", "right_thigh", "left_thigh", "trunk"))}
    off = {r: 170.0 * np.sin(t / (20 + 7 * k)) + 40 * k for k, r in enumerate(q)}
    got = _held_angles(q, off)
    want = segment_angles({r: rotate_heading(v, off[r]) for r, v in q.items()})
    assert list(got) == list(want)
    for c in want:
        d = wrap_deg(got[c] - want[c]) if "rotation" in c else got[c] - want[c]
        assert np.abs(d).max() < 1e-9, c
    assert np.all((got["pelvis_rotation"] >= -180) & (got["pelvis_rotation"] < 180))


def test_heading_hold_from_segment_rows_made_block_by_block_is_the_same():
    """segment_rows of any blocks of rows (as a fusion worker could make them) give
    held_headings the same segment quaternions, offsets and confidences, bit for bit."""
    from scipy.spatial.transform import Rotation

    from imu import quat as Q
    from imu.kinematics.pipeline import held_headings, segment_rows

    n = 30000
    t = np.arange(n) / 100.0
    roles = ("sacrum", "right_thigh", "left_thigh")
    rng = np.random.default_rng(5)
    # upright segments turning slowly, still in stretches: standing anchors
    q = {r: Q.from_scipy(Rotation.from_euler("zyx", np.column_stack([
        20 * np.sin(t / (30 + 9 * k)) + 5 * k, rng.normal(0, 2, n), rng.normal(0, 2, n)]),
        degrees=True)) for k, r in enumerate(roles)}
    g = {r: np.where((t % 20) < 6, 0.01, 1.0) for r in roles}
    from imu.kinematics.frames import R_WE

    align = SegmentAlignment({r: R_WE for r in roles})  # the sensors' z axes along the thighs
    want_q, want = held_headings(t, q, g, align)
    edges = [0, 7, 12345, 20000, n]  # uneven blocks
    blocks = {r: [segment_rows(q[r][a:b], g[r][a:b], align.R_BS[r])
                  for a, b in zip(edges[:-1], edges[1:])] for r in roles[:2]}
    parts = {r: tuple(np.concatenate([b[k] for b in bl]) for k in range(3))
             for r, bl in blocks.items()}
    got_q, got = held_headings(t, q, g, align, parts=parts)
    assert len(want.anchors) > 3 and want.anchors == got.anchors
    for r in roles:
        assert np.array_equal(got_q[r], want_q[r])
        assert np.array_equal(got.offset_deg[r], want.offset_deg[r])
        assert np.array_equal(got.confidence[r], want.confidence[r])


def test_a_row_completed_within_the_tolerance_is_the_same_before_and_after_the_next_sample():
    """complete_tol_s: a thigh sampling 1 ms before the sacrum completes the sacrum's rows with
    the same notification (its orientation there: its sample turned on by its angular rate),
    with the very numbers they get once its next sample is in, within 0.05° of interpolating."""
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from live_helpers import hinge_sim, sim_profile

    from imu.kinematics.pipeline import sensor_times_s
    from imu.live.angles import LiveAngles

    res = hinge_sim()
    s = res.session
    align = sim_profile(res).alignment()
    data = {r: s.sensors[r] for r in ("sacrum", "right_thigh")}
    t_sac = sensor_times_s(data["sacrum"])
    times = {"sacrum": t_sac, "right_thigh": t_sac - 0.001}     # 1 ms before the sacrum's
    rates = {r: d.info.rate_hz for r, d in data.items()}
    n = min(len(d.acc) for d in data.values()) - 4

    def run(tol, rows_every):
        """Blocks of 2 samples, the sacrum's then the thigh's (the same fusion either way);
        the rows pulled after every ``rows_every``-th pair."""
        p = LiveAngles(align, rates, min_emit_s=0.0, complete_tol_s=tol)
        out = []
        for k, i in enumerate(range(0, n, 2)):
            for r in ("sacrum", "right_thigh"):
                d = data[r]
                p.push(r, times[r][i:i + 2], d.acc[i:i + 2], d.gyr[i:i + 2])
            if k % rows_every == 0:
                out.append(p.flush())
        return out

    prompt = run(0.0025, 1)
    later = run(0.0025, 2)
    interp = run(0.0, 2)
    # every pair's rows came out with it
    assert all(len(x.time_s) == 2 for x in prompt[1:])
    cols = [c for c in prompt[0].columns if c.startswith(("right_hip", "pelvis"))]
    joined = {name: {c: np.concatenate([x[c] for x in tabs]) for c in cols}
              for name, tabs in (("prompt", prompt), ("later", later), ("interp", interp))}
    m = min(len(v[cols[0]]) for v in joined.values())
    assert m > 0.9 * n
    for c in cols:
        a, b, ref = (joined[k][c][:m] for k in ("prompt", "later", "interp"))
        assert np.array_equal(a, b, equal_nan=True), c
        assert np.nanmax(np.abs(a - ref)) < 0.05, c
        assert np.isfinite(a[20:]).all(), c
