"""Smooth motion primitives and the body's dimensions.

Every program builds its angle and position channels out of :func:`quintic` ramps and
:func:`bump` profiles, which are C² continuous (position, velocity and acceleration continuous),
so the accelerometer signal computed by differentiating positions twice has no spikes.

Body dimensions (metres) are those of an adult of about 1.75 m; sensor sites are the usual
strapping points: sacrum sensor over S2 (posterior), thigh sensors lateral at mid-femur, trunk
sensor over L1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

#: Standard gravity, m/s².
G_MS2 = 9.80665
#: Shank length (ankle to knee) and femur length (knee to hip joint centre), m.
SHANK_M = 0.43
FEMUR_M = 0.43
#: Half the distance between the hip joint centres, m (pelvis frame Z).
HIP_HALF_WIDTH_M = 0.085
#: Height of the mid-hip point above the ankles in quiet standing, m.
HIP_HEIGHT_M = SHANK_M + FEMUR_M

#: Sacrum sensor site in the pelvis frame (origin mid-hip), m: posterior and a little superior.
SACRUM_SITE_P = np.array([-0.12, 0.05, 0.0])
#: Lumbosacral joint (L5/S1) in the pelvis frame, m.
L5S1_P = np.array([-0.07, 0.10, 0.0])
#: Trunk sensor site (skin over L1) in the trunk frame relative to L5/S1, m.
TRUNK_SITE_T = np.array([-0.05, 0.20, 0.0])


def thigh_site_f(side: str) -> np.ndarray:
    """Thigh sensor site in the femur frame relative to the hip joint centre, m (lateral,
    mid-femur, slightly anterior)."""
    s = 1.0 if side == "right" else -1.0
    return np.array([0.02, -0.20, s * 0.08])


def hip_centre_p(side: str) -> np.ndarray:
    """Hip joint centre in the pelvis frame (origin mid-hip), m."""
    s = 1.0 if side == "right" else -1.0
    return np.array([0.0, 0.0, s * HIP_HALF_WIDTH_M])


def quintic(x) -> np.ndarray:
    """Minimum-jerk ramp 0 → 1 for x in [0, 1] (clipped outside); C² at both ends."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    return x * x * x * (10.0 - 15.0 * x + 6.0 * x * x)


def bump(t, t0: float, down_s: float, hold_s: float, up_s: float) -> np.ndarray:
    """Profile 0 → 1 → 0: rises from ``t0`` over ``down_s``, holds ``hold_s``, returns over
    ``up_s`` (seconds). C² continuous."""
    t = np.asarray(t, dtype=float)
    return quintic((t - t0) / down_s) - quintic((t - t0 - down_s - hold_s) / up_s)


@dataclass
class Channels:
    """Body state over a time grid (before the global sway is added).

    Attributes
    ----------
    pelvis_deg : ndarray, shape (n, 3)
        Pelvis ``tilt, obliquity, rotation`` (docs/angles.md), degrees.
    disp_m : ndarray, shape (n, 3)
        Displacement of the mid-hip point from its quiet-standing position at the block's start,
        world frame (X forward, Y up, Z right), m.
    femur : dict
        ``"right"``/``"left"`` → ``R_WF`` (n, 3, 3), femur orientation in the world frame.
    lumbar_deg : ndarray, shape (n,)
        Trunk flexion relative to the pelvis (about the pelvis Z axis), degrees.
    lumbar_rot_deg : ndarray, shape (n,), optional
        Trunk axial rotation relative to the pelvis (about the trunk's long axis, + to the left,
        after the flexion), degrees; ``None`` means none.
    """

    pelvis_deg: np.ndarray
    disp_m: np.ndarray
    femur: dict
    lumbar_deg: np.ndarray
    lumbar_rot_deg: np.ndarray | None = None

    @classmethod
    def standing(cls, n: int) -> "Channels":
        eye = np.broadcast_to(np.eye(3), (n, 3, 3))
        return cls(np.zeros((n, 3)), np.zeros((n, 3)), {"right": eye, "left": eye},
                   np.zeros(n))


@dataclass
class Block:
    """One piece of a program: a function of local time plus what it is (for events/truth).

    Attributes
    ----------
    name : str
        ``standing``, ``calibration``, an exercise name or ``walking``.
    duration_s : float
    evaluate : callable
        ``evaluate(t_local_s (n,)) -> Channels``. Must be quiet standing (all zero, femurs
        identity) with zero derivatives at ``0`` and at ``duration_s``, except ``disp_m`` which may
        end at a constant offset (walking forward).
    exercise, side : str or None
        Set exercise (docs/formats.md names) and side (stance leg for single-leg work).
    set_window : tuple or None
        ``(start_s, end_s)`` local times of the set events inside the block.
    calibration : bool
        The block is the docs/calibration.md calibration protocol.
    reps : list of dict
        Programmed reps/holds: local ``t0`` (motion onset), ``t1`` (motion end), ``design``
        (what the rep was built to show) and program parameters.
    """

    name: str
    duration_s: float
    evaluate: Callable[[np.ndarray], Channels]
    exercise: str | None = None
    side: str | None = None
    set_window: tuple | None = None
    calibration: bool = False
    reps: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
