"""The body and sensor simulator checks itself: exact signals, truth consistency, error model."""

import numpy as np
import pytest

from imu.errors import BadInputError
from imu.kinematics import frames
from imu.sim import ErrorModel, simulate
from imu.sim import rot
from imu.sim.motion import G_MS2
from imu.sim.sensors import DPS, MG, draw_errors

ALL = ("sacrum", "right_thigh", "left_thigh", "trunk")


@pytest.fixture(scope="module")
def clean():
    """60 s, 200 Hz, no sensor errors: a hinge set then walking, all four sensors."""
    return simulate(["hinge", "walking"], rate_hz=200.0, seed=5, errors=False, roles=ALL,
                    reps=3, calibration=False, duration_s=60.0)


@pytest.fixture(scope="module")
def demo():
    """The demo session with every error on and a trunk sensor."""
    return simulate("demo", rate_hz=104.0, seed=11, errors=True, roles=ALL)


def _integrate(gyr: np.ndarray, dt: float, R0: np.ndarray) -> np.ndarray:
    """Exact-rotation integration: per step the rotation vector of the two-sample
    trapezoid rule with the coning correction, applied as an exact rotation."""
    th = 0.5 * (gyr[:-1] + gyr[1:]) * dt + np.cross(gyr[:-1], gyr[1:]) * dt * dt / 12.0
    steps = rot.rotvec_matrix(th)
    out = np.empty((len(gyr), 3, 3))
    out[0] = R = R0
    for k in range(len(steps)):
        R = R @ steps[k]
        out[k + 1] = R
    return out


def _angle_deg(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    tr = np.einsum("nij,nij->n", A, B)
    return np.degrees(np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0)))


# --- exact signals ---------------------------------------------------------------------------

def test_session_covers_hinge_and_walking_for_sixty_seconds(clean):
    assert clean.truth_time_s[-1] == pytest.approx(60.0)
    assert [b["name"] for b in clean.timeline] == ["hinge", "walking"]
    for d in clean.session.sensors.values():
        assert len(d) == len(clean.truth_time_s)
        np.testing.assert_array_equal(d.t_host_s, clean.truth_time_s)
        np.testing.assert_array_equal(d.seq, np.arange(len(d)))


def test_integrated_gyro_reproduces_sensor_orientation_within_0p1_deg_over_60_s(clean):
    for role, d in clean.session.sensors.items():
        R_WS = clean.truth_segments[role] @ clean.mounts[role]
        R_int = _integrate(d.gyr, 1.0 / clean.rate_hz, R_WS[0])
        err = _angle_deg(R_int, R_WS)
        assert err.max() < 0.1, role
        # the sensors really moved: the test is not trivially satisfied
        assert _angle_deg(R_WS[:1].repeat(len(R_WS), 0), R_WS).max() > 20.0, role


def test_angles_from_integrated_gyro_and_mounts_match_truth_angles(clean):
    segs = {}
    for role, d in clean.session.sensors.items():
        R_WS = clean.truth_segments[role] @ clean.mounts[role]
        R_int = _integrate(d.gyr, 1.0 / clean.rate_hz, R_WS[0])
        segs[role] = R_int @ clean.mounts[role].T
    ang = frames.segment_angles(segs)
    for col, truth in clean.truth_angles.items():
        assert np.abs(ang[col] - truth).max() < 0.1, col


def test_truth_angles_are_segment_angles_of_truth_segments(clean):
    ang = frames.segment_angles(clean.truth_segments)
    assert list(clean.truth_angles) == frames.angle_columns(["right", "left"], True)
    for col, v in clean.truth_angles.items():
        np.testing.assert_allclose(ang[col], v, atol=1e-9)


def test_fast_rotations_match_the_frames_conventions():
    rng = np.random.default_rng(0)
    a, b, c = rng.uniform(-80, 80, (3, 200))
    np.testing.assert_allclose(rot.pelvis_matrix(a, b, c), frames.pelvis_matrix(a, b, c),
                               atol=1e-12)
    for side in ("right", "left"):
        np.testing.assert_allclose(rot.hip_matrix(a, b, c, side),
                                   frames.hip_matrix(a, b, c, side), atol=1e-12)


