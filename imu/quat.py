"""Vectorised quaternion helpers. Quaternions are ``w, x, y, z`` (scipy: ``x, y, z, w``).

All functions accept shape (4,) or (N, 4) arrays and broadcast.
"""

from __future__ import annotations

import numpy as np


def _rotation():
    """scipy's ``Rotation`` class, imported on first use (scipy.spatial costs ~0.5 s of start-up
    that commands which never convert do not pay)."""
    from scipy.spatial.transform import Rotation

    return Rotation


def to_scipy(q: np.ndarray):
    """``w, x, y, z`` quaternion(s) → scipy :class:`Rotation`."""
    q = np.asarray(q, dtype=float)
    return _rotation().from_quat(q[..., [1, 2, 3, 0]])


def from_scipy(r) -> np.ndarray:
    """scipy :class:`Rotation` → ``w, x, y, z`` quaternion(s), w ≥ 0."""
    q = r.as_quat()[..., [3, 0, 1, 2]]
    return canonical(q)


def canonical(q: np.ndarray) -> np.ndarray:
    """Flip sign so that w ≥ 0 (same rotation)."""
    q = np.array(q, dtype=float, copy=True)
    s = np.where(q[..., :1] < 0, -1.0, 1.0)
    return q * s


def multiply_parts(a, b) -> tuple:
    """Hamilton product ``a ⊗ b`` of quaternions given as component sequences ``(w, x, y, z)``
    (arrays of any shapes that broadcast), as a tuple of the four components."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw)


#: rows per block of :func:`multiply` on long stacks
_ROWS = 8192


def multiply(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` (rotation ``b`` first, then ``a``); written into ``out``
    (…, 4) when given (component by component, no stacked temporary).

    Long stacks (N, 4) are multiplied a block of rows at a time (the same numbers: each row on
    its own), so the temporaries stay in the cache: about 3× faster on an hour at 200 Hz."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    shape = np.broadcast_shapes(a.shape, b.shape)
    if (len(shape) == 2 and shape[0] > 2 * _ROWS
            and (out is None or out is a or out is b
                 or not (np.may_share_memory(out, a) or np.may_share_memory(out, b)))):
        if out is None:
            out = np.empty(shape)
        a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
        for r0 in range(0, shape[0], _ROWS):
            r = slice(r0, r0 + _ROWS)
            multiply(a[r], b[r], out=out[r])
        return out
    parts = multiply_parts(np.moveaxis(a, -1, 0), np.moveaxis(b, -1, 0))
    if out is None:
        return np.stack(parts, axis=-1)
    for k in range(4):
        out[..., k] = parts[k]
    return out


def from_rotvec_parts(rv: np.ndarray) -> np.ndarray:
    """Rotation vectors (rad) → quaternions ``w, x, y, z``, components first: (3, …) → (4, …)
    (numpy only)."""
    x, y, z = rv
    a = x * x
    a += y * y
    a += z * z  # = np.linalg.norm(rv.T, axis=1) ** 2: the same additions in the same order
    np.sqrt(a, out=a)
    half = 0.5 * a
    k = np.sin(half)
    k /= np.maximum(a, 1e-12)
    k[a <= 1e-12] = 0.5
    out = np.empty((4,) + a.shape)
    np.cos(half, out=out[0])
    np.multiply(rv, k, out=out[1:])
    return out


def conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (inverse of a unit quaternion)."""
    q = np.asarray(q, dtype=float)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products over the last axis, shape ``a.shape[:-1]`` (for (N, 3) or (N, 4) rows:
    one einsum pass, where ``np.sum(a * b, axis=-1)`` makes a temporary and reduces over a
    short axis, several times slower)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return np.einsum("...i,...i->...", a, b)


