"""Non-causal (offline) orientation of a whole recording: every estimate may use the samples
after it as well as those before.

A recording is processed after the fact, so it gets the best estimate the whole recording
allows; the live view stays causal (:class:`imu.fusion.TimedFilter`). Two methods:

- ``vqf`` (and ``vqf_basic``): vqf's own offline variant, :func:`vqf.offlineVQF` (Laidig & Seel
  2023): forward–backward inclination correction and bias estimation, compiled.
- every other filter: a forward–backward smoother of its own streaming filter
  (:func:`forward_backward`): the filter runs forward, then backward in time from the forward
  run's last estimate (negated rates, so the same dynamics hold), and each sample takes the mean
  of the two runs' inclinations (the forward run's heading, corrected by the smallest rotation).

Measured on BROAD (``python -m bench broad``): see ``bench/bench_broad.py`` and the README.
"""

from __future__ import annotations

import numpy as np

from imu.fusion.registry import make_filter
from imu.quat import (conj, cross_rows, from_rotvec_parts, multiply, multiply_parts,
                      normalize)

#: filters with a compiled offline implementation (:func:`vqf.offlineVQF`)
OFFLINE_VQF = ("vqf", "vqf_basic")

#: settings the offline variant uses unless overridden. Measured on the five BROAD trials
#: (``python -m bench broad``): offlineVQF at vqf's library defaults is the reference; the
#: live filter's tuning (tauAcc 2 s, biasSigmaMotion 0.03 °/s) makes trial 10 5 % worse
#: offline, so the offline path keeps the library's defaults.
OFFLINE_SETTINGS: dict[str, dict] = {"vqf": {}, "vqf_basic": {}}


def _vqf_params(name: str, settings: dict) -> dict:
    from imu.fusion.filters import _VQF_KEYS

    params = {_VQF_KEYS.get(k, k): v for k, v in settings.items()}
    if name == "vqf_basic":  # the basic filter: VQF's inclination correction, no bias estimation
        params = {"restBiasEstEnabled": False, "motionBiasEstEnabled": False, **params}
    return params


def _tilt_fix(q_f: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    """``q_f`` (n, 4) corrected, by the smallest rotation, to the mean of its own and ``q_b``'s
    inclination (the direction of earth z in the sensor frame)."""
    # earth z in the sensor frame: third row of R(q), i.e. R^T z
    def up_s(q):
        w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
        return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)

    s_f, s_b = up_s(q_f), up_s(q_b)
    s_m = s_f + s_b
    s_m /= np.maximum(np.linalg.norm(s_m, axis=1, keepdims=True), 1e-12)
    # c: shortest arc s_f -> s_m (sensor frame); q_new = q_f ⊗ conj(c) gives R_new^T z = s_m
    c = normalize(np.concatenate([1.0 + np.sum(s_f * s_m, axis=1, keepdims=True),
                                  np.cross(s_f, s_m)], axis=1))
    return normalize(multiply(q_f, conj(c)))


def forward_backward(name: str, rate_hz: float, acc: np.ndarray, gyr: np.ndarray,
                     q0: np.ndarray, **settings) -> np.ndarray:
    """Forward–backward smoothing of a streaming filter over one gap-free run.

    Parameters
    ----------
    name : str
        Filter name (:data:`imu.fusion.FILTERS`).
    rate_hz : float
        Sample rate, Hz.
    acc, gyr : ndarray, shape (n, 3)
        Specific force (m/s²) and angular rate (rad/s), evenly spaced, sensor frame.
    q0 : ndarray, shape (4,)
        Start orientation ``q_ES`` of the forward run.
    **settings
        Filter settings.

    Returns
    -------
    ndarray, shape (n, 4)
        ``q_ES`` per sample: the forward run's heading, the mean of both runs' inclinations.
    """
    n = len(acc)
    f = make_filter(name, rate_hz, **settings)
    f.reset(q0)
    q_f = f.update_block(acc, gyr)
    if n < 2:
        return q_f
    g = make_filter(name, rate_hz, **settings)
    g.reset(q_f[-1])
    bias = f.gyr_bias_rad_s
    if bias is not None:  # time runs backwards: a bias b appears as -b in the negated rates
        g.gyr_bias_rad_s = -np.asarray(bias)
    # backward step k goes from sample n-1-k to n-2-k: the rate of sample n-1-k (negated) and
    # the specific force at the step's end
    rev = g.update_block(acc[-2::-1], -gyr[:0:-1])
    q_b = np.concatenate([rev[::-1], q_f[-1:]], axis=0)
    return _tilt_fix(q_f, q_b)


