"""Sensor-to-segment calibration from the docs/calibration.md protocol (builds on :mod:`imu`).

Public API
----------
``calibrate_session(session, *, phase_settings=None, limits=None) -> Profile``
    Find the protocol phases, solve every sensor's mounting rotation, grade each phase and refuse
    a poor calibration with :class:`~imu.errors.CalibrationError` naming the phase to repeat.
``Profile`` (``.alignment()``, ``.save(path)``, ``.to_dict()``, ``Profile.from_dict(d)``),
``load_profile(path)``.
"""

from __future__ import annotations

import numpy as np

from imu.calibration.auto import AutoSettings, calibrate_auto, calibration_roles
from imu.calibration.phases import (PhaseSettings, Phases, detect_phases, in_order, row_count,
                                   rows_between)
from imu.calibration.profile import SCHEMA, Profile, load_profile
from imu.calibration.solver import (QualityLimits, check_quality, flexion_axis, mounting_rotation,
                                refuse_if_poor, usable_times_accs, vertical_axis)
from imu.errors import BadInputError, CalibrationError
from imu.intrinsics import IntrinsicCorrection, has_acc_correction
from imu.types import Session, role_side

__all__ = ["calibrate_session", "calibrate", "calibrate_auto", "AutoSettings", "METHODS", "Profile", "load_profile", "SCHEMA", "Phases", "detect_phases",
           "PhaseSettings", "QualityLimits", "check_quality", "CalibrationError"]




