"""Sensor-to-segment alignment: plain data and the arithmetic that applies it.

Frames (see :mod:`imu.kinematics.frames`): a fusion filter gives ``q_ES`` (sensor → earth, z up,
heading arbitrary). The yaw-free ISB world is ``W = R_WE · E``. A sensor is strapped to its
segment at a fixed mounting rotation ``R_BS`` (sensor-frame vectors → segment frame), so

    R_WB(t) = Ry(h) · R_WE · R_ES(t) · R_BS^T

where ``Ry(h)`` is a rotation by ``h`` degrees about world +Y that removes the arbitrary (and
drifting) heading of the sensor's own earth frame. ``R_BS`` is computed by the ``calibration``
package; this module never computes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu import quat as Q
from imu.kinematics.frames import R_WE


@dataclass
class SegmentAlignment:
    """Mounting rotation (and a starting heading offset) of each instrumented segment.

    Attributes
    ----------
    R_BS : dict
        Role → (3, 3) rotation matrix mapping sensor-frame vectors into the segment frame.
    heading_deg : dict
        Role → heading offset (degrees about world +Y) that makes the segment face forward in
        the calibration pose. It is only meaningful for the fused orientations it was computed
        from; the angle pipeline re-zeroes headings at quiet standing (:mod:`heading`) and uses
        these only when it finds no standing at all. Missing roles mean 0.
    sensor_ids : dict
        Role → sensor id the alignment belongs to (informational; may be empty).
    acc_corrections : dict
        Role → ``(offset_m_s2 (3,), scale (3,))``: the accelerometer correction the mounting
        was solved with (:mod:`imu.kinematics.acc_offset`, estimated from the calibration's
        recording); every fusion with this alignment applies it, ``(acc − offset)·scale``.
        Missing roles: none.
    """

    R_BS: dict[str, np.ndarray]
    heading_deg: dict[str, float] = field(default_factory=dict)
    sensor_ids: dict[str, str] = field(default_factory=dict)
    acc_corrections: dict = field(default_factory=dict)

    def __post_init__(self):
        self.R_BS = {r: _check_rotation(np.asarray(m, dtype=float), r) for r, m in self.R_BS.items()}
        self.heading_deg = {r: float(v) for r, v in self.heading_deg.items()}
        self.acc_corrections = {r: (np.asarray(o, dtype=float).reshape(3),
                                    np.asarray(k, dtype=float).reshape(3))
                                for r, (o, k) in self.acc_corrections.items()}

    @property
    def roles(self) -> list[str]:
        return list(self.R_BS)

    def segment_matrix(self, role: str, q_ES: np.ndarray, heading_deg=None) -> np.ndarray:
        """World orientation ``R_WB`` (N, 3, 3) of ``role`` from its fused ``q_ES`` (N, 4).

        ``heading_deg`` (scalar or (N,)) overrides the stored offset. NaN quaternion rows give
        NaN matrices.
        """
        h = self.heading_deg.get(role, 0.0) if heading_deg is None else heading_deg
        return segment_matrix(q_ES, self.R_BS[role], h)

    @classmethod
    def identity(cls, roles) -> "SegmentAlignment":
        """Sensors mounted exactly along the segment axes (sensor frame = segment frame)."""
        return cls({r: np.eye(3) for r in roles})


def _check_rotation(m: np.ndarray, role: str) -> np.ndarray:
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise ValueError(f"R_BS of {role} must be a finite 3×3 matrix")
    if np.abs(m @ m.T - np.eye(3)).max() > 1e-6 or np.linalg.det(m) < 0:
        raise ValueError(f"R_BS of {role} is not a proper rotation")
    return m


def rot_y(angle_deg) -> np.ndarray:
    """Rotation(s) about world +Y by ``angle_deg``: (3, 3) for a scalar, (N, 3, 3) for (N,)."""
    a = np.radians(np.asarray(angle_deg, dtype=float))
    c, s = np.cos(a), np.sin(a)
    m = np.zeros(a.shape + (3, 3))  # filled in place (the live path asks every row batch)
    m[..., 0, 0] = c
    m[..., 0, 2] = s
    m[..., 1, 1] = 1.0
    m[..., 2, 0] = -s
    m[..., 2, 2] = c
    return m


#: rows per block of the long per-row computations here (their temporaries stay in the cache)
_BLOCK_ROWS = 16384

#: ``R_WE`` as a quaternion
Q_WE = Q.from_matrix(R_WE)


def matrix_from_quat(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) of quaternions (N, 4) ``w, x, y, z`` (normalised here);
    NaN rows give NaN matrices."""
    return Q.to_matrix(np.atleast_2d(np.asarray(q, dtype=float)))


