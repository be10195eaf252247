"""Frames and angle conventions of docs/angles.md: the one place that defines them.

Frames
------
- **Earth frame E** (fusion output): z up, heading arbitrary.
- **World frame W** (ISB, yaw-free): X forward, Y up, Z right. ``R_WE`` maps E to W
  (E z → W Y, E x → W X, E y → W −Z).
- **Segment frames B** (pelvis, femur, trunk): X anterior, Y superior, Z right; equal to W in
  the calibration pose (quiet standing), so every angle is zero there.

All rotation matrices ``R_AB`` map B-frame vectors into frame A; arrays are (N, 3, 3).

Angles (degrees)
----------------
- Pelvis (relative to W), intrinsic Y → X → Z: ``R_WP = Ry(rotation) Rx(obliquity) Rz(−tilt)``.
  ``pelvis_tilt`` + anterior, ``pelvis_obliquity`` + right side lower, ``pelvis_rotation`` + to
  the left.
- Hip (femur relative to pelvis), intrinsic Z → X → Y: right ``R_PF = Rz(flex) Rx(add) Ry(ir)``;
  left mirrored ``R_PF = Rz(flex) Rx(−add) Ry(−ir)`` so flexion, adduction and internal rotation
  are positive on both sides.
- Thigh inclination: forward tilt of the femur long axis (+Y) from vertical in the sagittal plane
  of the pelvis heading, + when the knee is in front of the hip.
- Lumbar flexion: trunk tilt (same decomposition as the pelvis) minus pelvis tilt.
- Lumbar rotation: axial rotation of the trunk relative to the pelvis (trunk relative to pelvis
  decomposed Z → X → Y like a joint, the Y angle), + when the trunk turns to the left of the
  pelvis (upright: trunk rotation minus pelvis rotation).
"""

from __future__ import annotations

import numpy as np

from imu import quat as Q

#: Earth (z up) → world (ISB, Y up).
R_WE = np.array([[1.0, 0.0, 0.0],
                 [0.0, 0.0, 1.0],
                 [0.0, -1.0, 0.0]])

#: Unit vector "up" in the world frame.
UP_W = np.array([0.0, 1.0, 0.0])


def _as_stack(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=float)
    return m[None] if m.ndim == 2 else m


def _rot(axis: int, a_deg: np.ndarray) -> np.ndarray:
    """Elementary rotations about body axis ``axis`` (0=X, 1=Y, 2=Z) by ``a_deg`` (N,) → (N,3,3)."""
    a = np.radians(a_deg)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R[..., axis, axis] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def _atan2d(y, x):
    return np.degrees(np.arctan2(y, x))


def _asind(x):
    return np.degrees(np.arcsin(np.clip(x, -1.0, 1.0)))


def _arrays(*xs):
    return np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, float)) for x in xs))


def pelvis_matrix(tilt_deg, obliquity_deg, rotation_deg) -> np.ndarray:
    """Pelvis orientation ``R_WP`` (N, 3, 3) from pelvis angles (degrees, arrays of shape (N,))."""
    tilt, obl, rot = _arrays(tilt_deg, obliquity_deg, rotation_deg)
    return _rot(1, rot) @ _rot(0, obl) @ _rot(2, -tilt)


def pelvis_angles(R_WP: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tilt, obliquity, rotation)`` in degrees, each (N,), from ``R_WP`` (N, 3, 3).

    Closed form of ``R = Ry(rot) Rx(obl) Rz(−tilt)``: ``obl = asin(−R12)``,
    ``rot = atan2(R02, R22)``, ``−tilt = atan2(R10, R11)``. NaN matrices give NaN angles.
    """
    P = _as_stack(R_WP)
    return (-_atan2d(P[:, 1, 0], P[:, 1, 1]), _asind(-P[:, 1, 2]),
            _atan2d(P[:, 0, 2], P[:, 2, 2]))


def hip_matrix(flexion_deg, adduction_deg, rotation_deg, side: str) -> np.ndarray:
    """Femur relative to pelvis ``R_PF`` (N, 3, 3) from hip angles (degrees) for ``side``."""
    f, a, r = _arrays(flexion_deg, adduction_deg, rotation_deg)
    s = _side_sign(side)
    return _rot(2, f) @ _rot(0, s * a) @ _rot(1, s * r)


def hip_angles(R_PF: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(flexion, adduction, internal rotation)`` in degrees from ``R_PF`` (N, 3, 3).

    Closed form of ``R = Rz(flex) Rx(s·add) Ry(s·ir)``: ``s·add = asin(R21)``,
    ``flex = atan2(−R01, R11)``, ``s·ir = atan2(−R20, R22)``.
    """
    H = _as_stack(R_PF)
    s = _side_sign(side)
    return (_atan2d(-H[:, 0, 1], H[:, 1, 1]), s * _asind(H[:, 2, 1]),
            s * _atan2d(-H[:, 2, 0], H[:, 2, 2]))


