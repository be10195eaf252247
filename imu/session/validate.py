"""Every session the product reads is untrusted: type and range checks in one place.

Recordings, CSV folders with ``session.json`` and foreign exports all end as a
:class:`~imu.types.Session`; :func:`check_session` checks it before anything above the session
layer sees it. Roles and sensor ids are checked against the known sets **before** they name
anything (files of an export, entries of the intrinsics store); every value is type- and
range-checked; anything wrong is one :class:`~imu.errors.BadInputError` line naming the source
and the field.

Limits
------
- roles: one of :data:`imu.types.ROLES`;
- sensor ids, models, firmware: text of at most :data:`MAX_TEXT` printable characters;
- rates: finite, 0 ≤ rate ≤ :data:`MAX_RATE_HZ`;
- events: finite time, kind in :data:`imu.types.EVENT_KINDS` (or any short text), exercise /
  side one of the known names or empty;
- metadata, sensor extras, event data: JSON objects nested at most :data:`MAX_DEPTH` deep;
- samples: equal lengths, ``acc`` / ``gyr`` (N, 3); non-finite values and repeated timestamps are
  allowed (counted by :func:`sample_health`, kept out of fusion by the chain), and so are
  values beyond ±:data:`MAX_ABS_ACC_M_S2` / ±:data:`MAX_ABS_GYR_RAD_S` (far beyond any
  body-worn sensor's range: a damaged sample, which would overflow the fusion).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from imu.errors import BadInputError
from imu.memo import ObjectMemo
from imu.types import EVENT_KINDS, EXERCISES, ROLES, SIDES, Event, SensorData, SensorInfo, Session

MAX_TEXT = 200
MAX_NOTE = 10_000
MAX_RATE_HZ = 10_000.0
MAX_DEPTH = 32
#: Largest absolute time (s) a session clock may show (~ 300 years: epoch seconds fit).
MAX_ABS_TIME_S = 1e10
#: Largest absolute acceleration (m/s², ~1000 g) and angular rate (rad/s, ~57 000 °/s) taken as a
#: measurement (body-worn IMUs saturate at ±16 g and ±2000 °/s, 35 rad/s).
MAX_ABS_ACC_M_S2 = 1e4
MAX_ABS_GYR_RAD_S = 1e3

#: Plausible median |acc| of a body-worn sensor's samples, m/s² (gravity, 9.81, dominates:
#: outside, the columns hold g, mg or something else) and the largest angular rate a body-worn
#: gyro can report, rad/s (±2000 °/s): beyond it in more than :data:`_DEG_S_SHARE` of the samples,
#: the rates are in °/s.
ACC_MEDIAN_RANGE_M_S2 = (2.0, 50.0)
MAX_GYR_RANGE_RAD_S = 35.0
_DEG_S_SHARE = 0.001
#: Acc and gyr swapped (:func:`_swapped`): the "gyro" magnitude's median above this (rad/s,
#: beyond a resting gyro's noise), its spread (IQR / median) below :data:`SWAP_GYR_SPREAD`, the
#: "accelerometer"'s spread more than :data:`SWAP_SPREAD_RATIO` times it (real sensors: the
#: accelerometer's spread is the smaller, 0.002-0.34 against the gyro's 0.36-5 on the
#: simulator and real Movella DOT recordings; swapped DOT columns: 0.26-0.34 against 1.9-2.5)
SWAP_MIN_GYR_RAD_S = 0.05
SWAP_GYR_SPREAD = 0.5
SWAP_SPREAD_RATIO = 2.0
#: The longest median step between samples, seconds (the slowest sensor rate is 1 Hz): beyond,
#: the times are not seconds (milliseconds, say).
MAX_MEDIAN_STEP_S = 1.5

_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*$")


def check_role(role: Any, where: str) -> str:
    """``role`` if it is one of :data:`~imu.types.ROLES`, else a one-line error."""
    if not isinstance(role, str) or role not in ROLES:
        shown = repr(role) if not isinstance(role, str) else repr(role[:40])
        raise BadInputError(f"{where}: unknown sensor role {shown} (known: {', '.join(ROLES)})")
    return role


def check_text(value: Any, what: str, where: str, *, max_len: int = MAX_TEXT,
               allow_none: bool = False, multiline: bool = False) -> str | None:
    """A short printable string (``None`` when allowed)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise BadInputError(f"{where}: {what} must be text, not {type(value).__name__}")
    if len(value) > max_len:
        raise BadInputError(f"{where}: {what} is {len(value)} characters long (at most {max_len})")
    if not multiline and not _PRINTABLE.match(value):
        raise BadInputError(f"{where}: {what} {value[:40]!r} holds control characters")
    return value