def cross_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross products (N, 3) of rows (N, 3) ``a × b``: :func:`numpy.cross`'s numbers (each
    component one product minus another), component by component (3-4× faster on long
    stacks of rows, which np.cross handles through moved axes and temporaries)."""
    a0, a1, a2 = np.asarray(a, dtype=float).T
    b0, b1, b2 = np.asarray(b, dtype=float).T
    out = np.empty((len(a0), 3))
    for k, (p, q, r, s) in enumerate(((a1, b2, a2, b1), (a2, b0, a0, b2), (a0, b1, a1, b0))):
        o = out[:, k]
        np.multiply(p, q, out=o)
        o -= r * s
    return out


def row_norm(v: np.ndarray) -> np.ndarray:
    """Euclidean norms over the last axis (``np.linalg.norm(v, axis=-1)``, faster for short
    rows)."""
    v = np.asarray(v, dtype=float)
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    if q.shape[-1:] != (4,):
        # = np.linalg.norm(q, axis=-1, keepdims=True) for real q, without its extra conj() pass
        return q / np.sqrt(np.add.reduce(q * q, axis=-1, keepdims=True))
    w, x, y, z = np.moveaxis(q, -1, 0)
    n = w * w
    n += x * x
    n += y * y
    n += z * z  # = np.add.reduce(q * q, axis=-1): the same additions in the same order
    return q / np.sqrt(n)[..., None]


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) ``v`` (…, 3) by quaternion(s) ``q``: ``q ⊗ v ⊗ q*``."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternion(s) → rotation matrix/matrices (…, 3, 3) (normalised first, as scipy's
    ``Rotation.from_quat(q).as_matrix()``; numpy only, so no scipy import)."""
    q = np.asarray(q, dtype=float)
    q = q / np.sqrt(np.add.reduce(q * q, axis=-1, keepdims=True))
    m = np.empty(q.shape[:-1] + (3, 3))
    _fill_matrix(*np.moveaxis(q, -1, 0), np.moveaxis(m, (-2, -1), (0, 1)))
    return m


def matrix_elements(q) -> np.ndarray:
    """The elements of :func:`to_matrix` first: (3, 3, …), element ``[i, j]`` of every matrix
    one contiguous array (fast to compute and to read column by column; ``to_matrix(q)[..., i,
    j]`` is ``matrix_elements(q)[i, j]``, the same numbers).

    Parameters
    ----------
    q : ndarray, shape (…, 4), or a sequence of 4 arrays
        Quaternions ``w, x, y, z`` (normalised here), or their four components.
    """
    if isinstance(q, (tuple, list)):
        w, x, y, z = (np.asarray(c, dtype=float) for c in q)
    else:
        w, x, y, z = np.moveaxis(np.asarray(q, dtype=float), -1, 0)
    n = w * w
    n += x * x
    n += y * y
    n += z * z  # = np.add.reduce(q * q, axis=-1): the same order of additions
    np.sqrt(n, out=n)
    e = np.empty((3, 3) + n.shape)
    _fill_matrix(w / n, x / n, y / n, z / n, e)
    return e


def _fill_matrix(w, x, y, z, e) -> None:
    """Rotation-matrix elements of unit quaternion components into ``e[i, j]`` (``e``: (3, 3, …),
    any strides); every product is computed once."""
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z

    def diag(a, b, out):  # 1 - 2 (a + b)
        t = a + b
        t *= 2
        np.subtract(1, t, out=out)

    def off(a, b, sign, out):  # 2 (a ± b)
        t = a + b if sign > 0 else a - b
        np.multiply(t, 2, out=out)

    diag(yy, zz, e[0, 0, ...])
    off(xy, wz, -1, e[0, 1, ...])
    off(xz, wy, +1, e[0, 2, ...])
    off(xy, wz, +1, e[1, 0, ...])
    diag(xx, zz, e[1, 1, ...])
    off(yz, wx, -1, e[1, 2, ...])
    off(xz, wy, -1, e[2, 0, ...])
    off(yz, wx, +1, e[2, 1, ...])
    diag(xx, yy, e[2, 2, ...])


