"""Calibration without the docs/calibration.md protocol: from whatever the session has.

Needs a quiet standing stretch (every sensor still for ``min_standing_s``): it gives each
segment's vertical in its sensor frame and the gyro biases, and defines neutral. The
mediolateral (flexion) axes come from the sagittal hip motion found elsewhere in the session:

- a sensor whose rotation while moving is mostly about one horizontal axis (thighs in walking,
  leg swings, hinges, squats, sit-to-stand; the pelvis in hinges, squats, sit-to-stand) takes
  that axis, signed as in the protocol (a thigh's larger excursion is flexion, the pelvis's is
  anterior tilt) — :func:`imu.calibration.solver.flexion_axis`;
- a sensor that turns too little about a horizontal axis for that (the pelvis while walking)
  takes the direction the body travels: the sensor's horizontal velocity (orientation +
  free acceleration, integrated from rest at the end of the standing) in the first seconds of
  the motion is its anterior axis.

Quality: per sensor the standing figures, the method and its figures, and a verdict (``good``,
``fair``, ``poor``); only "no usable standing at all" is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.calibration.phases import GRID_HZ, activity
from imu.calibration.profile import Profile
from imu.calibration.solver import (flexion_axis, mounting_rotation, recording_accs, unit,
                                   vertical_axis)
from imu.errors import BadInputError, CalibrationError
from imu.intrinsics import IntrinsicCorrection
from imu.kinematics.heading import runs
from imu.types import Session, role_side

_CAL_ROLES = ("sacrum", "right_thigh", "left_thigh", "trunk")


def calibration_roles(session: Session) -> tuple[str, list[str], list[str]]:
    """The roles a calibration solves: ``(where, roles, thighs)``, where names the session in
    messages. Raises :class:`BadInputError` (one line) without a sacrum or without a thigh."""
    from imu.session.validate import note_too_few_samples, roles_in_use, too_few_samples

    where = session.source or "session"
    roles = roles_in_use(session, _CAL_ROLES)
    few = [r for r in _CAL_ROLES if r in session.sensors and r not in roles]

    def why(want):  # a sensor that is there but has too few samples says so
        return "".join(f"; {too_few_samples(session, r)}" for r in few if r in want)

    if "sacrum" not in roles:
        raise BadInputError(f"{where}: calibration needs a sacrum sensor{why(['sacrum'])}")
    thighs = [r for r in roles if role_side(r)]
    if not thighs:
        raise BadInputError(f"{where}: calibration needs at least one thigh sensor"
                            f"{why([r for r in _CAL_ROLES if role_side(r)])}")
    note_too_few_samples(session)  # the others go on without them: said once
    return where, roles, thighs


@dataclass
class AutoSettings:
    """Thresholds of the automatic calibration (rad/s, seconds, degrees)."""

    still_rad_s: float = 0.12        # every sensor's activity below: still
    min_standing_s: float = 1.5      # shortest usable quiet standing
    max_gravity_spread_deg: float = 6.0  # a still stretch this scattered is not quiet standing
    active_rad_s: float = 0.35       # a sensor above this is moving
    min_range_deg: float = 15.0      # sagittal range for an axis from rotation
    min_range_small_deg: float = 4.0  # ... or this much when the rotation is very planar
    max_planarity_small: float = 0.2
    max_planarity: float = 0.35      # λ2/λ1 of the pelvis's rotation for an axis from rotation
    max_planarity_femur: float = 0.55  # the same for a thigh (gait adds ab/adduction)
    min_axis_vertical_deg: float = 55.0  # the rotation axis must be this far from vertical
    travel_s: float = 3.0            # seconds of motion integrated for the travel direction
    min_speed_m_s: float = 0.3       # below: no usable travel direction


def _standing(grid, act, roles, s: AutoSettings):
    A = np.stack([act[r] for r in roles])
    with np.errstate(invalid="ignore"):
        still = np.all(A < s.still_rad_s, axis=0)
    dt = 1.0 / GRID_HZ
    return [(float(grid[a]), float(grid[b - 1])) for a, b in runs(still)
            if (b - a) * dt >= s.min_standing_s]


def _travel_direction(session: Session, role: str, stand: tuple[float, float],
                      s: AutoSettings, times, cache: dict):
    """Horizontal velocity direction over the first ``travel_s`` after the quiet standing
    ``stand`` (the sensor at rest there): orientation (vendor or fused) + specific force,
    gravity and the resting offset removed, integrated from rest. Returns (anterior direction
    in the sensor frame at rest (3,), mean speed m/s) or (None, speed)."""
    from imu import quat as Q
    from imu.session.vendor import GRAVITY_M_S2

    d = session.sensors[role]
    t = times[role]
    q_all = _orientation(session, role, times, cache)
    sel = (t >= stand[0]) & (t <= stand[1] + s.travel_s + 1.0)
    q, ts, acc = q_all[sel], t[sel], np.asarray(d.acc, float)[sel]
    fin = np.all(np.isfinite(q), axis=1) & np.all(np.isfinite(acc), axis=1)
    q, ts, acc = q[fin], ts[fin], acc[fin]
    rest = ts <= stand[1]
    if rest.sum() < 5 or (~rest).sum() < 10:
        return None, 0.0
    a_E = Q.rotate(q, acc)
    a_E[:, 2] -= GRAVITY_M_S2
    a_E -= a_E[rest].mean(axis=0)  # what the still sensor reads is offset, not motion
    m = ~rest
    tt, aa = ts[m], a_E[m, :2]
    dt = np.diff(tt, prepend=stand[1])
    v = np.cumsum(aa * dt[:, None], axis=0)
    late = tt >= stand[1] + 1.0
    vm = v[late].mean(axis=0) if late.any() else v[-1]
    speed = float(np.linalg.norm(vm))
    if speed < s.min_speed_m_s:
        return None, speed
    fwd_E = np.array([vm[0], vm[1], 0.0]) / speed
    q0 = Q.normalize(q[rest].mean(axis=0))
    return Q.rotate(Q.conj(q0), fwd_E), speed


def _orientation(session: Session, role: str, times: dict, cache: dict) -> np.ndarray:
    """(N, 4) ``q_ES`` at the role's sample times: the vendor's, else fused (6D)."""
    if role in cache:
        return cache[role]
    from imu import quat as Q
    from imu.kinematics.pipeline import fuse_session

    d = session.sensors[role]
    if d.quat is not None:
        q = np.asarray(d.quat, float)
    else:
        sub = Session(meta={}, sensors={role: d}, source=session.source)
        tb, quats, _, _ = fuse_session(sub, [role])
        q = np.array([np.interp(times[role], tb, quats[role][:, k]) for k in range(4)]).T
        q = Q.normalize(q)
    cache[role] = q
    return q


def _signed(axis: np.ndarray, y_S: np.ndarray, q: np.ndarray, moving: np.ndarray, segment: str):
    """``axis`` with the protocol's sign: the larger sagittal excursion from neutral (by the
    sensor's orientation, not by integrating the rate) is flexion for a thigh (positive about
    +Z) and anterior tilt for the pelvis (negative about +Z)."""
    from imu import quat as Q

    qm = q[moving]
    ok = np.all(np.isfinite(qm), axis=1)
    if ok.sum() < 10:
        return axis, float("nan")
    up = Q.rotate(Q.conj(qm[ok]), np.tile([0.0, 0.0, 1.0], (int(ok.sum()), 1)))
    x = np.cross(y_S, axis)
    theta = np.degrees(np.arctan2(up @ x, up @ y_S))
    hi, lo = float(np.percentile(theta, 98)), float(-np.percentile(theta, 2))
    flip = lo > hi if segment == "femur" else hi > lo
    return (-axis if flip else axis), (max(hi, lo) / max(min(hi, lo), 1e-6))


def _axis_from_thighs(session: Session, role: str, mounts: dict, stand: dict, y_S: np.ndarray):
    """Mediolateral axis of ``role`` from the thighs' (already solved), through the sensors'
    own orientations at quiet standing: only when every one of them carries a vendor
    orientation in one shared earth frame (magnetometer heading). None otherwise."""
    from imu import quat as Q

    thighs = [r for r in mounts if role_side(r)]
    d = session.sensors[role]
    if d.quat is None or not thighs or any(session.sensors[r].quat is None for r in thighs):
        return None
    zs = []
    for r in thighs:
        q = Q.normalize(np.nanmean(session.sensors[r].quat[stand[r]], axis=0))
        zs.append(Q.rotate(q, mounts[r][2]))
    z_E = np.mean(zs, axis=0)
    z_E[2] = 0.0
    if np.linalg.norm(z_E) < 0.5:
        return None
    qp = Q.normalize(np.nanmean(d.quat[stand[role]], axis=0))
    z = Q.rotate(Q.conj(qp), unit(z_E))
    z = z - (z @ y_S) * y_S
    return unit(z) if np.linalg.norm(z) > 0.5 else None


def calibrate_auto(session: Session, *, intrinsics: dict | None = None,
                   settings: AutoSettings | None = None) -> Profile:
    """Sensor-to-segment calibration from quiet standing plus any sagittal motion.

    Parameters
    ----------
    session : Session
        ``sacrum`` and at least one thigh (``trunk`` optional); raw or vendor-orientation
        sensors.
    intrinsics : dict, optional
        Sensor id (or role) → stored :class:`~imu.intrinsics.IntrinsicCorrection`; its
        accelerometer correction is applied before solving.
    settings : AutoSettings, optional

    Returns
    -------
    Profile
        ``method="auto"``; ``quality["standing"]`` as for the protocol, ``quality["auto"]``
        per role ``{"method", "verdict", ...figures}``.

    Raises
    ------
    CalibrationError
        No usable quiet standing, or no axis could be found for a sensor (one line).
    """
    from imu.kinematics.pipeline import sensor_times_s

    s = settings or AutoSettings()
    where, roles, thighs = calibration_roles(session)
    times = {r: sensor_times_s(session.sensors[r]) for r in roles}
    t0 = max(float(times[r][0]) for r in roles)
    t1 = min(float(times[r][-1]) for r in roles)
    if t1 - t0 < s.min_standing_s:
        raise CalibrationError(f"{where}: calibration refused: the sensors share only "
                               f"{max(0.0, t1 - t0):.1f} s; no usable quiet standing")
    grid, act = activity(session, roles, t0, t1, times)
    stands = _standing(grid, act, roles, s)
    # quiet standing: every sensor still and its gravity steady; the first such stretch
    stand, stand_fig = None, None
    for w in stands:
        figs = {}
        for r in roles:
            d = session.sensors[r]
            m = (times[r] >= w[0]) & (times[r] <= w[1])
            if m.sum() < 10:
                break
            figs[r] = m
        else:
            spread = [vertical_axis(session.sensors[r].acc[figs[r]],
                                    session.sensors[r].gyr[figs[r]])[2]["gravity_spread_deg"]
                      for r in roles]
            if max(spread) <= s.max_gravity_spread_deg:
                stand, stand_fig = w, figs
                break
    if stand is None:
        raise CalibrationError(
            f"{where}: calibration refused: no quiet standing found (every sensor still for "
            f"{s.min_standing_s:g} s); without the protocol the session needs a few seconds of "
            f"standing still")
    moving = np.zeros(len(grid), bool)
    with np.errstate(invalid="ignore"):
        for r in roles:
            moving |= np.nan_to_num(act[r]) > s.active_rad_s
    quality: dict = {"standing": {"duration_s": stand[1] - stand[0], "sensors": {},
                                  "window_s": [stand[0], stand[1]]},
                     "auto": {}}
    mounts, intr, acc_rec = {}, {}, {}
    accs = recording_accs(session, roles, times, intrinsics)
    ys, biases = {}, {}
    qcache: dict = {}
    for r in roles:
        d = session.sensors[r]
        m = stand_fig[r]
        stored = (intrinsics or {}).get(d.info.sensor_id) or (intrinsics or {}).get(r)
        acc_corr = IntrinsicCorrection(acc_offset_m_s2=stored.acc_offset_m_s2,
                                       acc_scale=stored.acc_scale) if stored else None
        acc_rec[r] = accs[r].entry
        y, bias, fig = vertical_axis(accs[r].corrected(d.acc[m]), d.gyr[m])
        if not d.has_raw:
            bias = np.zeros(3)  # the rate is derived from the vendor's orientation
        ys[r], biases[r] = y, bias
        quality["standing"]["sensors"][r] = fig
        intr[r] = IntrinsicCorrection(
            gyr_bias_rad_s=bias, meta={"gyr_bias": "estimated", "source": "auto calibration "
                                       "quiet standing", "still_s": float(stand[1] - stand[0])},
            acc_offset_m_s2=np.zeros(3) if acc_corr is None else acc_corr.acc_offset_m_s2,
            acc_scale=np.ones(3) if acc_corr is None else acc_corr.acc_scale).to_dict()
    # thighs first: a pelvis without its own sagittal motion may take their axes
    for r in sorted(roles, key=lambda x: 0 if role_side(x) else 1):
        d = session.sensors[r]
        t = times[r]
        gi = np.clip(np.searchsorted(grid, t), 0, len(grid) - 1)
        mw = moving[gi] & (t > stand[1]) | moving[gi] & (t < stand[0])
        segment = "femur" if role_side(r) else "pelvis"
        fig = {"moving_s": float(mw.sum() / max(d.info.rate_hz or 100.0, 1.0))}
        axis = None
        if mw.sum() >= 20:
            # turning (about the vertical) is not sagittal motion: only the rate about
            # horizontal axes counts (a thigh's mediolateral axis stays horizontal as it flexes)
            w = d.gyr[mw] - biases[r]
            w = w - np.outer(w @ ys[r], ys[r])
            ax = flexion_axis(t[mw], w, ys[r], np.zeros(3), segment)
            fig.update({k: ax.figures[k] for k in ("range_deg", "planarity", "axis_vertical_deg",
                                                   "reps")})
            flat = s.max_planarity_femur if segment == "femur" else s.max_planarity
            rng_ok = (ax.figures["range_deg"] >= s.min_range_deg or
                      (ax.figures["range_deg"] >= s.min_range_small_deg
                       and ax.figures["planarity"] <= s.max_planarity_small))
            if (rng_ok and ax.figures["planarity"] <= flat
                    and ax.figures["axis_vertical_deg"] >= s.min_axis_vertical_deg):
                axis, asym = _signed(ax.axis_S, ys[r], _orientation(session, r, times, qcache),
                                     mw, segment)
                fig["method"] = "rotation axis"
                fig["excursion_ratio"] = asym
        if axis is None and not role_side(r):
            axis = _axis_from_thighs(session, r, mounts, stand_fig, ys[r])
            if axis is not None:
                fig["method"] = "thigh axes (shared heading)"
        if axis is None:
            # the first motion after the standing: the direction of travel is anterior
            fwd, speed = _travel_direction(session, r, stand, s, times, qcache)
            fig["travel_speed_m_s"] = speed
            if fwd is not None:
                x = unit(fwd - (fwd @ ys[r]) * ys[r])
                axis = np.cross(x, ys[r])
                fig["method"] = "travel direction"
        if axis is None:
            raise CalibrationError(
                f"{where}: calibration refused: no sagittal motion to find the {r} sensor's "
                f"mediolateral axis (walk, hinge, squat or swing a leg after the standing, or "
                f"record the calibration protocol)")
        mounts[r] = mounting_rotation(ys[r], axis)
        good = fig["method"] != "travel direction" and fig.get("planarity", 1) < 0.15
        fair = fig["method"] != "rotation axis" or fig.get("planarity", 1) < flat
        fig["verdict"] = "good" if good else "fair" if fair else "poor"
        quality["auto"][r] = fig
    verdicts = [f["verdict"] for f in quality["auto"].values()]
    quality["auto_verdict"] = ("poor" if "poor" in verdicts else
                               "fair" if "fair" in verdicts else "good")
    return Profile(mounts=mounts,
                   sensor_ids={r: session.sensors[r].info.sensor_id for r in roles},
                   models={r: session.sensors[r].info.model for r in roles},
                   intrinsics=intr, quality=quality,
                   phases={"standing": [stand[0], stand[1]]},
                   source=session.source, method="auto",
                   acc_recording={r: v for r, v in acc_rec.items() if v})