def check_number(value: Any, what: str, where: str, *, lo: float = -math.inf,
                 hi: float = math.inf) -> float:
    """A finite real number in ``[lo, hi]`` (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise BadInputError(f"{where}: {what} must be a number, not {type(value).__name__}")
    try:
        f = float(value)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f) or not lo <= f <= hi:
        raise BadInputError(f"{where}: {what} {value!r} out of range ({lo:g} to {hi:g})")
    return f


def check_json_object(value: Any, what: str, where: str, *, allow_none: bool = True) -> dict:
    """A JSON object (dict with text keys) nested at most :data:`MAX_DEPTH` deep."""
    if value is None and allow_none:
        return {}
    if not isinstance(value, dict):
        raise BadInputError(f"{where}: {what} must be an object, not {type(value).__name__}")
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadInputError(f"{where}: {what} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise BadInputError(f"{where}: {what} has a key that is not text")
                stack.append((x, depth + 1))
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
    return value


def check_sensor_info(info: SensorInfo, where: str) -> SensorInfo:
    """The fields of one sensor's details, type- and range-checked."""
    role = check_role(info.role, where)
    w = f"{where} ({role})"
    sid = check_text(info.sensor_id, "sensor id", w)
    return SensorInfo(sid, role, check_text(info.model, "sensor model", w),
                      check_number(info.rate_hz, "sensor rate (Hz)", w, lo=0.0, hi=MAX_RATE_HZ),
                      check_text(info.firmware, "firmware", w),
                      check_json_object(info.extra, "sensor details", w))


def check_event(e: Event, i: int, where: str) -> Event:
    """One event, type- and range-checked (``i`` counts from 1, for the message)."""
    w = f"{where}: event {i}"
    t = check_number(e.t_s, "time", w, lo=-MAX_ABS_TIME_S, hi=MAX_ABS_TIME_S)
    kind = check_text(e.kind, "kind", w, max_len=40)
    if kind not in EVENT_KINDS and not re.fullmatch(r"[a-z][a-z0-9_]*", kind):
        raise BadInputError(f"{w}: unknown kind {kind!r}")
    ex = check_text(e.exercise, "exercise", w, max_len=40, allow_none=True)
    if ex is not None and ex not in EXERCISES and ex != "":
        raise BadInputError(f"{w}: unknown exercise {ex!r} (known: {', '.join(EXERCISES)})")
    side = check_text(e.side, "side", w, max_len=10, allow_none=True)
    if side is not None and side not in SIDES and side != "":
        raise BadInputError(f"{w}: side must be {' or '.join(SIDES)}, not {side!r}")
    note = check_text(e.note, "note", w, max_len=MAX_NOTE, allow_none=True, multiline=True)
    return Event(t, kind, ex or None, side or None, note,
                 check_json_object(e.data, "data", w))


def check_samples(d: SensorData, where: str) -> SensorData:
    """Array shapes and types of one sensor's samples."""
    n = len(d.seq)
    w = f"{where} ({d.info.role})"
    try:
        seq = np.asarray(d.seq)
        if seq.dtype.kind not in "iu":
            raise BadInputError(f"{w}: sequence numbers are not integers")
        arrays = [np.asarray(a, dtype=np.float64) for a in (d.t_sensor_s, d.t_host_s, d.acc, d.gyr)]
    except (TypeError, ValueError):
        raise BadInputError(f"{w}: sample values are not numbers") from None
    ts, th, acc, gyr = arrays
    if ts.shape != (n,) or th.shape != (n,) or acc.shape != (n, 3) or gyr.shape != (n, 3):
        raise BadInputError(f"{w}: sample arrays of unequal length")
    for name, t in (("host", th), ("sensor", ts)):
        # the largest and smallest time first (two passes without a temporary; NaN skipped,
        # as the comparison skips it), the sample only when one is beyond the limit
        if not len(t) or max(float(np.fmax.reduce(t)), -float(np.fmin.reduce(t))) \
                <= MAX_ABS_TIME_S:
            continue
        with np.errstate(invalid="ignore"):
            far = np.flatnonzero(np.abs(t) > MAX_ABS_TIME_S)
        if len(far):
            raise BadInputError(f"{w}: sample {far[0] + 1} has {name} time {t[far[0]]:g} s "
                                f"(beyond {MAX_ABS_TIME_S:g} s)")
    quat = getattr(d, "quat", None)
    if quat is not None:
        try:
            quat = np.asarray(quat, dtype=np.float64)
        except (TypeError, ValueError):
            raise BadInputError(f"{w}: orientations are not numbers") from None
        if quat.shape != (n, 4):
            raise BadInputError(f"{w}: {len(quat)} orientations for {n} samples")
        with np.errstate(invalid="ignore"):
            norm = np.linalg.norm(quat, axis=1)
            bad = np.flatnonzero(np.isfinite(norm) & (np.abs(norm - 1.0) > 0.05))
        if len(bad):
            raise BadInputError(f"{w}: orientation {bad[0] + 1} is not a unit quaternion")
    return SensorData(d.info, seq.astype(np.int64, copy=False), ts, th, acc, gyr, quat)