def _elements(R_WB: np.ndarray):
    """``(R[0, 2], R[1, 1], R[2, 2])``, each (N,), of (N, 3, 3) / (3, 3) matrices or of (N, 4)
    unit quaternions ``w, x, y, z``."""
    R_WB = np.asarray(R_WB, dtype=float)
    if R_WB.ndim == 2 and R_WB.shape[1] == 4:
        w, x, y, z = R_WB.T
        return 2 * (x * z + w * y), 1 - 2 * (x * x + z * z), 1 - 2 * (x * x + y * y)
    R = _as_stack(R_WB)
    return R[:, 0, 2], R[:, 1, 1], R[:, 2, 2]


def heading_deg(R_WB: np.ndarray) -> np.ndarray:
    """Heading (degrees, (N,)): rotation about world Y, the first Cardan angle of the pelvis
    order Y → X → Z, ``atan2(R02, R22)``. ``R_WB``: (N, 3, 3) or (3, 3) matrices, or (N, 4)
    unit quaternions; NaN in, NaN out (gaps)."""
    r02, _, r22 = _elements(R_WB)
    return _atan2d(r02, r22)


def upright_angle_deg(R_WB: np.ndarray) -> np.ndarray:
    """Angle (degrees, (N,)) between the segment's +Y axis and world up; heading-free.
    ``R_WB``: matrices or unit quaternions as for :func:`heading_deg`."""
    return np.degrees(np.arccos(np.clip(_elements(R_WB)[1], -1.0, 1.0)))


