"""Session (raw 6D samples) + sensor-to-segment alignment → docs/angles.md angles.

Batch: :func:`compute_angles` (replay, analysis, ``imu angles``). Streaming: :class:`AnglePipeline`
(live dashboard), the same steps sample by sample, causal.

Steps per sensor: intrinsic correction (optional) → 6D fusion on the sensor's own samples and
clock → one common time base (gaps NaN) → segment orientation ``R_WB`` through the alignment →
heading hold (:mod:`imu.kinematics.heading`) → angles (:func:`imu.kinematics.frames.segment_angles`).
"""

from __future__ import annotations

import os
from collections import deque

import numpy as np

from imu import quat as Q
from imu.errors import BadInputError
from imu.log import get_logger
from imu.memo import MISSING, ObjectMemo
from imu.kinematics.acc_offset import correct as correct_acc
from imu.intrinsics import affine_rows
from imu.kinematics.alignment import (SegmentAlignment, matrix_from_quat, rot_y,
                                      rotate_heading, segment_quat, segment_quats)
from imu.kinematics.frames import angle_columns, heading_and_upright, segment_angles
from imu.kinematics.heading import (HeadingHoldSettings, HeadingHoldStream, hold_from_headings,
                                    wrap_deg)
from imu.kinematics.still import is_still, smoothed_rate_norm
from imu.kinematics.standing import (StandingBiasStream, StandingSettings, remove_gyro_bias,
                                     standing_grid, standing_mask, standing_windows,
                                     windows_from_mask)
from imu.types import AngleTable, Session, role_side
from imu.workers import can_fork, fork_map, pool_map, received, shared_empty

log = get_logger(__name__)

try:  # the fusion package is a sibling layer; DEFAULT_FILTER is its chosen default
    from imu.fusion import DEFAULT_FILTER
except ImportError:  # pragma: no cover - fusion always ships with imu
    DEFAULT_FILTER = "vqf"

#: roles in the order angles are computed
_ANGLE_ROLES = ("sacrum", "right_thigh", "left_thigh", "trunk")


def nominal_rate_hz(times_s: np.ndarray, stated_hz: float = 0.0) -> float:
    """Nominal sample rate: the stated rate if given, else from the median sample step."""
    if stated_hz and stated_hz > 0:
        return float(stated_hz)
    d = np.diff(np.asarray(times_s, dtype=float))
    d = d[np.isfinite(d) & (d > 0)]
    if not len(d):
        raise BadInputError("cannot tell the sample rate: fewer than two distinct timestamps")
    return float(1.0 / np.median(d))


#: each sensor's session times (a clock-model fit over every sample): the calibration and the
#: fusion of one run ask for the same sensor's; a copy of the first answer is handed out while
#: the time arrays are the same (identity and sums)
_TIMES = ObjectMemo()


def _times_key(data) -> tuple:
    ts, th = data.t_sensor_s, data.t_host_s
    return (id(ts), id(th), len(ts), len(th), float(np.add.reduce(ts, axis=None)),
            float(np.add.reduce(th, axis=None)), id(data.info))


def sensor_times_s(data, copy: bool = True) -> np.ndarray:
    """Sample times of one sensor on the session clock (clock model when available).
    ``copy=False``: the remembered array itself where there is one, for a caller that only
    reads it (no copy of the hour's times)."""
    try:
        from imu.timing import session_times
    except ImportError:  # pragma: no cover
        return np.asarray(data.t_host_s, dtype=float)
    try:
        fp = _times_key(data)
    except AttributeError:  # not a SensorData: nothing remembered
        return np.asarray(session_times(data), dtype=float)
    hit = _TIMES.get(data, fp)
    if hit is not MISSING:
        return hit.copy() if copy else hit
    t = np.asarray(session_times(data), dtype=float)
    _TIMES.put(data, fp, t.copy())
    return t


def remember_times(data, t_s: np.ndarray) -> None:
    """Remember ``t_s`` as :func:`sensor_times_s` of ``data`` (made elsewhere, e.g. by a worker
    process): later calls return copies of it instead of fitting the clock again."""
    try:
        _TIMES.put(data, _times_key(data), t_s)
    except AttributeError:  # not a SensorData: nothing remembered
        pass


def uses_vendor_orientation(session: Session, role: str) -> bool:
    """Whether the angles of ``role`` come from the sensor's own orientation (no fusion): the
    sensor has no raw samples, or it has both and the session asks for the vendor's
    (``meta["use_vendor_orientation"]``)."""
    data = session.sensors[role]
    if getattr(data, "quat", None) is None:
        return False
    return (not data.has_raw) or bool((session.meta or {}).get("use_vendor_orientation"))


def corrected_samples(corr, recording, acc: np.ndarray, gyr: np.ndarray, *, rows: int = 0):
    """``(acc, gyr)`` of one sensor as every fusion uses them (batch, replay, live): its
    intrinsic correction ``corr`` (with ``apply(acc, gyr)``, or None) and then the
    recording's accelerometer correction ``recording`` (``(offset_m_s2, scale)`` or None, the
    one its mounting was solved with) removed; where ``corr`` exposes its accelerometer offset
    and scale the two accelerometer corrections are one pass
    (:func:`imu.kinematics.acc_offset.correct`, as the calibration applies them).

    ``rows`` > ``len(acc)``: there, each array returned is the first rows of one of ``rows``
    rows (its ``base``: room for :func:`imu.fusion.fuse` to bridge dropouts in place; rows
    never written cost no memory)."""
    if corr is not None and hasattr(corr, "acc_offset_m_s2"):
        if rows > len(acc) and np.ndim(acc) == 2:
            from imu.kinematics.acc_offset import compose

            n = len(acc)
            a, g = np.empty((rows, np.shape(acc)[1])), np.empty((rows, np.shape(gyr)[1]))
            return (affine_rows(acc, *compose((corr.acc_offset_m_s2, corr.acc_scale),
                                              recording), out=a[:n]),
                    affine_rows(gyr, np.asarray(corr.gyr_bias_rad_s, dtype=float), out=g[:n]))
        return (corrected_acc(corr, recording, acc),
                affine_rows(gyr, np.asarray(corr.gyr_bias_rad_s, dtype=float)))
    if corr is not None:
        acc, gyr = corr.apply(acc, gyr)
    return correct_acc(acc, recording), gyr