def calibrate_session(session: Session, *, phase_settings: PhaseSettings | None = None,
                      limits: QualityLimits | None = None, refuse: bool = True,
                      intrinsics: dict | None = None) -> Profile:
    """Sensor-to-segment calibration from a session that contains the docs/calibration.md protocol.

    Parameters
    ----------
    session : Session
        ``sacrum`` and at least one thigh sensor (``trunk`` optional).
    phase_settings : PhaseSettings, optional
    limits : QualityLimits, optional
    refuse : bool
        Raise :class:`CalibrationError` for a poor calibration (default). With ``False`` the
        profile is returned with its quality figures whatever they are (as far as the axes can
        be solved at all).
    intrinsics : dict, optional
        Sensor id (or role) → stored :class:`~imu.intrinsics.IntrinsicCorrection` (e.g.
        :func:`imu.intrinsics.stored_corrections`). Its accelerometer offset and scale are
        applied before solving, and kept in the profile's intrinsics with the gyro bias
        measured at the quiet standing (which replaces the stored one: a gyro's bias changes
        from one power-on to the next).

    Returns
    -------
    Profile
    """
    where, roles, thighs = calibration_roles(session)
    limits = limits or QualityLimits()
    # NaN/inf samples and repeated timestamps stay out; each sensor's times on the session
    # clock and accelerometer estimate: one worker per sensor
    session, times, accs = usable_times_accs(session, roles, intrinsics)
    ph = detect_phases(session, phase_settings or PhaseSettings(), times=times)

    quality: dict = {}
    quality["standing"] = ({"missing": True} if ph.standing is None else
                           {"duration_s": ph.standing[1] - ph.standing[0], "sensors": {}})
    quality["hinges"] = {"missing": True} if ph.hinges is None else {}
    quality["still_before_swings"] = ({"missing": True} if ph.still_before_swings is None else
                                      {"duration_s": ph.still_before_swings[1]
                                       - ph.still_before_swings[0]})
    for r in thighs:
        quality[f"swings_{role_side(r)}"] = {"missing": True} if r not in ph.swings else {}
    quality["still_end"] = ({"missing": True} if ph.still_end is None else
                            {"duration_s": ph.still_end[1] - ph.still_end[0]})
    if ph.standing is None or ph.hinges is None:
        refuse_if_poor(quality, limits, where)  # always raises: a phase we need is missing

    mounts, intr, acc_rec = {}, {}, {}
    for role in roles:
        d = session.sensors[role]
        t = times[role]
        ordered = in_order(t)
        m = rows_between(t, *ph.standing, ordered)
        if row_count(m) < 10:
            raise CalibrationError(f"{where}: calibration refused: {role} has too few samples in "
                                   "the quiet standing; repeat the 5 s quiet standing")
        stored = (intrinsics or {}).get(d.info.sensor_id) or (intrinsics or {}).get(role)
        acc_corr = IntrinsicCorrection(acc_offset_m_s2=stored.acc_offset_m_s2,
                                       acc_scale=stored.acc_scale) if stored else None
        acc_rec[role] = accs[role].entry
        y, bias, fig = vertical_axis(accs[role].corrected(d.acc[m]), d.gyr[m])
        quality["standing"]["sensors"][role] = fig
        meta = {"gyr_bias": "estimated", "source": "calibration quiet standing",
                "still_s": float(ph.standing[1] - ph.standing[0])}
        if acc_corr is not None and has_acc_correction(acc_corr):
            meta["acc"] = "stored"
            meta["acc_date"] = stored.meta.get("date", "")
        intr[role] = IntrinsicCorrection(
            gyr_bias_rad_s=bias, meta=meta,
            acc_offset_m_s2=np.zeros(3) if acc_corr is None else acc_corr.acc_offset_m_s2,
            acc_scale=np.ones(3) if acc_corr is None else acc_corr.acc_scale).to_dict()
        if role in ("sacrum", "trunk"):
            window, segment, phase = ph.hinges, "pelvis", "hinges"
        else:
            window, segment, phase = ph.swings.get(role), "femur", f"swings_{role_side(role)}"
        if window is None:
            continue
        mw = rows_between(t, *window, ordered)
        if row_count(mw) < 10:
            quality[phase] = {"missing": True}
            continue
        ax = flexion_axis(t[mw], d.gyr[mw], y, bias, segment)
        if role == "trunk":
            quality["hinges_trunk"] = dict(ax.figures)
        else:
            quality[phase] = dict(ax.figures, duration_s=float(window[1] - window[0]))
        mounts[role] = mounting_rotation(y, ax.axis_S)

    if refuse:
        refuse_if_poor(quality, limits, where)
    missing = [r for r in roles if r not in mounts]
    if missing:  # only reachable with refuse=False
        raise CalibrationError(f"{where}: calibration refused: no axis for {', '.join(missing)}")
    return Profile(mounts=mounts,
                   sensor_ids={r: session.sensors[r].info.sensor_id for r in roles},
                   models={r: session.sensors[r].info.model for r in roles},
                   intrinsics=intr, quality=quality, phases=ph.to_dict(),
                   source=session.source, acc_recording={r: v for r, v in acc_rec.items() if v})


#: calibration methods: the docs/calibration.md protocol, or standing + any sagittal motion
METHODS = ("protocol", "auto")


def calibrate(session: Session, *, method: str | None = None, intrinsics: dict | None = None
              ) -> Profile:
    """The session's calibration by ``method``: ``protocol`` (docs/calibration.md), ``auto``
    (:func:`calibrate_auto`), or ``None``: the protocol when the session has it, else auto.

    A session without the protocol's quiet standing and hinges falls back to ``auto``; a
    protocol that is there but poor is refused as before (repeat it, or ask for ``auto``).
    """
    if method not in (None, *METHODS):
        raise BadInputError(f"--method {method}: expected one of {', '.join(METHODS)}")
    from imu.session.validate import check_units

    check_units(session)  # samples in other units (or acc and gyr swapped): one line, first
    if method == "auto":
        return calibrate_auto(session, intrinsics=intrinsics)
    if method == "protocol":
        return calibrate_session(session, intrinsics=intrinsics)
    ph = detect_phases(session, PhaseSettings())
    if ph.standing is None or ph.hinges is None or not ph.swings:
        return calibrate_auto(session, intrinsics=intrinsics)
    try:
        return calibrate_session(session, intrinsics=intrinsics)
    except CalibrationError:
        if any(e.kind == "calibration_start" for e in session.events):
            raise  # the protocol was recorded: say what to repeat
        return calibrate_auto(session, intrinsics=intrinsics)
