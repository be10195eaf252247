"""Intrinsic sensor calibration: gyro bias, accelerometer offset and scale, stored per sensor.

Model (sensor frame, per axis)::

    acc_true = (acc_measured − acc_offset_m_s2) · acc_scale
    gyr_true = gyr_measured − gyr_bias_rad_s

- The gyro bias comes from still periods (:func:`detect_still`, :func:`estimate_gyro_bias`);
  during use the fusion filter keeps tracking it (VQF's rest and motion bias estimation).
- Accelerometer offset and scale come from several still poses (:func:`fit_accelerometer`):
  the 6-parameter fit that makes ``|acc_true| = g`` in every pose. It needs poses that point
  each axis both up and down more or less; with too few distinct poses it is refused (None) and
  the previous correction is kept.
- :class:`IntrinsicStore` keeps one JSON file per sensor id under the user's config directory
  (``$IMU_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/imu``, else ``~/.config/imu``), so a sensor's
  correction applies automatically the next time it is used.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

G_M_S2 = 9.80665


def affine_rows(x, offset: np.ndarray, scale: np.ndarray | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """``(x - offset) * scale`` as a new float64 array, for vectors ``x`` (…, 3) and per-axis
    ``offset`` and ``scale`` (3,) (``scale`` None: 1). The same numbers as the plain expression;
    rows of three are taken 16 at a time, as rows of 48 (numpy's inner loop would otherwise run
    three elements a call). ``out``: a C-contiguous float64 array of ``x``'s shape to write
    them into instead."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != 3:
        out = np.subtract(x, offset, out=out)
        return out if scale is None else np.multiply(out, scale, out=out)
    out = np.empty(x.shape) if out is None else out
    n = len(x) // 16 * 16
    for xs, os_, k in ((x[:n].reshape(-1, 48), out[:n].reshape(-1, 48), 16), (x[n:], out[n:], 1)):
        if not xs.size:     # (a short block of the live path: no rows of 16)
            continue
        np.subtract(xs, np.tile(offset, k), out=os_)
        if scale is not None:
            os_ *= np.tile(scale, k)
    return out


#: Range of each stored correction (what the estimators here can produce, with a wide margin:
#: still periods are below 0.2 rad/s, scales within 1 ± 0.2; acc_recording allows the same offset
#: and scale in a profile).
INTRINSIC_LIMITS = {"gyr_bias_rad_s": (-1.0, 1.0), "acc_offset_m_s2": (-20.0, 20.0),
                    "acc_scale": (0.5, 1.5)}


