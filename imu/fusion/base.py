"""The one streaming interface every orientation filter offers.

A filter estimates ``q_ES`` (unit quaternion ``w, x, y, z``): it rotates sensor-frame vectors
into an earth frame whose z axis points up; the heading (rotation about z) is arbitrary, since
only accelerometer and gyroscope are fused (6D).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


class OrientationFilter(ABC):
    """Streaming 6D orientation filter at a fixed sample rate.

    Parameters
    ----------
    rate_hz : float
        Sample rate of the accelerometer and gyroscope, Hz.
    **settings
        Filter-specific settings (see each subclass).

    Notes
    -----
    ``update`` (one sample) and ``update_block`` (n samples) run the same arithmetic, so feeding
    the same data sample by sample or in blocks of any size gives the same quaternions.
    """

    #: registry name, set by subclasses
    name = ""

    def __init__(self, rate_hz: float, **settings):
        if not (rate_hz > 0 and np.isfinite(rate_hz)):
            raise ValueError(f"rate_hz must be positive, got {rate_hz!r}")
        self.rate_hz = float(rate_hz)
        self.dt_s = 1.0 / self.rate_hz
        self.settings = dict(settings)

    @abstractmethod
    def update(self, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
        """Feed one sample.

        Parameters
        ----------
        acc : ndarray, shape (3,)
            Specific force, sensor frame, m/s².
        gyr : ndarray, shape (3,)
            Angular rate, sensor frame, rad/s.

        Returns
        -------
        ndarray, shape (4,)
            ``q_ES`` after this sample, ``w, x, y, z``.
        """

    def update_block(self, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
        """Feed n samples; returns ``q_ES`` after each, shape (n, 4)."""
        acc = np.asarray(acc, dtype=float).reshape(-1, 3)
        gyr = np.asarray(gyr, dtype=float).reshape(-1, 3)
        out = np.empty((len(acc), 4))
        for i in range(len(acc)):
            out[i] = self.update(acc[i], gyr[i])
        return out

    @property
    @abstractmethod
    def quat(self) -> np.ndarray:
        """Current estimate ``q_ES``, shape (4,)."""

    @abstractmethod
    def reset(self, q0: np.ndarray | None = None) -> None:
        """Restart the integration at orientation ``q0`` (identity if None).

        The gyroscope bias estimate, where the filter has one, is kept.
        """

    @property
    def gyr_bias_rad_s(self) -> np.ndarray | None:
        """Current gyroscope bias estimate (rad/s, shape (3,)), or None if not estimated."""
        return None

    @gyr_bias_rad_s.setter
    def gyr_bias_rad_s(self, value) -> None:  # pragma: no cover - filters without bias ignore it
        pass