def test_accelerometer_reads_gravity_in_sensor_frame_at_rest():
    res = simulate("calibration", rate_hz=104.0, seed=2, errors=False, sway=False)
    still = res.truth_time_s < 4.5          # docs/calibration.md phase 1: 5 s of quiet standing
    for role, d in res.session.sensors.items():
        R_WS = res.truth_segments[role] @ res.mounts[role]
        g_S = np.einsum("nji,j->ni", R_WS, np.array([0.0, G_MS2, 0.0]))
        assert np.abs(d.acc[still] - g_S[still]).max() < 0.01, role
        assert np.abs(np.linalg.norm(d.acc[still], axis=1) - G_MS2).max() < 0.01, role
        assert np.abs(d.gyr[still]).max() < 1e-6, role
        # and the mounting is not trivial: gravity is not along one sensor axis
        assert np.abs(g_S[0]).max() < G_MS2 - 0.1, role


def test_walking_accelerometer_sees_body_acceleration(clean):
    walk = clean.truth_time_s > clean.timeline[1]["start_s"] + 5.0
    acc = clean.session.sensors["sacrum"].acc[walk]
    dev = np.linalg.norm(acc, axis=1) - G_MS2
    assert dev.std() > 0.5 and np.abs(dev).max() < 3 * G_MS2


# --- docs/angles.md sign table on the simulated poses -------------------------------------------------

def _at(res, t_s):
    return int(np.searchsorted(res.truth_time_s, t_s))


def test_hinge_reps_tilt_forward_with_flexion_equal_to_tilt_plus_inclination(demo):
    a = demo.truth_angles
    hinge = next(s for s in demo.truth_sets if s["exercise"] == "hinge")
    for rep in hinge["reps"]:
        i0, i1 = _at(demo, rep["start_s"]), _at(demo, rep["end_s"])
        h = 0.5 * (a["right_hip_flexion"] + a["left_hip_flexion"])
        k = i0 + int(np.argmax(h[i0:i1]))
        inc = 0.5 * (a["right_thigh_inclination"] + a["left_thigh_inclination"])
        assert a["pelvis_tilt"][k] > 15.0
        assert h[k] == pytest.approx(a["pelvis_tilt"][k] + inc[k], abs=2.0)
        if rep["design"] != "squat_pattern":
            assert h[k] == pytest.approx(a["pelvis_tilt"][k], abs=15.0)


def test_leg_swings_are_positive_flexion_and_inclination():
    res = simulate("calibration", rate_hz=104.0, seed=4, errors=False)
    a = res.truth_angles
    phases = next(e for e in res.session.events if e.kind == "calibration_start").data["phases"]
    for side in ("right", "left"):
        ph = next(p for p in phases if p["phase"] == f"swings_{side}")
        sl = slice(_at(res, ph["t0"]), _at(res, ph["t1"]))
        f = a[f"{side}_hip_flexion"][sl]
        k = int(np.argmax(f))
        assert f[k] > 20.0
        assert a[f"{side}_thigh_inclination"][sl][k] > 15.0
        assert f.min() < -8.0   # backward swing


def test_single_leg_stance_drop_signs(demo):
    a = demo.truth_angles
    for st in (s for s in demo.truth_sets if s["exercise"] == "single_leg_stance"):
        stance = st["side"]
        for hold in st["holds"]:
            sl = slice(_at(demo, hold["start_s"]), _at(demo, hold["end_s"]))
            obl = a["pelvis_obliquity"][sl]
            k = int(np.argmax(np.abs(obl)))
            # pelvis drops on the lifted side: + obliquity (right lower) when standing on the left
            assert np.sign(obl[k]) == (1.0 if stance == "left" else -1.0)
            assert hold["pelvic_drop_max_deg"] > 0.5
            assert a[f"{stance}_hip_adduction"][sl][k] > 0.0


