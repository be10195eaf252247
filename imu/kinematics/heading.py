"""Relative-heading hold for 6D sensors.

Accelerometer + gyroscope fusion observes inclination but not heading: each sensor's earth frame
turns slowly about the vertical (residual gyro bias about gravity), so pelvis rotation and hip
rotation drift. The hip is a ball joint, so it gives no kinematic constraint on femur rotation
relative to the pelvis; the levers that remain are

1. good gyro bias estimation (the fusion filter's rest bias estimation), and
2. **re-zeroing at quiet neutral standing**: whenever every sensor is still and the pelvis and
   thighs are upright (the calibration pose, which recurs between sets), the femurs' headings
   are set equal to the pelvis's (hip rotation 0) and the pelvis heading to the calibration
   heading (pelvis rotation 0) — the latter only when the pelvis faces within a gate of it, so a
   person who has turned round is not snapped back.

Between two anchors the heading correction is interpolated linearly in time (a constant residual
bias gives a linear drift; batch only); the streaming version moves to each new correction at
``slew_deg_per_s`` (no steps in the live traces) and then holds it. A pelvis heading change that
the thighs share (the whole body turned, feet and all) is kept as a turn, not re-zeroed: each
sensor drifts on its own, so drift is a change the thighs do not share. The
confidence of a rotation angle (0..1) falls with the expected drift since the nearest anchor:
``exp(-drift_deg_per_s · Δt / confidence_scale_deg)``.

Headings here are the first Cardan angle of the pelvis order (rotation about world +Y),
:func:`imu.kinematics.frames.heading_deg`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from imu.kinematics.frames import (heading_and_upright, heading_deg,  # noqa: F401 (one definition)
                                   upright_angle_deg)
from imu.kinematics.still import STILL_RAD_S, StillStream



@dataclass
class HeadingHoldSettings:
    """Thresholds of the heading hold.

    Attributes
    ----------
    still_gyr_rad_s : float
        A sensor is still while its (0.25 s smoothed) angular rate norm is below this, rad/s
        (:mod:`imu.kinematics.still`).
    min_anchor_s : float
        Shortest quiet-standing stretch used as an anchor, seconds.
    upright_deg : float
        Largest angle between a segment's long axis (+Y) and the vertical at neutral standing.
    pelvis_gate_deg : float
        The pelvis heading is re-zeroed only if it lies within this of the held heading (plus
        ``pelvis_gate_growth_deg_per_s`` per second since the last anchor: drift grows). The
        gate is not the only test: see ``turn_min_deg``.
    turn_min_deg : float
        A change of the pelvis heading since the previous standing larger than this that the
        thighs share (each thigh's heading relative to the pelvis changed by less than half
        of it: the whole body turned, feet and all) is kept as a turn, not re-zeroed; a change
        the thighs do not share is drift (each sensor drifts on its own) and is re-zeroed.
    femur_gate_deg : float
        A femur heading is re-zeroed only if its correction changes by less than this (plus
        ``femur_gate_growth_deg_per_s`` per second since the last anchor).
    drift_deg_per_s : float
        Expected heading drift rate after bias estimation, for the confidence, deg/s.
    confidence_scale_deg : float
        Expected drift (degrees) at which the confidence falls to 1/e.
    restart_gate_deg : float
        After a fusion restart of a sensor (a link outage: its heading over the gap is
        unknown), its next anchor is accepted if it changes the correction by less than this
        (a person who turned round during the gap is still not snapped back).
    restart_confidence : float
        Largest confidence of a rotation angle between a restart of its sensor and the next
        accepted anchor.
    slew_deg_per_s : float
        Streaming only: a new anchor correction is reached at this rate instead of at once, so
        the live rotation traces have no steps (batch: corrections are interpolated between
        anchors, which never steps).
    """

    still_gyr_rad_s: float = STILL_RAD_S
    min_anchor_s: float = 1.0
    upright_deg: float = 10.0
    pelvis_gate_deg: float = 20.0
    pelvis_gate_growth_deg_per_s: float = 0.05
    turn_min_deg: float = 3.0
    femur_gate_deg: float = 20.0
    femur_gate_growth_deg_per_s: float = 0.1
    drift_deg_per_s: float = 0.02
    confidence_scale_deg: float = 3.0
    restart_gate_deg: float = 90.0
    restart_confidence: float = 0.5
    slew_deg_per_s: float = 2.0


#: rows per block of the per-sample arithmetic (its temporaries stay in the CPU cache)
_BLOCK_ROWS = 16384


def wrap_deg(a):
    """Wrap angle(s) to [-180, 180) degrees."""
    if type(a) is float:  # one number: Python's % is numpy's (floored) remainder, faster
        return (a + 180.0) % 360.0 - 180.0
    return (np.asarray(a, dtype=float) + 180.0) % 360.0 - 180.0


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` index ranges (stop exclusive) where ``mask`` is True."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def standing_mask(R_WB: dict[str, np.ndarray], still: dict[str, np.ndarray],
                  settings: HeadingHoldSettings = HeadingHoldSettings()) -> np.ndarray:
    """Quiet neutral standing: every sensor still and every segment upright, (N,) bool.

    Parameters
    ----------
    R_WB : dict
        Role → (N, 3, 3) segment orientation (any heading).
    still : dict
        Role → (N,) bool stillness of that role's sensor.
    """
    ok = None
    for role, R in R_WB.items():
        m = _upright_still(R, still[role], settings)
        ok = m if ok is None else ok & m
    return ok


def _upright_still(R: np.ndarray, still: np.ndarray, settings: HeadingHoldSettings) -> np.ndarray:
    """One role's part of :func:`standing_mask`: upright and still, (N,) bool."""
    with np.errstate(invalid="ignore"):
        return (upright_angle_deg(R) < settings.upright_deg) & np.asarray(still, bool)


