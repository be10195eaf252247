"""Adapters: ``vqf``, ``imufusion`` and the ``ahrs`` package's filters behind one interface.

Each adapter converts units and quaternion conventions at its boundary so that every filter
returns ``q_ES`` (sensor → earth, z up, ``w, x, y, z``) from acc in m/s² and gyr in rad/s.
"""

from __future__ import annotations

import numpy as np

from imu.fusion.base import IDENTITY, OrientationFilter

G_M_S2 = 9.80665


def _vec3(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).reshape(3)


def _blk(x) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1, 3))


# ----------------------------------------------------------------------------------------- VQF
_VQF_KEYS = {
    # snake_case alias → VQF keyword
    "tau_acc_s": "tauAcc", "rest_bias_est": "restBiasEstEnabled",
    "motion_bias_est": "motionBiasEstEnabled", "bias_sigma_init_deg_s": "biasSigmaInit",
    "bias_forgetting_time_s": "biasForgettingTime", "bias_clip_deg_s": "biasClip",
    "bias_sigma_motion_deg_s": "biasSigmaMotion", "bias_sigma_rest_deg_s": "biasSigmaRest",
    "rest_min_t_s": "restMinT", "rest_filter_tau_s": "restFilterTau",
    "rest_th_gyr_deg_s": "restThGyr", "rest_th_acc_m_s2": "restThAcc",
}


class VqfFilter(OrientationFilter):
    """VQF (Laidig & Seel 2023), compiled, with rest and motion gyro-bias estimation.

    Settings are VQF's own keywords (``tauAcc``, ``restBiasEstEnabled``, ``biasSigmaRest``…)
    or their snake_case aliases (``tau_acc_s``, ``rest_bias_est``, …). Defaults: VQF's.
    """

    name = "vqf"

    def __init__(self, rate_hz: float, **settings):
        super().__init__(rate_hz, **settings)
        import vqf

        params = {_VQF_KEYS.get(k, k): v for k, v in settings.items()}
        self._v = vqf.VQF(self.dt_s, **params)

    def update(self, acc, gyr):
        self._v.update(_vec3(gyr), _vec3(acc))
        return self._v.getQuat6D()

    def update_block(self, acc, gyr):
        acc = _blk(acc)
        gyr = _blk(gyr)
        if len(acc) == 0:
            return np.zeros((0, 4))
        return self._v.updateBatch(gyr, acc)["quat6D"]

    def fuse_full(self, acc, gyr) -> dict:
        """Batch update returning VQF's full output dict (quat6D, bias, restDetected…)."""
        return self._v.updateBatch(_blk(gyr), _blk(acc))

    @property
    def quat(self):
        return self._v.getQuat6D()

    def reset(self, q0=None):
        bias, sigma = self._v.getBiasEstimate()
        self._v.resetState()
        st = self._v.state
        st["gyrQuat"] = np.array(IDENTITY if q0 is None else q0, dtype=float)
        st["accQuat"] = IDENTITY.copy()
        self._v.state = st
        self._v.setBiasEstimate(bias, sigma)

    @property
    def gyr_bias_rad_s(self):
        return np.asarray(self._v.getBiasEstimate()[0], dtype=float)

    @gyr_bias_rad_s.setter
    def gyr_bias_rad_s(self, value):
        self._v.setBiasEstimate(_vec3(value), -1.0)


class BasicVqfFilter(OrientationFilter):
    """Basic VQF: VQF's inclination correction without bias estimation or rest detection.

    Setting: ``tauAcc`` / ``tau_acc_s`` (s, default 3).
    """

    name = "vqf_basic"

    def __init__(self, rate_hz: float, **settings):
        super().__init__(rate_hz, **settings)
        import vqf

        params = {_VQF_KEYS.get(k, k): v for k, v in settings.items()}
        self._v = vqf.BasicVQF(self.dt_s, **params)

    def update(self, acc, gyr):
        self._v.update(_vec3(gyr), _vec3(acc))
        return self._v.getQuat6D()

    def update_block(self, acc, gyr):
        acc = _blk(acc)
        if len(acc) == 0:
            return np.zeros((0, 4))
        return self._v.updateBatch(_blk(gyr), acc)["quat6D"]

    @property
    def quat(self):
        return self._v.getQuat6D()

    def reset(self, q0=None):
        self._v.resetState()
        st = self._v.state
        st["gyrQuat"] = np.array(IDENTITY if q0 is None else q0, dtype=float)
        st["accQuat"] = IDENTITY.copy()
        self._v.state = st


