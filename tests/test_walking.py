"""Walking: strides from hip-flexion peaks, per-stride metrics, bouts, recognition."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from imu.analysis import Settings, analyze_angles
from imu.types import AngleTable


def gait_table(stride_s=1.1, amp=20.0, obl=4.0, dur=20.0, lead=3.0, rate=100.0):
    """Standing, then ideal gait: right/left hip flexion in antiphase, obliquity dropping on
    the swinging side during each stance."""
    t = np.arange(0, lead + dur + 2.0, 1 / rate)
    on = ((t > lead) & (t < lead + dur)).astype(float)
    ph = 2 * np.pi * (t - lead) / stride_s
    cols = {"pelvis_tilt": on * 1.5 * np.sin(2 * ph), "pelvis_obliquity": on * obl * np.sin(ph + np.pi),
            "pelvis_rotation": on * 5 * np.sin(ph),
            "right_hip_flexion": on * (10 + amp * np.sin(ph)),
            "left_hip_flexion": on * (10 + amp * np.sin(ph + np.pi))}
    return AngleTable(time_s=t, columns=cols)


def test_strides_cadence_and_drop_on_ideal_gait():
    tab = gait_table()
    res = analyze_angles(tab, [], Settings())
    assert len(res["sets"]) == 1
    s = res["sets"][0]
    assert s["exercise"] == "walking" and s["inferred"] is True
    assert 1.5 <= s["start_s"] <= 3.5 and 22.0 <= s["end_s"] <= 24.5
    assert s["cadence_steps_per_min"] == pytest.approx(120 / 1.1, abs=0.5)
    for side in ("right", "left"):
        st = [r for r in s["strides"] if r["side"] == side]
        assert len(st) >= 15
        inner = st[1:-1]  # away from the ramps at the bout's ends
        assert all(r["stride_time_s"] == pytest.approx(1.1, abs=0.02) for r in inner)
        assert all(r["hip_flexion_range_deg"] == pytest.approx(40.0, abs=0.2) for r in inner)
        assert all(r["hip_flexion_peak_deg"] == pytest.approx(30.0, abs=0.1) for r in inner)
        assert all(r["hip_extension_peak_deg"] == pytest.approx(10.0, abs=0.1) for r in inner)
        # the swinging side drops during this leg's stance: positive, as in docs/angles.md
        assert all(3.5 < r["pelvic_drop_deg"] <= 4.01 for r in inner)
        assert all(r["pelvis_rotation_range_deg"] == pytest.approx(10.0, abs=0.2) for r in inner)
    sym = s["symmetry"]
    assert abs(sym["stride_time_s"]["index_pct"]) < 1.0
    assert abs(sym["hip_flexion_range_deg"]["right_minus_left"]) < 0.2


def test_asymmetric_gait_shows_in_symmetry():
    tab = gait_table()
    tab.columns["left_hip_flexion"] = 0.7 * tab.columns["left_hip_flexion"]
    s = analyze_angles(tab, [], Settings())["sets"][0]
    d = s["symmetry"]["hip_flexion_range_deg"]
    assert d["right_minus_left"] == pytest.approx(12.0, abs=0.5)
    assert d["index_pct"] == pytest.approx(100 * 12 / 34, abs=1.5)


def test_squats_are_not_walking():
    t = np.arange(0, 30, 0.01)
    flex = 45 * (1 - np.cos(2 * np.pi * t / 2.0))  # both hips together, 2 s a rep
    cols = {"pelvis_tilt": 0.5 * flex, "pelvis_obliquity": 0 * t, "pelvis_rotation": 0 * t,
            "right_hip_flexion": flex, "left_hip_flexion": flex}
    res = analyze_angles(AngleTable(time_s=t, columns=cols), [], Settings())
    assert not [s for s in res["sets"] if s["exercise"] == "walking"]


@functools.lru_cache(maxsize=None)
def _simulated_walk():
    from imu.calibration import calibrate_session
    from imu.kinematics.pipeline import compute_angles
    from imu.sim import simulate

    res = simulate("walking", rate_hz=60.0, seed=5150, errors=True, duration_s=75.0)
    prof = calibrate_session(res.session)
    return res, compute_angles(res.session, prof.alignment())


def test_simulated_walk_strides_match_those_of_the_true_angles():
    res, est = _simulated_walk()
    cal_end = next(e.t_s for e in res.session.events if e.kind == "calibration_end")
    truth = AngleTable(res.truth_time_s, {c: res.truth_angles[c] for c in est.names()})
    got = analyze_angles(est, res.session.events, Settings(), calibration_end_s=cal_end)
    want = analyze_angles(truth, res.session.events, Settings(), calibration_end_s=cal_end)
    g = [s for s in got["sets"] if s["exercise"] == "walking"]
    w = [s for s in want["sets"] if s["exercise"] == "walking"]
    assert len(g) == len(w) == 1
    gs, ws = g[0]["strides"], w[0]["strides"]
    assert abs(len(gs) - len(ws)) <= 2 and len(ws) >= 30
    for a in ws:
        b = min((x for x in gs if x["side"] == a["side"]),
                key=lambda x: abs(x["start_s"] - a["start_s"]))
        if abs(b["start_s"] - a["start_s"]) > 0.1:
            continue
        assert b["stride_time_s"] == pytest.approx(a["stride_time_s"], abs=0.05)
        assert b["hip_flexion_range_deg"] == pytest.approx(a["hip_flexion_range_deg"], abs=3.0)
        assert b["pelvic_drop_deg"] == pytest.approx(a["pelvic_drop_deg"], abs=1.5)
    assert g[0]["cadence_steps_per_min"] == pytest.approx(w[0]["cadence_steps_per_min"], abs=1.0)
