"""Vectorised quaternion helpers. Quaternions are ``w, x, y, z`` (scipy: ``x, y, z, w``).

All functions accept shape (4,) or (N, 4) arrays and broadcast.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def to_scipy(q: np.ndarray) -> Rotation:
    """``w, x, y, z`` quaternion(s) → scipy :class:`Rotation`."""
    q = np.asarray(q, dtype=float)
    return Rotation.from_quat(q[..., [1, 2, 3, 0]])


def from_scipy(r: Rotation) -> np.ndarray:
    """scipy :class:`Rotation` → ``w, x, y, z`` quaternion(s), w ≥ 0."""
    q = r.as_quat()[..., [3, 0, 1, 2]]
    return canonical(q)


def canonical(q: np.ndarray) -> np.ndarray:
    """Flip sign so that w ≥ 0 (same rotation)."""
    q = np.array(q, dtype=float, copy=True)
    s = np.where(q[..., :1] < 0, -1.0, 1.0)
    return q * s


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` (rotation ``b`` first, then ``a``)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (inverse of a unit quaternion)."""
    q = np.asarray(q, dtype=float)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    # = np.linalg.norm(q, axis=-1, keepdims=True) for real q, without its extra conj() pass
    return q / np.sqrt(np.add.reduce(q * q, axis=-1, keepdims=True))


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) ``v`` (…, 3) by quaternion(s) ``q``: ``q ⊗ v ⊗ q*``."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternion(s) → rotation matrix/matrices (…, 3, 3)."""
    return to_scipy(q).as_matrix()


def from_matrix(m: np.ndarray) -> np.ndarray:
    """Rotation matrix/matrices (…, 3, 3) → quaternion(s) ``w, x, y, z``."""
    return from_scipy(Rotation.from_matrix(m))


def from_rotvec(rv: np.ndarray) -> np.ndarray:
    """Rotation vector(s) (rad) → quaternion(s)."""
    return from_scipy(Rotation.from_rotvec(rv))


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation angle between orientations ``a`` and ``b``, degrees."""
    d = np.abs(np.sum(normalize(a) * normalize(b), axis=-1))
    return np.degrees(2.0 * np.arccos(np.clip(d, -1.0, 1.0)))
