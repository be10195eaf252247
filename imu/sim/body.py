"""Body kinematics: a program timeline → segment orientations and sensor-site positions.

The body is a pelvis (origin at the mid-point of the hip joint centres), two femurs hanging from
the hip joint centres and a trunk hinged at L5/S1. Everything is computed on a fine uniform grid
(a multiple of the output rate, ≈ 800 Hz) so that derivatives (angular rate, linear acceleration)
are accurate; outputs at the sensor rate are read off this grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.sim.rot import pelvis_matrix, ry
from imu.sim.motion import (HIP_HEIGHT_M, L5S1_P, SACRUM_SITE_P, TRUNK_SITE_T, Block, Channels,
                            hip_centre_p, thigh_site_f)


@dataclass
class Placed:
    """A block placed on the session clock at ``start_s``."""

    block: Block
    start_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.block.duration_s


@dataclass
class BodyMotion:
    """Body state on the fine grid.

    Attributes
    ----------
    t_s : ndarray, shape (N,)
        Fine grid on the session clock (starts before 0 and ends after the session, padding in
        quiet standing).
    segments : dict
        ``sacrum``, ``right_thigh``, ``left_thigh``, ``trunk`` → ``R_WB`` (N, 3, 3).
    sites : dict
        Same keys → sensor-site position in the world frame (N, 3), m.
    """

    t_s: np.ndarray
    segments: dict
    sites: dict


def sway(t: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Natural postural sway: pelvis angle offsets (N, 3) in degrees (≈0.1–0.25° RMS) and mid-hip
    displacement (N, 3) in m (≈1.5 mm RMS), as sums of slow sinusoids (0.1–0.6 Hz)."""
    ang = np.zeros((len(t), 3))
    pos = np.zeros((len(t), 3))
    amp_deg = (0.12, 0.12, 0.2)
    for k in range(3):
        for _ in range(3):
            f = rng.uniform(0.2, 0.6)
            ang[:, k] += rng.uniform(0.5, 1.0) * amp_deg[k] * np.sin(2 * np.pi * f * t
                                                                     + rng.uniform(0, 2 * np.pi))
    for k in (0, 2):
        for _ in range(2):
            f = rng.uniform(0.1, 0.3)
            pos[:, k] += rng.uniform(0.0008, 0.0015) * np.sin(2 * np.pi * f * t
                                                               + rng.uniform(0, 2 * np.pi))
    return ang, pos


def assemble(placed: list[Placed], t: np.ndarray) -> Channels:
    """Evaluate every placed block on its part of the grid ``t``; quiet standing elsewhere."""
    n = len(t)
    ch = Channels.standing(n)
    femur = {s: np.array(ch.femur[s]) for s in ("right", "left")}
    ch = Channels(ch.pelvis_deg, ch.disp_m, femur, ch.lumbar_deg, np.zeros(n))
    offset = np.zeros(3)
    for p in sorted(placed, key=lambda q: q.start_s):
        i0, i1 = np.searchsorted(t, [p.start_s, p.end_s])
        if i1 > i0:
            c = p.block.evaluate(t[i0:i1] - p.start_s)
            ch.pelvis_deg[i0:i1] = c.pelvis_deg
            ch.disp_m[i0:i1] = c.disp_m + offset
            ch.lumbar_deg[i0:i1] = c.lumbar_deg
            if c.lumbar_rot_deg is not None:
                ch.lumbar_rot_deg[i0:i1] = c.lumbar_rot_deg
            for s in ("right", "left"):
                ch.femur[s][i0:i1] = c.femur[s]
        # displacement carried past the block (walking ends further forward)
        offset = offset + p.block.evaluate(np.array([p.block.duration_s])).disp_m[0]
        ch.disp_m[i1:] = offset
    return ch


def body_motion(placed: list[Placed], t: np.ndarray, rng, with_sway: bool = True,
                roles=("sacrum", "right_thigh", "left_thigh", "trunk")) -> BodyMotion:
    """Segment orientations and sensor-site positions on the grid ``t`` for ``roles``."""
    ch = assemble(placed, t)
    pel = ch.pelvis_deg
    disp = ch.disp_m
    if with_sway:
        a, d = sway(t, rng)
        pel = pel + a
        disp = disp + d
    R_WP = pelvis_matrix(pel[:, 0], pel[:, 1], pel[:, 2])
    p = disp + np.array([0.0, HIP_HEIGHT_M, 0.0])
    segments = {"sacrum": R_WP}
    sites = {"sacrum": p + R_WP @ SACRUM_SITE_P}
    if "trunk" in roles:
        # trunk relative to the pelvis: flexion about Z, then axial rotation about the trunk's Y
        R_WT = R_WP @ pelvis_matrix(ch.lumbar_deg, 0.0, 0.0)
        if np.any(ch.lumbar_rot_deg):
            R_WT = R_WT @ ry(ch.lumbar_rot_deg)
        segments["trunk"] = R_WT
        sites["trunk"] = p + R_WP @ L5S1_P + R_WT @ TRUNK_SITE_T
    for s in ("right", "left"):
        if f"{s}_thigh" in roles:
            segments[f"{s}_thigh"] = ch.femur[s]
            sites[f"{s}_thigh"] = p + R_WP @ hip_centre_p(s) + ch.femur[s] @ thigh_site_f(s)
    return BodyMotion(t, segments, sites)