def corrected_acc(corr, recording, acc: np.ndarray) -> np.ndarray:
    """The specific force of :func:`corrected_samples` alone, for an intrinsic correction
    ``corr`` with an accelerometer offset and scale (or None); row by row, so a subset of
    rows gives the same numbers as the whole."""
    if corr is None:
        return correct_acc(acc, recording)
    return correct_acc(acc, (corr.acc_offset_m_s2, corr.acc_scale), recording)


#: settings that switch a filter's own gyro-bias estimation off, for when the pipeline tracks
#: the bias at quiet standing itself (a filter's rest detector takes slow motion for bias)
NO_FILTER_BIAS = {"vqf": {"rest_bias_est": False, "motion_bias_est": False},
                  "imufusion": {"bias": False}}


def heading_axes(alignment: SegmentAlignment | None, role: str) -> np.ndarray | None:
    """Sensor-frame axes (2, 3) whose heading a fusion restart after a long gap carries
    across it: the segment's mediolateral axis (unchanged by flexion, the usual motion during a
    gap), then its anterior axis; None without an alignment for ``role``."""
    if alignment is None or role not in alignment.R_BS:
        return None
    R = np.asarray(alignment.R_BS[role], dtype=float)
    return np.stack([R[2], R[0]])


def gap_restarts_s(t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray, rate_hz: float,
                   max_bridge_s: float | None = None) -> list[float]:
    """Times (s) of the first sample after each gap long enough to restart the fusion of one
    sensor (:func:`imu.fusion.fuse` with ``t_s``); non-finite samples count as dropped."""
    from imu.fusion import split_at_gaps
    from imu.fusion.batch import MAX_BRIDGE_S, finite_rows

    t = np.asarray(t_s, dtype=float)
    ok = finite_rows(t, acc, gyr)
    if ok is not None:
        t = t[ok]
    if len(t) < 2:
        return []
    runs, _ = split_at_gaps(t, rate_hz, MAX_BRIDGE_S if max_bridge_s is None else max_bridge_s)
    return [float(t[a]) for a, _ in runs[1:]]


def restart_times(session: Session, roles) -> dict:
    """Role → times (s, session clock) where that sensor's fusion restarts after a long gap;
    its heading is uncertain from there until the next heading anchor."""
    out = {}
    for role in roles:
        data = session.sensors[role]
        t = sensor_times_s(data)
        out[role] = gap_restarts_s(t, data.acc, data.gyr, nominal_rate_hz(t, data.info.rate_hz))
    return out


