"""Names of the offered filters and the factory."""

from __future__ import annotations

from imu.fusion.base import OrientationFilter
from imu.fusion.filters import (AhrsEkfFilter, AhrsMadgwickFilter, AhrsMahonyFilter,
                                BasicVqfFilter, ImufusionFilter, VqfFilter)

_CLASSES: dict[str, type[OrientationFilter]] = {
    "vqf": VqfFilter,
    "vqf_basic": BasicVqfFilter,
    "imufusion": ImufusionFilter,
    "ahrs_madgwick": AhrsMadgwickFilter,
    "ahrs_mahony": AhrsMahonyFilter,
    "ahrs_ekf": AhrsEkfFilter,
}

#: name → one-line description of every offered filter
FILTERS: dict[str, str] = {
    "vqf": "VQF (Laidig & Seel 2023), compiled, rest + motion gyro-bias estimation",
    "vqf_basic": "basic VQF: VQF's inclination correction, no bias estimation (compiled)",
    "imufusion": "x-io Fusion AHRS (imufusion), compiled, acceleration rejection, stationary bias",
    "ahrs_madgwick": "ahrs Madgwick gradient-descent filter, 6D (pure Python)",
    "ahrs_mahony": "ahrs Mahony complementary filter with integral bias term, 6D (pure Python)",
    "ahrs_ekf": "ahrs extended Kalman filter, 6D (pure Python)",
}

#: default filter, chosen by measurement on BROAD and the body simulator (bench/)
DEFAULT_FILTER = "vqf"

#: settings the default filter uses unless overridden (tuned for body motion on the simulator)
DEFAULT_SETTINGS: dict[str, dict] = {}


def make_filter(name: str = DEFAULT_FILTER, rate_hz: float = 104.0, **settings) -> OrientationFilter:
    """A new streaming filter.

    Parameters
    ----------
    name : str
        One of :data:`FILTERS`.
    rate_hz : float
        Sample rate, Hz.
    **settings
        Filter settings (see each filter class); they override :data:`DEFAULT_SETTINGS`.

    Raises
    ------
    ValueError
        Unknown filter name or bad setting.
    """
    try:
        cls = _CLASSES[name]
    except KeyError:
        raise ValueError(f"unknown filter {name!r}; choose one of {', '.join(FILTERS)}") from None
    merged = {**DEFAULT_SETTINGS.get(name, {}), **settings}
    try:
        return cls(rate_hz, **merged)
    except TypeError as exc:
        raise ValueError(f"filter {name!r}: bad setting ({exc})") from None
