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
from imu.quat import conj, cross_rows, from_rotvec_parts, multiply, normalize

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


#: above this rate, sample pairs are pre-integrated and offlineVQF runs at half the rate
#: (:func:`_offline_vqf`)
PAIR_ABOVE_HZ = 150.0


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


def offline_vqf_6d(gyr, acc: np.ndarray, Ts: float, params: dict,
                   heading: bool = True, *, out: np.ndarray | None = None,
                   work: np.ndarray | None = None,
                   low_pass: np.ndarray | None = None) -> np.ndarray:
    """:func:`vqf.offlineVQF`'s 6D orientation (n, 4) of ``gyr`` (rad/s) and ``acc`` (m/s²),
    each (n, 3) float64 (rows may be strided: each block is made contiguous for the filter),
    sampled every ``Ts`` s. ``heading=False``: up to a
    constant turn about earth z (for callers that set the heading themselves: a pass fewer).

    ``gyr`` may also be a function ``gyr(a, b)`` giving rows ``[a, b)`` (made a block at a
    time, e.g. pre-integrated pairs: no array of all of them). ``out`` (n, 4): where the
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

    n = len(acc)
    rows = gyr if callable(gyr) else (lambda a, b: gyr[a:b])
    if n < 2 or not _bias_off(params):  # (every other setting steers the bias only)
        q = np.asarray(vqf.offlineVQF(np.ascontiguousarray(rows(0, n)),
                                      np.ascontiguousarray(acc), None, Ts, params)["quat6D"],
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
                                       np.ascontiguousarray(acc[a:a + _FULL_STATE_ROWS]))
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


def _offline_vqf(acc: np.ndarray, gyr: np.ndarray, rate_hz: float, params: dict,
                 q0: np.ndarray | None = None, overwrite_acc: bool = False) -> np.ndarray:
    """:func:`vqf.offlineVQF`'s 6D orientation (n, 4) of evenly spaced samples, turned about
    earth z so that its first sample has ``q0``'s heading (when given). ``overwrite_acc``:
    ``acc`` is the caller's scratch (its rows hold the filter's working values once read).

    Above :data:`PAIR_ABOVE_HZ` the filter runs at half the rate on pre-integrated sample
    pairs, which halves its cost: a pair's two rotations ``exp(ω₀·T) ⊗ exp(ω₁·T)`` become one
    step of the rotation vector ``(ω₀ + ω₁)·T + ½·(ω₀ × ω₁)·T²`` (to second order: body
    motion at 200 Hz leaves the third-order remainder below 1e-6°), corrected by the pair's
    second specific-force sample; the first sample of each pair is its second turned back by
    that sample's own rate. The accelerometer correction is a low-pass of seconds, so sampling
    it at half the rate changes nothing a user sees: on a simulated hour at 200 Hz the two
    paths differ by 0.011° RMS (0.003° in inclination), and ``python -m bench broad`` holds.
    """
    gyr = np.ascontiguousarray(gyr, dtype=np.float64)
    acc = np.ascontiguousarray(acc, dtype=np.float64)
    T = 1.0 / rate_hz
    n = len(gyr)
    room = acc if overwrite_acc and acc.flags.writeable and acc.ndim == 2 else None
    if rate_hz <= PAIR_ABOVE_HZ or n < 4:
        q = offline_vqf_6d(gyr, acc, T, params, heading=q0 is None, low_pass=room)
        return q if q0 is None or not len(q) else _turn_z(q, *_z_turn_to(q[0], q0))
    # an odd first sample forms a pair with a copy of itself (the same rotation, half each);
    # the pairs are read from the samples where they lie (no copy of them)
    lead = n % 2
    m = (n + lead) // 2
    half = 0.5 * gyr[0]

    def pair_rows(b0: int, b1: int):  # (ω₀, ω₁) of pairs [b0, b1)
        b1 = min(b1, m)
        if not lead:
            return gyr[2 * b0:2 * b1:2], gyr[2 * b0 + 1:2 * b1:2]
        if b0 > 0:
            return gyr[2 * b0 - 1:2 * b1 - 1:2], gyr[2 * b0:2 * b1:2]
        return (np.concatenate([half[None], gyr[1:2 * b1 - 1:2]]),
                np.concatenate([half[None], gyr[2:2 * b1:2]]))

    def rates(b0: int, b1: int):  # the pre-integrated rates of pairs [b0, b1)
        w0, w1 = pair_rows(b0, b1)
        c = cross_rows(w0, w1)
        c *= 0.25 * T  # (½·(ω₀ × ω₁)·T²) / (2T)
        c += 0.5 * (w0 + w1)
        return c

    # the result's odd rows (each pair's second sample) take the filter's estimate; its even
    # rows hold the filter's gyroscope integration meanwhile, until they are made from the odd
    # ones (no array of either besides the result)
    out = np.empty((2 * m, 4))
    odd, even = out[1::2], out[0::2]
    # (the pairs' low-passed specific force in the first rows of the samples' own, each
    # written after the rows it lies in were read: pair k is read from row 2k + 1 - lead)
    offline_vqf_6d(rates, acc[1 - lead::2], 2.0 * T, params, heading=q0 is None, out=odd,
                   work=even, low_pass=None if room is None else room[:m])
    # q₀ = q₁ ⊗ exp(−ω₁·T)
    turn = None
    for b0 in range(0, m, _PAIR_BLOCK):
        s = slice(b0, b0 + _PAIR_BLOCK)
        d = from_rotvec_parts((pair_rows(b0, b0 + _PAIR_BLOCK)[1] * -T).T).T
        if q0 is not None and turn is None:  # the heading of the first output sample (a
            # turn about z commutes)
            turn = _z_turn_to(odd[0] if lead else multiply(odd[0], d[0]), q0)
        if turn is not None:
            _turn_z(odd[s], *turn)
        multiply(odd[s], d, out=even[s])
    return out[lead:]


#: sample pairs per block in :func:`_offline_vqf`
_PAIR_BLOCK = 16384


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
