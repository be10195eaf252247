"""Shared rep / hold segmentation, sample by sample (docs: ``docs/metrics.md``).

Two streaming segmenters work on one scalar signal each:

- :class:`ExcursionSegmenter` finds reps: excursions of the signal more than ``threshold_deg``
  away from standing, bounded where it returns within ``band_deg`` of standing. "Standing" of a
  rep is the median of the signal over the latest *quiet* window (``baseline_window_s`` long,
  range at most ``quiet_range_deg``, its median within the band of the rep's start value) that
  ends at or before the rep's start, searched up to ``baseline_lookback_s`` back, before the
  set's start too when the detector was given the seconds before it; the rep's own movement is
  never quiet, so it never feeds its own baseline. With no quiet window the rep's standing is the
  calibration's neutral (0°) and the segment says so (``standing_source = "calibration"``). The
  start is the last sample before the peak within the band; the two definitions refer to each
  other, so the segmenter iterates them to a fixed point when an excursion is first seen.
- :class:`ThresholdSegmenter` finds holds: stretches where the signal is above a fixed level.

Both keep their own :class:`SampleBuffer` of every column the exercise needs, so an exercise
detector can compute its per-rep metrics over ``[start_s - window, end_s]`` the moment a rep
completes. Samples with a NaN signal are stored but never move the state machines.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass

import numpy as np


class SampleBuffer:
    """Growing buffer of ``time_s`` and named columns, trimmed from the front.

    Samples are appended to plain Python lists (cheap per sample); slices come back as numpy
    arrays (made when a rep completes, so rarely). Indices are *absolute*: the n-th sample ever
    appended keeps index n after older samples are dropped.

    Parameters
    ----------
    columns : list of str
        Column names stored per sample.
    """

    def __init__(self, columns: list[str]):
        self.columns = list(columns)
        self._col = {c: i for i, c in enumerate(self.columns)}
        self._t: list[float] = []
        self._x: list[list[float]] = [[] for _ in self.columns]
        self.offset = 0       # absolute index of the first held sample (samples ever dropped)

    def __len__(self) -> int:
        return len(self._t)

    @property
    def n_total(self) -> int:
        """Absolute index of the next sample to be appended."""
        return self.offset + len(self._t)

    def append(self, t_s: float, values) -> int:
        """Store one sample (``values`` in column order); returns its absolute index."""
        self._t.append(t_s)
        for lst, v in zip(self._x, values):
            lst.append(v)
        return self.offset + len(self._t) - 1

    def drop_before(self, abs_index: int) -> None:
        """Forget samples with absolute index below ``abs_index``."""
        k = min(max(abs_index - self.offset, 0), len(self._t))
        if k:
            del self._t[:k]
            for lst in self._x:
                del lst[:k]
            self.offset += k

    def t(self, a: int | None = None, b: int | None = None) -> np.ndarray:
        """Times of absolute indices ``[a, b)`` (default: everything held)."""
        a, b = self._rel(a, b)
        return np.asarray(self._t[a:b], dtype=float)

    def col(self, name: str, a: int | None = None, b: int | None = None) -> np.ndarray:
        """Column ``name`` over absolute indices ``[a, b)``."""
        a, b = self._rel(a, b)
        return np.asarray(self._x[self._col[name]][a:b], dtype=float)

    def value(self, name: str, abs_index: int) -> float:
        """One value of column ``name``."""
        return self._x[self._col[name]][abs_index - self.offset]

    def time_at(self, abs_index: int) -> float:
        return self._t[abs_index - self.offset]

    def index_at_or_after(self, t_s: float) -> int:
        """Absolute index of the first held sample with time >= ``t_s``."""
        return self.offset + bisect_left(self._t, t_s)

    def _rel(self, a, b):
        n = len(self._t)
        a = 0 if a is None else min(max(a - self.offset, 0), n)
        b = n if b is None else min(max(b - self.offset, 0), n)
        return a, max(a, b)


@dataclass
class Segment:
    """One completed rep or hold, in absolute sample indices of the detector's buffer.

    ``start`` and ``end`` are inclusive; ``peak`` is the index of the extreme sample (reps);
    ``standing`` is the rep's standing value of the segmented signal (reps), else NaN;
    ``standing_source`` says where it came from: ``"quiet"`` (a quiet stretch before the rep) or
    ``"calibration"`` (none found: the calibration's neutral, 0°).
    """

    start: int
    end: int
    peak: int
    standing: float
    start_s: float
    end_s: float
    standing_source: str = "quiet"


def _nanmedian(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else float("nan")


class ExcursionSegmenter:
    """Streaming rep finder on one signal of a :class:`SampleBuffer` (docs/metrics.md "a rep").

    Parameters
    ----------
    buffer : SampleBuffer
        Holds the samples; the caller appends, then calls :meth:`step` with the new index.
    column : str
        The segmented signal (degrees).
    threshold_deg, band_deg : float
        A rep exceeds standing by more than ``threshold_deg`` and is bounded by the last / first
        samples within ``band_deg`` of standing.
    baseline_window_s : float
        Standing = median over a quiet window of this length before the start.
    quiet_range_deg : float
        A window is quiet when the signal's range in it is at most this.
    baseline_lookback_s : float
        How far before a rep's start the quiet window is searched.
    two_sided : bool
        Count excursions in both directions (hip airplane) instead of upwards only (hinge).
    min_rep_s : float
        Shorter excursions are discarded as glitches.
    set_start_s : float
        Time the set starts: samples before it (given for the baseline search) never start or
        bound a rep.
    lookback_s : float
        How far back an excursion's start is searched.
    min_neutral_s : float
        The rep's end (first return within band after its last sample beyond the threshold) is
        confirmed at a sample in band at least this long after it (0: at once).
    """

    def __init__(self, buffer: SampleBuffer, column: str, threshold_deg: float, band_deg: float,
                 baseline_window_s: float = 1.0, two_sided: bool = False, min_rep_s: float = 0.0,
                 set_start_s: float | None = None, lookback_s: float = 10.0,
                 min_neutral_s: float = 0.0, quiet_range_deg: float = 2.5,
                 baseline_lookback_s: float = 8.0):
        self.buf = buffer
        self.column = column
        self.threshold = float(threshold_deg)
        self.band = float(band_deg)
        self.window_s = float(baseline_window_s)
        self.two_sided = bool(two_sided)
        self.min_rep_s = float(min_rep_s)
        self.set_start_s = set_start_s
        self.lookback_s = float(lookback_s)
        # sliding min / max of the signal over lookback_s (monotonic deques of (t, value))
        self._min: deque = deque()
        self._max: deque = deque()
        self.active = False
        self.standing = float("nan")
        self._start = -1
        self._end_cand = -1
        self._prev_end = -1       # end index of the last rep: the next one cannot start earlier
        self._last_valid = -1
        self.min_neutral_s = float(min_neutral_s)
        self.quiet_range = float(quiet_range_deg)
        self.baseline_lookback_s = float(baseline_lookback_s)
        self.standing_source = "quiet"
        self._base_cache: dict[int, tuple[int, int] | None] = {}
        self._next_try_t = -np.inf

    # -- state -------------------------------------------------------------------------------
    @property
    def keep_from(self) -> int:
        """Oldest absolute index this segmenter may still need."""
        t_now = self.buf.time_at(self.buf.n_total - 1) if len(self.buf) else 0.0
        if self.active:
            t_keep = self.buf.time_at(self._start) - self.baseline_lookback_s - 0.1
        else:
            t_keep = t_now - self.lookback_s - self.baseline_lookback_s - 0.1
        return self.buf.index_at_or_after(t_keep)

    def _dev(self, v: np.ndarray | float, s: float):
        return np.abs(v - s) if self.two_sided else (v - s)

    def baseline_range(self, start: int) -> tuple[int, int] | None:
        """Absolute indices ``[a, b)`` of the standing window of a rep starting at ``start``: the
        latest quiet window (range of the signal at most ``quiet_range_deg``, median within
        ``band_deg`` of the signal at ``start``) ending at or before ``start`` and no more than
        ``baseline_lookback_s`` before it; ``None`` when there is none."""
        if start in self._base_cache:
            return self._base_cache[start]
        out = self._quiet_window(start)
        if len(self._base_cache) > 64:
            self._base_cache.clear()
        self._base_cache[start] = out
        return out

    def _quiet_window(self, start: int, near_start: bool = True) -> tuple[int, int] | None:
        """The latest quiet window ending at or before ``start`` (with ``near_start``: whose
        median is within the band of the signal at ``start``)."""
        t0 = self.buf.time_at(start)
        a0 = max(self.buf.index_at_or_after(t0 - self.baseline_lookback_s - 1e-9), self.buf.offset)
        x = self.buf.col(self.column, a0, start + 1)
        tt = self.buf.t(a0, start + 1)
        if len(x) < 2:
            return None
        dt = np.median(np.diff(tt))
        if not np.isfinite(dt) or dt <= 0:
            return None
        half = max(1, int(round(self.window_s / dt / 2.0)))
        n_w = 2 * half + 1
        if len(x) < n_w or (near_start and not np.isfinite(x[-1])):
            return None
        from scipy.ndimage import maximum_filter1d, minimum_filter1d

        ok = np.isfinite(x)
        m = len(x) - n_w + 1  # windows [k, k + n_w), k < m; the filters are centred on k + half
        hi = maximum_filter1d(np.where(ok, x, -np.inf), n_w, mode="nearest")[half:half + m]
        lo = minimum_filter1d(np.where(ok, x, np.inf), n_w, mode="nearest")[half:half + m]
        c = np.concatenate([[0], np.cumsum(ok)])
        n_ok = c[n_w:] - c[:m]
        cand = np.flatnonzero((n_ok >= max(2, n_w // 2)) & (hi - lo <= self.quiet_range))
        ref = x[-1]
        for k in cand[::-1]:
            med = _nanmedian(x[k:k + n_w])
            if not near_start or abs(med - ref) <= self.band:
                return a0 + int(k), a0 + int(k) + n_w
        return None

    def standing_of(self, column: str, start: int) -> float:
        """Standing value of ``column`` for a rep starting at ``start``: its median over the
        rep's quiet window, or 0 (the calibration's neutral) when there is none."""
        r = self.baseline_range(start)
        if r is None:
            return 0.0
        return _nanmedian(self.buf.col(column, r[0], r[1]))

    def _standing_before(self, start: int) -> float:
        return self.standing_of(self.column, start)

    def _last_in_band_before(self, i: int, s: float) -> int | None:
        t_i = self.buf.time_at(i)
        a = max(self.buf.index_at_or_after(t_i - self.lookback_s), self._prev_end)
        h = self.buf.col(self.column, a, i + 1)
        ok = np.flatnonzero(np.isfinite(h) & (np.abs(h - s) <= self.band))
        return a + int(ok[-1]) if len(ok) else None

    # -- streaming -----------------------------------------------------------------------------
    def step(self, i: int, v: float | None = None, t: float | None = None) -> Segment | None:
        """Process the sample at absolute index ``i`` (just appended; its signal value ``v`` and
        time ``t`` may be passed to save a lookup). Returns a completed rep."""
        if t is None:
            t = self.buf.time_at(i)
        if self.set_start_s is not None and t < self.set_start_s - 1e-9:
            return None  # before the set: only the baseline search looks at it
        if self._prev_end < 0:
            self._prev_end = i  # no rep starts before the set's first sample
        if v is None:
            v = float(self.buf.value(self.column, i))
        if v != v:  # NaN
            return None
        self._last_valid = i
        while self._min and self._min[-1][1] >= v:
            self._min.pop()
        self._min.append((t, v))
        while self._max and self._max[-1][1] <= v:
            self._max.pop()
        self._max.append((t, v))
        while self._min[0][0] < t - self.lookback_s:
            self._min.popleft()
        while self._max[0][0] < t - self.lookback_s:
            self._max.popleft()

        if not self.active:
            rise = v - self._min[0][1]
            fall = self._max[0][1] - v if self.two_sided else -np.inf
            if max(rise, fall) > self.threshold and t >= self._next_try_t:
                self._try_start(i, v)
                if not self.active:  # not a rep from its standing: look again in a moment
                    self._next_try_t = t + 0.1
            return None

        # active rep: it ends at the first sample back within band of standing after its last
        # sample beyond the threshold; with min_neutral_s the end is confirmed only at a sample
        # in band at least that long after it (a fast pass through neutral between the open and
        # the close of a hip airplane does not end the rep, a close beyond the threshold resets)
        if abs(v - self.standing) <= self.band or (not self.two_sided and v < self.standing):
            if self._end_cand < 0:
                self._end_cand = i
            if t - self.buf.time_at(self._end_cand) >= self.min_neutral_s - 1e-9:
                return self._close(self._end_cand)
        elif self._dev(v, self.standing) > self.threshold:
            self._end_cand = -1
        return None

    def _try_start(self, i: int, v: float) -> None:
        # first guess of standing: the latest quiet stretch before now (else the lowest / highest
        # value of the lookback), so a held excursion the other way (a free leg held back in
        # extension) is not taken for standing
        w = self._quiet_window(i, near_start=False)
        if w is not None:
            s = _nanmedian(self.buf.col(self.column, w[0], w[1]))
        else:
            s = float(self._min[0][1]) if v - self._min[0][1] > self.threshold else float(self._max[0][1])
        start = None
        for _ in range(4):  # fixed point of (start, standing)
            st = self._last_in_band_before(i, s)
            if st is None:
                return
            s_new = self._standing_before(st)
            if not np.isfinite(s_new):
                return
            converged = st == start and abs(s_new - s) < 1e-9
            start, s = st, s_new
            if converged:
                break
        if self._dev(v, s) > self.threshold:
            self.active = True
            self.standing = s
            self._start = start
            self.standing_source = "quiet" if self.baseline_range(start) is not None else "calibration"

    def _close(self, end: int) -> Segment | None:
        self.active = False
        self._end_cand = -1
        start, s = self._start, self.standing
        h = self.buf.col(self.column, start, end + 1)
        dev = self._dev(h, s)
        peak = start + int(np.nanargmax(dev))
        seg = Segment(start, end, peak, s, self.buf.time_at(start), self.buf.time_at(end),
                      self.standing_source)
        # restart the excursion memory from the rep's end, at its standing level, so the rep's
        # own top (or its tail inside the band) is not taken for the next rep's baseline
        self._min.clear()
        self._max.clear()
        self._min.append((seg.end_s, s))
        self._max.append((seg.end_s, s))
        self._prev_end = end
        if seg.end_s - seg.start_s < self.min_rep_s:
            return None
        return seg

    def finish(self) -> Segment | None:
        """End of the set: an unfinished excursion is not a rep (it never returned), unless it
        was only waiting for ``min_neutral_s`` to confirm its return."""
        if self.active and self._end_cand >= 0:
            return self._close(self._end_cand)
        self.active = False
        return None


class ThresholdSegmenter:
    """Streaming hold finder: stretches where a signal is above ``level_deg``.

    A hold starts at the first sample above the level and ends at the last sample above it
    before it falls back below; a dip below lasting less than ``merge_gap_s`` does not end it. Holds shorter than
    ``min_hold_s`` are discarded. With ``column=None`` the whole set is one hold (completed by
    :meth:`finish`).
    """

    def __init__(self, buffer: SampleBuffer, column: str | None, level_deg: float,
                 min_hold_s: float = 0.5, merge_gap_s: float = 0.3):
        self.buf = buffer
        self.column = column
        self.level = float(level_deg)
        self.min_hold_s = float(min_hold_s)
        self.merge_gap_s = float(merge_gap_s)
        self.active = False
        self._start = -1
        self._below_since = -1   # index of the first sample below the level during a hold
        self._first = -1
        self._last = -1

    @property
    def keep_from(self) -> int:
        if self.column is None:
            return self.buf.offset
        if self.active:
            return self._start
        return max(self.buf.n_total - 2, self.buf.offset)

    def step(self, i: int, v: float | None = None, t: float | None = None) -> Segment | None:
        if self._first < 0:
            self._first = i
        self._last = i
        if self.column is None:
            return None
        if v is None:
            v = float(self.buf.value(self.column, i))
        if v != v:
            return None
        if t is None:
            t = self.buf.time_at(i)
        if not self.active:
            if v > self.level:
                self.active, self._start, self._below_since = True, i, -1
            return None
        if v > self.level:
            self._below_since = -1
            return None
        if self._below_since < 0:
            self._below_since = i
        if t - self.buf.time_at(self._below_since) >= self.merge_gap_s:
            return self._close(max(self._below_since - 1, self._start))
        return None

    def _close(self, end: int) -> Segment | None:
        self.active = False
        start = self._start
        if self.buf.time_at(end) - self.buf.time_at(start) < self.min_hold_s:
            return None
        return Segment(start, end, -1, float("nan"), self.buf.time_at(start), self.buf.time_at(end))

    def finish(self) -> Segment | None:
        """End of the set: the whole-set hold, or a hold still open (ends at the set's end)."""
        if self.column is None:
            if self._first < 0:
                return None
            return Segment(self._first, self._last, -1, float("nan"),
                           self.buf.time_at(self._first), self.buf.time_at(self._last))
        if self.active:
            end = self._below_since - 1 if self._below_since >= 0 else self._last
            return self._close(max(end, self._start))
        return None