def out_of_range(acc: np.ndarray, gyr: np.ndarray) -> np.ndarray | None:
    """Boolean mask (N,) of samples whose finite acceleration or angular rate is beyond
    :data:`MAX_ABS_ACC_M_S2` / :data:`MAX_ABS_GYR_RAD_S`; None when there is none (the usual
    case, found in one pass per array without a temporary). NaN/inf are not looked at.

    ``acc`` (N, 3) m/s², ``gyr`` (N, 3) rad/s."""
    out = None
    for a, lim in ((acc, MAX_ABS_ACC_M_S2), (gyr, MAX_ABS_GYR_RAD_S)):
        a = np.asarray(a, dtype=float)
        if not len(a):
            continue
        hi, lo = np.fmax.reduce(a, axis=None), np.fmin.reduce(a, axis=None)  # NaN skipped
        if not (hi > lim or lo < -lim):
            continue
        with np.errstate(invalid="ignore"):
            far = np.abs(a) > lim
        far &= np.isfinite(a)
        far = far.any(axis=1)
        out = far if out is None else out | far
    return out if out is not None and out.any() else None


def implausible_sample(acc: np.ndarray, gyr: np.ndarray) -> tuple[int, str] | None:
    """The first sample (index, what) of :func:`out_of_range`, or None."""
    far = out_of_range(acc, gyr)
    if far is None:
        return None
    i = int(np.flatnonzero(far)[0])
    a, g = np.abs(np.asarray(acc, float)[i]), np.abs(np.asarray(gyr, float)[i])
    if np.any(np.isfinite(a) & (a > MAX_ABS_ACC_M_S2)):
        v, lim, what, unit = acc[i][np.argmax(np.where(np.isfinite(a), a, 0))], \
            MAX_ABS_ACC_M_S2, "acceleration", "m/s²"
    else:
        v, lim, what, unit = gyr[i][np.argmax(np.where(np.isfinite(g), g, 0))], \
            MAX_ABS_GYR_RAD_S, "angular rate", "rad/s"
    return i, (f"{what} {float(v):g} {unit} is beyond ±{lim:g} {unit}: not a measurement (a "
               f"damaged file or wrong units?)")


def check_session(session: Session, where: str | None = None) -> Session:
    """A session whose every field is checked (see the module notes); the checked copy.

    Raises
    ------
    BadInputError
        The first field that is wrong, in one line naming ``where`` (default: the source).
    """
    where = where or session.source or "session"
    meta = check_json_object(session.meta, "metadata", where)
    if session.calibration is not None:
        check_json_object(session.calibration, "embedded calibration", where, allow_none=False)
    sensors: dict[str, SensorData] = {}
    seen_ids: dict[str, str] = {}
    for role, d in session.sensors.items():
        check_role(role, where)
        info = check_sensor_info(d.info, where)
        if info.role != role:
            raise BadInputError(f"{where}: sensor listed as {role} says its role is {info.role}")
        if info.sensor_id and info.sensor_id in seen_ids:
            raise BadInputError(f"{where}: sensor id {info.sensor_id!r} is used by both "
                                f"{seen_ids[info.sensor_id]} and {role}")
        seen_ids[info.sensor_id] = role
        d = check_samples(SensorData(info, d.seq, d.t_sensor_s, d.t_host_s, d.acc, d.gyr,
                                     getattr(d, "quat", None)), where)
        sensors[role] = d
    events = [check_event(e, i + 1, where) for i, e in enumerate(session.events)]
    return Session(meta=meta, sensors=sensors, events=events, calibration=session.calibration,
                   source=session.source)