def fuse_session(session: Session, roles, *, filter: str = DEFAULT_FILTER, intrinsics=None,
                 rate_hz: float | None = None, progress: bool = False,
                 filter_settings: dict | None = None, alignment: SegmentAlignment | None = None,
                 standing: StandingSettings | None = None, restarts_s: dict | None = None,
                 causal: bool = False, segment_parts: dict | None = None,
                 heading: HeadingHoldSettings | None = None, orientations: bool = True):
    """Fuse every sensor of ``roles`` and resample onto one time base.

    A recording gets the non-causal estimate (``causal=False``, :mod:`imu.fusion.offline`);
    ``causal=True`` reproduces what the live view showed (:class:`AnglePipeline`).

    With an ``alignment`` the gyro bias is tracked at quiet neutral standing
    (:mod:`imu.kinematics.standing`) and removed before fusion, and the filter's own bias
    estimation is switched off (:data:`NO_FILTER_BIAS`); when no quiet standing is found the
    filter keeps its own.

    ``restarts_s``, when given (a dict), receives role → times (s) where that sensor's fusion
    restarted after a long gap (:func:`gap_restarts_s`), for the heading hold.

    ``segment_parts``, when given (a dict) with an ``alignment``, receives role →
    :func:`segment_rows` of every row (with ``heading``'s settings), made by each sensor's task
    block by block as it resamples (for :func:`held_headings`). With ``orientations=False``
    the roles given those keep no orientations or rate norms (their entries are None): the
    angles need only the parts.

    Returns
    -------
    time_s : ndarray, shape (N,)
        Common time base on the session clock, seconds.
    quats : dict
        Role → (N, 4) ``q_ES`` (NaN in gaps).
    gyr_norm : dict
        Role → (N,) smoothed angular-rate norm, rad/s (NaN in gaps).
    rate_hz : float
        Rate of the time base, Hz.
    """
    from imu.fusion import fuse, make_filter
    from imu.session.validate import usable_session
    from imu.timing import bracket_times, common_time_base, resample_quat, resample_vec

    session = usable_session(session)  # NaN/inf samples and repeated timestamps stay out
    for role in roles:
        data = session.sensors[role]
        if len(data) < 2:
            raise BadInputError(f"sensor {role} ({data.info.sensor_id}) has no samples")

    times = {r: sensor_times_s(session.sensors[r], copy=False) for r in roles}  # read only
    rates = {r: nominal_rate_hz(times[r], session.sensors[r].info.rate_hz) for r in roles}
    corrections = {}
    for role in roles:
        data = session.sensors[role]
        rec = alignment.acc_corrections.get(role) if alignment is not None else None
        corr = (intrinsics or {}).get(data.info.sensor_id) or (intrinsics or {}).get(role)
        corrections[role] = (corr, rec)

    def prepare(role):  # the samples as the fusion uses them
        data = session.sensors[role]
        # with room after them for the offline estimate to bridge dropouts in place (rows it
        # does not write cost nothing): a run's grid rows are about its span at the rate
        t = times[role]
        rows = 0 if causal or len(t) < 2 else int(
            1.01 * max(len(t), (t[-1] - t[0]) * rates[role])) + 64
        acc, gyr = corrected_samples(*corrections[role], data.acc, data.gyr, rows=rows)
        acc, gyr = np.asarray(acc, float), np.asarray(gyr, float)
        mine = (rows and acc.base is not None and gyr.base is not None
                and not np.may_share_memory(acc, data.acc)
                and not np.may_share_memory(gyr, data.gyr))
        return acc, gyr, ((acc.base, gyr.base) if mine else None)

    # Quiet standing needs every sensor's corrected samples. With corrections of the usual
    # form (an accelerometer offset and scale, a gyro bias) it is judged from the raw samples,
    # correcting only the rows it looks at, while each sensor's task corrects its own samples
    # (imu.workers.fork_map's ``then``); otherwise the samples are corrected here first.
    row_wise = all(c is None or hasattr(c, "acc_offset_m_s2") for c, _ in corrections.values())
    raw = {} if row_wise else dict(zip(roles, pool_map(prepare, roles)))
    settings = dict(filter_settings or {})
    st = standing or StandingSettings()

    def mask_inputs(r):  # (times, acc, gyr, gyro bias, row correction) as the search judges
        if row_wise:
            c = corrections[r][0]
            b0 = np.zeros(3) if c is None else np.asarray(c.gyr_bias_rad_s, dtype=float)
            return (times[r], session.sensors[r].acc, session.sensors[r].gyr, b0,
                    lambda rows, r=r: corrected_acc(*corrections[r], rows))
        return times[r], raw[r][0], raw[r][1], np.zeros(3), None

    # Quiet standing: where forked workers fuse the sensors, each first judges its own sensor
    # on the common grid (into shared memory, then a byte down ``ready``) while this process
    # waits for theirs, so no worker sits idle while one process judges them all; the
    # stretches then go to every worker (fork_map's ``then``)
    grid = standing_grid(times) if alignment is not None else None
    masks = done = None
    ready = (None, None)
    if grid is not None and len(roles) > 1 and can_fork():
        masks = shared_empty((len(roles), len(grid)), bool)
        done = shared_empty(len(roles), bool)
        done[:] = False
        ready = os.pipe()
    here = os.getpid()
    open_fds = [fd for fd in ready if fd is not None]  # this process's ends not closed yet

    def close(fd) -> None:
        if fd in open_fds:
            open_fds.remove(fd)
            os.close(fd)

    def judge(role) -> None:
        t, a, g, b0, fix = mask_inputs(role)
        i = roles.index(role)
        masks[i] = standing_mask(grid, t, a, g, alignment.R_BS[role][1], b0, st, fix)
        done[i] = True

    def find_windows() -> list:
        if grid is None:
            return []
        if masks is None:  # every sensor judged here
            inputs = {r: mask_inputs(r) for r in roles}
            _, acc, gyr, bias0, fix = ({r: v[k] for r, v in inputs.items()} for k in range(5))
            win = standing_windows(times, acc, gyr, {r: alignment.R_BS[r][1] for r in roles},
                                   bias0, st, acc_correction=fix)
        else:
            close(ready[1])  # (a worker that stops closes its end: no wait for ever)
            got = 0
            while got < len(roles):  # a byte from each sensor's worker
                b = os.read(ready[0], len(roles))
                if not b:
                    break
                got += len(b)
            close(ready[0])
            for r in roles:  # a worker that failed first (its error follows), or no workers
                if not done[roles.index(r)]:
                    judge(r)
            win = windows_from_mask(grid, masks.all(axis=0), st)
        if win and progress:
            log.info("gyro bias from %d quiet-standing stretches", len(win))
        return win

    # the common time base depends only on the sample times, so each sensor's task resamples
    # its own result right away. The compiled filters hold the GIL, so each sensor's task runs
    # in a forked child process (imu.workers.fork_map; threads where processes cannot fork)
    base_hz = float(rate_hz) if rate_hz else rates[roles[0]]
    time_s = common_time_base(times, base_hz, span="union")

    # each task writes its resampled result into arrays made here, shared with forked
    # children (nothing pickled back; plain arrays where the tasks run on threads)
    alloc = shared_empty if can_fork() and len(roles) > 1 else np.empty
    hs = heading or HeadingHoldSettings()
    seg_roles = ([r for r in roles if r in alignment.R_BS]
                 if segment_parts is not None and alignment is not None else [])
    segs = {r: (alloc((len(time_s), 4)), alloc(len(time_s)), alloc(len(time_s), bool))
            for r in seg_roles}
    kept = [r for r in roles if orientations or r not in segs]
    quats = {r: alloc((len(time_s), 4)) if r in kept else None for r in roles}
    gnorm = {r: alloc(len(time_s)) if r in kept else None for r in roles}

    def store(role, b0, b1, q_blk, g_blk):  # rows [b0, b1) of a role's results
        if quats[role] is not None:
            quats[role][b0:b1] = q_blk
            gnorm[role][b0:b1] = g_blk
        if role in segs:  # the heading hold's inputs of these rows
            q, h, up = segs[role]
            _, h[b0:b1], up[b0:b1] = segment_rows(q_blk, g_blk, alignment.R_BS[role], hs,
                                                  out=q[b0:b1])

    def fuse_one(role):
        t, r_hz = times[role], rates[role]
        acc, gyr, room = raw[role] if role in raw else prepare(role)
        if masks is not None and os.getpid() != here:  # a forked worker: judge its sensor
            try:
                judge(role)
            finally:
                os.write(ready[1], b"x")
                close(ready[1])
        win = received()  # the quiet-standing stretches (find_windows)
        if uses_vendor_orientation(session, role):  # the sensor's own orientation, no fusion
            q = np.asarray(session.sensors[role].quat, dtype=float)
            if progress:
                log.info("%s: the sensor's own orientation (%d samples at %s Hz)", role, len(t),
                         f"{r_hz:g}")
            g = smoothed_rate_norm(np.nan_to_num(gyr), r_hz)
            q_all = resample_quat(t, q, time_s, max_gap_s=5.0 / r_hz)
            g_all = resample_vec(t, g, time_s, max_gap_s=5.0 / r_hz)
            for b0 in range(0, len(time_s), _RESAMPLE_ROWS):
                b1 = min(len(time_s), b0 + _RESAMPLE_ROWS)
                store(role, b0, b1, q_all[b0:b1], g_all[b0:b1])
            return []
        sett = settings
        if win:  # gyr minus the tracked bias (in place where gyr is this task's own copy)
            sett = {**NO_FILTER_BIAS.get(filter, {}), **settings}
            own = gyr.flags.writeable and not np.may_share_memory(gyr, session.sensors[role].gyr)
            gyr = remove_gyro_bias(t, gyr, win, np.zeros(3), st, in_place=own)
        if progress:
            log.info("fusing %s: %d samples at %s Hz", role, len(t), f"{r_hz:g}")
        restarts: list = []  # the same as gap_restarts_s(t, acc, gyr, r_hz), found by fuse
        g = smoothed_rate_norm(gyr, r_hz)  # (before fuse, which may bridge dropouts in gyr)
        # the sample i's orientation is q[row[i]] (row None: q[i]): the filter's own rows
        # where it bridged dropouts, looked up through ``row`` as the resampling reads them
        q, row = fuse(acc, gyr, r_hz, name=filter, t_s=t,
                      heading_axes_S=heading_axes(alignment, role), causal=causal,
                      restarts_out=restarts, return_index=True, room=room, **sett)
        del acc, gyr
        # resampled a block of rows at a time: the temporaries stay small (in the CPU cache,
        # reused by the allocator) instead of a dozen fresh arrays the length of the hour
        for b0 in range(0, len(time_s), _RESAMPLE_ROWS):
            b1 = min(len(time_s), b0 + _RESAMPLE_ROWS)
            br = bracket_times(t, time_s[b0:b1], 5.0 / r_hz)
            brq = br if row is None or br is None else (row[br[0]], row[br[1]]) + br[2:]
            store(role, b0, b1, resample_quat(t, q, time_s[b0:b1], bracket=brq),
                  resample_vec(t, g, time_s[b0:b1], bracket=br))
        return restarts if restarts_s is not None else None

    # the filter's modules (vqf: ~0.1 s) imported once here, not again in every child
    make_filter(filter, base_hz, **settings)
    if not causal:
        import imu.fusion.offline  # noqa: F401 - the same: once here, not in each child
    try:
        # one child per sensor (this process waits for their quiet-standing masks meanwhile):
        # they start together and end together, where this process, fusing one itself, started
        # after forking the others and ended last
        res = dict(zip(roles, fork_map(fuse_one, roles, then=find_windows)))
    finally:
        for fd in list(open_fds):
            close(fd)
    if restarts_s is not None:
        restarts_s.update(res)
    if segment_parts is not None:
        segment_parts.update(segs)
    return time_s, quats, gnorm, base_hz