#: samples pre-integrated into one step of offlineVQF by sample rate (:func:`group_size`):
#: ``(above_hz, with the filter's bias estimation off, on)``, the first that applies
GROUPS = ((150.0, 4, 2), (75.0, 2, 1))


def group_size(rate_hz: float, bias_estimation: bool = False) -> int:
    """Samples per pre-integrated step of offlineVQF (:func:`_offline_vqf`) at ``rate_hz``
    (:data:`GROUPS`).

    With the filter's bias estimation off (as the pipeline runs it: it tracks the bias at
    quiet standing itself): groups of four above 150 Hz, pairs above 75 Hz (steps of at most
    27 ms); with it on, pairs above 150 Hz; else every sample. Measured against the full
    rate (README, below the filters' table): on BROAD's real trials at 286 Hz, groups of four
    and pairs are within 0.1 % of its inclination error on every trial, bias estimation on or
    off (decimated to 95 Hz: 0.993–1.001×); on the simulator's sessions at 60, 104 and 200 Hz
    the angles' RMSEs agree to 0.0003°; but on a noisy synthetic sensor with a large gyro bias
    and the bias estimation on, groups of four are 4.5–5.6 % worse, pairs 1.0–2.9 %.
    """
    return next((off if not bias_estimation else on for above_hz, off, on in GROUPS
                 if rate_hz > above_hz), 1)


def _z_turn_to(q_first: np.ndarray, q0) -> tuple[float, float]:
    """``(cos, sin)`` of the half-angle of the turn about earth z that takes ``q_first``'s
    heading to ``q0``'s (the z part of ``q0 ⊗ q_first*``)."""
    d = multiply(np.asarray(q0, dtype=float), conj(q_first))
    c, s = np.array([d[0], d[3]]) / max(float(np.hypot(d[0], d[3])), 1e-12)
    return float(c), float(s)


def _turn_z(q: np.ndarray, c: float, s: float, out: np.ndarray | None = None) -> np.ndarray:
    """``(c, 0, 0, s) ⊗ q`` for (n, 4) ``q``, into ``out`` (default: in place): a turn about z
    mixes (w, z) and (x, y) pairwise."""
    w, x, y, z = (q.T.copy() if out is None or out is q else q.T)
    out = q if out is None else out
    out[:, 0] = c * w - s * z
    out[:, 1] = c * x - s * y
    out[:, 2] = c * y + s * x
    out[:, 3] = c * z + s * w
    return out


#: samples per call of BasicVQF's full-state batch in :func:`offline_vqf_6d`
_FULL_STATE_ROWS = 8192


def _bias_off(params: dict) -> bool:
    """Whether offlineVQF's bias estimation is switched off (both kinds) in ``params``."""
    return all(k in params and not params[k]
               for k in ("restBiasEstEnabled", "motionBiasEstEnabled"))


