"""Fast batched rotation helpers for the simulator's fine grid.

The angle conventions (``pelvis_matrix``, ``hip_matrix``) are :mod:`imu.kinematics.frames`'s,
the one definition; this module adds the elementary rotations, Rodrigues and batched products
the simulator needs for millions of matrices.
"""

from __future__ import annotations

import numpy as np

from imu.kinematics.frames import hip_matrix, pelvis_matrix  # noqa: F401 (one definition)


def _cs(a_deg, n=None):
    a = np.radians(np.atleast_1d(np.asarray(a_deg, dtype=float)))
    if n is not None and a.shape[0] != n:
        a = np.broadcast_to(a, (n,))
    return np.cos(a), np.sin(a)


def rx(a_deg, n=None) -> np.ndarray:
    """Rotation about X by ``a_deg`` (n, 3, 3)."""
    c, s = _cs(a_deg, n)
    R = np.zeros((len(c), 3, 3))
    R[:, 0, 0] = 1.0
    R[:, 1, 1] = c; R[:, 1, 2] = -s
    R[:, 2, 1] = s; R[:, 2, 2] = c
    return R


def ry(a_deg, n=None) -> np.ndarray:
    """Rotation about Y by ``a_deg`` (n, 3, 3)."""
    c, s = _cs(a_deg, n)
    R = np.zeros((len(c), 3, 3))
    R[:, 0, 0] = c; R[:, 0, 2] = s
    R[:, 1, 1] = 1.0
    R[:, 2, 0] = -s; R[:, 2, 2] = c
    return R


def rz(a_deg, n=None) -> np.ndarray:
    """Rotation about Z by ``a_deg`` (n, 3, 3)."""
    c, s = _cs(a_deg, n)
    R = np.zeros((len(c), 3, 3))
    R[:, 0, 0] = c; R[:, 0, 1] = -s
    R[:, 1, 0] = s; R[:, 1, 1] = c
    R[:, 2, 2] = 1.0
    return R


def _n(*a) -> int:
    return max(np.size(x) for x in a)


def rotvec_matrix(v: np.ndarray) -> np.ndarray:
    """Rotation vectors (n, 3) in rad → matrices (n, 3, 3) (Rodrigues:
    ``R = cos θ I + sin θ/θ [v]× + (1 − cos θ)/θ² v vᵀ``)."""
    v = np.asarray(v, dtype=float)
    th2 = np.einsum("ni,ni->n", v, v)
    th = np.sqrt(th2)
    small = th < 1e-4
    ths = np.where(small, 1.0, th)
    c = np.cos(th)
    a = np.where(small, 1.0 - th2 / 6.0, np.sin(th) / ths)
    b = np.where(small, 0.5 - th2 / 24.0, (1.0 - c) / (ths * ths))
    R = b[:, None, None] * v[:, :, None] * v[:, None, :]
    av = a[:, None] * v
    R[:, 0, 0] += c; R[:, 1, 1] += c; R[:, 2, 2] += c
    R[:, 0, 1] -= av[:, 2]; R[:, 1, 0] += av[:, 2]
    R[:, 0, 2] += av[:, 1]; R[:, 2, 0] -= av[:, 1]
    R[:, 1, 2] -= av[:, 0]; R[:, 2, 1] += av[:, 0]
    return R


def t_matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``Aᵀ B`` for stacks (n, 3, 3)."""
    return np.matmul(np.swapaxes(A, -1, -2), B)


def t_apply(A: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``Aᵀ v`` for stacks (n, 3, 3) and (n, 3)."""
    return np.einsum("nji,nj->ni", A, v)


def apply(A: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``A v`` for stacks (n, 3, 3) and (n, 3) or a fixed (3,) vector."""
    if v.ndim == 1:
        return A @ v
    return np.einsum("nij,nj->ni", A, v)
