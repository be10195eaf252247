"""Streaming fusion with timestamps: the batch path's gap handling, sample by sample."""

from __future__ import annotations

import numpy as np

from imu.fusion.batch import MAX_BRIDGE_S, restart_quat
from imu.fusion.registry import DEFAULT_FILTER, make_filter


class TimedFilter:
    """A filter fed timestamped samples; bridges dropouts and restarts after gaps exactly as
    :func:`imu.fusion.fuse` does with ``t_s``, so live and replay agree sample for sample.

    Parameters
    ----------
    name : str
        Filter name (:data:`imu.fusion.FILTERS`).
    rate_hz : float
        Nominal sample rate, Hz.
    max_bridge_s : float
        Dropouts up to this long are bridged (missing periods fed the linear interpolation of
        the samples either side); longer gaps, steps backwards and non-finite times restart
        the filter (accelerometer inclination, previous heading, bias kept).
    heading_axes_S : ndarray, shape (k, 3), optional
        Sensor-frame axes whose heading a restart carries across the gap
        (:func:`imu.fusion.batch.restart_quat`).
    **settings
        Filter settings.
    """

    def __init__(self, name: str = DEFAULT_FILTER, rate_hz: float = 104.0,
                 max_bridge_s: float = MAX_BRIDGE_S, heading_axes_S=None, **settings):
        self.filter = make_filter(name, rate_hz, **settings)
        self.rate_hz = float(rate_hz)
        self.max_step_s = max(float(max_bridge_s), 1.5 / self.rate_hz)
        self._t = None
        self._acc = None
        self._gyr = None
        self._q = None
        self.heading_axes_S = None if heading_axes_S is None else \
            np.asarray(heading_axes_S, dtype=float).reshape(-1, 3)
        self.n_restarts = 0
        #: time (s) of the first sample after the latest restart (None: no restart yet)
        self.last_restart_t_s = None
        self.n_bridged = 0

    @property
    def quat(self) -> np.ndarray | None:
        """Last estimate ``q_ES`` (4,), None before the first sample."""
        return None if self._q is None else self._q.copy()

    @property
    def gyr_bias_rad_s(self):
        return self.filter.gyr_bias_rad_s

    def update(self, t_s: float, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
        """Feed one sample (time s, acc (3,) m/s², gyr (3,) rad/s); returns ``q_ES`` (4,)."""
        t_s = float(t_s)
        acc = np.asarray(acc, dtype=float).reshape(3)
        gyr = np.asarray(gyr, dtype=float).reshape(3)
        if not (np.isfinite(t_s) and np.all(np.isfinite(acc)) and np.all(np.isfinite(gyr))):
            return np.full(4, np.nan)  # a damaged sample counts as dropped (as in the batch path)
        dt = None if self._t is None else t_s - self._t
        if dt is None or not (0.0 < dt <= self.max_step_s):
            if dt is not None:
                self.n_restarts += 1
                self.last_restart_t_s = t_s
            self.filter.reset(restart_quat(acc[None], self._q, self.heading_axes_S))
        else:
            k = max(int(np.rint(dt * self.rate_hz)), 1)
            if k > 1:
                self.n_bridged += k - 1
                for j in range(1, k):
                    u = j / k
                    self.filter.update(self._acc + (acc - self._acc) * u,
                                       self._gyr + (gyr - self._gyr) * u)
        self._q = np.asarray(self.filter.update(acc, gyr), dtype=float)
        self._t, self._acc, self._gyr = t_s, acc, gyr
        return self._q.copy()

    def update_block(self, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
        """Feed n samples; returns (n, 4).

        Stretches of consecutive samples (one nominal period apart, finite) go through the
        filter's own ``update_block`` (compiled for VQF); dropouts, gaps and damaged samples
        take the per-sample path. The numbers are the same either way.
        """
        t_s = np.asarray(t_s, dtype=float).reshape(-1)
        acc = np.asarray(acc, dtype=float).reshape(-1, 3)
        gyr = np.asarray(gyr, dtype=float).reshape(-1, 3)
        n = len(t_s)
        out = np.empty((n, 4))
        if n == 0:
            return out
        prev_t = np.concatenate([[np.nan if self._t is None else self._t], t_s[:-1]])
        with np.errstate(invalid="ignore"):
            dt = t_s - prev_t
            plain = (dt > 0) & (dt * self.rate_hz < 1.5) & np.isfinite(t_s) & \
                np.all(np.isfinite(acc), axis=1) & np.all(np.isfinite(gyr), axis=1)
        # a damaged sample is skipped, so the one after it is not plain either
        plain[1:] &= np.all(np.isfinite(acc[:-1]), axis=1) & np.all(np.isfinite(gyr[:-1]), axis=1) \
            & np.isfinite(t_s[:-1])
        i = 0
        while i < n:
            if not plain[i]:
                out[i] = self.update(t_s[i], acc[i], gyr[i])
                i += 1
                continue
            j = i
            while j < n and plain[j]:
                j += 1
            out[i:j] = self.filter.update_block(acc[i:j], gyr[i:j])
            self._q = np.asarray(out[j - 1], dtype=float).copy()
            self._t, self._acc, self._gyr = float(t_s[j - 1]), acc[j - 1].copy(), gyr[j - 1].copy()
            i = j
        return out