def offline_vqf_6d(gyr, acc, Ts: float, params: dict,
                   heading: bool = True, *, out: np.ndarray | None = None,
                   work: np.ndarray | None = None,
                   low_pass: np.ndarray | None = None, n: int | None = None) -> np.ndarray:
    """:func:`vqf.offlineVQF`'s 6D orientation (n, 4) of ``gyr`` (rad/s) and ``acc`` (m/s²),
    each (n, 3) float64 (rows may be strided: each block is made contiguous for the filter),
    sampled every ``Ts`` s. ``heading=False``: up to a
    constant turn about earth z (for callers that set the heading themselves: a pass fewer).

    ``gyr`` and ``acc`` may also be functions ``gyr(a, b)`` giving rows ``[a, b)`` (made a
    block at a time, e.g. pre-integrated groups of samples: no array of all of them; ``n``
    then gives the number of rows, else ``len(acc)``). ``out`` (n, 4): where the
    result goes (rows may be strided); ``work`` (n, 4): room the caller does not need until
    this returns (e.g. rows it fills afterwards), used for the gyroscope integration instead
    of a fresh array. ``low_pass`` (n, 3), C-contiguous: room for the forward run's low-passed
    specific force; it may share memory with ``acc`` where row i of it lies in rows of
    ``acc`` up to row i (each block is read before its low-pass is written).

    With the bias estimation off, offlineVQF's forward and backward runs of the real-time
    filter only estimate a bias that stays zero; what is left is its tail: the gyroscope
    integration, the specific force turned into that integration's frame, a zero-phase
    low-pass (second-order Butterworth, ``tauAcc``, forward then backward) and the inclination
    correction, a running product of shortest arcs. Here that tail is vqf's own compiled code
    in two runs of its :class:`vqf.BasicVQF` (about 60 % of offlineVQF's time): the first integrates the
    rates and low-passes the turned specific force forward (its ``lastAccLp``, with
    offlineVQF's start); the second, with zero rates, low-passes that backward from the
    steady state at the last sample (offlineVQF's start of the backward pass) and makes the
    correction's running product backward in time. That product differs from the forward one
    by a constant turn about earth z only (each step's shortest arc, taken back, gives the
    opposite turn about z: the turns add up to the same total), so the result is offlineVQF's
    up to that turn: 2e-11° apart on a simulated hour at 200 Hz.
    """
    import vqf

    n = len(acc) if n is None else n
    rows = gyr if callable(gyr) else (lambda a, b: gyr[a:b])
    acc_rows = acc if callable(acc) else (lambda a, b: acc[a:b])
    if n < 2 or not _bias_off(params):  # (every other setting steers the bias only)
        q = np.asarray(vqf.offlineVQF(np.ascontiguousarray(rows(0, n)),
                                      np.ascontiguousarray(acc_rows(0, n)), None, Ts,
                                      params)["quat6D"],
                       dtype=float)
        if out is None:
            return q
        out[...] = q
        return out
    tau = {"tauAcc": params["tauAcc"]} if "tauAcc" in params else {}  # else vqf's default
    fwd, back = vqf.BasicVQF(Ts, **tau), vqf.BasicVQF(Ts, **tau)
    # the forward run a block at a time (the filter keeps its state between calls): its full
    # state is 27 numbers a sample, of which 7 are kept; whole, it would be ~80 MB of fresh
    # memory per sensor-hour (page faults cost more than the filter), in blocks a few MB reused
    q3d = np.empty((n, 4)) if work is None else work
    lp = np.empty((n, 3)) if low_pass is None else low_pass
    for a in range(0, n, _FULL_STATE_ROWS):
        run = fwd.updateBatchFullState(np.ascontiguousarray(rows(a, a + _FULL_STATE_ROWS)),
                                       np.ascontiguousarray(acc_rows(a, a + _FULL_STATE_ROWS)))
        q3d[a:a + _FULL_STATE_ROWS] = run["gyrQuat"]
        lp[a:a + _FULL_STATE_ROWS] = run["lastAccLp"]
        del run
    b, a = vqf.BasicVQF.filterCoeffs(fwd.params["tauAcc"], Ts)
    state = back.state
    state["accLpState"] = [float(v) for j in range(3)
                           for v in vqf.BasicVQF.filterInitialState(float(lp[-1, j]), b, a)]
    back.state = state
    # the backward run a block at a time from the end (the filter keeps its state between
    # calls), each block's correction applied to its samples at once: no arrays the length of
    # the recording besides the result
    out = np.empty((n, 4)) if out is None else out
    zeros = np.zeros((min(n, _FULL_STATE_ROWS), 3))
    for b1 in range(n, 0, -_FULL_STATE_ROWS):
        b0 = max(0, b1 - _FULL_STATE_ROWS)
        corr = back.updateBatch(zeros[:b1 - b0], np.ascontiguousarray(lp[b0:b1][::-1]))["quat6D"]
        multiply(corr[::-1], q3d[b0:b1], out=out[b0:b1])
    if heading:  # offlineVQF's first correction is a shortest arc, with no part about z
        c, s = corr[-1, 0], corr[-1, 3]
        h = max(float(np.hypot(c, s)), 1e-12)
        _turn_z(out, c / h, -s / h)
    return out


def group_rate(w: list, T: float) -> np.ndarray:
    """The mean angular rate (rad/s) of groups of ``g = len(w)`` consecutive samples whose
    rotations ``exp(ω₀·T) ⊗ … ⊗ exp(ω_{g-1}·T)`` are one rotation, to second order: its
    rotation vector ``Σ ωᵢ·T + ½·Σ_{i<j} ωᵢ × ωⱼ·T²`` over ``g·T``.

    Parameters
    ----------
    w : list of ndarray, each shape (m, 3)
        ``w[i]``: the rate (rad/s) of sample ``i`` of each of ``m`` groups.
    T : float
        Sample period, s.

    Returns
    -------
    ndarray, shape (m, 3)
    """
    total = w[0] + w[1]
    c = cross_rows(w[0], w[1])
    for wi in w[2:]:  # Σ_{i<j} ωᵢ × ωⱼ as Σ_j (ω₀ + … + ω_{j-1}) × ωⱼ
        c += cross_rows(total, wi)
        total += wi
    g = len(w)
    c *= 0.5 * T / g  # (½·Σ ωᵢ × ωⱼ·T²) / (g·T)
    c += total * (1.0 / g)
    return c