def _span_rows(spans) -> np.ndarray:
    """The row indices of every ``(i0, i1)`` of ``spans``, one span after the other."""
    if not len(spans):
        return np.zeros(0, dtype=np.int64)
    first = np.array([i0 for i0, _ in spans])
    size = np.array([i1 - i0 for i0, i1 in spans])
    ends = np.cumsum(size)
    # every span's indices at once: i0 + (position in the concatenation - its start there)
    return np.arange(int(ends[-1])) + np.repeat(first - (ends - size), size)


def _circ_means_deg(a: np.ndarray, spans, gathered: bool = False) -> list[float]:
    """Circular mean (degrees) of the finite values of ``a[i0:i1]`` (NaN if none) for every
    ``(i0, i1)`` of ``spans``: the sines and cosines of all spans in one pass, then one sum of
    each per span. ``gathered``: ``a`` is already ``a[_span_rows(spans)]``."""
    if not len(spans):
        return []
    r = np.radians(a if gathered else a[_span_rows(spans)])
    fin = np.isfinite(r)
    all_fin = bool(fin.all())
    sc = np.empty((2, len(r)))  # the sines and cosines, each row contiguous
    np.sin(r, out=sc[0])
    np.cos(r, out=sc[1])
    n = len(spans)
    sums, count = np.empty((2, n)), np.empty(n)
    k = 0
    for j, (i0, i1) in enumerate(spans):
        k0, k = k, k + (i1 - i0)
        if all_fin or fin[k0:k].all():  # both sums in one call (each row's own sum)
            count[j] = k - k0
            np.add.reduce(sc[:, k0:k], axis=1, out=sums[:, j])
        else:
            s, c = sc[0, k0:k][fin[k0:k]], sc[1, k0:k][fin[k0:k]]
            count[j] = len(s)
            sums[0, j], sums[1, j] = np.add.reduce(s), np.add.reduce(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        sums /= count  # sum / count = ndarray.mean; then each mean's angle, all at once
    out = np.degrees(np.arctan2(sums[0], sums[1]))
    out[count == 0] = np.nan
    return out.tolist()


class HeadingHoldResult:
    """Heading offsets and rotation-angle confidences from :func:`hold_heading`.

    Attributes
    ----------
    offset_deg : dict
        Role → (N,) heading offset (degrees about world +Y) to apply on the left of ``R_WB``.
    confidence : dict
        Role → (N,) confidence 0..1 of that segment's heading (pelvis rotation uses ``sacrum``;
        a hip rotation uses the lower of its thigh and the sacrum).
    anchors : list
        ``(t_start_s, t_end_s)`` of every quiet-standing stretch found.

    Both per-row dicts are made on first use; :meth:`rows` gives a block of rows of them (the
    same numbers: each row depends only on its time), for work split by rows.
    """

    def __init__(self, time_s: np.ndarray, offsets: dict, confidences: dict,
                 anchors: list[tuple[float, float]], settings: HeadingHoldSettings,
                 reference: str):
        self._t = time_s
        self._offsets = offsets  # role → (points [(t, correction)] or None, restarts, constant)
        self._confidences = confidences  # role → (anchor times, restarts)
        self._s = settings
        self._reference = reference
        self.anchors = anchors
        self._whole: tuple | None = None
        self._arrays: tuple | None = None

    def _prepared(self) -> tuple:
        """The points and anchor times as arrays, and which roles share their anchors, made
        once (on the first :meth:`rows`, when the hold is complete) for every block."""
        if self._arrays is None:
            off = {r: (None if not pts else (np.array([p[0] for p in pts]),
                                             np.array([p[1] for p in pts])), rst, c0)
                   for r, (pts, rst, c0) in self._offsets.items()}
            groups: dict = {}  # anchor times and restarts → the first role with them
            conf = {}
            for r, (anchor_t, rst) in self._confidences.items():
                key = (tuple(anchor_t), tuple(rst))
                first = groups.setdefault(key, r)
                conf[r] = (first, np.asarray(anchor_t, dtype=float), rst)
            self._arrays = off, conf
        return self._arrays

    def rows(self, i0: int, i1: int) -> tuple[dict, dict]:
        """``(offset_deg, confidence)`` of rows ``[i0, i1)``: role → (i1 - i0,) each."""
        t = self._t[i0:i1]
        offsets, confidences = self._prepared()
        off = {r: (_interp_points(t, pts, rst) if pts is not None else
                   np.full(len(t), float(c0))) for r, (pts, rst, c0) in offsets.items()}
        made: dict = {}  # roles often share all anchors (and restarts): one confidence each
        conf = {}
        for r, (first, anchor_t, rst) in confidences.items():
            if first not in made:
                made[first] = _confidence(t, anchor_t, self._s, rst)
            conf[r] = made[first]
        ref = self._reference
        for r in conf:
            if r != ref:
                conf[r] = np.minimum(conf[r], conf[ref])
        return off, conf

    def _all(self) -> tuple[dict, dict]:
        if self._whole is None:
            self._whole = self.rows(0, len(self._t))
        return self._whole

    @property
    def offset_deg(self) -> dict[str, np.ndarray]:
        return self._all()[0]

    @property
    def confidence(self) -> dict[str, np.ndarray]:
        return self._all()[1]


def hold_heading(time_s: np.ndarray, R_WB: dict[str, np.ndarray], still: dict[str, np.ndarray],
                 settings: HeadingHoldSettings = HeadingHoldSettings(),
                 initial_offset_deg: dict[str, float] | None = None,
                 reference: str = "sacrum",
                 restarts_s: dict[str, list[float]] | None = None) -> HeadingHoldResult:
    """Batch heading hold over a whole session.

    Parameters
    ----------
    time_s : ndarray, shape (N,)
        Common time base, seconds.
    R_WB : dict
        Role → segment orientations with zero heading offset, (N, 3, 3) matrices or (N, 4)
        unit quaternions (``reference`` required).
    still : dict
        Role → (N,) bool stillness per sensor.
    initial_offset_deg : dict, optional
        Offsets to use when no standing is found (else the first valid sample's heading is
        zeroed for the reference, and the others are aligned to it).
    restarts_s : dict, optional
        Role → times (s) where that sensor's fusion restarted after a long gap
        (:func:`imu.kinematics.pipeline.restart_times`). The heading carried across a gap may
        be off by whatever the segment turned during it, a step rather than a drift: anchor
        corrections are not interpolated across a restart (the correction found at the first
        anchor after it applies from the restart on), that anchor is gated by
        ``restart_gate_deg`` only, and the confidence stays below ``restart_confidence`` from
        the restart to that anchor.

    Returns
    -------
    HeadingHoldResult
    """
    n = len(time_s)
    roles = list(R_WB)
    from imu.workers import pool_map

    def per_role(r):  # heading and standing mask of one role (numpy releases the GIL)
        R, st = R_WB[r], np.asarray(still[r], bool)
        h, up = np.empty(n), np.empty(n, bool)
        for i0 in range(0, n, _BLOCK_ROWS):  # = heading_deg, _upright_still; cache-sized blocks
            i1 = min(n, i0 + _BLOCK_ROWS)
            h[i0:i1], up[i0:i1] = heading_and_upright(R[i0:i1], settings.upright_deg)
        return h, up & st

    parts = dict(zip(roles, pool_map(per_role, roles)))
    return hold_from_headings(time_s, {r: parts[r][0] for r in roles},
                              {r: parts[r][1] for r in roles}, settings, initial_offset_deg,
                              reference, restarts_s)


def hold_from_headings(time_s: np.ndarray, heading: dict[str, np.ndarray],
                       standing: dict[str, np.ndarray],
                       settings: HeadingHoldSettings = HeadingHoldSettings(),
                       initial_offset_deg: dict[str, float] | None = None,
                       reference: str = "sacrum",
                       restarts_s: dict[str, list[float]] | None = None) -> HeadingHoldResult:
    """:func:`hold_heading` from each segment's heading (role → (N,) degrees,
    :func:`heading_deg`) and standing mask (role → (N,) bool: upright within
    ``settings.upright_deg`` and still), where a caller has them at hand."""
    t = np.asarray(time_s, dtype=float)
    roles = list(heading)
    rst = {r: np.sort(np.asarray((restarts_s or {}).get(r, ()), dtype=float)) for r in roles}
    mask = None  # = standing_mask(R_WB, still, settings), from the parts above
    for r in roles:
        mask = standing[r] if mask is None else mask & standing[r]
    anchors = []
    for i0, i1 in runs(mask):
        if t[i1 - 1] - t[i0] >= settings.min_anchor_s:
            anchors.append((i0, i1))

    def gate(role, tc, t_prev, base_deg, growth_deg_per_s):
        if len(rst[role]) and np.any((rst[role] > t_prev) & (rst[role] <= tc)):
            return settings.restart_gate_deg
        return base_deg + growth_deg_per_s * (tc - t_prev)

    offsets: dict[str, tuple] = {}  # role → (points, restarts, constant): HeadingHoldResult
    conf: dict[str, tuple] = {}  # role → (anchor times, restarts)
    ref_h = heading[reference]

    # reference (pelvis) corrections at anchors, gated against the held heading
    ref_pts: list[tuple[float, float]] = []  # (time, correction)
    ref_meas = []
    rel_prev = None  # each other role's heading relative to the pelvis at the previous standing
    # circular mean heading of every role over every anchor
    from imu.workers import pool_map

    means = dict(zip(roles, pool_map(lambda r: _circ_means_deg(heading[r], anchors), roles)))
    for k, (i0, i1) in enumerate(anchors):
        tc = 0.5 * (t[i0] + t[i1 - 1])
        h = means[reference][k]
        if not np.isfinite(h):
            continue
        ref_meas.append((i0, i1, tc, h, k))
        rel = {r: float(wrap_deg(means[r][k] - h)) for r in roles if r != reference}
        rel_before, rel_prev = rel_prev, rel
        if ref_pts:
            turn = float(wrap_deg(h + ref_pts[-1][1]))  # pelvis heading change vs the held one
            if abs(turn) > gate(reference, tc, ref_pts[-1][0], settings.pelvis_gate_deg,
                                settings.pelvis_gate_growth_deg_per_s):
                continue  # faces another way: the person has turned, keep the held heading
            if _shared_turn(turn, rel, rel_before, settings):
                continue  # the thighs turned with the pelvis: a turn, not drift
        c = -h if not ref_pts else ref_pts[-1][1] + float(wrap_deg(-h - ref_pts[-1][1]))
        ref_pts.append((tc, c))

    if ref_pts:
        offsets[reference] = (ref_pts, rst[reference], None)
    else:
        c0 = (initial_offset_deg or {}).get(reference)
        if c0 is None:
            first = np.flatnonzero(np.isfinite(ref_h))
            c0 = -ref_h[first[0]] if len(first) else 0.0
        offsets[reference] = (None, rst[reference], float(c0))
    conf[reference] = ([p[0] for p in ref_pts], rst[reference])
    result = HeadingHoldResult(t, offsets, conf, [(float(t[a]), float(t[b - 1]))
                                                  for a, b in anchors], settings, reference)

    def ref_offset_at(idx):  # the pelvis's offset at rows idx (row by row, as rows() has it)
        pts, rs, c0 = offsets[reference]
        return _interp_points(t[idx], pts, rs) if pts else np.full(len(idx), c0)

    # target of each standing: the corrected pelvis heading there
    spans = [m[:2] for m in ref_meas]
    idx = _span_rows(spans)
    targets = _circ_means_deg(ref_h[idx] + ref_offset_at(idx), spans, gathered=True)

    for role in roles:
        if role == reference:
            continue
        h = heading[role]
        pts: list[tuple[float, float]] = []
        for (i0, i1, tc, _, k), target in zip(ref_meas, targets):
            # target: this segment's heading equals the corrected pelvis heading at standing
            hm = means[role][k]
            if not (np.isfinite(target) and np.isfinite(hm)):
                continue
            c = float(wrap_deg(target - hm))
            if pts:
                if abs(wrap_deg(c - pts[-1][1])) > gate(
                        role, tc, pts[-1][0], settings.femur_gate_deg,
                        settings.femur_gate_growth_deg_per_s):
                    continue
                c = pts[-1][1] + float(wrap_deg(c - pts[-1][1]))
            pts.append((tc, c))
        if pts:
            offsets[role] = (pts, rst[role], None)
        else:
            c0 = (initial_offset_deg or {}).get(role)
            if c0 is None:
                both = np.flatnonzero(np.isfinite(h) & np.isfinite(ref_h))
                c0 = (float(wrap_deg(ref_h[both[0]] + ref_offset_at(both[:1])[0] - h[both[0]]))
                      if len(both) else 0.0)
            offsets[role] = (None, rst[role], float(c0))
        conf[role] = ([p[0] for p in pts], rst[role])
    return result


def _shared_turn(turn_deg: float, rel: dict, rel_before: dict | None,
                 settings: HeadingHoldSettings) -> bool:
    """Whether a pelvis heading change ``turn_deg`` since the previous standing is a turn of the
    whole body: larger than ``turn_min_deg`` and shared by every thigh (its heading relative to
    the pelvis, ``rel`` now and ``rel_before`` then, changed by less than half of it)."""
    if rel_before is None or abs(turn_deg) <= settings.turn_min_deg:
        return False
    d = [abs(wrap_deg(rel[r] - rel_before[r])) for r in rel
         if r in rel_before and np.isfinite(rel[r]) and np.isfinite(rel_before[r])]
    return bool(d) and max(d) < 0.5 * abs(turn_deg)


def _interp_points(t: np.ndarray, pts: list[tuple[float, float]],
                   restarts_s: np.ndarray = np.zeros(0)) -> np.ndarray:
    """Offsets (N,) from anchor corrections ``pts`` [(time, correction)]: linear between the
    anchors of one restart segment (a constant residual bias drifts linearly), constant before
    a segment's first anchor (back to the restart) and after its last (up to the next restart).
    A segment without anchors keeps the correction of the one before it (the restart carried
    the heading across), or, at the start, of the first anchor. ``pts`` may also be given as
    the arrays ``(times, corrections)``."""
    if isinstance(pts, tuple):
        tp, cp = pts
    else:
        tp = np.array([p[0] for p in pts])
        cp = np.array([p[1] for p in pts])
    if not len(restarts_s):
        return np.interp(t, tp, cp)
    seg_t = np.searchsorted(restarts_s, t, side="right")
    seg_p = np.searchsorted(restarts_s, tp, side="right")
    out = np.empty(len(t))
    held = cp[0]
    for k in range(len(restarts_s) + 1):
        m = seg_t == k
        sel = seg_p == k
        if sel.any():
            out[m] = np.interp(t[m], tp[sel], cp[sel])
            held = cp[sel][-1]
        else:
            out[m] = held
    return out


def _confidence(t: np.ndarray, anchor_t: list[float], s: HeadingHoldSettings,
                restarts_s: np.ndarray = np.zeros(0)) -> np.ndarray:
    """Confidence (N,) from the time to the nearest anchor (between two anchors the linear
    interpolation's error grows towards the middle). A later anchor counts only within the
    same restart segment, and from a restart to the next anchor the confidence is at most
    ``restart_confidence``."""
    if not len(anchor_t):
        return np.zeros(len(t))
    a = np.asarray(anchor_t)
    if len(t) > _BLOCK_ROWS:  # row by row the same numbers: in cache-sized blocks
        out = np.empty(len(t))
        for i0 in range(0, len(t), _BLOCK_ROWS):
            out[i0:i0 + _BLOCK_ROWS] = _confidence(t[i0:i0 + _BLOCK_ROWS], anchor_t, s,
                                                   restarts_s)
        return out
    j = np.searchsorted(a, t)
    a_prev = a[np.clip(j - 1, 0, len(a) - 1)]
    a_next = a[np.clip(j, 0, len(a) - 1)]
    prev = np.where(j > 0, t - a_prev, np.inf)
    nxt = np.where(j < len(a), a_next - t, np.inf)
    capped = np.zeros(len(t), bool)
    if len(restarts_s):
        seg_t = np.searchsorted(restarts_s, t, side="right")
        nxt = np.where(np.searchsorted(restarts_s, a_next, side="right") == seg_t, nxt, np.inf)
        seg_prev = np.where(j > 0, np.searchsorted(restarts_s, a_prev, side="right"), 0)
        capped = seg_t > seg_prev
    d = np.minimum(prev, nxt)
    c = np.exp(-s.drift_deg_per_s * d / s.confidence_scale_deg)
    return np.where(capped, np.minimum(c, s.restart_confidence), c)


class HeadingHoldStream:
    """Streaming heading hold: the same rules as :func:`hold_heading`, causal.

    Before the first anchor the first sample of each segment is taken as facing forward (the
    user starts a live session standing), with confidence 0. At each quiet-standing stretch
    longer than ``min_anchor_s`` the offsets are re-zeroed (the last correction is then held).

    Parameters
    ----------
    roles : list of str
        Roles (``reference`` among them).
    rate_hz : float
        Sample rate of the updates, Hz (for the stillness smoothing).
    """

    def __init__(self, roles, rate_hz: float, settings: HeadingHoldSettings = HeadingHoldSettings(),
                 reference: str = "sacrum"):
        self.roles = list(roles)
        self.reference = reference
        self.s = settings
        self.rate_hz = float(rate_hz)
        self.offset_deg = {r: None for r in self.roles}   # applied (slewing) offsets
        self._target = {r: None for r in self.roles}      # the latest anchor's corrections
        self._early: dict = {}   # offsets of the rows before the first full row (begin)
        self._t_prev = None
        self._still = {r: StillStream(self.rate_hz, 0.25, settings.still_gyr_rad_s)
                       for r in self.roles}
        self._run_start_t = None
        self._last_anchor_t = None
        self._acc = {r: [0.0, 0.0] for r in self.roles}  # running sin/cos sums of heading
        self._ref_acc = [0.0, 0.0]
        self._restart_at = {r: None for r in self.roles}
        self._restarted = {r: False for r in self.roles}
        self._rel_prev = None    # other roles' headings relative to the pelvis, latest standing
        self._rel_before = None  # the same at the standing before the current one
        self._rel_run = None

    def note_restart(self, role: str, t_s: float) -> None:
        """The fusion of ``role`` restarted after a long gap at ``t_s``: from the first update at
        or after it, its heading is uncertain (confidence at most ``restart_confidence``) and
        its next anchor is gated by ``restart_gate_deg`` only, as in :func:`hold_heading`."""
        if role in self._restart_at:
            self._restart_at[role] = float(t_s)

    def begin(self, R_WB: dict[str, np.ndarray]) -> dict:
        """The offsets of a row in which some segment has no orientation (a gap: it is not fed
        to :meth:`update`). Once the hold runs (from the first row with every segment), its
        offsets. Before that (a sensor that starts late), each segment's first heading is
        taken as facing forward (the pelvis) or the pelvis's way (the others), as
        :meth:`update` takes the first row's (and :func:`hold_from_headings` a segment's first
        heading, gap rows included); the hold itself still starts at the first full row.

        Parameters
        ----------
        R_WB : dict
            Role → (3, 3) with zero offset; NaN where the segment has no orientation.

        Returns
        -------
        dict
            Role → the offset (degrees) to apply to the row; 0 where still unknown.
        """
        if self._t_prev is None:
            h = {r: float(heading_deg(R_WB[r])[0]) for r in self.roles}
            self._early.update(self._first(h, {r: self._early.get(r) for r in self.roles}))
            known = self._early
        else:
            known = self.offset_deg
        return {r: (0.0 if known.get(r) is None else known[r]) for r in self.roles}

    def _first(self, h: dict, offsets: dict) -> dict:
        """Offsets (role → degrees) for the segments without one yet (None in ``offsets``)
        that have a heading in ``h`` (degrees): the pelvis facing forward, the others the
        pelvis's way (in a row where the pelvis has a heading too)."""
        ref = self.reference
        new = {}
        if offsets[ref] is None and np.isfinite(h[ref]):
            new[ref] = -h[ref]
        o_ref = offsets[ref] if offsets[ref] is not None else new.get(ref)
        for r in self.roles:
            if r != ref and offsets[r] is None and np.isfinite(h[r]) and np.isfinite(h[ref]) \
                    and o_ref is not None:
                new[r] = float(wrap_deg(h[ref] + o_ref - h[r]))
        return new

    def update(self, t_s: float, R_WB: dict[str, np.ndarray], gyr_norm: dict[str, float]):
        """Feed one sample: ``R_WB`` role → (3, 3) with zero offset, angular-rate norms (rad/s)
        (:meth:`update_many` of one row).

        Returns
        -------
        (offsets, confidence) : dict role → float degrees, dict role → float 0..1
        """
        o, c = self.update_many(np.array([float(t_s)]),
                                {r: np.asarray(R_WB[r], dtype=float)[None] for r in self.roles},
                                {r: np.array([gyr_norm.get(r, np.nan)], dtype=float)
                                 for r in self.roles})
        return {r: float(v[0]) for r, v in o.items()}, {r: float(v[0]) for r, v in c.items()}

    def update_many(self, t_s: np.ndarray, R_WB: dict[str, np.ndarray],
                    gyr_norm: dict[str, np.ndarray]) -> tuple[dict, dict]:
        """Feed a block of rows (the live path's batch of angle rows), each in turn: the same
        numbers as one row at a time (:meth:`update`). The per-row arithmetic (headings,
        uprightness, their sines and cosines, the confidences' exponential) is done over the
        block at once; only the hold's state (stillness, standing runs, anchors, slewing) goes
        row by row.

        Parameters
        ----------
        t_s : ndarray, shape (n,)
            Row times, seconds.
        R_WB : dict
            Role → (n, 3, 3) with zero offset.
        gyr_norm : dict
            Role → (n,) angular-rate norms, rad/s.

        Returns
        -------
        (offsets, confidence) : dict role → (n,) degrees, dict role → (n,) 0..1
        """
        s, ref, roles = self.s, self.reference, self.roles
        t_rows = np.asarray(t_s, dtype=float).tolist()
        n = len(t_rows)
        # every role's rows at once (one array per quantity, a role's rows one after another)
        R = np.concatenate([np.asarray(R_WB[r], dtype=float).reshape(n, 3, 3) for r in roles])
        h, upright = heading_and_upright(R, s.upright_deg)  # NaN: not upright (update's inf)
        a = np.radians(h)
        rows = [h.tolist(), upright.tolist(), np.sin(a).tolist(), np.cos(a).tolist()]
        head, up, sin, cos = ({r: v[i * n:(i + 1) * n] for i, r in enumerate(roles)}
                              for v in rows)
        gn = {r: [math.nan] * n if gyr_norm.get(r) is None else
              np.asarray(gyr_norm[r], dtype=float).tolist() for r in roles}
        offsets = {r: np.empty(n) for r in roles}
        dt = np.empty(n)                      # time since the last anchor, for the confidence
        capped = {r: np.zeros(n, bool) for r in roles}   # restarted: at most restart_confidence
        still = [self._still[r] for r in roles]
        for k, t in enumerate(t_rows):
            for r, tr in self._restart_at.items():
                if tr is not None and t >= tr:
                    self._restarted[r], self._restart_at[r] = True, None
            if any(self.offset_deg[r] is None for r in roles):
                for r, v in self._first({r: head[r][k] for r in roles}, self.offset_deg).items():
                    self.offset_deg[r] = self._target[r] = v
            step = 0.0 if self._t_prev is None else s.slew_deg_per_s * max(0.0, t - self._t_prev)
            self._t_prev = t
            for r in roles:
                o, tg = self.offset_deg[r], self._target[r]
                if o is not None and tg is not None and o != tg:
                    d = float(wrap_deg(tg - o))
                    self.offset_deg[r] = tg if abs(d) <= step else o + np.copysign(step, d)
            standing = True
            for r, st in zip(roles, still):
                st.update(gn[r][k])
                if not (st.still and up[r][k]):
                    standing = False
            if not standing:
                self._run_start_t = None
            else:
                if self._run_start_t is None:
                    self._run_start_t = t
                    self._acc = {r: [0.0, 0.0] for r in roles}
                for r in roles:
                    self._acc[r][0] += sin[r][k]
                    self._acc[r][1] += cos[r][k]
                if t - self._run_start_t >= s.min_anchor_s:
                    self._anchor(t)
            dt[k] = np.inf if self._last_anchor_t is None else max(0.0, t - self._last_anchor_t)
            for r in roles:
                v = self.offset_deg[r]
                offsets[r][k] = 0.0 if v is None else v
                capped[r][k] = self._restarted[r] or self._restarted[ref]
        c_ref = np.exp(-s.drift_deg_per_s * dt / s.confidence_scale_deg)
        conf = {r: np.where(capped[r], np.minimum(c_ref, s.restart_confidence), c_ref)
                for r in roles}
        return offsets, conf

    def _anchor(self, t_s: float) -> None:
        s, ref = self.s, self.reference
        mean = {r: float(np.degrees(np.arctan2(*self._acc[r]))) for r in self.roles}
        c_ref = self._target[ref]
        since = 0.0 if self._last_anchor_t is None else max(0.0, t_s - self._last_anchor_t)
        def gate(role, base_deg, growth_deg_per_s):
            return s.restart_gate_deg if self._restarted[role] else base_deg + growth_deg_per_s * since

        rel = {r: float(wrap_deg(mean[r] - mean[ref])) for r in self.roles if r != ref}
        if self._run_start_t != self._rel_run:  # a new standing stretch
            self._rel_run, self._rel_before = self._run_start_t, self._rel_prev
        self._rel_prev = rel
        turn = float(wrap_deg(mean[ref] + c_ref))
        if self._last_anchor_t is None or (
                abs(turn) <= gate(ref, s.pelvis_gate_deg, s.pelvis_gate_growth_deg_per_s)
                and not _shared_turn(turn, rel, self._rel_before, s)):
            c_ref = c_ref + float(wrap_deg(-mean[ref] - c_ref))
            self._restarted[ref] = False
        self._target[ref] = c_ref
        for r in self.roles:
            if r == ref:
                continue
            c = float(wrap_deg(mean[ref] + c_ref - mean[r]))
            if self._last_anchor_t is None or self._target[r] is None or \
                    abs(wrap_deg(c - self._target[r])) <= \
                    gate(r, s.femur_gate_deg, s.femur_gate_growth_deg_per_s):
                if self._target[r] is not None:
                    c = self._target[r] + float(wrap_deg(c - self._target[r]))
                self._target[r] = c
                self._restarted[r] = False
        self._last_anchor_t = t_s