def heading_and_upright(R_WB: np.ndarray, upright_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`heading_deg` and ``upright_angle_deg(R_WB) < upright_deg`` of the same
    orientations at once (the mask compared through the angle's cosine, and where that lies
    within 1e-9 of the limit, through the angle itself: the same mask)."""
    r02, r11, r22 = _elements(R_WB)
    limit = float(np.cos(np.radians(upright_deg)))
    up = r11 > limit
    near = np.abs(r11 - limit) < 1e-9
    if near.any():  # (rare: the indices only then)
        near = np.flatnonzero(near)
        up[near] = np.degrees(np.arccos(np.clip(r11[near], -1.0, 1.0))) < upright_deg
    return _atan2d(r02, r22), up


def thigh_inclination(R_WP: np.ndarray, R_WF: np.ndarray) -> np.ndarray:
    """Thigh inclination (degrees, (N,)): femur long axis from vertical in the pelvis's sagittal
    plane, + with the knee in front of the hip."""
    R_WP = _as_stack(R_WP)
    R_WF = _as_stack(R_WF)
    yaw = np.radians(heading_deg(R_WP))
    y_f = R_WF[:, :, 1]
    # express the femur axis in the pelvis heading frame: Ry(-yaw) @ y_f
    c, s = np.cos(yaw), np.sin(yaw)
    vx = c * y_f[:, 0] - s * y_f[:, 2]
    vy = y_f[:, 1]
    return _atan2d(-vx, vy)


def _side_sign(side: str) -> float:
    if side == "right":
        return 1.0
    if side == "left":
        return -1.0
    raise ValueError(f"side must be 'right' or 'left', not {side!r}")


def angle_columns(sides: list[str], trunk: bool) -> list[str]:
    """docs/formats.md angles CSV column names (without ``time_s``) in order."""
    cols = ["pelvis_tilt", "pelvis_obliquity", "pelvis_rotation"]
    for side in sides:
        cols += [f"{side}_hip_flexion", f"{side}_hip_adduction", f"{side}_hip_rotation",
                 f"{side}_thigh_inclination"]
    if trunk:
        cols += ["lumbar_flexion", "lumbar_rotation"]
    return cols


def _element_arrays(m: np.ndarray) -> np.ndarray:
    """Elements first, (3, 3, N): a view of (N, 3, 3) / (3, 3) matrices, or the matrices of
    (N, 4) quaternions ``w, x, y, z`` (normalised, :func:`imu.quat.matrix_elements`)."""
    m = np.asarray(m, dtype=float)
    if m.ndim == 2 and m.shape[1] == 4:
        return Q.matrix_elements(m)
    return np.moveaxis(_as_stack(m), 0, -1)


def segment_angles(segments: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All docs/angles.md angles from world orientations of segments, in closed form.

    Pelvis ``R = Ry(rot) Rx(obl) Rz(-tilt)`` (:func:`pelvis_angles`). Hip
    ``R_PF = P^T F = Rz(flex) Rx(s·add) Ry(s·ir)``: ``s·add = asin(R21)``,
    ``flex = atan2(-R01, R11)``, ``s·ir = atan2(-R20, R22)`` with only the needed elements of
    ``P^T F`` computed. Thigh inclination as :func:`thigh_inclination`; lumbar flexion = trunk
    tilt - pelvis tilt.

    Parameters
    ----------
    segments : dict
        Role → ``R_WB`` (N, 3, 3), or the same orientation as (N, 4) quaternions ``w, x, y, z``
        (normalised here; the same numbers as their :func:`imu.quat.to_matrix`): ``sacrum``
        required; ``right_thigh``, ``left_thigh``, ``trunk`` optional.

    Returns
    -------
    dict
        Column name (docs/formats.md order) → (N,) degrees. A NaN matrix (a gap) gives NaN in the
        columns that need that segment only.
    """
    P = _element_arrays(segments["sacrum"])
    tilt = -_atan2d(P[1, 0], P[1, 1])
    rot = _atan2d(P[0, 2], P[2, 2])
    out = {"pelvis_tilt": tilt, "pelvis_obliquity": _asind(-P[1, 2]), "pelvis_rotation": rot}
    # cos and sin of the pelvis heading atan2(R02, R22), without the angle: R02, R22 over
    # their length (1, 0 where both are 0, as atan2(0, 0) = 0)
    r = P[0, 2] * P[0, 2]
    r += P[2, 2] * P[2, 2]
    np.sqrt(r, out=r)
    level = r == 0
    if level.any():
        r[level] = np.inf
    cos_yaw, sin_yaw = P[2, 2] / r, P[0, 2] / r
    if level.any():
        cos_yaw[level] = 1.0

    def rel(B, i, j):  # element (i, j) of P^T B
        return P[0, i] * B[0, j] + P[1, i] * B[1, j] + P[2, i] * B[2, j]

    for side in ("right", "left"):
        if f"{side}_thigh" not in segments:
            continue
        sgn = _side_sign(side)
        F = _element_arrays(segments[f"{side}_thigh"])
        vx = cos_yaw * F[0, 1] - sin_yaw * F[2, 1]  # femur axis in the pelvis heading frame
        out.update({f"{side}_hip_flexion": _atan2d(-rel(F, 0, 1), rel(F, 1, 1)),
                    f"{side}_hip_adduction": sgn * _asind(rel(F, 2, 1)),
                    f"{side}_hip_rotation": sgn * _atan2d(-rel(F, 2, 0), rel(F, 2, 2)),
                    f"{side}_thigh_inclination": _atan2d(-vx, F[1, 1])})
    if "trunk" in segments:
        T = _element_arrays(segments["trunk"])
        out["lumbar_flexion"] = -_atan2d(T[1, 0], T[1, 1]) - tilt
        out["lumbar_rotation"] = _atan2d(-rel(T, 2, 0), rel(T, 2, 2))
    return out