def test_airplane_opening_is_external_rotation_of_the_stance_hip(demo):
    a = demo.truth_angles
    st = next(s for s in demo.truth_sets if s["exercise"] == "hip_airplane")
    assert st["side"] == "right"
    opened = 0
    for rep in st["reps"]:
        sl = slice(_at(demo, rep["start_s"]), _at(demo, rep["end_s"]))
        rot_p = a["pelvis_rotation"][sl]
        k = int(np.argmax(rot_p))
        if rot_p[k] > 10.0:                                  # pelvis turns left (opening)
            assert a["right_hip_rotation"][sl][k] < -10.0    # right hip externally rotated
            opened += 1
    assert opened >= len(st["reps"]) // 2


def test_feet_planted_pelvis_turn_rotates_hips_oppositely(demo):
    a = demo.truth_angles
    hinge = next(s for s in demo.truth_sets if s["exercise"] == "hinge")
    twists = [r for r in hinge["reps"] if r["design"] == "pelvic_twist"]
    assert twists
    for rep in twists:
        sl = slice(_at(demo, rep["start_s"]), _at(demo, rep["end_s"]))
        r = a["pelvis_rotation"][sl]
        k = int(np.argmax(np.abs(r)))
        assert abs(r[k]) > 6.0
        assert np.sign(a["right_hip_rotation"][sl][k]) == -np.sign(r[k])
        assert np.sign(a["left_hip_rotation"][sl][k]) == np.sign(r[k])


# --- truth sets --------------------------------------------------------------------------------

def test_truth_sets_match_events_and_designs(demo):
    ev = [e for e in demo.session.events if e.kind in ("set_start", "set_end")]
    assert [s["exercise"] for s in demo.truth_sets] == [
        "hinge", "single_leg_stance", "single_leg_stance", "hip_airplane", "single_leg_hinge",
        "ir_hinge"]
    for st, (e0, e1) in zip(demo.truth_sets, zip(ev[::2], ev[1::2])):
        assert (st["start_s"], st["end_s"]) == (e0.t_s, e1.t_s)
        assert e0.exercise == st["exercise"] and e0.side == st["side"]
    cal = [e for e in demo.session.events if e.kind.startswith("calibration")]
    assert [e.kind for e in cal] == ["calibration_start", "calibration_end"]
    assert cal[1].t_s < demo.truth_sets[0]["start_s"]
    hinge = demo.truth_sets[0]
    assert len(hinge["reps"]) == 8
    for rep in hinge["reps"]:
        want = [] if rep["design"] == "good" else [rep["design"]]
        assert rep["faults"] == want, rep
        assert rep["start_s"] < rep["end_s"]
        assert rep["tempo_down_s"] > 0.5 and rep["tempo_up_s"] > 0.5
    for st in demo.truth_sets[1:3]:
        assert len(st["holds"]) == 3
        assert sorted(h["grade"] for h in st["holds"]) == ["amber", "green", "red"]
        for h in st["holds"]:
            assert h["grade"] == h["design"]
            assert h["end_s"] - h["start_s"] > 6.0
    air = demo.truth_sets[3]
    assert len(air["reps"]) == 4
    for rep in air["reps"]:
        assert rep["hip_external_rotation_peak_deg"] > 15.0
        assert rep["hip_internal_rotation_peak_deg"] > 8.0
    for st in demo.truth_sets[4:]:  # the article's other two drills, 4 reps each
        assert len(st["reps"]) == 4 and st["side"] == "right"
        for rep in st["reps"]:
            want = [] if rep["design"] == "good" else [rep["design"]]
            assert rep["faults"] == want, rep


def test_most_rep_values_are_clearly_away_from_fault_thresholds():
    res = simulate("hinge", rate_hz=60.0, seed=8, errors=False, roles=ALL, reps=24,
                   calibration=False)
    reps = res.truth_sets[0]["reps"]
    keys = [("thigh_inclination_peak_deg", 25.0), ("pelvis_rotation_range_deg", 6.0),
            ("pelvis_obliquity_range_deg", 4.0), ("lumbar_flexion_peak_deg", 20.0)]
    clear = [all(abs(r[k] - thr) > 1.5 for k, thr in keys) for r in reps]
    assert np.mean(clear) >= 0.9
    assert {d for r in reps for d in r["faults"]} == {
        "squat_pattern", "pelvic_twist", "lateral_shift", "lumbar_flexion"}