def quat_y(angle_deg) -> np.ndarray:
    """Quaternion(s) of a rotation about world +Y by ``angle_deg``: (4,) or (N, 4)."""
    h = np.radians(np.asarray(angle_deg, dtype=float)) / 2.0
    z = np.zeros_like(h)
    return np.stack([np.cos(h), z, np.sin(h), z], axis=-1)


def sensor_world_matrix(q_ES: np.ndarray) -> np.ndarray:
    """``R_WS = R_WE · R_ES`` (N, 3, 3) from ``q_ES`` (N, 4); NaN rows stay NaN."""
    return R_WE @ matrix_from_quat(q_ES)


def _left_matrix(a: np.ndarray) -> np.ndarray:
    """4×4 ``L`` with ``a ⊗ q = L @ q``."""
    w, x, y, z = a
    return np.array([[w, -x, -y, -z], [x, w, -z, y], [y, z, w, -x], [z, -y, x, w]])


def _right_matrix(b: np.ndarray) -> np.ndarray:
    """4×4 ``R`` with ``q ⊗ b = R @ q``."""
    w, x, y, z = b
    return np.array([[w, -x, -y, -z], [x, w, z, -y], [y, -z, w, x], [z, y, -x, w]])


_SEGMENT_MAPS: dict[bytes, np.ndarray] = {}


def _segment_map(R_BS) -> np.ndarray:
    """The 4×4 linear map ``q_ES -> q_WE ⊗ q_ES ⊗ q_BS*`` of a mounting ``R_BS`` (both factors
    are constant: computed once per mounting; the live path asks for it every row batch)."""
    R = np.asarray(R_BS, dtype=float)
    key = R.tobytes()
    M = _SEGMENT_MAPS.get(key)
    if M is None:
        q_BS = Q.from_matrix(R)
        M = _left_matrix(Q_WE) @ _right_matrix(Q.conj(q_BS))
        if len(_SEGMENT_MAPS) >= 64:
            _SEGMENT_MAPS.clear()
        _SEGMENT_MAPS[key] = M
    return M


def _apply_map(q, m) -> list:
    """``M @ q`` row by row for quaternions given as components ``q = (w, x, y, z)``, one
    component at a time, summed as einsum("nj,ij->ni") sums them (the same numbers; ``@``
    (BLAS) is several times slower on rows with NaN, einsum ~2x). ``m``: the map's four rows of
    four coefficients, each a number or one per quaternion."""
    w, x, y, z = q
    out = []
    for r in m:
        a = w * r[0]
        a += y * r[2]
        b = x * r[1]
        b += z * r[3]
        a += b
        out.append(a)
    return out


