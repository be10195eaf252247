"""What the person is doing right now, from the raw gyroscopes (no calibration needed).

The calibration wizard (docs/calibration.md protocol) advances on the movement it sees rather than on a
timer: quiet standing, hip hinges (the pelvis turns a lot, the thighs little) and leg swings
(one thigh turns a lot, the pelvis and the other thigh little). Angular rate magnitudes are
independent of how a sensor is mounted, so this works before any calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.kinematics.still import STILL_RAD_S, is_still

#: below this gyroscope RMS (deg/s, every sensor) the person stands still: the one threshold
#: of :mod:`imu.kinematics.still`, over the last second
STILL_DEG_S = float(np.degrees(STILL_RAD_S))
#: a swinging thigh turns faster than this RMS (deg/s)
MOVING_DEG_S = 15.0
#: a hinging pelvis turns faster than this RMS (deg/s; slow hinges are slow)
HINGE_DEG_S = 7.5


@dataclass(frozen=True)
class Motion:
    """The movement seen over the last window.

    Attributes
    ----------
    label : str
        ``"still"``, ``"hinging"``, ``"swinging right"``, ``"swinging left"``, ``"moving"``
        (something else), or ``"no data"``.
    rates_deg_s : dict of str → float
        Role → gyroscope magnitude RMS over the window, deg/s.
    window_s : float
    gravity : dict of str → ndarray, shape (3,)
        Role → unit vector of the mean accelerometer reading over the last quarter second
        (the sensor's vertical, in its own frame): :func:`tilt_between` two of them is how far
        the segment tilted, whatever the mounting.
    """

    label: str = "no data"
    rates_deg_s: dict = field(default_factory=dict)
    window_s: float = 0.0
    gravity: dict = field(default_factory=dict)


def classify_rates(rates_deg_s: dict[str, float]) -> str:
    """Label a set of per-role gyroscope RMS rates (deg/s); see :class:`Motion`."""
    if not rates_deg_s or "sacrum" not in rates_deg_s:
        return "no data"
    pelvis = rates_deg_s["sacrum"]
    thighs = {s: rates_deg_s[f"{s}_thigh"] for s in ("right", "left") if f"{s}_thigh" in rates_deg_s}
    if is_still(np.radians(max([pelvis, *thighs.values()]))):
        return "still"
    for side, w in thighs.items():
        others = [v for s, v in thighs.items() if s != side]
        if w > MOVING_DEG_S and w > 2.0 * pelvis and all(w > 2.5 * v for v in others):
            return f"swinging {side}"
    if pelvis > HINGE_DEG_S and all(v < 0.6 * pelvis for v in thighs.values()):
        return "hinging"
    return "moving"


def gyro_rms_deg_s(gyr_rad_s: np.ndarray) -> float:
    """RMS of the angular-rate magnitude of (N, 3) samples in rad/s, as deg/s (NaN if empty)."""
    g = np.asarray(gyr_rad_s, dtype=float)
    g = g[np.isfinite(g).all(axis=1)] if g.ndim == 2 else g[:0]
    if not len(g):
        return float("nan")
    return float(np.degrees(np.sqrt(np.mean(np.sum(g * g, axis=1)))))


def tilt_between(g_ref, g_now) -> float:
    """Angle between two :attr:`Motion.gravity` vectors, degrees (NaN if either is missing)."""
    if g_ref is None or g_now is None:
        return float("nan")
    c = float(np.clip(np.dot(g_ref, g_now), -1.0, 1.0))
    return float(np.degrees(np.arccos(c)))


def recent_motion(blocks_by_role: dict, window_s: float = 1.0, gravity_s: float = 0.25) -> Motion:
    """:class:`Motion` over the last ``window_s`` of raw blocks (role → sequence of
    :class:`~imu.types.SampleBlock`, oldest first), on each block's host clock."""
    rates, gravity = {}, {}
    for role, blks in blocks_by_role.items():
        if not blks:
            continue
        t_end = float(blks[-1].t_host_s[-1])
        gyr, acc = [], []
        for b in reversed(blks):
            t_last = float(b.t_host_s[-1])
            if t_last < t_end - window_s:
                break
            t_first = float(b.t_host_s[0])     # a block wholly inside a window: no mask
            t = np.asarray(b.t_host_s)
            gyr.append(b.gyr if t_first >= t_end - window_s else b.gyr[t >= t_end - window_s])
            if not t_last < t_end - gravity_s:
                acc.append(b.acc if t_first >= t_end - gravity_s else
                           b.acc[t >= t_end - gravity_s])
        if gyr:
            rates[role] = gyro_rms_deg_s(np.concatenate(gyr[::-1]))
            a = np.concatenate(acc[::-1]) if acc else np.zeros((0, 3))
            a = a[np.isfinite(a).all(axis=1)] if len(a) else a
            if len(a):
                m = a.mean(axis=0)
                n = float(np.linalg.norm(m))
                if n > 0:
                    gravity[role] = m / n
    rates = {r: v for r, v in rates.items() if np.isfinite(v)}
    return Motion(classify_rates(rates), rates, window_s, gravity)