def test_squat_knee_collapse_reps_are_flagged():
    res = simulate("squat", rate_hz=60.0, seed=3, errors=False, reps=6, calibration=False)
    reps = res.truth_sets[0]["reps"]
    assert len(reps) == 6
    for r in reps:
        assert r["hip_flexion_peak_deg"] > 70.0
        assert ("knee_collapse" in r["faults"]) == (r["design"] == "knee_collapse")
    assert any(r["design"] == "knee_collapse" for r in reps)


def test_split_squat_sets_per_front_leg_flag_front_knee_collapse():
    res = simulate("split_squat", rate_hz=60.0, seed=2, errors=False, reps=3, calibration=False)
    assert [(s["exercise"], s["side"]) for s in res.truth_sets] == [("squat", "right"),
                                                                    ("squat", "left")]
    for st in res.truth_sets:
        front, back = st["side"], "left" if st["side"] == "right" else "right"
        assert len(st["reps"]) == 3
        for r in st["reps"]:
            assert ("knee_collapse" in r["faults"]) == (r["design"] == "knee_collapse")
            assert abs(r[f"collapse_index_{back}"]) < 5.0
        sl = slice(_at(res, st["start_s"]), _at(res, st["end_s"]))
        assert res.truth_angles[f"{front}_hip_flexion"][sl].max() > 80.0
        assert res.truth_angles[f"{back}_hip_flexion"][sl].min() < -10.0   # back hip extended


def test_posture_set_reports_static_and_return_values():
    res = simulate("posture", rate_hz=60.0, seed=1, errors=False, reps=2, calibration=False)
    st = res.truth_sets[0]
    assert st["exercise"] == "posture" and st["tilt_range_deg"] > 12.0
    assert st["return_error_deg"] < 3.0
    assert 0.0 < st["time_in_zone_pct"] < 100.0
    assert abs(st["static_obliquity_deg"]) < 1.0


# --- reproducibility, options, validation ------------------------------------------------------

def test_same_seed_same_session_and_other_seed_differs():
    kw = dict(rate_hz=60.0, reps=2, calibration=False)
    a, b = simulate("hinge", seed=9, **kw), simulate("hinge", seed=9, **kw)
    c = simulate("hinge", seed=10, **kw)
    for role in a.session.sensors:
        for f in ("seq", "t_sensor_s", "t_host_s", "acc", "gyr"):
            np.testing.assert_array_equal(getattr(a.session.sensors[role], f),
                                          getattr(b.session.sensors[role], f))
    np.testing.assert_array_equal(a.truth_angles["pelvis_tilt"], b.truth_angles["pelvis_tilt"])
    assert a.truth_sets == b.truth_sets
    assert not np.array_equal(a.session.sensors["sacrum"].acc[:100],
                              c.session.sensors["sacrum"].acc[:100])


def test_duration_repeats_sets_and_fixes_the_length():
    res = simulate("hinge", rate_hz=60.0, seed=1, errors=False, reps=3, calibration=False,
                   duration_s=90.0)
    assert res.truth_time_s[-1] == pytest.approx(90.0)
    assert len(res.truth_sets) >= 3


def test_bad_arguments_raise_one_line_errors():
    for kw in (dict(program="jumping"), dict(rate_hz=1.0), dict(roles=("right_thigh",)),
               dict(roles=("sacrum",)), dict(reps=0), dict(duration_s=-1.0),
               dict(program="hinge", duration_s=3.0)):
        with pytest.raises(BadInputError) as ei:
            simulate(**kw)
        assert "\n" not in str(ei.value)


# --- sensor errors -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cal_clean():
    return simulate("calibration", rate_hz=104.0, seed=21, errors=False)


