"""Sensor-to-segment solver: mounting rotations ``R_BS`` from the calibration phases.

Per sensor, in its own frame:

- **vertical** (segment +Y): the mean specific force during quiet standing (it points up);
- **flexion axis** (segment +Z): the principal axis of the angular rate during the hinges
  (pelvis) or leg swings (femur), made orthogonal to the vertical. Its sign comes from the
  motion: the angle about the axis, integrated from the rate, has its large excursions negative
  for the pelvis (anterior tilt is a negative rotation about +Z) and positive for a femur (a
  forward swing goes further than the backward one; flexion is positive about +Z);
- **anterior** (+X) = Y × Z.

``R_BS`` has these axes as rows (sensor vectors → segment frame). Quality figures per phase are
returned with the axes; :func:`check_quality` turns poor figures into a refusal that names the
phase to repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu.errors import CalibrationError

G = 9.81


@dataclass
class QualityLimits:
    """Limits above/below which a phase is refused."""

    standing_gravity_spread_deg: float = 1.0   # direction scatter of gravity while standing
    standing_gyr_rms_deg_s: float = 1.0        # angular rate left while standing (bias removed)
    min_reps: int = 2
    min_range_deg: float = 15.0                # range of motion about the axis
    max_axis_spread_deg: float = 15.0          # rep axes vs the overall axis
    min_axis_vertical_deg: float = 60.0        # flexion axis must be near horizontal
    min_swing_asymmetry: float = 1.15          # forward / backward excursion of leg swings
    min_still_s: float = 1.0


@dataclass
class AxisResult:
    """Flexion axis of one segment and its figures."""

    axis_S: np.ndarray
    figures: dict = field(default_factory=dict)


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def vertical_axis(acc: np.ndarray, gyr: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Segment vertical in the sensor frame, gyro bias and stillness figures from standing.

    Parameters
    ----------
    acc, gyr : ndarray, shape (n, 3)
        Samples of one sensor during quiet standing (m/s², rad/s).

    Returns
    -------
    y_S : ndarray, shape (3,)
    gyr_bias_rad_s : ndarray, shape (3,)
    figures : dict
        ``gravity_spread_deg``, ``gyr_rms_deg_s``, ``acc_norm_m_s2``, ``samples``.
    """
    acc = np.asarray(acc, float)
    gyr = np.asarray(gyr, float)
    ok = np.all(np.isfinite(acc), 1) & np.all(np.isfinite(gyr), 1)
    acc, gyr = acc[ok], gyr[ok]
    y = unit(acc.mean(axis=0))
    u = acc / np.linalg.norm(acc, axis=1, keepdims=True)
    spread = np.degrees(np.sqrt(np.mean(np.arccos(np.clip(u @ y, -1, 1)) ** 2)))
    bias = gyr.mean(axis=0)
    rms = np.degrees(np.sqrt(np.mean(np.sum((gyr - bias) ** 2, axis=1))))
    return y, bias, {"gravity_spread_deg": float(spread), "gyr_rms_deg_s": float(rms),
                     "acc_norm_m_s2": float(np.linalg.norm(acc.mean(axis=0))),
                     "samples": int(len(acc))}


def principal_axis(gyr: np.ndarray) -> tuple[np.ndarray, float]:
    """Dominant rotation axis of angular-rate samples (n, 3) and its planarity (λ2/λ1)."""
    C = gyr.T @ gyr
    w, v = np.linalg.eigh(C)
    return v[:, -1], float(w[-2] / w[-1]) if w[-1] > 0 else 1.0


def _excursions(phi: np.ndarray, sign: float, level_deg: float):
    """Index runs where ``sign·phi`` exceeds ``level_deg``."""
    from imu.kinematics.heading import runs
    return runs(sign * phi > level_deg)