@dataclass
class IntrinsicCorrection:
    """Per-sensor intrinsic correction (see the module docstring for the model).

    Attributes
    ----------
    gyr_bias_rad_s : ndarray (3,)
    acc_offset_m_s2 : ndarray (3,)
    acc_scale : ndarray (3,)
        Dimensionless factors applied after removing the offset.
    meta : dict
        Provenance: date, samples and poses used, residuals.
    """

    gyr_bias_rad_s: np.ndarray = field(default_factory=lambda: np.zeros(3))
    acc_offset_m_s2: np.ndarray = field(default_factory=lambda: np.zeros(3))
    acc_scale: np.ndarray = field(default_factory=lambda: np.ones(3))
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.gyr_bias_rad_s = np.asarray(self.gyr_bias_rad_s, dtype=float).reshape(3)
        self.acc_offset_m_s2 = np.asarray(self.acc_offset_m_s2, dtype=float).reshape(3)
        self.acc_scale = np.asarray(self.acc_scale, dtype=float).reshape(3)

    def apply(self, acc: np.ndarray, gyr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Corrected ``(acc m/s², gyr rad/s)``, shapes as given ((3,) or (N, 3))."""
        return (affine_rows(acc, self.acc_offset_m_s2, self.acc_scale),
                affine_rows(gyr, self.gyr_bias_rad_s))

    def to_dict(self) -> dict:
        return {"gyr_bias_rad_s": self.gyr_bias_rad_s.tolist(),
                "acc_offset_m_s2": self.acc_offset_m_s2.tolist(),
                "acc_scale": self.acc_scale.tolist(), "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, d: dict) -> "IntrinsicCorrection":
        """Inverse of :meth:`to_dict`; missing parts default to no correction.

        Raises
        ------
        ValueError
            A field that is not three finite numbers within :data:`INTRINSIC_LIMITS` (a file
            is untrusted: a bias of 1e300 or a scale of 0 would wreck every angle).
        """
        out = {}
        for k, default in (("gyr_bias_rad_s", 0.0), ("acc_offset_m_s2", 0.0), ("acc_scale", 1.0)):
            v = np.asarray(d.get(k, [default] * 3), dtype=float)
            lo, hi = INTRINSIC_LIMITS[k]
            if v.shape != (3,) or not np.all(np.isfinite(v)) or np.any(v < lo) or np.any(v > hi):
                raise ValueError(f"intrinsic correction field {k!r} must be 3 finite numbers "
                                 f"in {lo:g}..{hi:g}")
            out[k] = v
        return cls(meta=dict(d.get("meta", {})), **out)


# ---------------------------------------------------------------------------- still detection
def _moving_mean(x: np.ndarray, m: int) -> np.ndarray:
    """Centered moving mean over ``m`` samples along axis 0 (edges use what exists)."""
    n = len(x)
    c = np.cumsum(np.concatenate([np.zeros((1,) + x.shape[1:]), x]), axis=0)
    i = np.arange(n)
    lo = np.clip(i - m // 2, 0, n)
    hi = np.clip(i - m // 2 + m, 0, n)
    cnt = (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return (c[hi] - c[lo]) / cnt


def detect_still(acc: np.ndarray, gyr: np.ndarray, rate_hz: float, window_s: float = 0.5,
                 acc_std_m_s2: float = 0.12, gyr_std_rad_s: float = 0.035,
                 gyr_max_rad_s: float = 0.2, min_duration_s: float = 1.0) -> np.ndarray:
    """Samples where the sensor is still (resting or a person standing quietly).

    Parameters
    ----------
    acc, gyr : ndarray, shape (N, 3)
        m/s² and rad/s, sensor frame.
    rate_hz : float
        Sample rate, Hz.
    window_s : float
        Window of the moving statistics, seconds.
    acc_std_m_s2, gyr_std_rad_s : float
        Largest moving standard deviation (root of the summed per-axis variances) of acc and gyr.
    gyr_max_rad_s : float
        Largest moving-mean angular rate magnitude (allows an uncorrected gyro bias).
    min_duration_s : float
        Still runs shorter than this are dropped.

    Returns
    -------
    ndarray, shape (N,), bool
    """
    acc = np.asarray(acc, dtype=float).reshape(-1, 3)
    gyr = np.asarray(gyr, dtype=float).reshape(-1, 3)
    n = len(acc)
    if n == 0:
        return np.zeros(0, bool)
    m = max(2, int(round(window_s * rate_hz)))

    def mstd(x):
        mu = _moving_mean(x, m)
        var = _moving_mean(x * x, m) - mu * mu
        return np.sqrt(np.maximum(var.sum(axis=1), 0.0)), mu

    sa, _ = mstd(acc)
    sg, mg = mstd(gyr)
    still = (sa < acc_std_m_s2) & (sg < gyr_std_rad_s) & (np.linalg.norm(mg, axis=1) < gyr_max_rad_s)
    still &= np.all(np.isfinite(acc), axis=1) & np.all(np.isfinite(gyr), axis=1)
    return _drop_short_runs(still, int(round(min_duration_s * rate_hz)))


def still_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of a boolean mask (stop exclusive)."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _drop_short_runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    out = np.zeros_like(mask)
    for a, b in still_runs(mask):
        if b - a >= min_len:
            out[a:b] = True
    return out


# ---------------------------------------------------------------------------------- estimates
def estimate_gyro_bias(gyr: np.ndarray, still: np.ndarray, min_samples: int = 50) -> np.ndarray | None:
    """Gyro bias (rad/s, (3,)): the median angular rate over the still samples, or None if fewer
    than ``min_samples`` are still."""
    gyr = np.asarray(gyr, dtype=float).reshape(-1, 3)
    still = np.asarray(still, bool)
    if still.sum() < min_samples:
        return None
    return np.median(gyr[still], axis=0)


def pose_means(acc: np.ndarray, still: np.ndarray, min_samples: int = 20,
               trim: float = 0.1) -> np.ndarray:
    """Mean specific force of every still run (trimmed at both ends), shape (P, 3)."""
    acc = np.asarray(acc, dtype=float).reshape(-1, 3)
    out = []
    for a, b in still_runs(still):
        k = int((b - a) * trim)
        a2, b2 = a + k, b - k
        if b2 - a2 >= min_samples:
            out.append(acc[a2:b2].mean(axis=0))
    return np.array(out).reshape(-1, 3)


def distinct_poses(means: np.ndarray, min_angle_deg: float = 20.0) -> np.ndarray:
    """Merge pose means whose directions lie within ``min_angle_deg``; returns (P', 3)."""
    clusters: list[list[np.ndarray]] = []
    for m in np.asarray(means, dtype=float).reshape(-1, 3):
        u = m / np.linalg.norm(m)
        for c in clusters:
            cu = np.mean(c, axis=0)
            cu = cu / np.linalg.norm(cu)
            if np.degrees(np.arccos(np.clip(u @ cu, -1, 1))) < min_angle_deg:
                c.append(m)
                break
        else:
            clusters.append([m])
    return np.array([np.mean(c, axis=0) for c in clusters]).reshape(-1, 3)


def fit_accelerometer(means: np.ndarray, g_m_s2: float = G_M_S2, min_poses: int = 6,
                      max_condition: float = 50.0) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """Accelerometer offset and scale from still-pose means (6-parameter fit against ``|g|``).

    Parameters
    ----------
    means : ndarray, shape (P, 3)
        Mean specific force of distinct still poses, m/s².
    g_m_s2 : float
        Local gravity magnitude.
    min_poses : int
        Fewest distinct poses accepted.
    max_condition : float
        Largest condition number of the fit's Jacobian accepted (poses too alike → None).

    Returns
    -------
    (offset_m_s2 (3,), scale (3,), info dict) or None when the poses do not determine the fit.
    """
    from scipy.optimize import least_squares

    P = np.asarray(means, dtype=float).reshape(-1, 3)
    if len(P) < min_poses:
        return None

    def resid(p):
        return np.linalg.norm((P - p[:3]) * p[3:], axis=1) - g_m_s2

    p0 = np.concatenate([np.zeros(3), np.ones(3)])
    sol = least_squares(resid, p0, method="lm")
    J = sol.jac / np.array([1.0, 1.0, 1.0, g_m_s2, g_m_s2, g_m_s2])  # offset in m/s², scale·g
    sv = np.linalg.svd(J, compute_uv=False)
    cond = float(sv[0] / max(sv[-1], 1e-12))
    rms = float(np.sqrt(np.mean(sol.fun ** 2)))
    info = {"poses": int(len(P)), "condition": cond, "residual_rms_m_s2": rms}
    if not sol.success or cond > max_condition or np.any(np.abs(sol.x[3:] - 1) > 0.2):
        return None
    return sol.x[:3].copy(), sol.x[3:].copy(), info


def estimate_intrinsics(acc: np.ndarray, gyr: np.ndarray, rate_hz: float,
                        prior: IntrinsicCorrection | None = None, **still_kw) -> IntrinsicCorrection:
    """Intrinsic correction from a recording: gyro bias from its still samples; accelerometer
    offset/scale when it holds enough distinct still poses, else kept from ``prior``.

    The gyro bias is also kept from ``prior`` when the recording has too little stillness.
    ``meta`` says which parts were estimated.
    """
    acc = np.asarray(acc, dtype=float).reshape(-1, 3)
    gyr = np.asarray(gyr, dtype=float).reshape(-1, 3)
    prior = prior or IntrinsicCorrection()
    still = detect_still(acc, gyr, rate_hz, **still_kw)
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "still_s": float(still.sum() / rate_hz)}
    bias = estimate_gyro_bias(gyr, still, min_samples=int(rate_hz))
    meta["gyr_bias"] = "estimated" if bias is not None else "kept"
    if bias is None:
        bias = prior.gyr_bias_rad_s
    fit = fit_accelerometer(distinct_poses(pose_means(acc, still)))
    if fit is None:
        off, scale = prior.acc_offset_m_s2, prior.acc_scale
        meta["acc"] = "kept"
    else:
        off, scale, info = fit
        meta["acc"] = "estimated"
        meta.update({f"acc_{k}": v for k, v in info.items()})
    return IntrinsicCorrection(bias, off, scale, meta)


# --------------------------------------------------------------------------------------- store
def config_dir() -> Path:
    """The user config directory: ``$IMU_CONFIG_DIR``, ``$XDG_CONFIG_HOME/imu`` or ``~/.config/imu``."""
    env = os.environ.get("IMU_CONFIG_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "imu"


class IntrinsicStore:
    """One JSON file per sensor id: ``<config dir>/intrinsics/<sensor id>.json``.

    Parameters
    ----------
    root : path, optional
        Folder of the files; default ``config_dir() / "intrinsics"`` (read at each call, so the
        environment variable can change between uses).
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self._root = Path(root) if root is not None else None

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else config_dir() / "intrinsics"

    def path(self, sensor_id: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(sensor_id)) or "_"
        return self.root / f"{safe}.json"

    def get(self, sensor_id: str) -> IntrinsicCorrection | None:
        """The stored correction of ``sensor_id``, or None. A damaged file counts as none."""
        p = self.path(sensor_id)
        try:
            d = json.loads(p.read_text())
            return IntrinsicCorrection.from_dict(d)
        except FileNotFoundError:
            return None
        except (ValueError, OSError, TypeError, AttributeError):
            return None

    def put(self, sensor_id: str, corr: IntrinsicCorrection) -> Path:
        """Store (atomically replace) the correction of ``sensor_id``; returns the file path."""
        p = self.path(sensor_id)
        from imu.output import private_dir, write_file

        private_dir(p.parent)
        d = corr.to_dict()
        d["sensor_id"] = str(sensor_id)
        return write_file(p, json.dumps(d, indent=2), what="intrinsic correction", force=True)

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json"))

    def apply(self, sensor_id: str, acc: np.ndarray, gyr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(acc, gyr)`` corrected with the stored correction of ``sensor_id`` (unchanged copies
        if there is none)."""
        corr = self.get(sensor_id)
        if corr is None:
            return np.array(acc, dtype=float), np.array(gyr, dtype=float)
        return corr.apply(acc, gyr)


def stored_corrections(sensor_ids, store: IntrinsicStore | None = None) -> dict:
    """Sensor id → stored :class:`IntrinsicCorrection` for the ids that have one.

    ``sensor_ids`` is any iterable of ids (e.g. ``[d.info.sensor_id for d in
    session.sensors.values()]``); the result plugs into the angle pipeline's ``intrinsics``.
    """
    store = store or IntrinsicStore()
    out = {}
    for sid in sensor_ids:
        c = store.get(sid)
        if c is not None:
            out[sid] = c
    return out


def has_acc_correction(corr: IntrinsicCorrection | None) -> bool:
    """Whether ``corr`` changes the accelerometer (an offset or a scale other than 1)."""
    return corr is not None and (bool(np.any(corr.acc_offset_m_s2 != 0))
                                 or bool(np.any(corr.acc_scale != 1)))


def session_corrections(sensor_ids: dict, profile_corrections: dict | None = None,
                        store: IntrinsicStore | None = None) -> dict:
    """Role → the intrinsic correction to apply to a session's sensors.

    The calibration profile's correction of a role comes first (it was measured when the
    sensors were strapped on, and its mounting rotations were solved on data corrected with
    it); a role without one gets the stored correction of its sensor id (:class:`IntrinsicStore`),
    if any.

    Parameters
    ----------
    sensor_ids : dict
        Role → sensor id of the session (empty ids are skipped for the store).
    profile_corrections : dict, optional
        Role → :class:`IntrinsicCorrection` from the calibration profile.
    store : IntrinsicStore, optional
        Default: the user's store.
    """
    store = store or IntrinsicStore()
    prof = profile_corrections or {}
    out = {}
    for role, sid in sensor_ids.items():
        corr = prof.get(role)
        if corr is None and sid:
            corr = store.get(sid)
        if corr is not None:
            out[role] = corr
    return out


def store_corrections(sensor_ids: dict, corrections: dict,
                      store: IntrinsicStore | None = None) -> list[Path]:
    """Store each role's correction under its sensor id (roles without an id are skipped);
    returns the files written."""
    store = store or IntrinsicStore()
    return [store.put(sensor_ids[r], c) for r, c in corrections.items() if sensor_ids.get(r)]
