"""IMU signals from body motion, and the sensor errors of :class:`~imu.sim.error_model.ErrorModel`.

Ideal signals are computed on the fine grid: angular rate in the sensor frame
``ω_S = vee(R_WSᵀ dR_WS/dt)`` and specific force ``f_S = R_WSᵀ (a_W + g·up)`` (+9.81 m/s² along
the sensor's up axis at rest), with 5-point central differences (error O(h⁴)). They are then
read at each sensor's own sample instants (its clock runs fast or slow) and corrupted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.sim.error_model import ErrorModel
from imu.sim.motion import G_MS2
from imu.sim.rot import apply, rotvec_matrix, t_apply, t_matmul

UP_W = np.array([0.0, 1.0, 0.0])
DPS = np.pi / 180.0
MG = G_MS2 * 1e-3


def d1(x: np.ndarray, h: float) -> np.ndarray:
    """First derivative along axis 0 (5-point central stencil; one-sided at the two ends)."""
    y = np.empty_like(x)
    if len(x) < 5:
        return np.gradient(x, h, axis=0)
    y[2:-2] = (x[:-4] - 8.0 * x[1:-3] + 8.0 * x[3:-1] - x[4:]) / (12.0 * h)
    y[:2] = (x[1:3] - x[:2]) / h
    y[-2:] = (x[-2:] - x[-3:-1]) / h
    return y


def d2(x: np.ndarray, h: float) -> np.ndarray:
    """Second derivative along axis 0 (5-point central stencil; ends copied inwards)."""
    y = np.empty_like(x)
    if len(x) < 5:
        return np.gradient(np.gradient(x, h, axis=0), h, axis=0)
    y[2:-2] = (-x[:-4] + 16.0 * x[1:-3] - 30.0 * x[2:-2] + 16.0 * x[3:-1] - x[4:]) / (
        12.0 * h * h)
    y[:2] = y[2]
    y[-2:] = y[-3]
    return y


def body_rate(R_WB: np.ndarray, h: float) -> np.ndarray:
    """Angular velocity in the body frame (N, 3), rad/s, from orientations (N, 3, 3)."""
    Om = t_matmul(R_WB, d1(R_WB, h))
    return 0.5 * np.stack([Om[:, 2, 1] - Om[:, 1, 2], Om[:, 0, 2] - Om[:, 2, 0],
                           Om[:, 1, 0] - Om[:, 0, 1]], axis=-1)


def ideal_imu(R_WS: np.ndarray, pos_W: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``(gyr, acc)`` on the fine grid: rad/s and m/s² in the sensor frame, each (N, 3)."""
    gyr = body_rate(R_WS, h)
    f_W = d2(pos_W, h) + G_MS2 * UP_W
    acc = t_apply(R_WS, f_W)
    return gyr, acc


def wobble(R_WF: np.ndarray, site_W: np.ndarray, h: float, em: ErrorModel
           ) -> tuple[np.ndarray, np.ndarray]:
    """Soft-tissue wobble of a thigh sensor: perturbed orientation of the sensor's skin patch
    ``R_WF·exp(θ)`` (N, 3, 3) and position (N, 3).

    θ and the displacement d (femur frame) follow ``x'' + 2ζω x' + ω² x = −u`` with ``u`` the
    bone's angular acceleration (times ``wobble_rot_gain``) or linear acceleration at the site.
    """
    w = 2 * np.pi * em.wobble_freq_hz
    from scipy.signal import bilinear, lfilter  # on first use: scipy.signal costs ~0.4 s to import

    b, a = bilinear([1.0], [1.0, 2 * em.wobble_damping * w, w * w], fs=1.0 / h)
    acc_F = t_apply(R_WF, d2(site_W, h))
    alpha_F = d1(body_rate(R_WF, h), h)
    disp_F = lfilter(b, a, -acc_F, axis=0)
    theta = lfilter(b, a, -em.wobble_rot_gain * alpha_F, axis=0)
    R = R_WF @ rotvec_matrix(theta)
    pos = site_W + apply(R_WF, disp_F)
    return R, pos


@dataclass
class Clock:
    """Sensor clock: ``t_sensor = offset_s + (1 + drift_ppm·1e-6) · t_true``."""

    offset_s: float = 0.0
    drift_ppm: float = 0.0

    def to_dict(self) -> dict:
        return {"offset_s": float(self.offset_s), "drift_ppm": float(self.drift_ppm)}


def sample_times(rate_hz: float, end_s: float, clock: Clock, phase_s: float) -> np.ndarray:
    """True times of the samples a sensor takes at ``rate_hz`` on its own clock, from about 0 to
    ``end_s`` (first tick ``phase_s`` after true 0 in sensor time)."""
    k_scale = 1.0 + clock.drift_ppm * 1e-6
    n = int(np.floor((end_s * k_scale - phase_s) * rate_hz)) + 1
    ticks = phase_s + np.arange(n) / rate_hz          # sensor time since true 0
    return ticks / k_scale


