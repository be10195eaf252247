"""Our pelvis and hip angles in OpenSim's coordinate names and conventions.

OpenSim's gait models (gait2392, Rajagopal2015 and their OpenSense variants) share the ISB axes
(X forward, Y up, Z right in ground and in every body at the default pose) and define the
pelvis and hips as ``CustomJoint`` s whose rotations are body-fixed (each about the axis moved by
the ones before):

=====================  ======================  ===========================================
joint                  rotation order          axes (parent → child)
=====================  ======================  ===========================================
``ground_pelvis``      tilt → list → rotation  ``pelvis_tilt`` +Z, ``pelvis_list`` +X,
                                               ``pelvis_rotation`` +Y
``hip_r``              flexion → add → rot     ``hip_flexion_r`` +Z, ``hip_adduction_r`` +X,
                                               ``hip_rotation_r`` +Y
``hip_l``              flexion → add → rot     ``hip_flexion_l`` +Z, ``hip_adduction_l`` −X,
                                               ``hip_rotation_l`` −Y
=====================  ======================  ===========================================

So ``R_ground_pelvis = Rz(pelvis_tilt) Rx(pelvis_list) Ry(pelvis_rotation)``: a positive
``pelvis_tilt`` is a **posterior** tilt, ``pelvis_list`` is positive with the right side lower,
``pelvis_rotation`` positive turns the pelvis to the left. Our pelvis angles use the other
Cardan order (rotation → obliquity → tilt, :mod:`imu.kinematics.frames`), so the OpenSim pelvis
coordinates are recomputed from the pelvis orientation, not obtained by flipping signs (they
differ from ours by more than a sign once two of the angles are non-zero).

The hips already use OpenSim's order and axes (ISB / Grood & Suntay, left mirrored through the
−X and −Y axes), so ``hip_flexion_r = right_hip_flexion`` and so on, on both sides.

Thigh inclination has no OpenSim coordinate and is not exported; nor is lumbar flexion (ours is
a difference of tilts, not OpenSim's ``lumbar_extension`` joint coordinate).
"""

from __future__ import annotations

import numpy as np

from imu.kinematics.frames import hip_angles, pelvis_matrix

#: OpenSim pelvis coordinates in the order of the model's ``ground_pelvis`` joint.
PELVIS_COORDINATES = ("pelvis_tilt", "pelvis_list", "pelvis_rotation")

#: (our column suffix, OpenSim coordinate stem) of the hip angles.
HIP_COORDINATES = (("hip_flexion", "hip_flexion"), ("hip_adduction", "hip_adduction"),
                   ("hip_rotation", "hip_rotation"))

_SUFFIX = {"right": "r", "left": "l"}


def opensim_pelvis(tilt_deg, obliquity_deg, rotation_deg):
    """OpenSim ``(pelvis_tilt, pelvis_list, pelvis_rotation)`` in degrees from our pelvis angles.

    Parameters
    ----------
    tilt_deg, obliquity_deg, rotation_deg : array_like, shape (N,)
        Our ``pelvis_tilt`` (+ anterior), ``pelvis_obliquity`` (+ right side lower) and
        ``pelvis_rotation`` (+ to the left), Cardan rotation → obliquity → tilt.

    Returns
    -------
    tuple of ndarray, each shape (N,)
        OpenSim's Cardan tilt (+Z, + posterior) → list (+X) → rotation (+Y) of the same pelvis
        orientation. NaN in, NaN out.
    """
    R_WP = pelvis_matrix(tilt_deg, obliquity_deg, rotation_deg)
    # Rz(a) Rx(b) Ry(c) is the right hip's Cardan sequence: the same closed form
    return hip_angles(R_WP, "right")


def opensim_coordinates(columns: dict) -> dict[str, np.ndarray]:
    """OpenSim coordinate name → values (degrees) from our angle columns.

    Parameters
    ----------
    columns : dict
        Our angle column name (``pelvis_tilt``, ``right_hip_flexion``, …) → (N,) degrees, e.g.
        ``AngleTable.columns`` or a simulator's ``truth_angles``.

    Returns
    -------
    dict
        In OpenSim's order: ``pelvis_tilt``, ``pelvis_list``, ``pelvis_rotation``, then
        ``hip_flexion_r``, ``hip_adduction_r``, ``hip_rotation_r`` and ``_l`` alike for each
        side present.
    """
    out: dict[str, np.ndarray] = {}
    tilt, lst, rot = opensim_pelvis(columns["pelvis_tilt"], columns["pelvis_obliquity"],
                                    columns["pelvis_rotation"])
    out.update(zip(PELVIS_COORDINATES, (tilt, lst, rot)))
    for side, suffix in _SUFFIX.items():
        if f"{side}_hip_flexion" not in columns:
            continue
        for ours, theirs in HIP_COORDINATES:
            out[f"{theirs}_{suffix}"] = np.asarray(columns[f"{side}_{ours}"], dtype=float)
    return out
