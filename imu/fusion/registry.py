"""Names of the offered filters and the factory."""

from __future__ import annotations

#: name → adapter class in :mod:`imu.fusion.filters` (imported on first use: the names and
#: descriptions below are all a ``--help`` needs)
_CLASSES: dict[str, str] = {
    "vqf": "VqfFilter",
    "vqf_basic": "BasicVqfFilter",
    "imufusion": "ImufusionFilter",
    "ahrs_madgwick": "AhrsMadgwickFilter",
    "ahrs_mahony": "AhrsMahonyFilter",
    "ahrs_ekf": "AhrsEkfFilter",
}

#: name → one-line description of every offered filter
FILTERS: dict[str, str] = {
    "vqf": "VQF (Laidig & Seel 2023), compiled, rest + motion gyro-bias estimation, tuned for body motion",
    "vqf_basic": "basic VQF: VQF's inclination correction, no bias estimation (compiled)",
    "imufusion": "x-io Fusion AHRS (imufusion), compiled, acceleration rejection, stationary bias",
    "ahrs_madgwick": "ahrs Madgwick gradient-descent filter, 6D (pure Python)",
    "ahrs_mahony": "ahrs Mahony complementary filter with integral bias term, 6D (pure Python)",
    "ahrs_ekf": "ahrs extended Kalman filter, 6D (pure Python)",
}

#: default filter, chosen by measurement on BROAD and the body simulator (bench/)
DEFAULT_FILTER = "vqf"

#: settings a filter uses unless overridden. VQF: tuned on the body simulator (tuning seeds
#: 100–102, demo program at 104/60/200 Hz, bench/bench_fusion.py) and checked on BROAD
#: (bench/bench_broad.py): a faster inclination correction than VQF's default (tauAcc 3 s)
#: and a slower motion bias update (biasSigmaMotion 0.1 → 0.03 °/s) cut the simulator's
#: inclination RMSE (accelerometer errors corrected) from 0.55° to 0.28° and its heading
#: drift from 6.0° to 3.5° over 4 min, while BROAD's mean inclination RMSE stays at 0.62°.
DEFAULT_SETTINGS: dict[str, dict] = {
    "vqf": {"tauAcc": 2.0, "biasSigmaMotion": 0.03},
}


def make_filter(name: str = DEFAULT_FILTER, rate_hz: float = 104.0, **settings):
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
        cls_name = _CLASSES[name]
    except KeyError:
        raise ValueError(f"unknown filter {name!r}; choose one of {', '.join(FILTERS)}") from None
    from imu.fusion import filters

    cls = getattr(filters, cls_name)
    merged = {**DEFAULT_SETTINGS.get(name, {}), **settings}
    try:
        return cls(rate_hz, **merged)
    except TypeError as exc:
        raise ValueError(f"filter {name!r}: bad setting ({exc})") from None