def _with(model: ErrorModel):
    return simulate("calibration", rate_hz=104.0, seed=21, errors=model)


def test_white_noise_matches_datasheet_densities(cal_clean):
    em = ErrorModel.only("gyro_noise", "acc_noise")
    res = _with(em)
    rate = 104.0
    sg = em.gyro_noise_density_dps_per_sqrt_hz * DPS * np.sqrt(rate / 2)
    sa = em.acc_noise_density_ug_per_sqrt_hz * 1e-3 * MG * np.sqrt(rate / 2)
    for role, d in res.session.sensors.items():
        c = cal_clean.session.sensors[role]
        np.testing.assert_array_equal(d.t_host_s, c.t_host_s)
        dg, da = d.gyr - c.gyr, d.acc - c.acc
        assert dg.std(axis=0) == pytest.approx(np.full(3, sg), rel=0.05)
        assert da.std(axis=0) == pytest.approx(np.full(3, sa), rel=0.05)
        assert np.abs(dg.mean(axis=0)).max() < 4 * sg / np.sqrt(len(dg))
        # white: neighbouring samples uncorrelated
        assert abs(np.corrcoef(dg[1:, 0], dg[:-1, 0])[0, 1]) < 0.05


def test_bias_walk_offset_and_scale_are_the_reported_ones(cal_clean):
    em = ErrorModel.only("gyro_bias", "gyro_bias_walk", "acc_offset", "acc_scale")
    res = _with(em)
    step = em.gyro_bias_walk_dps_per_sqrt_s * DPS * np.sqrt(1 / 104.0)
    for role, d in res.session.sensors.items():
        c = cal_clean.session.sensors[role]
        e = res.sensor_errors[role]
        bias = np.asarray(e["gyro_bias_rad_s"])
        walk = d.gyr - c.gyr - bias
        assert np.diff(walk, axis=0).std() == pytest.approx(step, rel=0.05)
        assert np.abs(walk[0]).max() < 5 * step
        expected = c.acc * (1 + np.asarray(e["acc_scale"])) + np.asarray(e["acc_offset_m_s2"])
        np.testing.assert_allclose(d.acc, expected, atol=1e-9)
        assert np.linalg.norm(e["acc_offset_m_s2"]) > 0 and np.linalg.norm(bias) > 0


def test_turn_on_bias_offset_and_scale_spread_match_the_model():
    em = ErrorModel()
    rng = np.random.default_rng(0)
    draws = [draw_errors(em, 104.0, rng) for _ in range(3000)]
    b = np.array([d.gyro_bias_rad_s for d in draws])
    o = np.array([d.acc_offset_m_s2 for d in draws])
    s = np.array([d.acc_scale for d in draws])
    assert b.std() == pytest.approx(em.gyro_bias_sigma_dps * DPS, rel=0.05)
    assert o.std() == pytest.approx(em.acc_offset_sigma_mg * MG, rel=0.05)
    assert s.std() == pytest.approx(em.acc_scale_sigma, rel=0.05)
    drift = np.array([d.clock.drift_ppm for d in draws])
    assert drift.std() == pytest.approx(em.clock_drift_ppm_sigma, rel=0.05)


def test_soft_tissue_wobble_moves_thigh_sensors_only(cal_clean):
    res = _with(ErrorModel.only("wobble"))
    for role, d in res.session.sensors.items():
        c = cal_clean.session.sensors[role]
        diff = np.degrees(np.abs(d.gyr - c.gyr))
        if role == "sacrum":
            np.testing.assert_array_equal(d.gyr, c.gyr)
        else:
            assert 0.05 < diff.max() < 20.0, role          # deg/s: small but present
    for role in res.truth_segments:
        np.testing.assert_array_equal(res.truth_segments[role], cal_clean.truth_segments[role])


def test_quantisation_puts_samples_on_int16_counts(demo):
    em = demo.error_model
    for d in demo.session.sensors.values():
        g = d.gyr / (em.gyro_lsb_mdps * 1e-3 * DPS)
        a = d.acc / (em.acc_lsb_mg * MG)
        np.testing.assert_allclose(g, np.round(g), atol=1e-6)
        np.testing.assert_allclose(a, np.round(a), atol=1e-6)
        assert np.abs(np.round(a)).max() <= 32768