def interp_rows(t_new: np.ndarray, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cubic (4-point Lagrange) interpolation of the rows of ``x`` (N, k), sampled on the
    uniform grid ``t``, at times ``t_new`` (error O(h⁴) for smooth signals)."""
    h = t[1] - t[0]
    u = (np.asarray(t_new, dtype=float) - t[0]) / h
    i = np.clip(np.floor(u).astype(np.int64), 1, len(t) - 3)
    f = (u - i)[:, None]
    w0 = -f * (f - 1.0) * (f - 2.0) / 6.0
    w1 = (f + 1.0) * (f - 1.0) * (f - 2.0) / 2.0
    w2 = -(f + 1.0) * f * (f - 2.0) / 2.0
    w3 = (f + 1.0) * f * (f - 1.0) / 6.0
    return w0 * x[i - 1] + w1 * x[i] + w2 * x[i + 1] + w3 * x[i + 2]


@dataclass
class Draw:
    """Realised error parameters of one sensor (the truth for intrinsic calibration)."""

    gyro_bias_rad_s: np.ndarray
    acc_offset_m_s2: np.ndarray
    acc_scale: np.ndarray
    clock: Clock
    phase_s: float

    def to_dict(self) -> dict:
        return {"gyro_bias_rad_s": self.gyro_bias_rad_s.tolist(),
                "acc_offset_m_s2": self.acc_offset_m_s2.tolist(),
                "acc_scale": self.acc_scale.tolist(), "clock": self.clock.to_dict()}


def draw_errors(em: ErrorModel, rate_hz: float, rng) -> Draw:
    """Per-sensor constants: turn-on bias, offset, scale, clock, sampling phase."""
    bias = rng.normal(0.0, em.gyro_bias_sigma_dps * DPS, 3) if em.gyro_bias_on else np.zeros(3)
    off = rng.normal(0.0, em.acc_offset_sigma_mg * MG, 3) if em.acc_offset_on else np.zeros(3)
    scale = rng.normal(0.0, em.acc_scale_sigma, 3) if em.acc_scale_on else np.zeros(3)
    if em.clock_on:
        clock = Clock(rng.uniform(0.5, em.clock_offset_max_s),
                      rng.normal(0.0, em.clock_drift_ppm_sigma))
        phase = rng.uniform(0.0, 1.0 / rate_hz)
    else:
        clock, phase = Clock(), 0.0
    return Draw(bias, off, scale, clock, phase)


def corrupt(gyr: np.ndarray, acc: np.ndarray, rate_hz: float, em: ErrorModel, d: Draw, rng
            ) -> tuple[np.ndarray, np.ndarray]:
    """Apply bias, bias walk, scale, offset, white noise, quantisation and range clipping."""
    n = len(gyr)
    g = gyr + d.gyro_bias_rad_s
    if em.gyro_bias_walk_on:
        step = em.gyro_bias_walk_dps_per_sqrt_s * DPS * np.sqrt(1.0 / rate_hz)
        g = g + np.cumsum(rng.normal(0.0, step, (n, 3)), axis=0)
    if em.gyro_noise_on:
        g = g + rng.normal(0.0, em.gyro_noise_density_dps_per_sqrt_hz * DPS
                           * np.sqrt(rate_hz / 2.0), (n, 3))
    a = acc * (1.0 + d.acc_scale) + d.acc_offset_m_s2
    if em.acc_noise_on:
        a = a + rng.normal(0.0, em.acc_noise_density_ug_per_sqrt_hz * 1e-3 * MG
                           * np.sqrt(rate_hz / 2.0), (n, 3))
    if em.quantization_on:
        g = quantize(g, em.gyro_lsb_mdps * 1e-3 * DPS)
        a = quantize(a, em.acc_lsb_mg * MG)
    return g, a


def quantize(x: np.ndarray, lsb: float) -> np.ndarray:
    """Round to int16 counts of ``lsb`` (saturating at the int16 limits), back in units."""
    return np.clip(np.round(x / lsb), -32768, 32767) * lsb


def host_times(t_true: np.ndarray, em: ErrorModel, rng) -> tuple[np.ndarray, np.ndarray]:
    """BLE delivery: ``(t_host_s, keep)`` — host receive time of each sample (shared by the
    samples of one notification) and a mask of the samples that arrived."""
    n = len(t_true)
    if not em.timing_on and not em.drops_on and not em.outages_on:
        return t_true.copy(), np.ones(n, bool)
    b = max(1, int(em.batch_samples)) if em.timing_on else 1
    nb = (n + b - 1) // b
    last = np.minimum(np.arange(nb) * b + b - 1, n - 1)
    if em.timing_on:
        arr = t_true[last] + em.latency_s + rng.exponential(em.jitter_s, nb)
        late = rng.random(nb) < em.late_prob
        arr[late] += rng.uniform(0.02, em.late_max_s, int(late.sum()))
        arr = np.maximum.accumulate(arr)   # a BLE link delivers in order
    else:
        arr = t_true[last].copy()
    keep_b = np.ones(nb, bool)
    if em.drops_on:
        keep_b = rng.random(nb) >= em.drop_prob
    if em.outages_on and n:
        span_min = (t_true[-1] - t_true[0]) / 60.0
        for _ in range(rng.poisson(em.outages_per_min * span_min)):
            t0 = rng.uniform(t_true[0], t_true[-1])
            t1 = t0 + rng.uniform(*em.outage_s)
            lost = (t_true[last] >= t0) & (t_true[last] <= t1)
            keep_b &= ~lost
    batch = np.arange(n) // b
    return arr[batch], keep_b[batch]
