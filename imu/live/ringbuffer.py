"""Fixed-capacity ring buffer of a time series with named columns.

The live pipeline (one writer thread) appends rows; the dashboard (another thread) copies a
window out. Appends and reads hold one lock for the time of a ``numpy`` copy, so a reader never
sees a half-written row.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """Time series of ``len(columns)`` float columns, keeping the newest ``capacity`` rows.

    Parameters
    ----------
    columns : list of str
        Column names (e.g. docs/formats.md angle names).
    capacity : int
        Rows kept; older rows are overwritten.
    """

    def __init__(self, columns: list[str], capacity: int):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.columns = list(columns)
        self.capacity = int(capacity)
        self._t = np.full(self.capacity, np.nan)
        self._v = np.full((self.capacity, len(self.columns)), np.nan)
        self._n = 0          # rows ever appended
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return min(self._n, self.capacity)

    def clear(self) -> None:
        with self._lock:
            self._n = 0

    def append(self, t_s: np.ndarray, values: np.ndarray) -> None:
        """Append rows.

        Parameters
        ----------
        t_s : array, shape (N,)
            Times, seconds, non-decreasing.
        values : array, shape (N, C)
            One value per column (NaN for a gap).
        """
        t_s = np.atleast_1d(np.asarray(t_s, dtype=float))
        values = np.asarray(values, dtype=float).reshape(len(t_s), len(self.columns))
        n = len(t_s)
        if n == 0:
            return
        if n > self.capacity:
            t_s, values, n = t_s[-self.capacity:], values[-self.capacity:], self.capacity
        with self._lock:
            start = self._n % self.capacity
            first = min(n, self.capacity - start)
            self._t[start:start + first] = t_s[:first]
            self._v[start:start + first] = values[:first]
            if first < n:
                self._t[:n - first] = t_s[first:]
                self._v[:n - first] = values[first:]
            self._n += n

    def _ordered(self) -> tuple[np.ndarray, np.ndarray]:
        m = min(self._n, self.capacity)
        if self._n <= self.capacity:
            return self._t[:m].copy(), self._v[:m].copy()
        k = self._n % self.capacity
        return (np.concatenate([self._t[k:], self._t[:k]]),
                np.concatenate([self._v[k:], self._v[:k]]))

    def window(self, span_s: float | None = None, end_s: float | None = None
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Copy of the rows with ``end - span_s < t <= end``.

        Parameters
        ----------
        span_s : float, optional
            Window length, seconds; all rows when ``None``.
        end_s : float, optional
            Window end, seconds; the newest row's time when ``None``.

        Returns
        -------
        time_s : ndarray, shape (M,)
        columns : dict of str → ndarray, shape (M,)
        """
        with self._lock:
            t, v = self._ordered()
        if len(t) and (span_s is not None or end_s is not None):
            end = t[-1] if end_s is None else end_s
            lo = -np.inf if span_s is None else end - span_s
            keep = (t > lo) & (t <= end)
            t, v = t[keep], v[keep]
        return t, {c: v[:, i] for i, c in enumerate(self.columns)}

    @property
    def appended(self) -> int:
        """Rows appended since the buffer was made (or cleared)."""
        return self._n

    def since(self, n_seen: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the rows appended after the first ``n_seen`` (at most ``capacity``):
        times, shape (N,), and values, shape (N, C), oldest first."""
        with self._lock:
            k = min(self._n - int(n_seen), self.capacity)
            if k <= 0:
                return np.zeros(0), np.zeros((0, len(self.columns)))
            idx = np.arange(self._n - k, self._n) % self.capacity
            return self._t[idx], self._v[idx]

    def latest(self) -> tuple[float, dict[str, float]] | None:
        """Newest row as ``(t_s, {column: value})``, or ``None`` when empty."""
        with self._lock:
            if self._n == 0:
                return None
            i = (self._n - 1) % self.capacity
            return float(self._t[i]), {c: float(self._v[i, j]) for j, c in enumerate(self.columns)}
