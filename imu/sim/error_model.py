"""Sensor error model of the simulator: what a consumer MEMS IMU on a BLE link adds to the truth.

Default values are typical datasheet figures of the consumer MEMS parts the product supports:
the ST LSM6DS3 family (the XIAO nRF52840 Sense carries the LSM6DS3TR-C; figures from the
LSM6DS3/LSM6DS33 datasheets, table 3 "Mechanical characteristics", high-performance mode) and the
Bosch BMI270 (datasheet BST-BMI270-DS000, "Sensor specifications"):

============================  ======================  ======================  ================
quantity                      default                 ST LSM6DS3 family       BMI270
============================  ======================  ======================  ================
gyro white-noise density      7 mdps/√Hz              7 mdps/√Hz (Rn)         8 mdps/√Hz
accel white-noise density     90 µg/√Hz               90 µg/√Hz (An)          160 µg/√Hz
gyro turn-on bias (1σ/axis)   0.5 dps                 ±10 dps (G_TyOff, max)  ±0.5 dps (ZRO)
accel offset (1σ/axis)        20 mg                   ±40 mg (LA_TyOff)       ±20 mg
accel scale error (1σ/axis)   0.5 %                   ±1 % (sens. tol.)       ±0.4 %
gyro range / LSB              ±1000 dps, 35 mdps      35 mdps/LSB @ ±1000     30.5 mdps/LSB
accel range / LSB             ±8 g, 0.244 mg          0.244 mg/LSB @ ±8 g     0.244 mg/LSB
============================  ======================  ======================  ================

The ST zero-rate level is a loose production limit; measured turn-on biases of these parts are
of the order of the BMI270 figure, which the default uses.

Per-sample white-noise standard deviation is ``density * sqrt(rate_hz / 2)`` (the datasheets
quote RMS noise over a bandwidth of ODR/2). The gyro bias random walk (rate random walk,
not a datasheet figure) defaults to 0.0005 dps/√s, typical of consumer MEMS Allan-variance
plots (a drift of about 0.012 dps over 10 minutes). Ranges: ±1000 dps covers hip angular rates in
walking and leg swings (< 500 dps) with a finer LSB than ±2000; ±8 g covers thigh accelerations
in walking and jumping (< 4 g) with margin.

Soft-tissue wobble: the thigh sensor sits on a damped mass–spring (default 12 Hz, damping ratio
0.3, in the range reported for thigh soft tissue by Wakeling & Nigg 2001) driven by the bone's
linear and angular acceleration; the bone (truth) is unaffected.

Timing: sensor clock ``t_sensor = offset + (1 + drift_ppm·1e-6) · t_true`` (crystal tolerance,
tens of ppm); BLE notifications carry ``batch_samples`` samples, all received at one host time
= true time of the batch's last sample + latency + exponential jitter, with occasional delayed
connection events; whole notifications are dropped with ``drop_prob``. Optional outages
(``outages_on``, off in ``ErrorModel()``): link losses of ``outage_s`` seconds at
``outages_per_min``, every sample inside lost (a reader that reconnects records the gap).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class ErrorModel:
    """Switchable sensor errors. ``ErrorModel()`` is everything on; ``ErrorModel.none()`` off.

    Each ``*_on`` flag switches one error source; the numbers next to it set its size.
    Units are in the names (dps = degrees per second, mg = 1e-3 g, ppm = 1e-6).
    """

    gyro_bias_on: bool = True
    gyro_bias_sigma_dps: float = 0.5
    gyro_bias_walk_on: bool = True
    gyro_bias_walk_dps_per_sqrt_s: float = 0.0005
    gyro_noise_on: bool = True
    gyro_noise_density_dps_per_sqrt_hz: float = 0.007
    acc_noise_on: bool = True
    acc_noise_density_ug_per_sqrt_hz: float = 90.0
    acc_offset_on: bool = True
    acc_offset_sigma_mg: float = 20.0
    acc_scale_on: bool = True
    acc_scale_sigma: float = 0.005
    quantization_on: bool = True
    gyro_lsb_mdps: float = 35.0
    acc_lsb_mg: float = 0.244
    wobble_on: bool = True
    wobble_freq_hz: float = 12.0
    wobble_damping: float = 0.3
    wobble_rot_gain: float = 1.0
    clock_on: bool = True
    clock_offset_max_s: float = 100.0
    clock_drift_ppm_sigma: float = 30.0
    timing_on: bool = True
    latency_s: float = 0.020
    jitter_s: float = 0.006
    late_prob: float = 0.005
    late_max_s: float = 0.120
    batch_samples: int = 8
    drops_on: bool = True
    drop_prob: float = 0.003
    outages_on: bool = False
    outages_per_min: float = 0.5
    outage_s: tuple = (0.5, 3.0)

    @classmethod
    def none(cls) -> "ErrorModel":
        """Every error source off: exact signals, ideal clocks, no drops."""
        return cls(**{f.name: False for f in fields(cls) if f.name.endswith("_on")})

    @classmethod
    def harsh(cls) -> "ErrorModel":
        """Everything on, including link outages."""
        return cls(outages_on=True)

    @classmethod
    def only(cls, *names: str, **values) -> "ErrorModel":
        """Only the named sources on (names without ``_on``, e.g. ``"gyro_noise"``)."""
        base = cls.none()
        return replace(base, **{f"{n}_on": True for n in names}, **values)

    @property
    def any_on(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name.endswith("_on"))

    def to_dict(self) -> dict:
        return asdict(self)


def as_error_model(errors) -> ErrorModel:
    """``True`` → all on, ``False``/``None`` → all off, an :class:`ErrorModel` as is."""
    if isinstance(errors, ErrorModel):
        return errors
    if errors is True:
        return ErrorModel()
    if errors is False or errors is None:
        return ErrorModel.none()
    raise TypeError(f"errors must be a bool or an ErrorModel, not {type(errors).__name__}")