#: rows of the common time base resampled at once in :func:`fuse_session`
_RESAMPLE_ROWS = 32768


def segment_rows(q_ES: np.ndarray, gyr_norm: np.ndarray, R_BS: np.ndarray,
                 heading: HeadingHoldSettings | None = None, out: np.ndarray | None = None):
    """The per-row inputs of the heading hold for one role: ``(q_raw (n, 4), heading_deg (n,),
    standing (n,) bool)``, the segment quaternion with zero heading offset (normalised), its
    heading (:func:`~imu.kinematics.frames.heading_deg`) and whether the segment is upright
    and its sensor still. Row by row: a block of rows gives those rows' numbers (so whoever
    holds a block of ``q_ES``, e.g. a fusion worker, can make them; :func:`held_headings`
    takes them as ``parts``). ``out``: an (n, 4) array for the quaternions."""
    hs = heading or HeadingHoldSettings()
    q = segment_quat(q_ES, R_BS, 0.0, normalize=True, out=out)
    h, up = heading_and_upright(q, hs.upright_deg)
    up &= is_still(gyr_norm, hs.still_gyr_rad_s)
    return q, h, up


def held_headings(time_s: np.ndarray, quats: dict, gyr_norm: dict, alignment: SegmentAlignment,
                  heading: HeadingHoldSettings | None = None, restarts_s: dict | None = None,
                  parts: dict | None = None):
    """Segment orientations without heading offset and the heading hold over them (the one
    place the batch paths run it: angles and the ``.sto`` export).

    Parameters
    ----------
    time_s : ndarray, shape (N,)
    quats : dict
        Role → (N, 4) sensor ``q_ES`` (``w, x, y, z``); NaN rows are gaps.
    gyr_norm : dict
        Role → (N,) smoothed angular-rate norm, rad/s: a sensor is still below
        ``heading.still_gyr_rad_s``.
    alignment : SegmentAlignment
    heading : HeadingHoldSettings, optional
    restarts_s : dict, optional
    parts : dict, optional
        Role → :func:`segment_rows` of all its rows, where made already (the others are
        made here).

    Returns
    -------
    q_raw : dict
        Role → (N, 4) segment quaternions ``R_WB`` with zero heading offset.
    hold : HeadingHoldResult
        ``offset_deg`` (role → (N,) degrees about world +Y) and ``confidence``.
    """
    hs = heading or HeadingHoldSettings()
    roles = list(quats)
    n = len(time_s)

    def per_role(r):  # segment_rows of one role, block by block (each block in the cache)
        q, h, up = np.empty((n, 4)), np.empty(n), np.empty(n, bool)
        for i0 in range(0, n, _BLOCK_ROWS):
            i1 = min(n, i0 + _BLOCK_ROWS)
            q[i0:i1], h[i0:i1], up[i0:i1] = segment_rows(quats[r][i0:i1], gyr_norm[r][i0:i1],
                                                         alignment.R_BS[r], hs)
        return q, h, up

    # per-role numpy work in threads (GIL released): hold_heading's numbers
    parts = dict(parts or {})
    todo = [r for r in roles if r not in parts]
    parts.update(zip(todo, pool_map(per_role, todo)))
    hold = hold_from_headings(time_s, {r: parts[r][1] for r in roles},
                              {r: parts[r][2] for r in roles}, hs,
                              initial_offset_deg=alignment.heading_deg or None,
                              restarts_s=restarts_s)
    return {r: parts[r][0] for r in roles}, hold


#: rows per block of the angle arithmetic (its temporaries stay in the CPU cache)
_BLOCK_ROWS = 16384


