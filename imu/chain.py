"""The one processing chain: session → intrinsics → calibration → orientations → angles → analysis.

Every door onto the chain calls these objects the same way: the ``imu`` commands (``angles``,
``analyze``, ``calibrate``, ``replay``, ``export``), the live pipeline, the public API
(:mod:`imu.api`) and batch runs. They follow gaitmap's manner: settings in the constructor, one
action method that returns ``self``, results as attributes ending in ``_``.

::

    cal = Calibrate(profile="profile.json").run(session)    # .profile_, .intrinsics_, .method_
    ang = ComputeAngles(filter="vqf").run(session, cal)     # .angles_ (AngleTable, degrees)
    res = Analyze(settings).run(ang.angles_, session.events, cal)   # .result_ (Analysis JSON)

or all at once: ``Chain(...).run(session)`` (``.calibration_``, ``.angles_``, ``.result_``).

Layering: this module sits above :mod:`imu.calibration`, :mod:`imu.kinematics` and
:mod:`imu.analysis` and wires them; the layers below never import it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from imu.errors import BadInputError, CalibrationError
from imu.log import get_logger

log = get_logger(__name__)

#: how a calibration was obtained (``Calibrate.method_``)
METHOD_PROFILE = "profile file"
METHOD_EMBEDDED = "embedded profile"
METHOD_PROTOCOL = "session's own calibration phase"


def import_steps() -> None:
    """Import the modules the chain's steps run (calibration, fusion, angles): a command calls
    this while its recording is decoded by worker processes (``load_session(meanwhile=)``), so
    the imports overlap the reading instead of following it."""
    import numpy as np

    import imu.analysis.calibrations  # noqa: F401
    import imu.analysis.sets  # noqa: F401
    import imu.calibration  # noqa: F401
    import imu.fusion.offline  # noqa: F401
    import imu.kinematics.pipeline  # noqa: F401
    import imu.timing  # noqa: F401 - (else each worker process imports it: ~8 ms each)
    import vqf  # noqa: F401

    np.ma  # numpy's median and unique import numpy.ma on first use  # noqa: B018


def check_filter(name: str | None) -> None:
    """A :class:`~imu.errors.BadInputError` for an unknown fusion filter name."""
    from imu.fusion import FILTERS

    if name and name not in FILTERS:
        raise BadInputError(f"unknown filter {name!r}; choose one of {', '.join(FILTERS)}")


def check_rate(rate_hz: float | None) -> None:
    """``--rate``: None (the default) or a finite positive number of Hz; else one line."""
    if rate_hz is not None and not (math.isfinite(rate_hz) and rate_hz > 0):
        raise BadInputError(f"--rate must be a positive number of Hz, not {rate_hz:g}")


def default_filter() -> str:
    """The fusion filter used when none is named (:data:`imu.fusion.DEFAULT_FILTER`)."""
    from imu.kinematics.pipeline import DEFAULT_FILTER

    return DEFAULT_FILTER


# ----------------------------------------------------------------------------- intrinsics --
def stored_intrinsics(sensor_ids) -> dict:
    """Sensor id → the correction stored for each id (:mod:`imu.intrinsics`); empty ids skipped."""
    from imu.intrinsics import stored_corrections

    return stored_corrections(sid for sid in sensor_ids if sid)


def is_foreign(session) -> bool:
    """Whether ``session`` was not recorded by this program (an import, a CSV folder, an export
    of another product): its sensor ids are only claims, so it never writes the intrinsics
    store unless the user asks (``--save-intrinsics``)."""
    from imu.session.load import describe_source

    return bool(session.meta.get("imported_from")) or (
        describe_source(session.source) != "recording" if session.source else True)


def remember_intrinsics(profile, session=None, save: bool = False) -> list:
    """Store the intrinsic corrections of a fresh calibration under each sensor's id, so the
    next session of the same sensors starts from them. Returns the files written; a store that
    cannot be written is logged as a warning, never fatal. A foreign session
    (:func:`is_foreign`) stores nothing unless ``save``."""
    from imu.intrinsics import IntrinsicStore, store_corrections

    if not save and session is not None and is_foreign(session):
        if profile.intrinsic_corrections():
            log.info("intrinsics not stored: the session was not recorded here "
                     "(--save-intrinsics stores them)")
        return []
    store = IntrinsicStore()
    try:
        paths = store_corrections(profile.sensor_ids, profile.intrinsic_corrections(), store)
    except OSError as exc:
        log.warning("intrinsics not stored (%s)", exc)
        return []
    if paths:
        log.info("stored the intrinsics of %d sensors in %s", len(paths), store.root)
    return paths


def _profile_notes(profile, sensor_ids: dict) -> None:
    """Say (log) which of the session's sensors a given profile leaves without angles (it has
    no mounting for the role) or was made with another sensor (its mounting is another's)."""
    pid = getattr(profile, "sensor_ids", {}) or {}
    roles = set(getattr(profile, "roles", []) or [])
    left = [r for r in sensor_ids if r not in roles]
    if left:
        log.info("the calibration profile has no %s: no angles for %s", " or ".join(left),
                 "it" if len(left) == 1 else "them")
    def known(r, sid):  # a CSV folder without session.json names its sensors csv-<role>
        return bool(sid) and sid != f"csv-{r}"

    other = [f"{r} ({pid[r]}, here {sensor_ids[r]})" for r in sensor_ids
             if r in roles and known(r, pid.get(r)) and known(r, sensor_ids.get(r))
             and pid[r] != sensor_ids[r]]
    if other:
        log.info("the calibration profile was made with other sensors: %s; it holds their "
                 "mountings, which may not be these", "; ".join(other))


def intrinsics_for(sensor_ids: dict, profile) -> dict:
    """Role → the intrinsic correction applied before fusion.

    The profile's correction of a role comes first when it was made with the same sensor in
    that role; else the stored correction of the sensor's id (:func:`imu.intrinsics.
    session_corrections`). A damaged entry in the profile falls back to the store; an
    unreadable store gives the profile's corrections only.

    Parameters
    ----------
    sensor_ids : dict
        Role → sensor id of the session.
    profile : imu.calibration.Profile or None
    """
    from imu.intrinsics import session_corrections

    prof = {}
    if profile is not None:
        try:
            prof = profile.intrinsic_corrections()
        except ValueError as exc:
            log.info("calibration profile: its intrinsic corrections are not used (%s)", exc)
            prof = {}
        pid = getattr(profile, "sensor_ids", {}) or {}
        prof = {r: c for r, c in prof.items()
                if not pid.get(r) or not sensor_ids.get(r) or pid[r] == sensor_ids[r]}
    try:
        return session_corrections(sensor_ids, prof)
    except OSError:
        return prof


def method_text(profile) -> str:
    """``method protocol (…)`` or ``method auto, quality fair (…)`` for people."""
    if getattr(profile, "method", "protocol") != "auto":
        return "method protocol (docs/calibration.md phases)"
    q = profile.quality or {}
    axes = ", ".join(f"{r} {f.get('method', '?')}" for r, f in (q.get("auto") or {}).items())
    return (f"method auto, quality {q.get('auto_verdict', '?')} (standing "
            f"{(q.get('standing') or {}).get('duration_s', 0):.1f} s; {axes})")


def calibration_end_from_phases(phases: dict) -> float | None:
    """End (s) of the last calibration protocol phase found in the data: the profile's
    ``phases`` (name → ``[t0, t1]`` or a dict of those); ``window`` is the search window, not a
    phase, and is ignored."""
    ends = []

    def walk(d):
        for name, w in d.items():
            if name == "window":
                continue
            if isinstance(w, dict):
                walk(w)
            elif isinstance(w, (list, tuple)) and len(w) == 2:
                ends.append(float(w[1]))

    walk(phases or {})
    return max(ends) if ends else None


def _session_ids(session) -> dict:
    return {r: d.info.sensor_id for r, d in session.sensors.items()}


# ---------------------------------------------------------------------------- calibration --
class Calibrate:
    """Every calibration of a session, and the intrinsics its angles use.

    A session may be calibrated several times (a sensor re-strapped): each calibration phase
    marked by the session's events is solved from its own raw data, and each stretch of the
    session is later computed with the calibration in force then
    (:mod:`imu.analysis.calibrations`: the last accepted one before it, else the next).

    Parameters
    ----------
    profile : str, path-like, Profile or None
        A calibration profile (file or object) for the whole session. Without one: each
        calibration phase of the session's events, else the profile embedded in the session,
        else one solved from the protocol found in the data.
    remember : bool
        After solving from the session's own data, store each sensor's intrinsic correction
        under its id (what the CLI does; the API leaves the user's store alone by default);
        a foreign session (:func:`is_foreign`) only with ``save_intrinsics``.
    save_intrinsics : bool
        ``--save-intrinsics``: remember even a foreign session's corrections.
    method : str, optional
        Calibration from the session itself without calibration events: ``"protocol"`` (the
        docs/calibration.md phases), ``"auto"`` (quiet standing + walking, hinges, squats or
        swings), default: the protocol when found, else auto (:func:`imu.calibration.calibrate`).

    Attributes
    ----------
    calibrations_ : list of imu.analysis.calibrations.CalibrationUse
        Every calibration (refused ones with the reason).
    profile_ : imu.calibration.Profile
        The last accepted calibration's profile.
    method_ : str
        :data:`METHOD_PROFILE`, :data:`METHOD_EMBEDDED` or :data:`METHOD_PROTOCOL`.
    source_ : str
        The profile file, or the session it was solved from / embedded in.
    intrinsics_ : dict
        Role → :class:`~imu.intrinsics.IntrinsicCorrection` with ``profile_``.
    """

    def __init__(self, profile=None, *, remember: bool = False, save_intrinsics: bool = False,
                 method: str | None = None):
        self.profile = profile
        self.remember = remember
        self.save_intrinsics = save_intrinsics
        self.method = method

    def run(self, session) -> "Calibrate":
        from imu.analysis.calibrations import CalibrationUse
        from imu.analysis.sets import calibration_windows

        where = session.source or "session"
        ids = _session_ids(session)
        from imu.session.validate import roles_in_use

        if self.profile is None:  # sensors never together have no calibration phase to find
            from imu.kinematics.pipeline import refuse_disjoint_clocks
            from imu.types import ROLES

            refuse_disjoint_clocks(session, roles_in_use(session, ROLES))
        if self.profile is not None:
            prof = self._given_profile()
            name = f"profile {os.fspath(self.profile)}" if isinstance(
                self.profile, (str, os.PathLike)) else "profile given"
            cals = [CalibrationUse(name, "file", profile=prof)]
            self.method_, self.source_ = METHOD_PROFILE, self._given_source()
            _profile_notes(prof, ids)
        elif not calibration_windows(session.events):
            cals = [self._whole_session(session)]
        else:
            cals = self._phases(session, where)
        accepted = [c for c in cals if c.accepted]
        self.calibrations_ = cals
        self.profile_ = accepted[-1].profile
        if self.remember and self.method_ == METHOD_PROTOCOL:
            remember_intrinsics(self.profile_, session, self.save_intrinsics)
        self.intrinsics_ = intrinsics_for(ids, self.profile_)
        return self

    def _given_profile(self):
        from imu.calibration import load_profile

        if isinstance(self.profile, (str, os.PathLike)):
            return load_profile(self.profile)
        return self.profile

    def _given_source(self) -> str:
        if isinstance(self.profile, (str, os.PathLike)):
            return os.fspath(self.profile)
        return getattr(self.profile, "source", "") or "profile object"

    def _whole_session(self, session):
        """No calibration phase in the events: the embedded profile, else the protocol
        looked for in the data (its phases never count as sets)."""
        from imu.analysis.calibrations import CalibrationUse
        from imu.calibration import Profile, calibrate

        where = session.source or "session"
        if session.calibration:
            self.method_, self.source_ = METHOD_EMBEDDED, where
            prof = Profile.from_dict(session.calibration, where=f"{where} (embedded calibration)")
            return CalibrationUse("profile stored in the recording", "stored", profile=prof)
        log.info("no --calibration: calibrating from the session itself")
        try:
            prof = calibrate(session, method=self.method,
                             intrinsics=stored_intrinsics(_session_ids(session).values()))
        except CalibrationError as exc:
            raise CalibrationError(f"{exc.message} (or pass --calibration PROFILE)") from None
        log.info("calibration: %s", method_text(prof))
        self.method_, self.source_ = METHOD_PROTOCOL, where
        end = calibration_end_from_phases(getattr(prof, "phases", None) or {})
        return CalibrationUse("the session's calibration phase" if end is None else
                              f"the session's calibration phase (to {end:.1f} s)", "session",
                              window_s=None if end is None else (-float("inf"), end),
                              profile=prof)

    def _phases(self, session, where: str) -> list:
        """Each calibration phase marked by the events, solved from its own raw data."""
        from dataclasses import replace

        from imu.analysis.calibrations import CalibrationUse
        from imu.analysis.sets import calibration_windows
        from imu.calibration import calibrate_session
        from imu.types import Event

        evs = [e for e in session.events if e.kind not in ("calibration_start", "calibration_end")]
        stored = stored_intrinsics(_session_ids(session).values())
        cals = []
        for k, (w0, w1) in enumerate(calibration_windows(session.events)):
            name = f"calibration {k + 1} ({max(w0, 0.0):.1f}-{w1:.1f} s)"
            one = replace(session, events=evs + [Event(w0, "calibration_start"),
                                                 Event(w1, "calibration_end")])
            try:
                prof = calibrate_session(one, intrinsics=stored)
            except CalibrationError as exc:
                cals.append(CalibrationUse(name, "session", (w0, w1), None, exc.message))
                continue
            cals.append(CalibrationUse(name, "session", (w0, w1), prof))
        self.method_, self.source_ = METHOD_PROTOCOL, where
        if not any(c.accepted for c in cals):
            if session.calibration:
                return cals + [self._whole_session(session)]
            raise CalibrationError(f"{where}: no calibration phase could be used "
                                   f"({'; '.join(c.name + ': ' + c.reason for c in cals)}); "
                                   "pass --calibration PROFILE")
        return cals

    def alignment(self):
        """The last accepted profile's :class:`~imu.kinematics.alignment.SegmentAlignment`."""
        return self.profile_.alignment()

    def names_used(self, result: dict | None = None) -> str:
        """The calibrations the sets of ``result`` were analysed with, in words (else the last
        accepted one)."""
        names = []
        if result is not None:
            names = list(dict.fromkeys(s["calibration"] for s in result.get("sets", [])
                                       if s.get("calibration")))
        if not names:
            names = [c.name for c in self.calibrations_ if c.accepted][-1:]
        return "; ".join(names)

    def provenance(self) -> dict:
        """How the session was calibrated, for result files."""
        return {"method": self.method_, "source": self.source_,
                "calibrations": [c.to_json() for c in self.calibrations_],
                "intrinsics": {r: dict(getattr(c, "meta", {}) or {})
                               for r, c in sorted(self.intrinsics_.items())}}

    def quality_for_report(self) -> dict | None:
        """Quality figures of the last accepted profile with a verdict (``ok``/``poor``)."""
        from imu.calibration import check_quality

        q = getattr(self.profile_, "quality", None)
        if not q:
            return None
        if getattr(self.profile_, "method", "protocol") == "auto":
            return {"verdict": q.get("auto_verdict", "fair"), "method": "auto",
                    "message": "calibrated without the protocol: vertical and neutral from quiet "
                               "standing, mediolateral axes from the session's own motion", **q}
        out = {"verdict": "ok", "message": f"calibration {getattr(self.profile_, 'created', '')} "
                                           f"from {getattr(self.profile_, 'source', '') or 'this session'}"}
        try:
            problems = check_quality(q)
            out["problems"] = [list(p) for p in problems]
            if problems:
                out["verdict"] = "poor"
                out["message"] = "; ".join(f"{p}: {m}" for p, m in problems)
        except Exception:  # noqa: BLE001 - quality checks are advisory in the report
            pass
        out.update(q)
        return out


def live_calibrator(session):
    """Calibrator for the live pipeline: the same solve as :class:`Calibrate` on a session's
    protocol (stored intrinsics included); refusals carry every phase's quality figures
    (``exc.quality``) so the dashboard can show them."""
    from imu.calibration import calibrate_session

    intr = stored_intrinsics(_session_ids(session).values())
    try:
        return calibrate_session(session, intrinsics=intr)
    except CalibrationError as exc:
        try:
            exc.quality = calibrate_session(session, refuse=False, intrinsics=intr).quality
        except Exception:  # noqa: BLE001 - the axes could not even be solved
            exc.quality = {}
        raise


def simulator_profile(src):
    """The profile a skipped calibration uses in the demo: the simulator's own sensor mounting
    (known exactly, since it made the data), embedded in the recording like any calibration."""
    from imu.calibration import Profile

    res = src.simulate()
    return Profile(mounts={r: m for r, m in res.mounts.items()},
                   sensor_ids={r: d.info.sensor_id for r, d in res.session.sensors.items()},
                   source="calibration skipped (imu demo): the simulator's sensor mounting")


# ------------------------------------------------------------------ orientations and angles --
class ComputeOrientations:
    """Fused sensor orientations of a session on one time base (what ``.sto`` exports hold).

    Parameters
    ----------
    filter : str, optional
        Fusion filter (:data:`imu.fusion.FILTERS`; default :func:`default_filter`).
    rate_hz : float, optional
        Rate of the time base, Hz (default: the first sensor's).
    causal : bool
        The live view's causal filter instead of a recording's non-causal estimate.

    Attributes
    ----------
    time_s_ : ndarray, shape (N,)
        Session clock, seconds.
    quats_ : dict
        Role → (N, 4) sensor → earth quaternions ``w, x, y, z``, NaN in gaps; with a
        calibration, all sensors share the pelvis's heading (held).
    rate_hz_ : float
    """

    def __init__(self, filter: str | None = None, rate_hz: float | None = None,
                 causal: bool = False):
        self.filter = filter
        self.rate_hz = rate_hz
        self.causal = causal

    def check(self) -> "ComputeOrientations":
        """Validate the settings (:class:`~imu.errors.BadInputError`) before any work."""
        check_filter(self.filter)
        check_rate(self.rate_hz)
        return self

    def run(self, session, calibration: Calibrate | None = None) -> "ComputeOrientations":
        from imu.session.sto import sensor_orientations

        self.check()

        alignment = intrinsics = None
        if calibration is not None:  # the calibration in force at the start (OpenSense's pose)
            from imu.analysis.calibrations import in_force_index

            prof = calibration.calibrations_[in_force_index(-float("inf"),
                                                            calibration.calibrations_)].profile
            alignment, intrinsics = prof.alignment(), intrinsics_for(_session_ids(session), prof)
        self.time_s_, self.quats_, self.rate_hz_ = sensor_orientations(
            session, alignment, filter=self.filter or default_filter(), intrinsics=intrinsics,
            rate_hz=self.rate_hz, causal=self.causal)
        return self


class ComputeAngles:
    """SPEC angles of a session through its calibration (batch).

    Parameters
    ----------
    filter : str, optional
        Fusion filter (default :func:`default_filter`).
    rate_hz : float, optional
        Rate of the output time base, Hz (default: the sacrum sensor's).
    heading : imu.kinematics.heading.HeadingHoldSettings, optional
    progress : bool
        Log progress lines (``fusing sacrum: …``) at INFO level.
    causal : bool
        False (default): each sensor's non-causal orientation (the best estimate a recording
        allows); True: the causal filter the live view runs (reproduces what it showed).
    csv_rows : imu.session.angles_csv.CsvRows, optional
        Gets the rows as angles CSV text, formatted where they are computed (for
        :func:`~imu.session.angles_csv.write_angles_csv`), when one calibration gives them all.

    Attributes
    ----------
    angles_ : imu.types.AngleTable
        ``time_s`` (N,) seconds on the session clock; columns in degrees (NaN in gaps). Each
        row through the calibration in force at its time.
    which_ : ndarray of int, shape (N,)
        Index into ``calibration.calibrations_`` of the calibration of each row (-1: none).
    """

    def __init__(self, filter: str | None = None, rate_hz: float | None = None, heading=None,
                 progress: bool = False, causal: bool = False, csv_rows=None):
        self.filter = filter
        self.rate_hz = rate_hz
        self.heading = heading
        self.progress = progress
        self.causal = causal
        self.csv_rows = csv_rows

    def check(self) -> "ComputeAngles":
        """Validate the settings (:class:`~imu.errors.BadInputError`) before any work."""
        check_filter(self.filter)
        check_rate(self.rate_hz)
        return self

    def run(self, session, calibration: Calibrate) -> "ComputeAngles":
        from imu.analysis.calibrations import in_force, splice_angles
        from imu.kinematics.pipeline import compute_angles

        self.check()
        cals = calibration.calibrations_
        ids = _session_ids(session)
        tables, which = {}, None
        # the rows' text only when one calibration gives every row (no splice)
        text = self.csv_rows if sum(c.accepted for c in cals) == 1 else None
        for k, c in enumerate(cals):
            if not c.accepted or (which is not None and not (which == k).any()):
                continue
            tab = compute_angles(session, c.profile.alignment(),
                                 filter=self.filter or default_filter(),
                                 intrinsics=intrinsics_for(ids, c.profile), rate_hz=self.rate_hz,
                                 heading=self.heading, progress=self.progress,
                                 causal=self.causal, csv_rows=text)
            if which is None:
                which = in_force(tab.time_s, cals)
                if not (which == k).any():
                    continue
            tables[k] = tab
        self.which_ = which
        if len(tables) == 1:
            self.angles_ = next(iter(tables.values()))
        else:
            first = next(iter(tables.values()))
            self.angles_ = splice_angles(tables, first.time_s, which)
        return self


# ---------------------------------------------------------------------------- analysis --
class Analyze:
    """Reps, holds, faults and scores of a session's angles (SPEC Analysis JSON).

    Parameters
    ----------
    settings : imu.analysis.Settings, optional
        Thresholds (defaults unless overridden).
    exercise, side : str, optional
        For a session without set events; with set events, only sets of ``exercise``.
    progress : bool
        Log one line per set at INFO level.

    Attributes
    ----------
    result_ : dict
        The Analysis JSON (``schema``, ``settings``, ``sets``).
    """

    def __init__(self, settings=None, exercise: str | None = None, side: str | None = None,
                 progress: bool = False):
        self.settings = settings
        self.exercise = exercise
        self.side = side
        self.progress = progress

    def run(self, angles, events, calibration: Calibrate | None = None) -> "Analyze":
        from imu.analysis import Settings, analyze_angles

        self.settings_ = self.settings or Settings()
        cals = calibration.calibrations_ if calibration is not None else None
        self.result_ = analyze_angles(angles, events, self.settings_, exercise=self.exercise,
                                      side=self.side, calibrations=cals,
                                      progress=log.info if self.progress else None)
        return self

    def live(self, columns):
        """A :class:`~imu.analysis.LiveAnalyzer` with these settings and defaults, for angle
        rows as they arrive (the live pipeline)."""
        from imu.analysis import LiveAnalyzer, Settings

        return LiveAnalyzer(columns, self.settings or Settings(), exercise=self.exercise,
                            side=self.side)


# -------------------------------------------------------------------------- provenance --
def provenance(*, filter: str | None = None, settings=None, calibration: Calibrate | None = None,
               rate_hz: float | None = None, session=None, causal: bool = False) -> dict:
    """What produced a result: package version, fusion filter, every analysis setting (not only
    the changed ones), the calibration's method and source, the session's source."""
    from imu import __version__
    from imu.analysis import Settings

    s = settings or Settings()
    out = {"imu_version": __version__, "filter": filter or default_filter(),
           "orientation": "causal" if causal else "non-causal (recording)",
           "rate_hz": rate_hz, "settings": s.as_dict(), "settings_source": s.source}
    if calibration is not None:
        out["calibration"] = calibration.provenance()
    if session is not None:  # which sensor had which role, and how vendor files were read
        out["session"] = {"source": session.source, "roles": session.roles,
                          "sensor_ids": {r: d.info.sensor_id for r, d in session.sensors.items()}}
        for k in ("clock_alignment", "use_vendor_orientation"):
            if (session.meta or {}).get(k):
                out["session"][k] = session.meta[k]
    return out


# --------------------------------------------------------------------------- the chain --
@dataclass
class Chain:
    """The whole chain on one session: calibration → angles → analysis.

    Parameters
    ----------
    calibration : str, path-like, Profile or None
        See :class:`Calibrate`.
    filter : str, optional
    rate_hz : float, optional
    settings : imu.analysis.Settings, optional
    exercise, side : str, optional
    remember_intrinsics : bool
    progress : bool
    causal : bool
        The live view's causal filter instead of a recording's non-causal estimate.
    save_intrinsics : bool
        Remember a foreign session's intrinsics too (``--save-intrinsics``).

    Attributes
    ----------
    calibration_ : Calibrate
    angles_ : imu.types.AngleTable
    result_ : dict
        Analysis JSON with ``provenance``.
    """

    calibration: object = None
    filter: str | None = None
    rate_hz: float | None = None
    settings: object = None
    exercise: str | None = None
    side: str | None = None
    remember_intrinsics: bool = False
    progress: bool = False
    causal: bool = False
    save_intrinsics: bool = False
    method: str | None = None
    calibration_: Calibrate | None = field(default=None, init=False, repr=False)

    def calibrate(self, session) -> Calibrate:
        self.calibration_ = Calibrate(self.calibration,
                                      remember=self.remember_intrinsics,
                                      save_intrinsics=self.save_intrinsics,
                                      method=self.method).run(session)
        return self.calibration_

    def angles(self, session):
        cal = self.calibration_ or self.calibrate(session)
        self.angles_ = ComputeAngles(self.filter, self.rate_hz,
                                     progress=self.progress,
                                     causal=self.causal).run(session, cal).angles_
        return self.angles_

    def run(self, session) -> "Chain":
        from imu.analysis.sets import normalize_exercise

        normalize_exercise(self.exercise, "--exercise")
        angles = self.angles(session)
        an = Analyze(self.settings, self.exercise, self.side, progress=self.progress)
        self.result_ = an.run(angles, session.events, self.calibration_).result_
        self.result_["provenance"] = provenance(filter=self.filter, settings=an.settings_,
                                                calibration=self.calibration_,
                                                rate_hz=self.rate_hz, session=session,
                                                causal=self.causal)
        cal = self.calibration_  # what calibrated it and how well: the JSON, API and batch
        self.result_["session"] = {"source": session.source or "session",
                                   "calibration": cal.names_used(self.result_),
                                   "calibration_method": getattr(cal.profile_, "method",
                                                                 "protocol"),
                                   "calibration_quality": cal.quality_for_report(),
                                   "roles": session.roles}
        return self


def session_angles(session, calibration=None, *, filter: str | None = None,
                   rate_hz: float | None = None, progress: bool = False, remember: bool = False,
                   causal: bool = False, method: str | None = None):
    """``(angles, calibrations, which)`` of a session: :class:`Calibrate` then
    :class:`ComputeAngles` (each row through the calibration in force at its time)."""
    cal = Calibrate(calibration, remember=remember, method=method).run(session)
    ang = ComputeAngles(filter, rate_hz, progress=progress, causal=causal).run(session, cal)
    return ang.angles_, cal.calibrations_, ang.which_