def sample_health(d: SensorData) -> dict[str, int]:
    """Counts of unusable samples of one sensor.

    Returns
    -------
    dict
        ``nonfinite``: samples with a NaN/inf time, acceleration or angular rate;
        ``out_of_range``: other samples with a value beyond any sensor's range
        (:func:`out_of_range`);
        ``duplicate_times``: samples whose sensor timestamp repeats the previous one.
    """
    if len(d) == 0:
        return {"nonfinite": 0, "out_of_range": 0, "duplicate_times": 0}
    bad = ~(np.isfinite(d.t_host_s) & np.isfinite(d.t_sensor_s)
            & np.isfinite(d.acc).all(axis=1) & np.isfinite(d.gyr).all(axis=1))
    far = out_of_range(d.acc, d.gyr)
    huge = 0 if far is None else int(np.count_nonzero(far & ~bad))
    dup = int(np.count_nonzero(np.diff(d.t_sensor_s) == 0)) if len(d) > 1 else 0
    return {"nonfinite": int(np.count_nonzero(bad)), "out_of_range": huge, "duplicate_times": dup}


def replayed_samples(seq, t_sensor_s) -> np.ndarray:
    """Boolean mask (N,) of the samples whose sequence number and sensor time both repeat an
    earlier sample's (packets sent again, e.g. the FIFO a Movella DOT resends), not the first
    of each."""
    t = np.asarray(t_sensor_s, dtype=float)
    key = np.rec.fromarrays([np.asarray(seq, dtype=np.int64), t])
    _, first = np.unique(key, return_index=True)
    rep = np.ones(len(t), bool)
    rep[first] = False
    return rep


def _all_within(a: np.ndarray, lim: float) -> bool:
    """Whether every value of ``a`` is a number within ±``lim`` (two passes, no temporary: a
    NaN makes the largest value NaN, and NaN is within nothing)."""
    return a.size == 0 or bool(np.maximum.reduce(a, axis=None) <= lim
                               and np.minimum.reduce(a, axis=None) >= -lim)


def usable_samples(d: SensorData) -> np.ndarray:
    """Boolean mask (N,) of samples fusion may use: finite values within any sensor's range
    (:func:`out_of_range`), first of repeated times."""
    acc, gyr = np.asarray(d.acc, float), np.asarray(d.gyr, float)
    th, ts = np.asarray(d.t_host_s, float), np.asarray(d.t_sensor_s, float)
    n = len(d)
    far = None
    if _all_within(acc, MAX_ABS_ACC_M_S2) and _all_within(gyr, MAX_ABS_GYR_RAD_S):
        # (the usual case) every acceleration and rate is a number within range: only the
        # times are left to look at
        with np.errstate(over="ignore"):  # (a sum that overflows is looked at below)
            ok = np.isfinite(th + ts)
    else:
        # a sum of finite numbers is finite unless it overflows: rows whose sum is finite are
        # finite throughout, only the others are looked at element by element (in cache-sized
        # blocks of rows)
        ok = np.empty(n, bool)
        for i0 in range(0, n, 32768):
            i1 = min(n, i0 + 32768)
            t = th[i0:i1] + ts[i0:i1]
            for c in range(3):
                t += acc[i0:i1, c]
                t += gyr[i0:i1, c]
            np.isfinite(t, out=ok[i0:i1])
        far = out_of_range(acc, gyr)
    if not ok.all():
        i = np.flatnonzero(~ok)
        ok[i] = (np.isfinite(d.t_host_s[i]) & np.isfinite(d.t_sensor_s[i])
                 & np.isfinite(acc[i]).all(axis=1) & np.isfinite(gyr[i]).all(axis=1))
    if far is not None:
        ok &= ~far
    if len(d) > 1:
        ok[1:] &= np.diff(d.t_sensor_s) != 0
    return ok


#: sensors whose every sample was found usable (keyed by their arrays' identities), so the
#: calibration and the fusion of one command check each sensor once
_ALL_USABLE = ObjectMemo()