def _held_angles(q_raw: dict, offset_deg, reference: str = "sacrum", text=None,
                 confidence: dict | None = None):
    """:func:`segment_angles` of the segment quaternions ``q_raw`` (role → (N, 4)) turned by
    their heading offsets, a block of rows at a time.

    A turn of every segment about the vertical changes the pelvis rotation only: the others
    are angles relative to the pelvis or to its heading, and the tilt and obliquity come from
    the pelvis's row along +Y, which the turn leaves alone. So each other segment is turned by
    its offset minus the pelvis's, the pelvis not at all, and the pelvis's offset is added to
    its rotation (wrapped to [-180, 180)): the same angles for two fewer sines and cosines a
    row.

    Parameters
    ----------
    q_raw : dict
        Role → (N, 4) segment quaternions with zero heading offset.
    offset_deg : dict or HeadingHoldResult
        Role → (N,) heading offsets (degrees about world +Y), or the heading hold whose
        offsets (and confidences) are made a block of rows at a time where the angles are
        computed (:meth:`~imu.kinematics.heading.HeadingHoldResult.rows`: the same numbers).
    text : callable, optional
        ``(i0, i1, part, conf) -> list of bytes``, given each block's angles (``part``:
        column → (i1 - i0,) degrees) and confidences where they are computed (in the forked
        workers).
    confidence : dict, optional
        Column name → role: the hold's confidence of that role as that column (needs a
        HeadingHoldResult).

    Returns
    -------
    dict, or (dict, dict, list) with ``text`` or ``confidence``
        The angle columns; and the confidence columns and the texts in row order.
    """
    n = len(next(iter(q_raw.values())))
    confidence = confidence or {}
    hold = None if isinstance(offset_deg, dict) else offset_deg
    whole = text is None and not confidence
    if not n:
        cols = segment_angles({r: np.zeros((0, 4)) for r in q_raw})
        return cols if whole else (cols, {c: np.zeros(0) for c in confidence}, [])

    def rows(i0: int, i1: int) -> list:  # rows [i0, i1) into cols, block by block
        out = []
        for b0 in range(i0, i1, _BLOCK_ROWS):
            b1 = min(i1, b0 + _BLOCK_ROWS)
            if hold is None:
                off, cf = {r: v[b0:b1] for r, v in offset_deg.items()}, {}
            else:
                off, cf = hold.rows(b0, b1)
            h_ref = off[reference]
            part = segment_angles({r: q[b0:b1] if r == reference else
                                   rotate_heading(q[b0:b1], off[r] - h_ref, layout="components")
                                   for r, q in q_raw.items()})
            part["pelvis_rotation"] = wrap_deg(part["pelvis_rotation"] + h_ref)
            for c, v in part.items():
                cols[c][b0:b1] = v
            cf = {c: cf[r] for c, r in confidence.items()}
            for c, v in cf.items():
                conf[c][b0:b1] = v
            if text is not None:  # while the block's numbers are in the cache
                out += text(b0, b1, part, cf)
        return out

    # a long recording's rows are split between this process and forked children (the
    # arithmetic holds the GIL between numpy calls, so threads would not overlap), writing
    # into shared columns (and handing back their text)
    parts = min(os.cpu_count() or 1, 4)  # a few: each child costs a fork of this process
    forked = n >= _FORK_MIN_ROWS and parts > 1 and can_fork()
    alloc = shared_empty if forked else np.empty
    cols = {c: alloc(n) for c in angle_columns(
        [s for s in ("right", "left") if f"{s}_thigh" in q_raw], "trunk" in q_raw)}
    conf = {c: alloc(n) for c in confidence}
    if forked:
        # the last share here (its text needs no pipe), a little smaller: this process also
        # keeps its share's text in memory and writes it after the others' (measured on the
        # 1 h bench: with equal shares it ended ~0.1 s after its child)
        w = np.ones(parts)
        w[-1] = _OWN_SHARE
        edges = np.round(np.concatenate([[0.0], np.cumsum(w)]) / w.sum() * n).astype(int)
        texts = [b for t in fork_map(lambda k: rows(int(edges[k]), int(edges[k + 1])),
                                     range(parts), last_here=True) for b in t]
    else:
        texts = rows(0, n)
    return cols if whole else (cols, conf, texts)


#: the share of :func:`_held_angles`'s rows this process computes, relative to a child's
_OWN_SHARE = 0.8

#: from this many rows on, :func:`_held_angles` splits the rows between forked children
_FORK_MIN_ROWS = 200_000


def angles_from_orientations(time_s: np.ndarray, quats: dict, gyr_norm: dict,
                             alignment: SegmentAlignment,
                             heading: HeadingHoldSettings | None = None,
                             restarts_s: dict | None = None, csv_rows=None,
                             parts: dict | None = None) -> AngleTable:
    """Angles from fused sensor orientations on one time base (the batch core).

    Parameters
    ----------
    time_s : ndarray, shape (N,)
    quats : dict
        Role → (N, 4) ``q_ES``; NaN rows are gaps.
    gyr_norm : dict
        Role → (N,) smoothed angular-rate norm, rad/s (stillness for the heading hold).
    alignment : SegmentAlignment
    heading : HeadingHoldSettings, optional
    restarts_s : dict, optional
        Role → times (s) of fusion restarts after long gaps (:func:`restart_times`); the
        heading hold treats each as a step of unknown size.
    csv_rows : imu.session.angles_csv.CsvRows, optional
        Gets the table's rows as angles CSV text, formatted where the angles are computed.
    parts : dict, optional
        Role → :func:`segment_rows` of every row, where made already (:func:`fuse_session`'s
        ``segment_parts``).

    Returns
    -------
    AngleTable
        docs/formats.md columns; ``confidence`` for ``pelvis_rotation`` and each ``<side>_hip_rotation``.
    """
    hs = heading or HeadingHoldSettings()
    roles = [r for r in _ANGLE_ROLES if r in quats and r in alignment.R_BS]
    if "sacrum" not in roles:
        raise BadInputError("the session has no sacrum sensor (or the calibration lacks it)")
    q_raw, hold = held_headings(time_s, {r: quats[r] for r in roles}, gyr_norm, alignment, hs,
                                restarts_s, parts={r: v for r, v in (parts or {}).items()
                                                   if r in roles})
    sides = [role_side(r) for r in roles if role_side(r)]
    order = angle_columns(sides, "trunk" in roles)
    conf_of = {"pelvis_rotation": "sacrum"}  # confidence column → its segment
    conf_of.update({f"{role_side(r)}_hip_rotation": r for r in roles if role_side(r)})
    text = None
    if csv_rows is not None:
        csv_rows.begin(order, list(conf_of))
        text = (lambda i0, i1, part, cf: csv_rows.block(
            i0, i1, time_s[i0:i1], {c: part[c] for c in order}, cf))
    # the hold's offsets and confidences made block by block with the angles
    cols, conf, texts = _held_angles(q_raw, hold, text=text, confidence=conf_of)
    if csv_rows is not None:
        csv_rows.add(texts, len(time_s))
    columns = {c: cols[c] for c in order}
    return AngleTable(time_s=time_s, columns=columns, confidence=conf)