def group_specific_force(a: list, w: list, T: float) -> np.ndarray:
    """The mean specific force (m/s²) of groups of ``g = len(a)`` consecutive samples, each
    turned into the frame of its group's last sample (to first order: ``aᵢ − rᵢ × aᵢ``, with
    ``rᵢ = Σ_{j>i} ωⱼ·T`` the turn from sample ``i`` to the last, and the mean of
    ``rᵢ × aᵢ`` taken as ``mean(rᵢ) × mean(aᵢ)``).

    The filter's step at a group's last sample is corrected by this mean rather than by that
    sample alone: every sample counts (a box filter before the filter's lower rate), and no
    sample lags. On the five BROAD trials (286 Hz) offlineVQF on groups of four is then within
    0.1 % of its full-rate inclination error on every trial, where the last sample alone is
    up to 8 % worse (24_disturbed_tapping).

    Parameters
    ----------
    a, w : list of ndarray, each shape (m, 3)
        ``a[i]``, ``w[i]``: the specific force (m/s²) and rate (rad/s) of sample ``i`` of each
        of ``m`` groups.
    T : float
        Sample period, s.

    Returns
    -------
    ndarray, shape (m, 3)
    """
    g = len(a)
    mean = a[0] + a[1]
    for ai in a[2:]:
        mean += ai
    mean *= 1.0 / g
    # Σ rᵢ / T = Σ_j j·ωⱼ, as the sum of the suffix sums ωⱼ + … + ω_{g-1}, j ≥ 1
    suffix = w[g - 1].copy()
    turn = suffix.copy()
    for wj in w[g - 2:0:-1]:
        suffix += wj
        turn += suffix
    c = cross_rows(turn, mean)
    c *= T / g
    mean -= c
    return mean


