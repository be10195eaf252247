"""Streaming use of the clock model (:class:`imu.timing.ClockModel`) for the live pipeline.

The batch path fits one model to a whole recording. Live, the model is refitted every
``refit_s`` seconds to the last ``window_s`` seconds of (sensor time, host time) pairs, and each
block's sensor timestamps are mapped with the newest fit. Until the first fit the block's own
lower envelope is used.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from imu.timing import ClockModel


class StreamingClock:
    """Sensor time → session time, one sensor, causal.

    Parameters
    ----------
    window_s : float
        History the model is fitted to, seconds.
    refit_s : float
        Refit interval, seconds of sensor time.
    """

    def __init__(self, window_s: float = 20.0, refit_s: float = 5.0):
        self.window_s = float(window_s)
        self.refit_s = float(refit_s)
        self._hist: deque[tuple[np.ndarray, np.ndarray]] = deque()
        self._model: ClockModel | None = None
        self._next_fit_s = -np.inf
        self._last_s = -np.inf

    @property
    def model(self) -> ClockModel | None:
        return self._model

    def update(self, t_sensor_s: np.ndarray, t_host_s: np.ndarray) -> np.ndarray:
        """Feed a block's timestamps; returns its samples' session times, seconds, shape (n,)."""
        s = np.asarray(t_sensor_s, dtype=float).reshape(-1)
        h = np.asarray(t_host_s, dtype=float).reshape(-1)
        if len(s) == 0:
            return np.zeros(0)
        if not np.all(np.isfinite(s)):
            return h.copy()            # sensor without timestamps: host times are all we have
        if s[0] < self._last_s - 1.0:  # sensor clock restarted or wrapped: start over
            self._hist.clear()
            self._model = None
            self._next_fit_s = -np.inf
        self._last_s = float(s[-1])
        self._hist.append((s, h))
        while self._hist and self._hist[0][0][-1] < s[-1] - self.window_s:
            self._hist.popleft()
        if s[-1] >= self._next_fit_s:
            hs = np.concatenate([a for a, _ in self._hist])
            hh = np.concatenate([b for _, b in self._hist])
            span = float(hs[-1] - hs[0])
            self._model = ClockModel.fit(hs, hh, fit_drift=span > 10.0)
            self._next_fit_s = float(s[-1]) + self.refit_s
        return self._model.to_session(s)