def compute_angles(session: Session, alignment: SegmentAlignment, *, filter: str = DEFAULT_FILTER,
                   intrinsics=None, rate_hz: float | None = None,
                   heading: HeadingHoldSettings | None = None,
                   filter_settings: dict | None = None,
                   progress: bool = False, causal: bool = False, csv_rows=None) -> AngleTable:
    """docs/angles.md angles of a whole session (batch).

    Parameters
    ----------
    session : Session
        Raw samples per role (``sacrum`` and at least one thigh).
    alignment : SegmentAlignment
        Mounting rotations per role (from a calibration profile).
    filter : str
        Fusion filter name (:data:`imu.fusion.FILTERS`).
    intrinsics : dict, optional
        Sensor id (or role) → intrinsic correction with ``apply(acc, gyr) -> (acc, gyr)``.
    rate_hz : float, optional
        Rate of the output time base, Hz (default: the sacrum sensor's rate).
    heading : HeadingHoldSettings, optional
    progress : bool
        Print progress to stderr.
    causal : bool
        False (default): each sensor's non-causal orientation (the best estimate the whole
        recording allows, :mod:`imu.fusion.offline`). True: the causal filter the live view
        runs, for reproducing what it showed.
    csv_rows : imu.session.angles_csv.CsvRows, optional
        Gets the rows as angles CSV text (:func:`angles_from_orientations`).

    Returns
    -------
    AngleTable
        Times on the session clock, one common time base, NaN in gaps.
    """
    from imu.session.validate import note_too_few_samples, roles_in_use, too_few_samples

    roles = [r for r in roles_in_use(session, _ANGLE_ROLES) if r in alignment.R_BS]
    few = [r for r in _ANGLE_ROLES if r in session.sensors and r in alignment.R_BS
           and r not in roles]
    if "sacrum" not in roles:
        raise BadInputError(f"{too_few_samples(session, 'sacrum')}" if "sacrum" in few else
                            f"{session.source or 'session'}: no sacrum sensor, or the "
                            "calibration profile has none")
    if not any(role_side(r) for r in roles):
        thin = [r for r in few if role_side(r)]
        raise BadInputError("; ".join(too_few_samples(session, r) for r in thin) if thin else
                            f"{session.source or 'session'}: no thigh sensor matches the "
                            "calibration profile")
    note_too_few_samples(session)  # the others go on without them: said once
    refuse_disjoint_clocks(session, roles)
    restarts: dict = {}
    parts: dict = {}  # the heading hold's inputs, made by the fusion workers
    time_s, quats, gnorm, _ = fuse_session(session, roles, filter=filter, intrinsics=intrinsics,
                                           rate_hz=rate_hz, progress=progress,
                                           filter_settings=filter_settings, alignment=alignment,
                                           restarts_s=restarts, causal=causal,
                                           segment_parts=parts, heading=heading,
                                           orientations=False)
    table = angles_from_orientations(time_s, quats, gnorm, alignment, heading,
                                     restarts_s=restarts, csv_rows=csv_rows, parts=parts)
    refuse_empty_columns(table, session.source or "session")
    return table


def refuse_disjoint_clocks(session: Session, roles) -> None:
    """One-line BadInputError when the time spans of ``roles`` do not all overlap (their
    angles would be NaN everywhere). Vendor exports were checked (or aligned with
    ``--align start``) when read: this is a CSV folder whose files are not on one clock."""
    from imu.session.foreign import check_overlap

    spans = []
    for r in roles:
        t = np.asarray(session.sensors[r].t_host_s, dtype=float)
        if len(t):  # NaN times skipped (fmin/fmax), no warning; none finite: no span
            t0, t1 = float(np.fmin.reduce(t)), float(np.fmax.reduce(t))
            if np.isfinite(t0) and np.isfinite(t1):
                spans.append((r, session.sensors[r].info.sensor_id, t0, t1))
    check_overlap(spans, session.source or "session",
                  hint="their times are not on one clock (a CSV folder's time_s columns must "
                       "share one clock, docs/formats.md)")


def refuse_empty_columns(table: AngleTable, where: str) -> None:
    """Never hand out an angle column that is NaN everywhere: one-line BadInputError."""
    def has_finite(v) -> bool:  # one pass without a temporary (fmax skips NaN) when it can
        v = np.asarray(v, dtype=float)
        return len(v) > 0 and (bool(np.isfinite(np.fmax.reduce(v, axis=None)))
                               or bool(np.any(np.isfinite(v))))

    empty = [c for c, v in table.columns.items() if not has_finite(v)]
    if empty:
        raise BadInputError(f"{where}: no valid {', '.join(empty)} anywhere (the sensors never "
                            f"deliver together)")