def _offline_vqf(acc: np.ndarray, gyr: np.ndarray, rate_hz: float, params: dict,
                 q0: np.ndarray | None = None, overwrite_acc: bool = False,
                 group: int | None = None) -> np.ndarray:
    """:func:`vqf.offlineVQF`'s 6D orientation (n, 4) of evenly spaced samples, turned about
    earth z so that its first sample has ``q0``'s heading (when given). ``overwrite_acc``:
    ``acc`` is the caller's scratch (its rows hold the filter's working values once read).
    ``group``: samples per filter step (default :func:`group_size`).

    With groups of ``g`` samples the filter runs at ``1/g`` of the rate on pre-integrated
    groups, which divides its cost by ``g``: a group's rotations ``exp(ω₀·T) ⊗ … ⊗
    exp(ω_{g-1}·T)`` become one step of the rotation vector ``Σ ωᵢ·T + ½·Σ_{i<j} ωᵢ × ωⱼ·T²``
    (to second order: on the simulated bench hour at 200 Hz, up to 162 °/s, the remainder of a
    group of four is at most 2e-7°, 5e-9° RMS, 2e-4° summed over the hour), corrected by the
    group's mean specific force turned into its last sample's frame
    (:func:`group_specific_force`); the group's other samples are made from its last one,
    each turned back by the following sample's rate (``q_i = q_{i+1} ⊗ exp(−ω_{i+1}·T)``).
    The accelerometer correction is a low-pass of seconds, so running it at a quarter of the
    rate changes nothing a user sees (measured figures: README, below the filters' table).
    """
    gyr = np.ascontiguousarray(gyr, dtype=np.float64)
    acc = np.ascontiguousarray(acc, dtype=np.float64)
    T = 1.0 / rate_hz
    n = len(gyr)
    g = group_size(rate_hz, not _bias_off(params)) if group is None else int(group)
    room = acc if overwrite_acc and acc.flags.writeable and acc.ndim == 2 else None
    if g < 2 or n < 2 * g:
        q = offline_vqf_6d(gyr, acc, T, params, heading=q0 is None, low_pass=room)
        return q if q0 is None or not len(q) else _turn_z(q, *_z_turn_to(q[0], q0))
    # the first group is filled up at its start with rows of zero rate and the first
    # sample's specific force (no rotation; their orientations are not returned); the groups
    # are read from the samples where they lie (no copy of them)
    pad = -n % g
    m = (n + pad) // g
    no_rate, first_force = np.zeros((1, 3)), acc[:1].copy()  # (acc's rows may be overwritten)

    def group_rows(x: np.ndarray, fill: np.ndarray, b0: int, b1: int) -> list:
        """``x``'s rows of samples 0 … g-1 of groups [b0, b1)."""
        b1 = min(b1, m)
        r0, r1 = g * b0 - pad, g * b1 - pad  # the groups' sample rows (the first may be < 0)
        if r0 >= 0:
            return [x[r0 + i:r1:g] for i in range(g)]
        return [np.concatenate([fill, x[i - pad + g:r1:g]]) if i < pad else x[i - pad:r1:g]
                for i in range(g)]

    def rates(b0: int, b1: int):  # the pre-integrated rates of groups [b0, b1)
        return group_rate(group_rows(gyr, no_rate, b0, b1), T)

    def forces(b0: int, b1: int):  # the groups' specific force, in their last samples' frames
        return group_specific_force(group_rows(acc, first_force, b0, b1),
                                    group_rows(gyr, no_rate, b0, b1), T)

    # the result's rows of each group's last sample take the filter's estimate; the rows of
    # its first samples hold the filter's gyroscope integration meanwhile, until they are
    # made from the last ones (no array of either besides the result)
    out = np.empty((g * m, 4))
    last = out[g - 1::g]
    # (the groups' low-passed specific force in the first rows of the samples' own, each
    # written after the rows it lies in were read: group k is read from rows up to g·k + g − 1
    # − pad, and later groups from rows after those)
    offline_vqf_6d(rates, forces, g * T, params, heading=q0 is None, out=last,
                   work=out[0::g], low_pass=None if room is None else room[:m], n=m)
    # q_i = q_{i+1} ⊗ exp(−ω_{i+1}·T), a block of groups at a time, each quaternion component
    # a contiguous row (multiply()'s numbers, with fewer strided passes)
    by_group = out.reshape(m, g, 4)
    turn = None
    block = _GROUP_BLOCK // g
    for b0 in range(0, m, block):
        s = slice(b0, b0 + block)
        d = []
        for wi in group_rows(gyr, no_rate, b0, b0 + block)[1:]:
            rv = np.empty((3, len(wi)))
            np.multiply(wi.T, -T, out=rv)
            d.append(from_rotvec_parts(rv))
        if q0 is not None and turn is None:  # the heading of the first output sample (a
            # turn about z commutes)
            first = last[0]
            for i in range(g - 2, pad - 1, -1):
                first = multiply(first, d[i][:, 0])
            turn = _z_turn_to(first, q0)
        if turn is not None:
            _turn_z(last[s], *turn)
        q = tuple(last[s].T.copy())
        for i in range(g - 2, -1, -1):
            q = multiply_parts(q, d[i])
            for k in range(4):
                by_group[s, i, k] = q[k]
    return out[pad:]


#: samples per block of the turn back to each group's first samples in :func:`_offline_vqf`
#: (a block of the result, 512 kB, stays in the cache)
_GROUP_BLOCK = 16384


def offline_run(name: str, rate_hz: float, acc: np.ndarray, gyr: np.ndarray,
                q0: np.ndarray, overwrite_acc: bool = False, **settings) -> np.ndarray:
    """Non-causal orientation over one gap-free run of evenly spaced samples
    (``overwrite_acc``: ``acc``, float64 and C-contiguous, is the caller's scratch and may be
    overwritten).

    The result is turned about earth z so that its first sample's heading is ``q0``'s (so runs
    join as the causal path's restarts do); its inclination is the offline estimate's own.

    Returns
    -------
    ndarray, shape (n, 4)
        ``q_ES`` per sample, ``w, x, y, z``.
    """
    if name not in OFFLINE_VQF:
        return forward_backward(name, rate_hz, acc, gyr, q0, **settings)
    merged = {**OFFLINE_SETTINGS.get(name, {}), **settings}
    # heading: the rotation about z that takes the first estimate to q0 (same inclination up
    # to the offline correction); its z part only
    return _offline_vqf(acc, gyr, float(rate_hz), _vqf_params(name, merged), q0,
                        overwrite_acc=overwrite_acc)