def flexion_axis(t_s: np.ndarray, gyr: np.ndarray, y_S: np.ndarray, gyr_bias: np.ndarray,
                 segment: str) -> AxisResult:
    """Flexion axis (segment +Z in the sensor frame) from hinges or leg swings.

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Sample times of the phase, seconds.
    gyr : ndarray, shape (n, 3)
        Angular rate of the sensor during the phase, rad/s.
    y_S : ndarray, shape (3,)
        The segment vertical in the sensor frame (from standing).
    gyr_bias : ndarray, shape (3,)
        Gyro bias from standing, rad/s.
    segment : {"pelvis", "femur"}
        Sign rule: pelvis excursions are negative about +Z, femur's larger ones positive.

    Returns
    -------
    AxisResult
        ``figures``: ``reps``, ``range_deg``, ``axis_spread_deg``, ``axis_vertical_deg``,
        ``planarity``, and for a femur ``asymmetry`` (forward / backward excursion).
    """
    ok = np.all(np.isfinite(gyr), 1) & np.isfinite(t_s)
    t, w = np.asarray(t_s, float)[ok], np.asarray(gyr, float)[ok] - gyr_bias
    a, planarity = principal_axis(w)
    axis_vertical = float(np.degrees(np.arccos(min(1.0, abs(float(a @ y_S))))))
    z = unit(a - (a @ y_S) * y_S)
    # angle about the axis, integrated (trapezoid) and detrended so that it ends where it began
    rate = w @ z
    dt = np.diff(t, prepend=t[0])
    dt = np.where(dt > 0.5, 0.0, dt)  # do not integrate across gaps
    phi = np.degrees(np.cumsum(rate * dt))
    if len(phi) > 1:
        phi = phi - np.linspace(phi[0], phi[-1], len(phi))
    hi, lo = float(np.max(phi)), float(-np.min(phi))
    if segment == "pelvis":
        flip = hi > lo  # anterior tilt is negative about +Z
    else:
        flip = lo > hi  # forward (flexion, positive) swing is the larger
    if flip:
        z, phi, hi, lo = -z, -phi, lo, hi
    main_sign = -1.0 if segment == "pelvis" else 1.0
    peak = lo if segment == "pelvis" else hi
    other = hi if segment == "pelvis" else lo
    reps = _excursions(phi, main_sign, max(8.0, 0.6 * peak))
    spreads = []
    for i0, i1 in reps:
        # the rep's own axis from its rate samples (down and up)
        pad = max(1, (i1 - i0) // 2)
        ww = w[max(0, i0 - pad):min(len(w), i1 + pad)]
        if len(ww) < 5:
            continue
        ar, _ = principal_axis(ww)
        ar = unit(ar - (ar @ y_S) * y_S) if abs(ar @ y_S) < 0.99 else ar
        spreads.append(float(np.degrees(np.arccos(min(1.0, abs(float(ar @ z)))))))
    figures = {
        "reps": int(len(reps)),
        "range_deg": float(hi + lo),
        "peak_deg": float(peak),
        "axis_spread_deg": float(max(spreads)) if spreads else float("nan"),
        "axis_vertical_deg": axis_vertical,
        "planarity": planarity,
    }
    if segment == "femur":
        figures["asymmetry"] = float(peak / other) if other > 1e-6 else float("inf")
    return AxisResult(z, figures)


@dataclass(frozen=True, eq=False)  # holds arrays: no element-wise ==
class RecordingAcc:
    """A sensor's specific force as the calibration uses it: the stored accelerometer correction
    (a multi-pose fit, if any), then the one estimated from the recording itself
    (:mod:`imu.kinematics.acc_offset`, if believed). Small, so a worker process hands it back
    cheaply; the correction is applied only to the samples the calibration reads.

    Attributes
    ----------
    stored, recording : tuple or None
        ``(offset_m_s2, scale)`` of each correction (:func:`imu.kinematics.acc_offset.correct`),
        None where there is none.
    entry : dict or None
        The profile's ``acc_recording`` entry; None for a sensor without raw samples or whose
        angles come from its own orientation.
    """

    stored: tuple | None = None
    recording: tuple | None = None
    entry: dict | None = None

    def corrected(self, acc: np.ndarray) -> np.ndarray:
        """``acc`` (…, 3) raw specific force, m/s² → with both corrections removed."""
        from imu.kinematics.acc_offset import correct

        return correct(acc, self.stored, self.recording)


def recording_acc(data, t_s: np.ndarray, acc: np.ndarray, stored: tuple | None = None,
                  finite: bool = False) -> RecordingAcc:
    """The sensor's accelerometer offset and scale estimated from the whole recording
    (:mod:`imu.kinematics.acc_offset`) as a :class:`RecordingAcc`; ``acc`` is its raw specific
    force. ``stored``: the stored accelerometer correction ``(offset_m_s2, scale)`` (a multi-pose
    fit), applied first, so only a small remainder is expected (the prior is
    :data:`~imu.kinematics.acc_offset.STORED_PRIOR`). ``finite``: the samples and times are
    known to be finite (:func:`~imu.session.validate.usable_sensor`'s)."""
    from imu.kinematics.acc_offset import STORED_PRIOR, AccOffsetSettings, estimate_sensor

    est = estimate_sensor(data, t_s, acc,
                          STORED_PRIOR if stored is not None else AccOffsetSettings(),
                          acc_correction=stored, finite=finite)
    if est is None:
        return RecordingAcc(stored)
    return RecordingAcc(stored, (est.offset_m_s2_, est.scale_) if est.applied_ else None,
                        est.to_dict())


def recording_accs(session, roles, times: dict | None, intrinsics: dict | None) -> dict:
    """Role → :class:`RecordingAcc` of each sensor (:func:`recording_acc` after its stored
    accelerometer correction, if any), the sensors in parallel; no recording correction for a
    sensor whose angles come from its own orientation (``uses_vendor_orientation``: no fusion
    applies a correction there).

    ``times``: role → sample times on the session clock. A dict without some of ``roles`` (or
    None) gets theirs (:func:`~imu.kinematics.pipeline.sensor_times_s`) made here, each by the
    sensor's own worker before its estimate, and remembered for the later steps: the clock
    fits run in parallel instead of one after the other first."""
    return _per_sensor(session, roles, {} if times is None else times, intrinsics, False)[1]


def usable_times_accs(session, roles, intrinsics: dict | None) -> tuple:
    """``(usable, times, accs)`` for the calibration: the session's usable samples
    (:func:`~imu.session.validate.usable_session`), each of ``roles``' times on the session
    clock and :func:`recording_accs`, made together by one worker per sensor (its samples
    checked, its clock fitted, its accelerometer estimated) instead of the checks and the
    clock fits one sensor after the other first. Raises as ``usable_session`` does (the first
    sensor's error)."""
    times: dict = {}
    usable, accs = _per_sensor(session, roles, times, intrinsics, True)
    return usable, times, accs


def _per_sensor(session, roles, times: dict, intrinsics, check: bool) -> tuple:
    """``(session, accs)``: one forked worker per sensor of ``roles``
    checks its samples (``check``: :func:`~imu.session.validate.usable_sensor`, and the
    returned session is the usable one), fits its clock into ``times`` where missing (in
    memory shared with this process, then remembered) and estimates its accelerometer."""
    from imu.intrinsics import has_acc_correction
    from imu.kinematics.pipeline import remember_times, sensor_times_s, uses_vendor_orientation
    from imu.session.validate import mark_usable, usable_sensor, usable_session
    from imu.workers import can_fork, fork_map, shared_empty

    alloc = shared_empty if can_fork() and len(roles) > 1 else np.empty
    made = {r: alloc(len(session.sensors[r])) for r in roles if r not in times}

    def one(role):
        d = session.sensors[role]
        if check:  # the samples fusion may use (usable_session's, this sensor's)
            d = usable_sensor(d, role, session.source)
        if role in made:  # into memory this process sees too
            made[role][:len(d)] = sensor_times_s(d)
        t = made[role][:len(d)] if role in made else times[role]
        stored = (intrinsics or {}).get(d.info.sensor_id) or (intrinsics or {}).get(role)
        corr = ((stored.acc_offset_m_s2, stored.acc_scale)
                if stored is not None and has_acc_correction(stored) else None)
        clean = d is session.sensors[role]
        if uses_vendor_orientation(session, role):
            # the angles use the sensor's own orientation, its vertical
            return RecordingAcc(corr), clean, len(d)
        # (checked: its samples are usable ones, finite, and so are their times)
        return recording_acc(d, t, d.acc, corr, finite=check), clean, len(d)

    res = dict(zip(roles, fork_map(one, list(roles))))  # (they start and end together)
    if check:
        for r in roles:
            if res[r][1]:
                mark_usable(session.sensors[r])
        session = usable_session(session)  # the others' usable samples, here too
    for r, t in made.items():
        t = t[:res[r][2]]
        remember_times(session.sensors[r], t)
        times[r] = t
    return session, {r: v[0] for r, v in res.items()}


def mounting_rotation(y_S: np.ndarray, z_S: np.ndarray) -> np.ndarray:
    """``R_BS`` (3, 3) whose rows are the segment axes X, Y, Z in the sensor frame.

    ``y_S`` is kept exactly; ``z_S`` is made orthogonal to it.
    """
    y = unit(y_S)
    z = unit(z_S - (z_S @ y) * y)
    x = np.cross(y, z)
    return np.stack([x, y, z])


_PHASE_TEXT = {
    "standing": "the 5 s quiet standing (stand still, feet hip-width, neutral posture)",
    "hinges": "the 3 slow hip hinges",
    "still_before_swings": "the 2 s still pause before the leg swings",
    "still_end": "the 2 s still pause at the end",
}


def phase_text(name: str) -> str:
    if name.startswith("swings_"):
        side = name.split("_", 1)[1]
        return f"the 3 forward/back leg swings with the {side} leg"
    return _PHASE_TEXT.get(name, name)


def check_quality(quality: dict, limits: QualityLimits = QualityLimits()) -> list[tuple[str, str]]:
    """Problems ``[(phase, reason), ...]`` in a quality report (empty when acceptable).

    ``quality`` maps a phase name (``standing``, ``hinges``, ``swings_right``, ``swings_left``,
    ``still_before_swings``, ``still_end``) to its figures; ``{"missing": True}`` marks a
    phase that was not found.
    """
    L = limits
    bad = []
    for phase, f in quality.items():
        if f.get("missing"):
            bad.append((phase, "not found"))
            continue
        if phase == "standing":
            for role, g in f.get("sensors", {}).items():
                if g["gravity_spread_deg"] > L.standing_gravity_spread_deg or \
                        g["gyr_rms_deg_s"] > L.standing_gyr_rms_deg_s:
                    bad.append((phase, f"not still enough ({role}: gravity scatter "
                                       f"{g['gravity_spread_deg']:.1f}°, rate "
                                       f"{g['gyr_rms_deg_s']:.1f}°/s)"))
                    break
        elif phase in ("hinges",) or phase.startswith("swings_"):
            if f["reps"] < L.min_reps:
                bad.append((phase, f"only {f['reps']} repetition(s) found"))
            elif f["range_deg"] < L.min_range_deg:
                bad.append((phase, f"range of motion only {f['range_deg']:.0f}°"))
            elif f["axis_vertical_deg"] < L.min_axis_vertical_deg:
                bad.append((phase, f"rotation axis {f['axis_vertical_deg']:.0f}° from vertical "
                                   "(should be horizontal)"))
            elif np.isfinite(f["axis_spread_deg"]) and f["axis_spread_deg"] > L.max_axis_spread_deg:
                bad.append((phase, f"axes inconsistent across repetitions "
                                   f"({f['axis_spread_deg']:.0f}° apart)"))
            elif phase.startswith("swings_") and f["asymmetry"] < L.min_swing_asymmetry:
                bad.append((phase, "forward and backward swings equally large; swing further "
                                   "forward than back"))
        elif phase.startswith("still"):
            if f.get("duration_s", 0.0) < L.min_still_s:
                bad.append((phase, f"only {f.get('duration_s', 0.0):.1f} s"))
    return bad


def refuse_if_poor(quality: dict, limits: QualityLimits = QualityLimits(), where: str = "") -> None:
    """Raise :class:`CalibrationError` naming the first phase to repeat, if any is poor."""
    bad = check_quality(quality, limits)
    if not bad:
        return
    order = ["standing", "hinges", "still_before_swings", "swings_right", "swings_left",
             "still_end"]
    bad.sort(key=lambda b: order.index(b[0]) if b[0] in order else 99)
    phase, why = bad[0]
    more = f" (and {len(bad) - 1} more problem(s))" if len(bad) > 1 else ""
    if phase == "standing" and why == "not found":  # nothing else can be found without it
        return_msg = ("no calibration protocol found (it starts with 5 s of quiet standing); "
                      f"record it: {phase_text(phase)}, then the hinges and leg swings")
        raise CalibrationError(f"{where}: {return_msg}" if where else return_msg)
    prefix = f"{where}: " if where else ""
    raise CalibrationError(f"{prefix}calibration refused: {phase.replace('_', ' ')} {why}; "
                           f"repeat {phase_text(phase)}{more}")