class AnglePipeline:
    """Streaming angles for the live dashboard: raw sample blocks in, angle rows out.

    Each role has its own :class:`imu.fusion.TimedFilter` (same filter, start-up and gap
    handling as the batch path: dropouts bridged, a restart after a long gap carrying the
    segment's heading across it, the heading hold told of the restart). Rows
    are produced at the sacrum sensor's sample times once every other role has data up to that
    time (the other roles' orientations are interpolated); a role silent for longer than
    ``stale_s`` gives NaN in its columns instead of holding the row back.

    Parameters
    ----------
    alignment : SegmentAlignment
    rates_hz : dict
        Role → sample rate, Hz.
    filter : str
        Fusion filter name.
    intrinsics : dict, optional
        Role or sensor id → correction with ``apply(acc, gyr)``.
    stale_s : float
        Latency after which a silent role is given up for a row, seconds.
    min_emit_s : float
        Rows are handed out in batches covering at least this long (cheaper per row), seconds.
    complete_tol_s : float
        A row is complete once every other role has a sample no more than this before it,
        seconds (0: at or after it). A role's orientation at a row up to this long after one
        of its samples is that sample's, turned on by its angular rate over the interval (a
        gyro step of at most ``complete_tol_s``, whether the next sample is in or not: the
        same number either way); otherwise interpolated between its samples. At most half
        the shortest sample interval (over which a gyro step is as close as the interpolation:
        ~0.01° at 104 Hz).

    Examples
    --------
    >>> p = AnglePipeline(alignment, {"sacrum": 104, "right_thigh": 104})   # doctest: +SKIP
    >>> table = p.update("sacrum", t_s, acc, gyr)                          # doctest: +SKIP
    """

    def __init__(self, alignment: SegmentAlignment, rates_hz: dict[str, float], *,
                 filter: str = DEFAULT_FILTER, intrinsics=None, stale_s: float = 0.5,
                 min_emit_s: float = 0.04, heading: HeadingHoldSettings | None = None,
                 complete_tol_s: float = 0.0):
        from imu.fusion import TimedFilter

        self.alignment = alignment
        self.roles = [r for r in _ANGLE_ROLES if r in rates_hz and r in alignment.R_BS]
        if "sacrum" not in self.roles:
            raise BadInputError("live angles need a sacrum sensor in the calibration")
        self.rates_hz = {r: float(rates_hz[r]) for r in self.roles}
        self.intrinsics = intrinsics or {}
        self.stale_s = float(stale_s)
        self.min_emit_s = float(min_emit_s)
        self.complete_tol_s = min(max(float(complete_tol_s), 0.0),
                                  0.5 / max(self.rates_hz.values()))
        # the gyro bias is learnt at quiet standing (as in the batch path), not by the filter;
        # timestamps drive the batch path's gap handling (bridged dropouts, restarts)
        no_bias = NO_FILTER_BIAS.get(filter, {})
        self._make = lambda r: TimedFilter(filter, self.rates_hz[r],
                                           heading_axes_S=heading_axes(alignment, r), **no_bias)
        self._bias = StandingBiasStream({r: alignment.R_BS[r][1] for r in self.roles},
                                        self.rates_hz)
        self._filters = {r: None for r in self.roles}
        self._buf = {r: deque() for r in self.roles}  # (t, q(4), gyr_norm, gyr(3) rad/s)
        self._alpha = {r: 1.0 / max(1.0, 0.25 * self.rates_hz[r]) for r in self.roles}
        self._gn = {r: None for r in self.roles}
        self._latest = {r: -np.inf for r in self.roles}
        self._hold = HeadingHoldStream(self.roles, self.rates_hz["sacrum"],
                                       heading or HeadingHoldSettings())
        sides = [role_side(r) for r in self.roles if role_side(r)]
        self.columns = angle_columns(sides, "trunk" in self.roles)

    def update(self, role: str, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> AngleTable:
        """Feed a block of raw samples of one role; returns the angle rows now complete.

        Parameters
        ----------
        role : str
        t_s : ndarray, shape (n,)
            Sample times on the session clock, seconds.
        acc, gyr : ndarray, shape (n, 3)
            Specific force (m/s²) and angular rate (rad/s), sensor frame.

        Returns
        -------
        AngleTable
            Possibly empty (0 rows).
        """
        if role not in self.roles:
            return self._emit([])
        t_s = np.asarray(t_s, dtype=float).reshape(-1)
        acc = np.asarray(acc, dtype=float).reshape(-1, 3)
        gyr = np.asarray(gyr, dtype=float).reshape(-1, 3)
        acc, gyr = corrected_samples(self.intrinsics.get(role),
                                     self.alignment.acc_corrections.get(role), acc, gyr)
        ok = np.isfinite(t_s) & np.all(np.isfinite(acc), axis=1) & np.all(np.isfinite(gyr), axis=1)
        if not ok.all():  # a damaged sample counts as dropped (as in the batch path)
            t_s, acc, gyr = t_s[ok], acc[ok], gyr[ok]
        if len(t_s):
            gyr = self._bias.correct(role, t_s, acc, gyr)
            f = self._filters[role]
            if f is None:
                f = self._filters[role] = self._make(role)
            n_restarts = f.n_restarts
            q = f.update_block(t_s, acc, gyr)
            if f.n_restarts > n_restarts:
                self._hold.note_restart(role, f.last_restart_t_s)
            g = np.linalg.norm(gyr, axis=1)
            buf = self._buf[role]
            a = self._alpha[role]
            gn = self._gn[role]
            for i in range(len(t_s)):
                gn = g[i] if gn is None else gn + a * (g[i] - gn)
                buf.append((t_s[i], q[i], gn, gyr[i]))
            self._gn[role] = gn
            self._latest[role] = max(self._latest[role], t_s[-1])
        return self._emit(self._ready_rows())

    def _ready_rows(self):
        ref = self._buf["sacrum"]
        rows = []
        newest = max(self._latest.values())
        if not ref or ref[-1][0] - ref[0][0] < self.min_emit_s:
            return rows
        tol = self.complete_tol_s
        while ref:
            t = ref[0][0]
            ok = True
            for r in self.roles:
                if r != "sacrum" and self._latest[r] < t - tol and newest - t < self.stale_s:
                    ok = False
            if not ok:
                break
            rows.append(ref.popleft())
        return rows

    def _at_many(self, roles, t: np.ndarray):
        """Orientations (n, 4) and rate norms (n,) of each of ``roles`` at times ``t`` (n,),
        interpolated between its samples; NaN where it has none close enough. Old samples are
        dropped. The roles' rows go through one pass (element by element the same arithmetic
        as one role at a time: the same numbers; a batch of ~2 rows costs its numpy calls,
        not its rows). Returns ``{role: (q, g)}``."""
        n = len(t)
        out = {}
        parts = []                   # (role, tb, qb, gb, j, period) of the roles with samples
        for role in roles:
            buf = self._buf[role]
            if not buf or not n:
                out[role] = np.full((n, 4), np.nan), np.full(n, np.nan)
                continue
            tb = np.fromiter((b[0] for b in buf), float, len(buf))
            qb = np.array([b[1] for b in buf])
            gb = np.fromiter((b[2] for b in buf), float, len(buf))
            j = np.searchsorted(tb, t, side="right")  # first sample after t
            parts.append((role, tb, qb, gb, j, 1.0 / self.rates_hz[role]))
        if not parts:
            return out
        k = len(parts)
        if k == 1:
            _, tb, qb, gb, j, period = parts[0]
            tt, size = t, len(tb)
        else:
            tb = np.concatenate([p[1] for p in parts])
            qb = np.concatenate([p[2] for p in parts])
            gb = np.concatenate([p[3] for p in parts])
            base = np.cumsum([0] + [len(p[1]) for p in parts[:-1]])
            j = np.concatenate([p[4] for p in parts])
            period = np.repeat([p[5] for p in parts], n)
            size = np.repeat([len(p[1]) for p in parts], n)
            tt = np.tile(t, k)
        last = size - 1               # (np.clip's overhead is several times the work here)
        i0 = np.minimum(np.maximum(j - 1, 0), last)
        i1 = np.minimum(j, last)
        if k > 1:                     # each role's indices into the joined samples
            off = np.repeat(base, n)
            i0 += off
            i1 += off
        span = tb[i1] - tb[i0]
        inside = (j > 0) & (j < size) & (span <= 5.0 * period)
        w = np.where(inside & (span > 0), (tt - tb[i0]) / np.where(span > 0, span, 1.0), 0.0)
        q0, q1 = qb[i0], qb[i1]
        q1 = np.where(np.sum(q0 * q1, axis=1, keepdims=True) < 0, -q1, q1)
        q = Q.normalize(q0 + w[:, None] * (q1 - q0))
        g = gb[i0] + w * (gb[i1] - gb[i0])
        # just past the last sample (or exactly on one): take the nearest within 2 periods
        edge = ~inside & (np.abs(tb[i0] - tt) <= 2.0 * period)
        q = np.where(edge[:, None], qb[i0], q)
        g = np.where(edge, gb[i0], g)
        tol = self.complete_tol_s
        if tol > 0:
            # up to complete_tol_s after a sample: that sample turned on by its angular rate
            # (the same number before and after the next sample comes in)
            dt = tt - tb[i0]
            step = np.flatnonzero((j > 0) & (dt > 0) & (dt <= tol))
            if len(step):
                # the angular rates of the joined samples (the buffers are a few samples long)
                wb = np.array([b[3] for p in parts for b in self._buf[p[0]]])
                dq = Q.from_rotvec_parts((wb[i0[step]] * dt[step, None]).T).T
                q[step] = Q.normalize(Q.multiply(qb[i0[step]], dq))
                g[step] = gb[i0[step]]
        ok = inside | edge
        q[~ok] = np.nan
        g[~ok] = np.nan
        for m, (role, tb_r, _, _, _, _) in enumerate(parts):
            out[role] = q[m * n:(m + 1) * n], g[m * n:(m + 1) * n]
            # keep one sample at or before the last time asked for
            buf = self._buf[role]
            keep_from = max(int(np.searchsorted(tb_r, t[-1], side="right")) - 1, 0)
            for _ in range(keep_from):
                buf.popleft()
        return out

    def _emit(self, rows) -> AngleTable:
        n = len(rows)
        time_s = np.array([r[0] for r in rows], dtype=float)
        conf = {c: np.zeros(n) for c in self.columns if c.endswith("rotation")}
        if not n:
            return AngleTable(time_s=time_s, columns={c: np.full(n, np.nan) for c in
                                                      self.columns}, confidence=conf)
        quats = {"sacrum": np.array([r[1] for r in rows])}
        gnorm = {"sacrum": np.array([r[2] for r in rows])}
        for r, (q, g) in self._at_many([r for r in self.roles if r != "sacrum"],
                                       time_s).items():
            quats[r], gnorm[r] = q, g
        # every role's rows in one array (a role's rows one after another): one matrix pass
        roles = self.roles
        raw_all = matrix_from_quat(segment_quats([quats[r] for r in roles],
                                                 [self.alignment.R_BS[r] for r in roles]))
        raw = {r: raw_all[i * n:(i + 1) * n] for i, r in enumerate(roles)}
        offs_all = np.zeros(len(roles) * n)
        offs = {r: offs_all[i * n:(i + 1) * n] for i, r in enumerate(roles)}
        full = np.ones(n, bool)
        for r in self.roles:
            full &= np.isfinite(raw[r][:, 0, 0])
        k = 0
        while k < n:
            if not full[k]:
                # a gap row: the held offsets (the first rows of a sensor that starts late
                # take the others' first headings as facing forward, as the batch hold does)
                o = self._hold.begin({r: raw[r][k] for r in self.roles})
                for r in self.roles:
                    offs[r][k] = o[r]
                for c in conf:  # a gap row: its confidence is unknown, not zero
                    conf[c][k] = np.nan
                k += 1
                continue
            # a run of full rows: the hold over them at once (the same numbers as row by row)
            e = k + 1 + int(np.argmin(full[k + 1:])) if not full[k + 1:].all() else n
            o, cf = self._hold.update_many(time_s[k:e], {r: raw[r][k:e] for r in self.roles},
                                           {r: gnorm[r][k:e] for r in self.roles})
            conf["pelvis_rotation"][k:e] = cf["sacrum"]
            for r in self.roles:
                offs[r][k:e] = o[r]
                s = role_side(r)
                if s:
                    conf[f"{s}_hip_rotation"][k:e] = cf[r]
            k = e
        segs_all = np.matmul(rot_y(offs_all), raw_all)
        segs = {r: segs_all[i * n:(i + 1) * n] for i, r in enumerate(roles)}
        ang = segment_angles(segs)   # every column (NaN where a segment has a gap)
        cols = {c: ang[c] if c in ang else np.full(n, np.nan) for c in self.columns}
        return AngleTable(time_s=time_s, columns=cols, confidence=conf)