def segment_quat(q_ES: np.ndarray, R_BS: np.ndarray, heading_deg=0.0, *,
                 normalize: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """``q_WB = q_y(h) ⊗ q_WE ⊗ q_ES ⊗ q_BS*`` (N, 4): :func:`segment_matrix` as quaternions
    (``normalize``: each row divided by its norm, as :func:`imu.quat.normalize`); ``out``: an
    (N, 4) float64 array to write them into (not ``q_ES`` itself)."""
    m = _segment_map(R_BS).tolist()
    q_ES = np.atleast_2d(np.asarray(q_ES, float))
    h = np.asarray(heading_deg, dtype=float)
    turn = not (h.ndim == 0 and float(h) == 0.0)
    out = np.empty((len(q_ES), 4)) if out is None else out
    for i0 in range(0, max(len(q_ES), 1), _BLOCK_ROWS):  # temporaries stay in the CPU cache
        i1 = i0 + _BLOCK_ROWS
        q = _apply_map(q_ES[i0:i1].T, m)
        o = out[i0:i1]
        if turn:
            t = rotate_heading(np.stack(q, axis=-1), h if h.ndim == 0 else h[i0:i1])
            o[...] = Q.normalize(t) if normalize else t
        elif normalize:  # = Q.normalize
            n = q[0] * q[0]
            n += q[1] * q[1]
            n += q[2] * q[2]
            n += q[3] * q[3]
            np.sqrt(n, out=n)
            for c in range(4):
                np.divide(q[c], n, out=o[:, c])
        else:
            for c in range(4):
                o[:, c] = q[c]
    return out


def segment_quats(q_ES: list, R_BS: list) -> np.ndarray:
    """:func:`segment_quat` (no heading, not normalised) of several sensors' rows at once:
    ``q_ES[k]`` (n_k, 4) with mounting ``R_BS[k]``, the results one after another
    (sum n_k, 4). The same numbers as one :func:`segment_quat` per sensor (each row times its
    own sensor's map, summed in the same order) for the numpy calls of one: the live path asks
    every row batch, for ~2 rows of each sensor."""
    sizes = [len(q) for q in q_ES]
    q = np.concatenate([np.atleast_2d(np.asarray(x, float)) for x in q_ES])
    # each row's map, element (i, j) in column 4 i + j
    maps = np.repeat(np.stack([_segment_map(R).ravel() for R in R_BS]), sizes, axis=0)
    out = np.empty((len(q), 4))
    for i, a in enumerate(_apply_map(q.T, [[maps[:, 4 * i + j] for j in range(4)]
                                          for i in range(4)])):
        out[:, i] = a
    return out


def rotate_heading(q: np.ndarray, heading_deg, *, layout: str = "rows") -> np.ndarray:
    """``q_y(h) ⊗ q`` for (N, 4) ``q`` and heading(s) ``h`` in degrees (scalar or (N,)).

    ``layout="components"``: the same (N, 4) numbers as a view of a (4, N) array (each
    component contiguous, for :func:`imu.quat.matrix_elements`)."""
    h = np.radians(np.asarray(heading_deg, dtype=float)) / 2.0
    c, s = np.cos(h), np.sin(h)
    w, x, y, z = np.atleast_2d(np.asarray(q, float)).T
    parts = [c * w - s * y, c * x + s * z, c * y + s * w, c * z - s * x]
    return np.stack(parts, axis=0).T if layout == "components" else np.stack(parts, axis=-1)


def segment_matrix(q_ES: np.ndarray, R_BS: np.ndarray, heading_deg=0.0) -> np.ndarray:
    """``R_WB = Ry(h) · R_WE · R_ES · R_BS^T`` (N, 3, 3).

    Parameters
    ----------
    q_ES : ndarray, shape (N, 4)
        Fused sensor orientation, ``w, x, y, z``; NaN rows mark gaps.
    R_BS : ndarray, shape (3, 3)
        Mounting rotation, sensor → segment.
    heading_deg : float or ndarray, shape (N,)
        Heading offset about world +Y, degrees.
    """
    return matrix_from_quat(segment_quat(q_ES, R_BS, heading_deg))


def sensor_quat_from_segment(R_WB: np.ndarray, R_BS: np.ndarray) -> np.ndarray:
    """Inverse of :func:`segment_matrix` with zero heading: ``q_ES`` (N, 4) of a sensor mounted
    at ``R_BS`` on a segment at ``R_WB`` (N, 3, 3)."""
    R_ES = R_WE.T @ np.asarray(R_WB, dtype=float) @ np.asarray(R_BS, dtype=float)
    return Q.from_matrix(R_ES)
