"""Shared rep / hold segmentation, sample by sample (docs: ``docs/metrics.md``).

Two streaming segmenters work on one scalar signal each:

- :class:`ExcursionSegmenter` finds reps: excursions of the signal more than ``threshold_deg``
  away from standing, bounded where it returns within ``band_deg`` of standing. "Standing" of a
  rep is the median of the signal over the ``baseline_window_s`` before the rep's start (or the
  set's first window when the rep starts earlier), and the start is the last sample before the
  peak within the band; the two definitions refer to each other, so the segmenter iterates them
  to a fixed point when an excursion is first seen.
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
    ``standing`` is the rep's standing value of the segmented signal (reps), else NaN.
    """

    start: int
    end: int
    peak: int
    standing: float
    start_s: float
    end_s: float


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
        Standing = median over this window before the start.
    two_sided : bool
        Count excursions in both directions (hip airplane) instead of upwards only (hinge).
    min_rep_s : float
        Shorter excursions are discarded as glitches.
    set_start_s : float
        Time the set starts (for the "set's first window" rule).
    lookback_s : float
        How far back an excursion's start is searched.
    min_neutral_s : float
        The rep's end (first return within band after its last sample beyond the threshold) is
        confirmed at a sample in band at least this long after it (0: at once).
    """

    def __init__(self, buffer: SampleBuffer, column: str, threshold_deg: float, band_deg: float,
                 baseline_window_s: float = 1.0, two_sided: bool = False, min_rep_s: float = 0.0,
                 set_start_s: float | None = None, lookback_s: float = 10.0,
                 min_neutral_s: float = 0.0):
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

    # -- state -------------------------------------------------------------------------------
    @property
    def keep_from(self) -> int:
        """Oldest absolute index this segmenter may still need."""
        t_now = self.buf.time_at(self.buf.n_total - 1) if len(self.buf) else 0.0
        if self.active:
            t_keep = self.buf.time_at(self._start) - self.window_s - 0.1
        else:
            t_keep = t_now - self.lookback_s - self.window_s - 0.1
        if self.set_start_s is not None and t_keep < self.set_start_s + self.window_s + 0.1:
            return self.buf.offset  # still need the set's first window
        return self.buf.index_at_or_after(t_keep)

    def _dev(self, v: np.ndarray | float, s: float):
        return np.abs(v - s) if self.two_sided else (v - s)

    def baseline_range(self, start: int) -> tuple[int, int]:
        """Absolute indices ``[a, b)`` of the standing window of a rep starting at ``start``:
        the ``baseline_window_s`` before it, or the set's first window if it starts earlier."""
        t0 = self.buf.time_at(start)
        t_first = self.set_start_s if self.set_start_s is not None else self.buf.time_at(self.buf.offset)
        if t0 - self.window_s < t_first - 1e-9:
            a = self.buf.index_at_or_after(t_first)
            b = self.buf.index_at_or_after(t_first + self.window_s + 1e-9)
        else:
            a = self.buf.index_at_or_after(t0 - self.window_s - 1e-9)
            b = start + 1
        return a, max(b, a + 1)

    def standing_of(self, column: str, start: int) -> float:
        """Median of ``column`` over the standing window of a rep starting at ``start``."""
        a, b = self.baseline_range(start)
        return _nanmedian(self.buf.col(column, a, b))

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
        if v is None:
            v = float(self.buf.value(self.column, i))
        if v != v:  # NaN
            return None
        if t is None:
            t = self.buf.time_at(i)
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
            if max(rise, fall) > self.threshold:
                self._try_start(i, v)
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

    def _close(self, end: int) -> Segment | None:
        self.active = False
        self._end_cand = -1
        start, s = self._start, self.standing
        h = self.buf.col(self.column, start, end + 1)
        dev = self._dev(h, s)
        peak = start + int(np.nanargmax(dev))
        seg = Segment(start, end, peak, s, self.buf.time_at(start), self.buf.time_at(end))
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
