"""docs/angles.md sign table, checked on the one module that defines the conventions."""

import numpy as np
import pytest

from imu.kinematics.frames import (hip_angles, hip_matrix, pelvis_angles, pelvis_matrix,
                                   segment_angles)

I = np.eye(3)[None]


def test_calibration_pose_gives_all_zero_angles():
    a = segment_angles({"sacrum": I, "right_thigh": I, "left_thigh": I, "trunk": I})
    for name, v in a.items():
        assert abs(v[0]) < 1e-9, name


def test_hinge_with_vertical_thighs_gives_tilt_and_equal_flexion():
    P = pelvis_matrix(30, 0, 0)
    a = segment_angles({"sacrum": P, "right_thigh": I, "left_thigh": I})
    assert a["pelvis_tilt"][0] == pytest.approx(30)
    assert a["right_hip_flexion"][0] == pytest.approx(30)
    assert a["left_hip_flexion"][0] == pytest.approx(30)
    assert abs(a["right_thigh_inclination"][0]) < 1e-9
    # the anterior tilt moves the top of the pelvis (+Y) forward (+X)
    assert P[0][0, 1] > 0


def test_squat_flexion_is_tilt_plus_inclination():
    P = pelvis_matrix(20, 0, 0)
    F = hip_matrix(35, 0, 0, "right")  # femur flexed in world: knee ahead of hip
    a = segment_angles({"sacrum": P, "right_thigh": F})
    assert a["right_thigh_inclination"][0] == pytest.approx(35)
    assert a["right_hip_flexion"][0] == pytest.approx(55)


def test_forward_leg_swing_is_positive_flexion_and_inclination():
    F = hip_matrix(40, 0, 0, "left")
    a = segment_angles({"sacrum": I, "left_thigh": F})
    assert a["left_hip_flexion"][0] == pytest.approx(40)
    assert a["left_thigh_inclination"][0] == pytest.approx(40)


def test_right_side_drop_on_left_leg():
    P = pelvis_matrix(0, 6, 0)
    a = segment_angles({"sacrum": P, "left_thigh": I, "right_thigh": I})
    assert a["pelvis_obliquity"][0] == pytest.approx(6)
    assert a["left_hip_adduction"][0] == pytest.approx(6)
    # the right side (+Z) goes down
    assert P[0][1, 2] < 0


def test_airplane_opening_on_right_leg_is_external_rotation():
    P = pelvis_matrix(0, 0, 15)
    a = segment_angles({"sacrum": P, "right_thigh": I})
    assert a["pelvis_rotation"][0] == pytest.approx(15)
    assert a["right_hip_rotation"][0] == pytest.approx(-15)
    # turning left: the anterior axis points to the left (−Z)
    assert P[0][2, 0] < 0


def test_pelvis_turning_right_with_feet_planted():
    P = pelvis_matrix(0, 0, -10)
    a = segment_angles({"sacrum": P, "right_thigh": I, "left_thigh": I})
    assert a["pelvis_rotation"][0] == pytest.approx(-10)
    assert a["right_hip_rotation"][0] == pytest.approx(10)
    assert a["left_hip_rotation"][0] == pytest.approx(-10)


@pytest.mark.parametrize("side", ["right", "left"])
def test_hip_angles_invert_hip_matrix(side):
    rng = np.random.default_rng(1)
    f, ad, r = rng.uniform(-40, 90, 50), rng.uniform(-30, 30, 50), rng.uniform(-40, 40, 50)
    f2, ad2, r2 = hip_angles(hip_matrix(f, ad, r, side), side)
    np.testing.assert_allclose([f2, ad2, r2], [f, ad, r], atol=1e-9)


def test_pelvis_angles_invert_pelvis_matrix():
    rng = np.random.default_rng(2)
    t, o, r = rng.uniform(-40, 80, 50), rng.uniform(-20, 20, 50), rng.uniform(-60, 60, 50)
    np.testing.assert_allclose(pelvis_angles(pelvis_matrix(t, o, r)), [t, o, r], atol=1e-9)


def test_closed_forms_match_scipy_cardan_decompositions():
    from scipy.spatial.transform import Rotation
    rng = np.random.default_rng(3)
    R = Rotation.random(200, random_state=4)
    e = R.as_euler("YXZ", degrees=True)
    tilt, obl, rot = pelvis_angles(R.as_matrix())
    np.testing.assert_allclose([rot, obl, -tilt], e.T, atol=1e-7)
    e = R.as_euler("ZXY", degrees=True)
    f, a, r = hip_angles(R.as_matrix(), "right")
    np.testing.assert_allclose([f, a, r], e.T, atol=1e-7)
    f, a, r = hip_angles(R.as_matrix(), "left")
    np.testing.assert_allclose([f, -a, -r], e.T, atol=1e-7)
    ang = rng.uniform(-80, 80, (50, 3))
    np.testing.assert_allclose(pelvis_matrix(*ang.T),
                               Rotation.from_euler("YXZ", np.c_[ang[:, 2], ang[:, 1], -ang[:, 0]],
                                                   degrees=True).as_matrix(), atol=1e-12)


def test_gap_in_one_segment_leaves_other_columns_valid():
    F = np.full((1, 3, 3), np.nan)
    a = segment_angles({"sacrum": pelvis_matrix(10, 0, 0), "right_thigh": F,
                        "left_thigh": I})
    assert a["pelvis_tilt"][0] == pytest.approx(10)
    assert np.isnan(a["right_hip_flexion"][0])
    assert a["left_hip_flexion"][0] == pytest.approx(10)


def test_segment_angles_of_quaternions_equal_those_of_their_matrices():
    from scipy.spatial.transform import Rotation

    from imu import quat as Q

    rots = {r: Rotation.random(400, random_state=k) for k, r in
            enumerate(("sacrum", "right_thigh", "left_thigh", "trunk"))}
    quats = {r: Q.from_scipy(rot) for r, rot in rots.items()}
    quats["right_thigh"][5] = np.nan  # a gap
    mats = {r: Q.to_matrix(q) for r, q in quats.items()}
    a, b = segment_angles(quats), segment_angles(mats)
    assert list(a) == list(b)
    for c in a:
        assert np.array_equal(np.isnan(a[c]), np.isnan(b[c]))
        assert np.nanmax(np.abs(a[c] - b[c])) < 1e-9


def test_heading_and_upright_equal_heading_deg_and_the_upright_angle_test():
    from imu import quat as Q
    from imu.kinematics.frames import heading_and_upright, heading_deg, upright_angle_deg

    rng = np.random.default_rng(8)
    q = Q.normalize(rng.normal(size=(20000, 4)) * [1, 0.1, 1, 0.1])
    half = np.radians(10.0) / 2 + rng.normal(0, 1e-13, 500)  # tilted by 10° (the limit)
    q[:500] = np.column_stack([np.cos(half), np.sin(half), np.zeros(500), np.zeros(500)])
    q[600] = np.nan
    h, up = heading_and_upright(q, 10.0)
    with np.errstate(invalid="ignore"):
        want = upright_angle_deg(q) < 10.0
    assert np.array_equal(up, want) and 0 < want[:500].sum() < 500
    assert np.array_equal(h, heading_deg(q), equal_nan=True)
