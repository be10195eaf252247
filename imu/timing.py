"""Time alignment: a clock model per sensor, one session time base, gap bookkeeping.

Clock model
-----------
Each sensor stamps samples with its own clock; the host stamps them when they arrive. Arrival is
late by a latency that is never negative and varies (radio scheduling, BLE connection events that
deliver several samples at once, OS jitter). With sensor time ``s`` and host receive time ``h``::

    h = offset + (1 + drift) · s + latency,   latency ≥ latency_min

:class:`ClockModel` is fitted to the **lower envelope** of ``h − s`` against ``s`` (the line
under all points that hugs them closest, the linear-programming clock-skew estimator of Moon,
Skelly & Towsley 1999), not by least squares, which latency would bias late and jitter would
tilt. The minimum latency is absorbed in ``offset`` (unobservable without a round trip).

Resampling
----------
:func:`common_time_base` makes one evenly spaced session time base; :func:`resample_quat`
(slerp) and :func:`resample_vec` (linear) bring each sensor onto it. A target time inside a gap
of the source longer than ``max_gap_s`` gets NaN: gaps stay gaps, never bridged by more than a
few samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from imu.errors import BadInputError

from imu import quat as Q

#: common wrap periods of sensor timestamps, seconds (32-bit µs counter, 24/16-bit tick counters)
KNOWN_WRAPS_S = (2.0 ** 32 * 1e-6, 2.0 ** 32 * 1e-3, 2.0 ** 24 / 32768.0, 2.0 ** 16 / 32768.0,
                 2.0 ** 32 / 32768.0, 2.0 ** 24 * 25e-6, 2.0 ** 32 * 25e-6, 2.0 ** 16 * 1e-3)


#: a jump back that matches a known counter period is taken for its wrap only when the samples
#: either side of it are at most this far apart once it is undone (or 10 sample steps), s
MAX_WRAP_GAP_S = 0.25


# --------------------------------------------------------------------------------- unwrapping
def unwrap_counter(values: np.ndarray, modulus: float) -> np.ndarray:
    """Undo the wrap of a counter that counts up modulo ``modulus`` (sequence numbers, ticks).

    A step backwards by more than half the modulus is taken as one wrap.
    """
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return v.copy()
    d = np.diff(v)
    wraps = np.concatenate([[0.0], np.cumsum(np.where(d < -modulus / 2, 1.0, 0.0))])
    return v + wraps * modulus


def unwrap_sensor_time(t_sensor_s: np.ndarray, wrap_s: float | None = None) -> np.ndarray:
    """Sensor timestamps (s) made monotonic across counter wraps.

    Parameters
    ----------
    t_sensor_s : ndarray, shape (N,)
        Sensor-clock times, seconds, as decoded.
    wrap_s : float, optional
        The counter's wrap period in seconds. Without it, a backwards jump larger than 1 s whose
        size matches a known counter period (:data:`KNOWN_WRAPS_S`, within 1 %) and that leaves
        the samples either side of it at most :data:`MAX_WRAP_GAP_S` (or 10 steps) apart is
        undone; other backwards jumps (a sensor that restarted its clock) are left for
        :func:`session_times` to treat as a new clock segment.
    """
    return _unwrap(np.asarray(t_sensor_s, dtype=float).copy(), wrap_s)[0]


def _unwrap(t: np.ndarray, wrap_s: float | None) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`unwrap_sensor_time` of ``t`` (returned itself when nothing is undone), and its
    steps ``np.diff(t)`` when it is returned itself (else None)."""
    if len(t) < 2:
        return t, None
    d = np.diff(t)
    back = np.flatnonzero(d < -1.0)
    if len(back) == 0:
        return t, d
    if wrap_s is None:
        pos = d[d > 0]
        step = float(np.median(pos)) if len(pos) else 0.0
        est = float(-d[back[0]] + step)
        wrap_s = next((w for w in KNOWN_WRAPS_S if abs(w - est) < 0.01 * w), None)
        if wrap_s is None:
            return t, d
        # a wrap continues the count: once undone, the sample after it comes a step (or a
        # short gap) after the one before; a restarted clock's jump back only happens to be
        # near a counter's period (a DOT reset 510 s into its clock is not a 512 s wrap), and
        # taking it for one would misplace a whole clock segment (a new segment costs nothing:
        # session_times fits its own offset)
        if not 0.0 < float(d[back[0]]) + wrap_s <= max(10.0 * step, MAX_WRAP_GAP_S):
            return t, d
    return (unwrap_counter(t, wrap_s), None) if wrap_s > 2.0 else (t, d)


