"""Vendor orientations in imported files: conversions and the samples derived from them.

A sensor may arrive with its own orientation (Movella DOT sensor-fusion exports, Xsens MT
Manager orientation columns, OpenSense ``.sto`` tables) instead of, or next to, raw acc/gyr.
The orientation is kept as ``SensorData.quat`` (``q_ES``, ``w, x, y, z``, earth frame z up).
Where the file lacks raw samples, the session still carries acc/gyr *derived* from the
orientation (named in ``info.extra["derived"]``) so that stillness, standing and calibration
work on it; fusion never runs on derived samples.
"""

from __future__ import annotations

import numpy as np

from imu import quat as Q
from imu.errors import BadInputError, shown

#: standard gravity, m/s² (the vendors' free acceleration removes this)
GRAVITY_M_S2 = 9.80665


def quat_from_euler_zyx_deg(euler_xyz_deg: np.ndarray) -> np.ndarray:
    """Xsens/Movella Euler angles (roll X, pitch Y, yaw Z, degrees; ``R = Rz·Ry·Rx``) → (N, 4)
    ``w, x, y, z``."""
    from scipy.spatial.transform import Rotation

    e = np.asarray(euler_xyz_deg, dtype=float).reshape(-1, 3)
    return Q.from_scipy(Rotation.from_euler("ZYX", e[:, ::-1], degrees=True))


def rate_from_quat(t_s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Angular rate in the sensor frame (N, 3), rad/s, from orientations ``q_ES`` (N, 4).

    Central differences (one-sided at the ends); NaN where a neighbour is NaN or times do not
    increase.
    """
    t = np.asarray(t_s, dtype=float)
    q = Q.normalize(np.asarray(q, dtype=float))
    n = len(t)
    out = np.full((n, 3), np.nan)
    if n < 2:
        return np.zeros((n, 3)) if n else out
    i0 = np.concatenate([[0], np.arange(0, n - 2), [n - 2]])
    i1 = np.concatenate([[1], np.arange(2, n), [n - 1]])
    dq = Q.multiply(Q.conj(q[i0]), q[i1])
    dq = np.where(dq[:, :1] < 0, -dq, dq)
    dt = t[i1] - t[i0]
    s = np.linalg.norm(dq[:, 1:], axis=1)
    ang = 2.0 * np.arctan2(s, dq[:, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        axis = dq[:, 1:] / np.where(s > 0, s, 1.0)[:, None]
        w = axis * (ang / dt)[:, None]
    ok = dt > 0
    out[ok] = w[ok]
    return out


def specific_force(q: np.ndarray, free_acc_E: np.ndarray | None = None) -> np.ndarray:
    """Specific force in the sensor frame (N, 3), m/s², from orientation and free acceleration.

    ``free_acc_E`` is the vendor's earth-frame acceleration with gravity removed (DOT
    ``FreeAcc``); without it, the sensor is taken as unaccelerated (gravity only).
    """
    q = Q.normalize(np.asarray(q, dtype=float))
    f = np.zeros((len(q), 3))
    if free_acc_E is not None:
        f[:] = np.asarray(free_acc_E, dtype=float)
    f[:, 2] += GRAVITY_M_S2
    return Q.rotate(Q.conj(q), f)


def quat_from_matrix_checked(m: np.ndarray, acc_S: np.ndarray | None = None) -> np.ndarray:
    """Orientation matrices (N, 3, 3) → (N, 4) ``q_ES``.

    Xsens exports ``R_GS`` (sensor → earth). When ``acc_S`` is given, the convention is checked
    against it: at rest the sensor's specific force is the earth's z row of ``R_GS``; when the
    transpose fits better the matrices are transposed first.
    """
    m = np.asarray(m, dtype=float).reshape(-1, 3, 3)
    if acc_S is not None and len(acc_S):
        a = np.asarray(acc_S, dtype=float)
        ok = np.all(np.isfinite(a), axis=1) & np.isfinite(m).all(axis=(1, 2))
        if ok.any():
            u = a[ok] / np.maximum(np.linalg.norm(a[ok], axis=1, keepdims=True), 1e-9)
            row = np.mean(np.einsum("ni,ni->n", u, m[ok, 2, :]))
            col = np.mean(np.einsum("ni,ni->n", u, m[ok, :, 2]))
            if col > row + 0.05:
                m = np.transpose(m, (0, 2, 1))
    fin = np.isfinite(m).all(axis=(1, 2))
    if fin.all():
        return Q.canonical(Q.from_matrix(m))
    q = np.full((len(m), 4), np.nan)  # a row with a NaN/inf value: no orientation there
    if fin.any():
        q[fin] = Q.canonical(Q.from_matrix(m[fin]))
    return q


def csv_rows(fh, where):
    """``enumerate(csv.reader(fh), start=1)`` whose CSV errors (a cell beyond the csv module's
    field limit, a NUL byte) are one-line :class:`~imu.errors.BadInputError` s naming
    ``where`` and the row."""
    import csv

    reader = csv.reader(fh)
    lineno = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BadInputError(f"{where}: row {lineno + 1}: not CSV text ({exc})") from None
        lineno += 1
        yield lineno, row


def float_cells(cells: list[str], idx: list[int], names: list[str], where, lineno: int
                ) -> list[float]:
    """The numbers in ``cells`` at ``idx`` (one row of a vendor's text table); a missing or
    non-numeric cell is a one-line :class:`~imu.errors.BadInputError` naming the file
    (``where``), the row and the column (``names[j]``)."""
    try:
        return [float(cells[j]) for j in idx]
    except IndexError:
        raise BadInputError(f"{where}: row {lineno}: only {len(cells)} columns, column "
                            f"{names[max(idx)]} is missing (truncated file?)") from None
    except ValueError:
        for j in idx:
            try:
                float(cells[j])
            except ValueError:
                raise BadInputError(f"{where}: row {lineno}, column {names[j]}: "
                                    f"{shown(cells[j].strip())} is not a number") from None
        raise