# ----------------------------------------------------------------------------------- imufusion
class ImufusionFilter(OrientationFilter):
    """x-io Technologies' Fusion AHRS (``imufusion``), compiled, per-sample calls.

    Settings: ``gain`` (default 0.5), ``acceleration_rejection_deg`` (default 10),
    ``recovery_trigger_period_s`` (default 5), ``bias`` (bool, default True: x-io's stationary
    gyro-offset tracker), ``bias_threshold_deg_s`` (3), ``bias_period_s`` (3).
    """

    name = "imufusion"

    def __init__(self, rate_hz: float, gain: float = 0.5, acceleration_rejection_deg: float = 10.0,
                 recovery_trigger_period_s: float = 5.0, bias: bool = True,
                 bias_threshold_deg_s: float = 3.0, bias_period_s: float = 3.0):
        super().__init__(rate_hz, gain=gain, acceleration_rejection_deg=acceleration_rejection_deg,
                         recovery_trigger_period_s=recovery_trigger_period_s, bias=bias,
                         bias_threshold_deg_s=bias_threshold_deg_s, bias_period_s=bias_period_s)
        import imufusion

        self._mod = imufusion
        s = imufusion.AhrsSettings()
        s.convention = imufusion.CONVENTION_NWU
        s.gain = float(gain)
        s.gyroscope_range = 2000.0
        s.acceleration_rejection = float(acceleration_rejection_deg)
        s.magnetic_rejection = 0.0
        s.rejection_timeout = int(round(recovery_trigger_period_s * self.rate_hz))
        s.sample_rate = int(round(self.rate_hz))
        self._settings = s
        self._ahrs = imufusion.Ahrs()
        self._ahrs.set_settings(s)
        self._ahrs.set_sample_period(self.dt_s)
        self._bias = None
        if bias:
            bs = imufusion.BiasSettings()
            bs.sample_rate = float(self.rate_hz)
            bs.stationary_threshold = float(bias_threshold_deg_s)
            bs.stationary_period = float(bias_period_s)
            self._bias = imufusion.Bias()
            self._bias.set_settings(bs)
        self._k_acc = 1.0 / G_M_S2
        self._k_gyr = np.degrees(1.0)

    def update(self, acc, gyr):
        g = _vec3(gyr) * self._k_gyr
        if self._bias is not None:
            g = np.asarray(self._bias.update(g), dtype=float)
        self._ahrs.update_no_magnetometer(g, _vec3(acc) * self._k_acc)
        return self.quat

    @property
    def quat(self):
        q = self._ahrs.quaternion if hasattr(self._ahrs, "quaternion") else self._ahrs.get_quaternion()
        return np.asarray(getattr(q, "wxyz", q), dtype=float).reshape(4)

    def reset(self, q0=None):
        self._ahrs.restart()
        self._ahrs.set_settings(self._settings)
        self._ahrs.set_sample_period(self.dt_s)
        if q0 is not None:
            self._ahrs.set_quaternion(np.asarray(q0, dtype=float))
            self._ahrs.skip_startup()

    @property
    def gyr_bias_rad_s(self):
        if self._bias is None:
            return None
        return np.radians(np.asarray(self._bias.get_offset(), dtype=float))

    @gyr_bias_rad_s.setter
    def gyr_bias_rad_s(self, value):
        if self._bias is not None:
            self._bias.set_offset(np.degrees(_vec3(value)))


# ---------------------------------------------------------------------------------------- ahrs
class _AhrsBase(OrientationFilter):
    """Common part of the pure-Python ``ahrs`` filters (per-sample Python arithmetic)."""

    def __init__(self, rate_hz: float, **settings):
        super().__init__(rate_hz, **settings)
        self._q = IDENTITY.copy()

    @property
    def quat(self):
        return self._q.copy()

    def reset(self, q0=None):
        self._q = np.array(IDENTITY if q0 is None else q0, dtype=float)


class AhrsMadgwickFilter(_AhrsBase):
    """``ahrs.filters.Madgwick`` in IMU (6D) mode. Setting: ``gain`` (default 0.033, ahrs')."""

    name = "ahrs_madgwick"

    def __init__(self, rate_hz: float, gain: float = 0.033):
        super().__init__(rate_hz, gain=gain)
        from ahrs.filters import Madgwick

        self._f = Madgwick(frequency=self.rate_hz, gain=float(gain))

    def update(self, acc, gyr):
        self._q = self._f.updateIMU(self._q, _vec3(gyr), _vec3(acc), dt=self.dt_s)
        return self._q.copy()


class AhrsMahonyFilter(_AhrsBase):
    """``ahrs.filters.Mahony`` in IMU mode. Settings ``k_P`` (1.0), ``k_I`` (0.3), ahrs' defaults.

    The integral term is the filter's gyro-bias estimate.
    """

    name = "ahrs_mahony"

    def __init__(self, rate_hz: float, k_P: float = 1.0, k_I: float = 0.3):
        super().__init__(rate_hz, k_P=k_P, k_I=k_I)
        from ahrs.filters import Mahony

        self._f = Mahony(frequency=self.rate_hz, k_P=float(k_P), k_I=float(k_I))

    def update(self, acc, gyr):
        self._q = self._f.updateIMU(self._q, _vec3(gyr), _vec3(acc), dt=self.dt_s)
        return self._q.copy()

    @property
    def gyr_bias_rad_s(self):
        # ahrs Mahony integrates b (rad/s) and uses gyr - b
        return np.asarray(self._f.b, dtype=float).copy()

    @gyr_bias_rad_s.setter
    def gyr_bias_rad_s(self, value):
        self._f.b = _vec3(value).copy()


class AhrsEkfFilter(_AhrsBase):
    """``ahrs.filters.EKF`` without magnetometer (6D). Settings ``noises``
    (gyro, acc, mag variances; ahrs' defaults)."""

    name = "ahrs_ekf"

    def __init__(self, rate_hz: float, noises=None):
        super().__init__(rate_hz, noises=noises)
        from ahrs.filters import EKF

        kw = {} if noises is None else {"noises": list(noises)}
        # ahrs' "NED" setting references gravity as +z, which yields q_ES with z up here (checked)
        self._f = EKF(frequency=self.rate_hz, frame="NED", **kw)

    def update(self, acc, gyr):
        self._q = self._f.update(self._q, _vec3(gyr), _vec3(acc), dt=self.dt_s)
        return self._q.copy()

    def reset(self, q0=None):
        super().reset(q0)
        self._f.P = np.identity(4)