def from_matrix(m: np.ndarray) -> np.ndarray:
    """Rotation matrix/matrices (…, 3, 3) → quaternion(s) ``w, x, y, z``, w ≥ 0.

    scipy's ``Rotation.from_matrix`` in numpy alone (no scipy import on the angles path): a
    matrix that is not orthogonal (Gram matrix off the identity by more than 1e-12) is first
    replaced by the nearest rotation (SVD), then the quaternion comes from the largest of the
    diagonal and the trace (Shepperd's method) and is normalised. A matrix with a determinant
    ≤ 0 is a ValueError.
    """
    m = np.array(m, dtype=float, copy=True)
    if m.shape[-2:] != (3, 3):
        raise ValueError(f"expected (..., 3, 3) rotation matrices, got shape {m.shape}")
    det = np.linalg.det(m)
    if np.any(det <= 0):
        raise ValueError("non-positive determinant (left-handed or null coordinate frame) in "
                         "a rotation matrix")
    gram = m @ np.swapaxes(m, -1, -2)
    ortho = np.all(np.isclose(gram, np.eye(3), rtol=1e-5, atol=1e-12), axis=(-2, -1))
    if not np.all(ortho):
        bad = ~ortho
        u, _, vt = np.linalg.svd(m[bad], full_matrices=False)
        m[bad] = u @ vt
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    choice = np.argmax(np.stack([m[..., 0, 0], m[..., 1, 1], m[..., 2, 2], tr], -1), -1)
    cases = [  # x, y, z, w for each choice (scipy's order)
        (1 - tr + 2 * m[..., 0, 0], m[..., 1, 0] + m[..., 0, 1], m[..., 2, 0] + m[..., 0, 2],
         m[..., 2, 1] - m[..., 1, 2]),
        (m[..., 1, 0] + m[..., 0, 1], 1 - tr + 2 * m[..., 1, 1], m[..., 2, 1] + m[..., 1, 2],
         m[..., 0, 2] - m[..., 2, 0]),
        (m[..., 2, 0] + m[..., 0, 2], m[..., 2, 1] + m[..., 1, 2], 1 - tr + 2 * m[..., 2, 2],
         m[..., 1, 0] - m[..., 0, 1]),
        (m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1],
         1 + tr),
    ]
    xyzw = np.zeros(m.shape[:-2] + (4,))
    for k, c in enumerate(cases):
        xyzw = np.where((choice == k)[..., None], np.stack(c, -1), xyzw)
    q = xyzw[..., [3, 0, 1, 2]]
    q = q / np.sqrt(np.add.reduce(q * q, axis=-1, keepdims=True))
    return canonical(q)


def from_rotvec(rv: np.ndarray) -> np.ndarray:
    """Rotation vector(s) (rad) → quaternion(s)."""
    return from_scipy(_rotation().from_rotvec(rv))


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation angle between orientations ``a`` and ``b``, degrees."""
    d = np.abs(np.sum(normalize(a) * normalize(b), axis=-1))
    return np.degrees(2.0 * np.arccos(np.clip(d, -1.0, 1.0)))


def slerp(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation from ``a`` to ``b`` (unit ``w, x, y, z``, shape (4,))
    at fractions ``u`` (shape (M,), 0..1); returns (M, 4) unit quaternions (shortest path)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    u = np.asarray(u, dtype=float)[:, None]
    d = float(np.dot(a, b))
    if d < 0.0:
        b, d = -b, -d
    if d > 0.9995:  # nearly the same: normalised linear interpolation
        out = a + u * (b - a)
        return out / np.linalg.norm(out, axis=1, keepdims=True)
    th = np.arccos(min(d, 1.0))
    return (np.sin((1.0 - u) * th) * a + np.sin(u * th) * b) / np.sin(th)


def fill_short_gaps(time_s: np.ndarray, q: np.ndarray, max_gap_s: float) -> tuple[np.ndarray, int]:
    """Fill the NaN runs of an orientation series that last at most ``max_gap_s``.

    A run between two valid samples is filled by :func:`slerp` between them (when the two are
    at most ``max_gap_s`` apart); a run at the start or end (the sensor started late or stopped
    early) holds the nearest valid sample. Longer runs stay NaN.

    Parameters
    ----------
    time_s : ndarray, shape (N,)
        Seconds, increasing.
    q : ndarray, shape (N, 4)
        Unit quaternions ``w, x, y, z``; NaN rows are gaps.
    max_gap_s : float
        Longest gap filled, seconds (0 fills nothing).

    Returns
    -------
    filled : ndarray, shape (N, 4)
    n_filled : int
        Rows filled.
    """
    t = np.asarray(time_s, dtype=float)
    out = np.array(q, dtype=float, copy=True)
    bad = ~np.all(np.isfinite(out), axis=1)
    if not bad.any() or bad.all() or max_gap_s <= 0:
        return out, 0
    idx = np.flatnonzero(bad)
    cuts = np.flatnonzero(np.diff(idx) > 1)
    starts = np.r_[idx[0], idx[cuts + 1]]
    ends = np.r_[idx[cuts], idx[-1]]
    n = 0
    for a, b in zip(starts, ends):
        left, right = a - 1, b + 1
        if left >= 0 and right < len(t):
            if t[right] - t[left] <= max_gap_s + 1e-9:
                u = (t[a:b + 1] - t[left]) / (t[right] - t[left])
                out[a:b + 1] = slerp(out[left], out[right], u)
                n += b - a + 1
        elif right < len(t):
            if t[right] - t[a] <= max_gap_s + 1e-9:
                out[a:b + 1] = out[right]
                n += b - a + 1
        elif left >= 0 and t[b] - t[left] <= max_gap_s + 1e-9:
            out[a:b + 1] = out[left]
            n += b - a + 1
    return out, n
