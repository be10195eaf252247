"""Streaming use of the clock model (:class:`imu.timing.ClockModel`) for the live pipeline.

The batch path fits one model to a whole recording. Live, the model is refitted every
``refit_s`` seconds to the last ``window_s`` seconds of (sensor time, host time) pairs, and each
block's sensor timestamps are mapped with the newest fit. Until the first fit the block's own
lower envelope is used.

A sensor that connects late, or whose first notifications are held up (a busy host, a link
still settling), delivers its first samples in a burst: they arrive later than they were taken,
so a model fitted to them puts the sensor's samples too late (by up to the hold-up, e.g. 0.5 s)
until a later fit sees samples that arrived on time, and then jumps back. So a block that
arrived earlier than the model says a sample can (a lower envelope, by more than ``tol_s``)
refits the model at once, and the clock is :attr:`~StreamingClock.settled` only once blocks
have kept arriving for ``settle_s`` (host time) without such a correction: the live angle stage
holds a sensor's samples back until then (:class:`imu.live.angles.LiveAngleStage`), and maps
them with the settled model.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from imu.timing import ClockModel


def increasing(t_sensor_s: np.ndarray, t_s: np.ndarray, prev: tuple[float, float] | None
               ) -> np.ndarray:
    """Session times ``t_s`` (s) of one sensor's samples made to advance by at least half
    their sensor-time step from sample to sample, continuing from ``prev`` (the last sample
    fused before: its sensor and session time). A refit that moved the clock model back eases
    in over a few samples instead of stepping back (a fusion filter restarts on a step back).
    Non-finite sensor times: ``t_s`` unchanged."""
    s = np.asarray(t_sensor_s, dtype=float).reshape(-1)
    t = np.asarray(t_s, dtype=float).reshape(-1)
    if not len(t) or not np.all(np.isfinite(s)):
        return t
    u = t - 0.5 * s
    if prev is not None and np.isfinite(prev[0]) and s[0] > prev[0]:
        u = np.maximum.accumulate(np.concatenate([[prev[1] - 0.5 * prev[0]], u]))[1:]
    else:
        u = np.maximum.accumulate(u)
    return u + 0.5 * s


class StreamingClock:
    """Sensor time → session time, one sensor, causal.

    Parameters
    ----------
    window_s : float
        History the model is fitted to, seconds.
    refit_s : float
        Refit interval, seconds of sensor time; while the history is short, a quarter of its
        span (at least a tenth of ``refit_s``): the first fits, on a second or two of arrivals
        that may include a burst of held-up samples, can be several ms off, and are soon
        replaced.
    settle_s : float
        Host time the arrivals must agree with the model for before it is trusted
        (:attr:`settled`), seconds.
    tol_s : float
        An arrival earlier than the model allows by more than this refits it at once (and,
        before the model is settled, starts the settling over), seconds.
    max_drift : float
        Largest believable relative clock drift (sensor crystals: under 1e-4); a fit
        steeper than this is refitted as an offset only.
    """

    def __init__(self, window_s: float = 20.0, refit_s: float = 5.0, settle_s: float = 0.3,
                 tol_s: float = 0.02, max_drift: float = 1e-3):
        self.window_s = float(window_s)
        self.refit_s = float(refit_s)
        self.settle_s = float(settle_s)
        self.tol_s = float(tol_s)
        self.max_drift = float(max_drift)
        self._hist: deque[tuple[np.ndarray, np.ndarray]] = deque()
        self._model: ClockModel | None = None
        self._next_fit_s = -np.inf
        self._last_s = -np.inf
        self._settle_from_s: float | None = None   # host time the settling began at
        self._settled = False
        #: a scheduled refit of a settled model is made by :meth:`catch_up` (the live path:
        #: after the rows are out) rather than in :meth:`update` (the block that came due
        #: still gets the model it was due against); an early arrival still refits at once
        self.defer_refits = False
        self._refit_due = False

    @property
    def model(self) -> ClockModel | None:
        return self._model

    @property
    def settled(self) -> bool:
        """Whether the arrivals have agreed with the model for ``settle_s`` of host time (a
        sensor without timestamps: at once)."""
        return self._settled

    def to_session(self, t_sensor_s: np.ndarray, t_host_s: np.ndarray) -> np.ndarray:
        """Session times (s) of a block already fed to :meth:`update`, with the newest model."""
        s = np.asarray(t_sensor_s, dtype=float).reshape(-1)
        if self._model is None or not np.all(np.isfinite(s)):
            return np.asarray(t_host_s, dtype=float).reshape(-1).copy()
        return self._model.to_session(s)

    def update(self, t_sensor_s: np.ndarray, t_host_s: np.ndarray) -> np.ndarray:
        """Feed a block's timestamps; returns its samples' session times, seconds, shape (n,)."""
        s = np.asarray(t_sensor_s, dtype=float).reshape(-1)
        h = np.asarray(t_host_s, dtype=float).reshape(-1)
        if len(s) == 0:
            return np.zeros(0)
        if not np.all(np.isfinite(s)):
            self._settled = True
            return h.copy()            # sensor without timestamps: host times are all we have
        old = self._model
        if s[0] < self._last_s - 1.0:  # sensor clock restarted or wrapped: start over
            self._hist.clear()
            self._model = old = None
            self._next_fit_s = -np.inf
            self._settle_from_s, self._settled = None, False
            self._refit_due = False
        self._last_s = float(s[-1])
        self._hist.append((s, h))
        while self._hist and self._hist[0][0][-1] < s[-1] - self.window_s:
            self._hist.popleft()
        # an arrival earlier than the model allows: the model came from late arrivals (a burst
        # after a hold-up); refit now rather than at the next refit time
        early = old is not None and float(np.min(h - old.to_session(s))) < -self.tol_s
        if s[-1] >= self._next_fit_s and not early and self.defer_refits and self._settled:
            self._refit_due = True
            self._next_fit_s = float(s[-1]) + self._refit_interval_s()
        elif s[-1] >= self._next_fit_s or early:
            self._refit(s, early)
        if not self._settled:
            if self._settle_from_s is None or early:
                self._settle_from_s = float(h[0])
            self._settled = float(h[-1]) - self._settle_from_s >= self.settle_s
        return self._model.to_session(s)

    def _refit_interval_s(self) -> float:
        span = float(self._hist[-1][0][-1] - self._hist[0][0][0]) if self._hist else 0.0
        return min(self.refit_s, max(0.1 * self.refit_s, 0.25 * span))

    def catch_up(self) -> bool:
        """Make the refit :attr:`defer_refits` put off (fitted to the same history, unless
        newer blocks came meanwhile); whether there was one."""
        if not self._refit_due or not self._hist:
            return False
        self._refit_due = False
        self._refit(self._hist[-1][0], False, schedule=False)
        return True

    def _refit(self, s: np.ndarray, early: bool, schedule: bool = True) -> None:
        """Fit the model to the history (``s``: the newest block's sensor times, s)."""
        old = self._model
        hs = np.concatenate([a for a, _ in self._hist])
        hh = np.concatenate([b for _, b in self._hist])
        span = float(hs[-1] - hs[0])
        model = ClockModel.fit(hs, hh, fit_drift=span > 10.0, latency=False)
        if abs(model.drift) > self.max_drift:
            # no crystal drifts so: a burst of late arrivals in the window tilted the
            # envelope (its samples came faster than they were taken); the offset alone
            model = ClockModel.fit(hs, hh, fit_drift=False, latency=False)
        if old is not None and not early and \
                model.to_session(s[-1:])[0] > old.to_session(s[-1:])[0] + self.tol_s:
            # only late arrivals in the window (a long gap, then a burst): the samples
            # before the gap arrived earlier, the old line holds
            model = old
        self._model = model
        if not early and schedule:
            self._next_fit_s = float(s[-1]) + self._refit_interval_s()