# -------------------------------------------------------------------------------- clock model
def _lower_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the lower convex hull of points sorted by x (Andrew's monotone chain)."""
    hull: list[int] = []
    x, y = np.asarray(x, dtype=float).tolist(), np.asarray(y, dtype=float).tolist()  # floats
    for i in range(len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # keep b only if it lies strictly below the segment a→i
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return np.asarray(hull, dtype=np.int64)


@dataclass
class ClockModel:
    """Map from one sensor's clock to the session (host) clock.

    ``host = offset_s + (1 + drift) · sensor``; ``drift`` is dimensionless (1e-6 = 1 ppm).

    Attributes
    ----------
    offset_s : float
        Host time at sensor time 0 (includes the smallest transport latency), seconds.
    drift : float
        Relative rate error of the sensor clock against the host clock.
    latency_median_s : float
        Median of the latency above the envelope (how late samples arrive, typically), s.
    latency_p99_s : float
        99th percentile of that latency, seconds.
    n_samples : int
        Samples the fit used.
    """

    offset_s: float = 0.0
    drift: float = 0.0
    latency_median_s: float = 0.0
    latency_p99_s: float = 0.0
    n_samples: int = 0

    def to_session(self, t_sensor_s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Sensor times (s, unwrapped) → session times (s); ``out``: an array of their shape
        to write them into (the same numbers, no temporary)."""
        t = np.asarray(t_sensor_s, dtype=float)
        if out is None:
            return self.offset_s + (1.0 + self.drift) * t
        np.multiply(t, 1.0 + self.drift, out=out)
        out += self.offset_s
        return out

    def to_sensor(self, t_session_s: np.ndarray) -> np.ndarray:
        """Session times (s) → sensor times (s)."""
        return (np.asarray(t_session_s, dtype=float) - self.offset_s) / (1.0 + self.drift)

    @property
    def drift_ppm(self) -> float:
        return self.drift * 1e6

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ClockModel":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @classmethod
    def fit(cls, t_sensor_s: np.ndarray, t_host_s: np.ndarray, n_bins: int = 400,
            fit_drift: bool = True, latency: bool = True) -> "ClockModel":
        """Fit the clock model to the lower envelope of arrival times.

        Parameters
        ----------
        t_sensor_s : ndarray, shape (N,)
            Sensor timestamps, seconds, unwrapped (see :func:`unwrap_sensor_time`).
        t_host_s : ndarray, shape (N,)
            Host receive times, seconds.
        n_bins : int
            The data are cut into this many bins along sensor time and each bin's earliest
            arrival kept; the envelope is fitted to those (robust to batching: the first
            sample of a bin that arrived with little delay fixes the line).
        fit_drift : bool
            With False, only the offset is fitted (short recordings).
        latency : bool
            With False, ``latency_median_s`` and ``latency_p99_s`` are left 0 (they take two
            partial sorts of every sample; the offset and drift are the same).

        Returns
        -------
        ClockModel

        Notes
        -----
        Among the lines below every bin minimum, the one closest to them on average (the
        lower-hull edge above the mean sensor time) is taken. A bin minimum that lies far below
        its neighbours (a host clock step, a corrupt timestamp) would pull the envelope down;
        such points (more than 5 robust deviations below the median envelope residual, and
        below the line through the others) are dropped first.
        """
        s = np.asarray(t_sensor_s, dtype=float).reshape(-1)
        h = np.asarray(t_host_s, dtype=float).reshape(-1)
        ok = np.isfinite(s) & np.isfinite(h)
        if not ok.all():
            s, h = s[ok], h[ok]
        n = len(s)
        if n == 0:
            return cls()
        if n > 1 and not np.all(s[1:] >= s[:-1]):  # in order already: the stable sort is a no-op
            order = np.argsort(s, kind="stable")
            s, h = s[order], h[order]
        s0 = float(s[0])
        x = s - s0
        y = h - s
        if n == 1 or x[-1] <= 0 or not fit_drift:
            off = float(np.min(y))
            if not latency:
                return cls(off + 0.0, 0.0, 0.0, 0.0, n)
            lat = y - off
            return cls(off + 0.0, 0.0, float(np.median(lat)), float(np.quantile(lat, 0.99)), n)
        nb = int(max(2, min(n_bins, n // 2)))
        edges = np.searchsorted(x, np.linspace(0, x[-1], nb + 1)[:-1])
        edges = np.unique(edges)
        # position of each bin's minimum (its first): one short search per bin (at most
        # n_bins), no arrays the length of the samples
        ends = np.append(edges[1:], n).tolist()
        idx = np.array([a + int(np.argmin(y[a:b])) for a, b in zip(edges.tolist(), ends)],
                       dtype=np.int64)
        bx, by = x[idx], y[idx]
        # reject bin minima far below the rest (robust line through bin minima first)
        if len(bx) >= 8:
            A = np.vstack([np.ones_like(bx), bx]).T
            c = np.linalg.lstsq(A, by, rcond=None)[0]
            r = by - A @ c
            med = np.median(r)
            mad = np.median(np.abs(r - med)) * 1.4826 + 1e-9
            keep = r > med - 5 * mad
            bx, by = bx[keep], by[keep]
        if len(bx) == 1:
            off, b = float(by[0]), 0.0
        else:
            hull = _lower_hull(bx, by)
            hx, hy = bx[hull], by[hull]
            xm = float(np.mean(x))
            k = int(np.clip(np.searchsorted(hx, xm) - 1, 0, len(hx) - 2))
            b = (hy[k + 1] - hy[k]) / (hx[k + 1] - hx[k])
            off = hy[k] - b * hx[k]
        # y = off + b (s - s0)  →  h = (off - b s0) + (1 + b) s
        model = cls(float(off - b * s0), float(b), 0.0, 0.0, n)
        if not latency:
            return model
        lat = h - model.to_session(s)
        model.latency_median_s = float(np.median(lat))
        model.latency_p99_s = float(np.quantile(lat, 0.99))
        return model


def session_times(sensor_data, model: ClockModel | None = None, wrap_s: float | None = None,
                  rate_hz: float | None = None, latency_s: float = 0.0) -> np.ndarray:
    """Session-clock time of every sample of one sensor.

    Parameters
    ----------
    sensor_data : imu.types.SensorData (or SampleBlock)
        ``t_sensor_s``, ``t_host_s`` and ``seq`` are used.
    model : ClockModel, optional
        Use this model instead of fitting one.
    wrap_s : float, optional
        Sensor timestamp wrap period (see :func:`unwrap_sensor_time`).
    rate_hz : float, optional
        Nominal rate; used only when the sensor sends no timestamps (all NaN): sensor time is
        then ``seq / rate_hz``.
    latency_s : float
        Known minimum transport latency (sampling → host receipt), seconds, subtracted from the
        fitted times. One-way latency cannot be observed from the data; the envelope fit puts
        samples at their earliest possible arrival. Sensors on one link share it, so it cancels
        between sensors; set it only to compare with an external clock.

    Returns
    -------
    ndarray, shape (N,)
        Session times, seconds, in sample order.
    """
    ts = np.asarray(sensor_data.t_sensor_s, dtype=float)
    th = np.asarray(sensor_data.t_host_s, dtype=float)
    if len(ts) == 0:
        return np.zeros(0)
    if not np.any(np.isfinite(ts)):
        r = rate_hz or getattr(getattr(sensor_data, "info", None), "rate_hz", 0.0)
        if not r:
            return th.copy()
        ts = np.asarray(sensor_data.seq, dtype=float) / float(r)
    ts, steps = _unwrap(ts, wrap_s)  # (read only here: no copy when nothing is undone)
    if model is not None:
        return model.to_session(ts) - float(latency_s)
    if not np.any(np.isfinite(th)):
        return ts - ts[0]
    out = np.empty(len(ts))
    for a, b in clock_segments(ts, steps=steps):
        # a sensor that restarted its clock: each segment gets its own offset (and drift when
        # it is long enough to measure one)
        long_enough = ts[b - 1] - ts[a] > 60.0
        ClockModel.fit(ts[a:b], th[a:b], fit_drift=long_enough,
                       latency=False).to_session(ts[a:b], out=out[a:b])
    if latency_s:
        out -= float(latency_s)
    return out


def clock_segments(t_sensor_s: np.ndarray, back_s: float = 0.5,
                   steps: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Index ranges over which the (unwrapped) sensor clock runs on without stepping back by
    more than ``back_s`` (a restarted sensor clock starts a new segment). ``steps``:
    ``np.diff`` of the times, where made already."""
    t = np.asarray(t_sensor_s, dtype=float)
    if len(t) == 0:
        return []
    br = np.flatnonzero((np.diff(t) if steps is None else steps) < -back_s) + 1
    b = np.concatenate([[0], br, [len(t)]])
    return [(int(x), int(y)) for x, y in zip(b[:-1], b[1:])]


def fit_clock(sensor_data, wrap_s: float | None = None) -> ClockModel:
    """:class:`ClockModel` of one sensor from its samples (timestamps unwrapped first)."""
    return ClockModel.fit(unwrap_sensor_time(sensor_data.t_sensor_s, wrap_s), sensor_data.t_host_s)


# ----------------------------------------------------------------------------------------- gaps
@dataclass
class Gap:
    """A stretch with no samples from one sensor.

    ``start_s`` is the time of the last sample before it, ``end_s`` of the first after it
    (session clock); ``n_missing`` the samples that should have arrived in between.
    """

    start_s: float
    end_s: float
    n_missing: int
    sensor: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        return asdict(self)


def find_gaps(t_s: np.ndarray, rate_hz: float, min_missing: int = 1, seq: np.ndarray | None = None,
              sensor: str = "") -> list[Gap]:
    """Gaps in one sensor's samples.

    Parameters
    ----------
    t_s : ndarray, shape (N,)
        Sample times, seconds (session clock), in order.
    rate_hz : float
        Nominal sample rate, Hz.
    min_missing : int
        Report gaps of at least this many missing samples.
    seq : ndarray, shape (N,), optional
        Sequence numbers; where given, missing samples are counted from them (exact),
        otherwise from the time step.
    """
    t = np.asarray(t_s, dtype=float)
    if len(t) < 2:
        return []
    if seq is not None:
        missing = np.diff(np.asarray(seq, dtype=np.int64)) - 1
    else:
        missing = np.rint(np.diff(t) * rate_hz).astype(np.int64) - 1
    at = np.flatnonzero(missing >= min_missing)
    return [Gap(float(t[i]), float(t[i + 1]), int(missing[i]), sensor) for i in at]


# ----------------------------------------------------------------------------------- resampling
#: A resampled time base may always have this many points ...
MAX_GRID_POINTS = 1_000_000
#: ... and beyond that at most this many per input sample (all sensors together): a span that
#: needs more is mostly empty, a wrong clock rather than data.
MAX_GRID_PER_SAMPLE = 10


def check_grid(span_s: float, rate_hz: float, n_samples: int) -> None:
    """Refuse (one line) a time grid of ``span_s`` at ``rate_hz`` that the ``n_samples`` input
    samples cannot justify (:data:`MAX_GRID_POINTS`, :data:`MAX_GRID_PER_SAMPLE`): memory then
    follows the data, never a crafted time stamp."""
    points = float(span_s) * float(rate_hz) + 1
    if not points <= max(MAX_GRID_POINTS, MAX_GRID_PER_SAMPLE * n_samples):
        raise BadInputError(
            f"session times span {span_s:.6g} s but hold only {n_samples} samples: refusing to "
            f"resample onto {points:.3g} points at {rate_hz:g} Hz (a sensor clock or "
            "time column is wrong)")


def common_time_base(times, rate_hz: float, span: str = "overlap") -> np.ndarray:
    """One evenly spaced session time base for several sensors.

    Parameters
    ----------
    times : iterable of ndarray (N_i,) or dict of them
        Session times of each sensor, seconds.
    rate_hz : float
        Rate of the common base, Hz.
    span : {"overlap", "union"}
        ``overlap``: from the latest first sample to the earliest last sample (every sensor has
        data at both ends); ``union``: from the earliest to the latest sample.

    Returns
    -------
    ndarray, shape (M,)
        Times on the grid ``k / rate_hz`` (whole multiples, so bases of one session line up).
    """
    if isinstance(times, dict):
        times = list(times.values())
    spans = []  # (first, last, finite samples) of each sensor with any
    for t in times:
        t = np.asarray(t, dtype=float)
        if not len(t):
            continue
        lo, hi = np.minimum.reduce(t), np.maximum.reduce(t)  # (a NaN makes them NaN)
        if not (np.isfinite(lo) and np.isfinite(hi)):  # some not finite: the finite ones
            t = t[np.isfinite(t)]
            if not len(t):
                continue
            lo, hi = t.min(), t.max()
        spans.append((lo, hi, len(t)))
    if not spans:
        return np.zeros(0)
    if span == "overlap":
        t0, t1 = max(sp[0] for sp in spans), min(sp[1] for sp in spans)
    elif span == "union":
        t0, t1 = min(sp[0] for sp in spans), max(sp[1] for sp in spans)
    else:
        raise ValueError(f"span must be 'overlap' or 'union', got {span!r}")
    if not (np.isfinite(rate_hz) and rate_hz > 0):
        raise BadInputError(f"time base rate must be a positive number, not {rate_hz!r}")
    k0f, k1f = np.ceil(t0 * rate_hz - 1e-9), np.floor(t1 * rate_hz + 1e-9)
    if k1f < k0f:
        return np.zeros(0)
    check_grid(t1 - t0, rate_hz, sum(sp[2] for sp in spans))
    grid = np.arange(int(k0f), int(k1f) + 1, dtype=float)  # k exactly, then k / rate
    grid /= float(rate_hz)
    return grid


def bracket_times(t_src: np.ndarray, t_dst: np.ndarray, max_gap_s: float | None = None):
    """Where each target time falls among increasing source times: ``(i0, i1, u, valid)``
    (left and right source indices, the fraction between them, and whether the target is
    inside the source span and not in a gap longer than ``max_gap_s``; default 5 median
    source periods); None without source samples. Shared by :func:`resample_quat` and
    :func:`resample_vec` (pass it as ``bracket=`` to do the search once for both)."""
    t_src = np.asarray(t_src, dtype=float)
    t_dst = np.asarray(t_dst, dtype=float)
    n = len(t_src)
    if n == 0:
        return None
    if max_gap_s is None:
        max_gap_s = 5.0 * float(np.median(np.diff(t_src))) if n > 1 else 0.0
    i1 = _first_at_or_after(t_src, t_dst)  # first src >= dst
    if len(i1) and n > 1 and int(i1.min()) >= 1 and int(i1.max()) < n:
        # every target inside the source span (the usual block): nothing to clip
        i1c = i1
        t1 = t_src[i1]
        exact = t1 == t_dst
        i0c = i1 - 1
        np.copyto(i0c, i1, where=exact)
        valid = np.isfinite(t_dst)
    else:
        i1c = np.minimum(i1, n - 1)
        t1 = t_src[i1c]
        exact = (i1 < n) & (t1 == t_dst)
        i0 = i1 - 1
        np.copyto(i0, i1, where=exact)
        valid = (i0 >= 0) & (i1 < n) & np.isfinite(t_dst)
        i0c = np.clip(i0, 0, n - 1)
    t0 = t_src[i0c]
    span = t1 - t0
    valid &= span <= max_gap_s + 1e-12
    pos = span > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.divide(t_dst - t0, span, out=np.zeros(len(span)), where=pos)
    np.clip(u, 0.0, 1.0, out=u)
    return i0c, i1c, u, valid



def _first_at_or_after(t_src: np.ndarray, t_dst: np.ndarray) -> np.ndarray:
    """``np.searchsorted(t_src, t_dst, side="left")``; for increasing finite ``t_dst`` the
    search runs in the stretch of ``t_src`` they span (it stays in the CPU cache: a long
    recording's times do not)."""
    m = len(t_dst)
    if m < 64 or not (np.isfinite(t_dst[0]) and np.isfinite(t_dst[-1])) \
            or not bool(np.all(t_dst[1:] >= t_dst[:-1])):
        return np.searchsorted(t_src, t_dst, side="left")
    lo, hi = np.searchsorted(t_src, [t_dst[0], t_dst[-1]], side="left")
    i = np.searchsorted(t_src[lo:hi], t_dst, side="left")
    i += lo
    return i


#: quaternion dot product of a 2° step: closer neighbours are interpolated linearly
#: (then normalised), farther ones by slerp (:func:`resample_quat`)
_NLERP_MIN_DOT = float(np.cos(np.radians(2.0) / 2))


def resample_quat(t_src: np.ndarray, q_src: np.ndarray, t_dst: np.ndarray,
                  max_gap_s: float | None = None, bracket=None) -> np.ndarray:
    """Orientations at new times by slerp between the neighbouring source samples (for
    neighbours less than 2° apart, normalised linear interpolation, equal to slerp within
    1e-5°).

    Parameters
    ----------
    t_src : ndarray, shape (N,)
        Increasing source times, seconds.
    q_src : ndarray, shape (N, 4)
        Unit quaternions ``w, x, y, z`` (NaN rows are gaps).
    t_dst : ndarray, shape (M,)
        Target times, seconds.
    max_gap_s : float, optional
        Source steps longer than this are gaps: targets inside them (and outside the source
        span) are NaN. Default: 5 median source periods.
    bracket : tuple, optional
        :func:`bracket_times` of these times, when already known.

    Returns
    -------
    ndarray, shape (M, 4)
    """
    q_src = np.asarray(q_src, dtype=float).reshape(-1, 4)
    br = bracket if bracket is not None else bracket_times(t_src, np.atleast_1d(t_dst), max_gap_s)
    if br is None:
        return np.full((len(np.atleast_1d(t_dst)), 4), np.nan)
    i0, i1, u, valid = br
    every = bool(valid.all())
    sel = slice(None) if every else np.flatnonzero(valid)
    a = np.take(q_src, i0[sel], axis=0)  # a gather by index: faster than boolean indexing
    b = np.take(q_src, i1[sel], axis=0)
    uu = u[sel]
    d = _row_dot4(a, b)
    neg = d < 0  # b on the other hemisphere: -b (its weight negated: the same numbers)
    d = np.abs(d, out=d)
    # neighbouring samples turn by at most a few degrees: there the normalised linear
    # interpolation is slerp to within 1e-5° (steps up to 2°) at a fraction of the cost;
    # larger steps get slerp's weights
    wa = 1.0 - uu
    wb = np.negative(uu, where=neg, out=uu.copy())
    far = d < _NLERP_MIN_DOT
    if far.any():
        far = np.flatnonzero(far)
        theta = np.arccos(np.minimum(d[far], 1.0))
        s = np.sin(theta)
        uf = uu[far]
        wa[far] = np.sin((1.0 - uf) * theta) / s
        wf = np.sin(uf * theta) / s
        wb[far] = np.negative(wf, where=neg[far], out=wf)
    a *= wa[:, None]
    b *= wb[:, None]
    a += b
    a /= np.sqrt(_row_dot4(a, a))[:, None]
    if every:
        return a
    out = np.full((len(np.atleast_1d(t_dst)), 4), np.nan)
    out[sel] = a
    return out


def _row_dot4(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products (n,) of rows (n, 4), component by component, summed as numpy's einsum
    (imu.quat.row_dot) sums four: ``(a0·b0 + a2·b2) + (a1·b1 + a3·b3)`` (its two-lane
    accumulation; several times faster than einsum on rows this short)."""
    p = a[:, 0] * b[:, 0]
    p += a[:, 2] * b[:, 2]
    q = a[:, 1] * b[:, 1]
    q += a[:, 3] * b[:, 3]
    p += q
    return p


def resample_vec(t_src: np.ndarray, x_src: np.ndarray, t_dst: np.ndarray,
                 max_gap_s: float | None = None, bracket=None) -> np.ndarray:
    """Linear interpolation of (N, k) samples onto ``t_dst``; NaN inside gaps (as
    :func:`resample_quat`; ``bracket``: :func:`bracket_times` of these times, when known)."""
    x_src = np.asarray(x_src, dtype=float)
    flat = x_src.reshape(len(x_src), -1)
    out = np.full((len(np.atleast_1d(t_dst)), flat.shape[1]), np.nan)
    br = bracket if bracket is not None else bracket_times(t_src, np.atleast_1d(t_dst), max_gap_s)
    if br is not None:
        i0, i1, u, valid = br
        if valid.all():  # (no boolean selections: gathers by index)
            uu = u[:, None]
            np.add((1 - uu) * np.take(flat, i0, axis=0), uu * np.take(flat, i1, axis=0),
                   out=out)
        else:
            uu = u[valid][:, None]
            out[valid] = (1 - uu) * flat[i0[valid]] + uu * flat[i1[valid]]
    return out.reshape((len(out),) + x_src.shape[1:])