def test_drops_leave_sequence_gaps_of_whole_notifications(demo):
    b = demo.error_model.batch_samples
    gaps = 0
    for role, d in demo.session.sensors.items():
        ds = np.diff(d.seq)
        assert (ds >= 1).all()
        missing = ds[ds > 1] - 1
        assert (missing % b == 0).all()
        gaps += len(missing)
        e = demo.sensor_errors[role]
        lost_at_ends = int(d.seq[0]) + (e["samples_taken"] - 1 - int(d.seq[-1]))
        assert e["dropped_samples"] == int(missing.sum()) + lost_at_ends
    assert gaps >= 3


def test_host_times_are_batched_late_and_in_order(demo):
    em = demo.error_model
    for role, d in demo.session.sensors.items():
        assert (np.diff(d.t_host_s) >= 0).all()
        n_unique = len(np.unique(d.t_host_s))
        assert n_unique == pytest.approx(len(d) / em.batch_samples, rel=0.05)
        lag = d.t_host_s - demo.sample_true_times(role)
        assert lag.min() >= em.latency_s - 1e-9
        assert np.median(lag) < em.latency_s + em.batch_samples / demo.rate_hz + 5 * em.jitter_s


def test_sensor_clocks_have_offset_and_drift(demo):
    drifts = []
    for role, d in demo.session.sensors.items():
        c = demo.clock[role]
        # lower envelope of host − sensor time (least delayed notification per 10 s window)
        lag = d.t_host_s - d.t_sensor_s
        win = (d.t_host_s // 10.0).astype(int)
        pick = [np.flatnonzero(win == w)[np.argmin(lag[win == w])] for w in np.unique(win)]
        slope, icpt = np.polyfit(d.t_host_s[pick], d.t_sensor_s[pick], 1)
        assert (slope - 1.0) * 1e6 == pytest.approx(c["drift_ppm"], abs=1.5)
        assert abs(icpt - c["offset_s"]) < 0.1
        # the sensor's ticks are uniform on its own clock
        dt = np.diff(d.t_sensor_s) / np.diff(d.seq)
        np.testing.assert_allclose(dt, 1.0 / demo.rate_hz, rtol=1e-9)
        drifts.append(abs(c["drift_ppm"]))
    assert max(drifts) > 2.0
    offsets = [demo.clock[r]["offset_s"] for r in demo.session.sensors]
    assert len(set(np.round(offsets, 3))) == len(offsets)


def test_sensor_orientation_is_in_a_z_up_earth_frame_facing_the_heading():
    res = simulate("calibration", rate_hz=104.0, seed=2, errors=False, sway=False)
    from imu.quat import rotate
    still = res.truth_time_s < 4.5
    for role, d in res.session.sensors.items():
        q = res.sensor_orientation(role)
        up_S = rotate(q * np.array([1, -1, -1, -1]), np.array([0.0, 0.0, G_MS2]))  # earth → sensor
        assert np.abs(d.acc[still] - up_S[still]).max() < 0.01, role
    # standing, the pelvis's anterior axis points along the person's heading
    q = res.sensor_orientation("sacrum")[0]
    fwd_S = res.mounts["sacrum"].T @ np.array([1.0, 0.0, 0.0])
    fwd_E = rotate(q, fwd_S)
    assert np.degrees(np.arctan2(fwd_E[1], fwd_E[0])) % 360 == pytest.approx(res.heading_deg,
                                                                             abs=0.01)


def test_outages_remove_whole_stretches_when_switched_on():
    res = simulate("calibration", rate_hz=104.0, seed=6,
                   errors=ErrorModel.only("outages", outages_per_min=6.0))
    longest = max(np.diff(d.t_sensor_s).max() for d in res.session.sensors.values())
    assert longest >= 0.45
    assert all(np.diff(d.seq).max() > 1 for d in res.session.sensors.values())