def _identity(d: SensorData) -> tuple:
    return (id(d.acc), id(d.gyr), id(d.t_host_s), id(d.t_sensor_s), len(d))


def implausible_units(d: SensorData) -> str | None:
    """Why one sensor's raw samples cannot be in the units everything here reads (acc m/s²,
    gyr rad/s, times in seconds), or None: the median |acc| far from gravity's (g or mg given,
    or other columns, e.g. acc and gyr swapped), angular rates beyond any body-worn gyro's
    range in many samples (°/s given), a median step between samples beyond
    :data:`MAX_MEDIAN_STEP_S` (milliseconds given). Samples derived from a vendor orientation
    are not looked at. Cheap: at most ~20 000 samples are looked at."""
    n = len(d)
    if n < 10 or d.derived:
        return None
    step = max(1, n // 20_000)
    acc = np.asarray(d.acc[::step], dtype=float)
    gyr = np.asarray(d.gyr[::step], dtype=float)
    ok = np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
    far = out_of_range(acc, gyr)
    if far is not None:
        ok &= ~far
    if ok.sum() >= 10:
        acc_norm = np.linalg.norm(acc[ok], axis=1)
        swap = _swapped(acc_norm, np.linalg.norm(gyr[ok], axis=1))
        if swap:
            return swap
        med = float(np.median(acc_norm))
        lo, hi = ACC_MEDIAN_RANGE_M_S2
        if not lo <= med <= hi:
            return (f"acc_x..z are not in m/s²: their median magnitude is {med:.3g} (gravity "
                    f"alone gives 9.81; in g multiply by 9.80665, in mg by 0.00980665; or the "
                    f"columns hold something else)")
        fast = np.count_nonzero((np.abs(gyr[ok]) > MAX_GYR_RANGE_RAD_S).any(axis=1))
        if fast >= 3 and fast > _DEG_S_SHARE * ok.sum():
            return (f"gyr_x..z are not in rad/s: {100.0 * fast / ok.sum():.1f} % of the samples "
                    f"exceed {MAX_GYR_RANGE_RAD_S:g} rad/s (2000 °/s, the largest range of a "
                    f"body-worn gyro); in °/s multiply by 0.0174533")
    t = np.asarray(d.t_sensor_s[:20_000], dtype=float)
    dt = np.diff(t[np.isfinite(t)])
    dt = dt[dt > 0]
    if len(dt) >= 9 and float(np.median(dt)) > MAX_MEDIAN_STEP_S:
        return (f"times are not in seconds: the samples are {float(np.median(dt)):.4g} s apart "
                f"(milliseconds? divide by 1000; microseconds? by 1000000)")
    return None


def _swapped(acc_norm: np.ndarray, gyr_norm: np.ndarray) -> str | None:
    """Why the acc and gyr columns look swapped, or None. Gravity keeps an accelerometer's
    magnitude steady while a gyro's swings from near zero at rest: a "gyro" magnitude clearly
    above noise that is steady (spread, interquartile range over median, below
    :data:`SWAP_GYR_SPREAD`) while the "accelerometer"'s spreads :data:`SWAP_SPREAD_RATIO`
    times more is a swap, whatever the units (a gyro in °/s taken as m/s² has a plausible
    median, e.g. 43 "m/s²")."""
    def spread(x):
        q1, med, q3 = np.percentile(x, [25, 50, 75])
        return med, (q3 - q1) / med if med > 0 else np.inf

    g_med, g_spread = spread(gyr_norm)
    _, a_spread = spread(acc_norm)
    if g_med > SWAP_MIN_GYR_RAD_S and g_spread < SWAP_GYR_SPREAD \
            and a_spread > SWAP_SPREAD_RATIO * g_spread:
        return (f"acc and gyr columns look swapped: the angular rate's magnitude holds steady "
                f"like gravity's (median {g_med:.3g}, spread {100 * g_spread:.0f} %) while the "
                f"acceleration's spreads {a_spread / max(g_spread, 1e-9):.1f} times more; "
                f"check the file's column names")
    return None


def check_units(session: Session) -> None:
    """One-line error for the first sensor of ``session`` whose samples are not in the units
    the product reads (:func:`implausible_units`)."""
    for role, d in session.sensors.items():
        why = implausible_units(d)
        if why:
            raise BadInputError(f"{_sensor_where(d, role, session.source)}: {why}")


def _sensor_where(d: SensorData, role: str, source: str | None) -> str:
    """Where a sensor's samples come from: the source and role, and the sensor's own file
    where it has one (a vendor export folder holds one file per sensor, a CSV folder one
    ``<role>.csv``)."""
    f = (d.info.extra or {}).get("file") if isinstance(d.info.extra, dict) else None
    if not (isinstance(f, str) and f) and source:
        import os

        f = f"{role}.csv" if os.path.isfile(os.path.join(source, f"{role}.csv")) else None
    return f"{source or 'session'} ({role}" + (f", file {f})" if f else ")")


def usable_sensor(d: SensorData, role: str, source: str | None = None) -> SensorData:
    """One sensor of :func:`usable_session`: ``d`` itself when every sample is usable (then
    remembered: not checked again), else its usable samples. Raises :class:`BadInputError`
    (naming ``source`` and ``role``) for samples not in the units read here."""
    if _ALL_USABLE.get(d, _identity(d)) is True:
        return d
    why = implausible_units(d)
    if why:
        raise BadInputError(f"{_sensor_where(d, role, source)}: {why}")
    ok = usable_samples(d)
    if ok.all():
        mark_usable(d)
        return d
    return SensorData(d.info, d.seq[ok], d.t_sensor_s[ok], d.t_host_s[ok], d.acc[ok], d.gyr[ok],
                      None if d.quat is None else d.quat[ok])


#: A sensor with fewer samples than this cannot be used by calibration or fusion (no rate,
#: no still stretch, no orientation to speak of): it is left out, as one without samples is
#: (:func:`roles_in_use`), and said once (:func:`note_too_few_samples`).
MIN_SENSOR_SAMPLES = 10


def roles_in_use(session: Session, roles) -> list[str]:
    """Those of ``roles`` whose sensor is in ``session`` with at least
    :data:`MIN_SENSOR_SAMPLES` samples: the one rule of the calibration, the angles and the
    orientations for which sensors they can use."""
    return [r for r in roles if r in session.sensors
            and len(session.sensors[r]) >= MIN_SENSOR_SAMPLES]


def too_few_samples(session: Session, role: str) -> str:
    """``"<source> (<role>[, file F]) has only N samples"`` for a sensor left out by
    :func:`roles_in_use`."""
    d = session.sensors[role]
    n = len(d)
    return (f"{_sensor_where(d, role, session.source)} has "
            f"{'no samples' if n == 0 else f'only {n} sample' + ('s' if n > 1 else '')}, too "
            f"few to use (at least {MIN_SENSOR_SAMPLES})")


_NOTED = ObjectMemo()


def note_too_few_samples(session: Session) -> None:
    """One warning line (once per sensor) naming the sensors that
    :func:`roles_in_use` leaves out for too few samples: the command goes on without them."""
    # once per sensor's samples (the calibration and the angles of one command see copies of
    # the session that share them)
    few = [r for r in session.sensors if len(session.sensors[r]) < MIN_SENSOR_SAMPLES
           and _NOTED.get(session.sensors[r], len(session.sensors[r])) is not True]
    if not few:
        return
    for r in few:
        _NOTED.put(session.sensors[r], len(session.sensors[r]), True)
    from imu.log import get_logger

    get_logger(__name__).warning("%s: left out", "; ".join(too_few_samples(session, r)
                                                          for r in few))


def mark_usable(d: SensorData) -> None:
    """Remember that every sample of ``d`` is usable (found so elsewhere, e.g. by a worker
    process, with :func:`usable_sensor`)."""
    _ALL_USABLE.put(d, _identity(d), True)


def usable_session(session: Session) -> Session:
    """``session`` without the samples fusion must not see (:func:`usable_samples`): NaN/inf
    values or times, and repeated sensor timestamps. The same object when every sample is
    usable; the dropped samples then look like any other gap (their sequence numbers are
    missing). A sensor already found usable (the same arrays) is not checked again.

    Raises
    ------
    BadInputError
        A sensor whose samples are not in m/s², rad/s and seconds (:func:`implausible_units`).
    """
    out = {}
    changed = False
    for role, d in session.sensors.items():
        out[role] = usable_sensor(d, role, session.source)
        changed |= out[role] is not d
    if not changed:
        return session
    return Session(meta=session.meta, sensors=out, events=session.events,
                   calibration=session.calibration, source=session.source)
