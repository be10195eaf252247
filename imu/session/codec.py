"""Lossless encoding of raw sample chunks for the recording store.

A chunk is ``n`` samples of one sensor: ``seq`` (int64), ``t_sensor_s``, ``t_host_s`` (float64),
``acc`` and ``gyr`` (float64, shape (n, 3)). Each of the nine columns is stored bit-exactly as
its own deflate stream, with the transform that suits it:

- ``seq``: int64 differences (nearly all 1);
- ``t_sensor_s``: tick counts (as below) when the sensor clock counts ticks of a fixed period;
- ``t_sensor_s``, ``t_host_s`` otherwise: whichever of plain, XOR-with-previous, or XOR plus
  byte shuffle deflates smallest (regular clocks → mostly zero bytes);
- ``acc``, ``gyr``: sensors deliver int16 counts times a scale factor. When a column is exactly
  ``k · s`` for integers ``k`` and one float64 ``s`` (found from the data and **verified bit for
  bit**), the counts are stored as int16 (or int32) differences plus ``s``: about 1–1.5 bytes a
  value, and decoding is an integer cumsum and one multiply. Anything else (NaN, unquantised
  floats) is stored as plain float64.

Nothing is rounded: decoding gives back every value bit for bit (NaN, -0.0 and infinities
included). Chunks of a few thousand samples compress best; the store seals its small live
commits into chunks of :data:`SEAL_SAMPLES`.

Blob layout: one version byte, then per column ``<B method, d param, I nbytes>``, then the
column payloads (each a zlib stream) in order.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

try:  # ISA-L's inflate: the same streams (checksums checked), about twice as fast as zlib's
    from isal.isal_zlib import decompressobj as _decompressobj, error as _InflateError
except ImportError:  # pragma: no cover - isal is a dependency; zlib decodes the same
    _decompressobj, _InflateError = zlib.decompressobj, zlib.error

#: Codec identifier stored with every chunk.
CODEC_COLUMNS_ZLIB = 2
NCOL = 9  # seq, t_sensor, t_host, acc xyz, gyr xyz
#: Samples per sealed chunk (≈ 20 s at 200 Hz): compresses 2× better than 0.5 s chunks.
SEAL_SAMPLES = 4096
#: Most samples one stored chunk may claim (the writer never stores more than SEAL_SAMPLES).
MAX_CHUNK_SAMPLES = 1 << 20

RAW, XOR, XORSHUF, DELTA64, QUANT16, QUANT32 = range(6)
_COL = struct.Struct("<BdI")
_VERSION = 2


def pack_columns(seq: np.ndarray, t_sensor_s: np.ndarray, t_host_s: np.ndarray,
                 acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
    """Stack the sample fields into an (n, 9) uint64 matrix of bit patterns."""
    n = len(seq)
    m = np.empty((n, NCOL), dtype=np.uint64)
    m[:, 0] = np.asarray(seq, dtype=np.int64).view(np.uint64)
    m[:, 1] = np.ascontiguousarray(t_sensor_s, dtype=np.float64).view(np.uint64)
    m[:, 2] = np.ascontiguousarray(t_host_s, dtype=np.float64).view(np.uint64)
    m[:, 3:6] = np.ascontiguousarray(acc, dtype=np.float64).reshape(n, 3).view(np.uint64)
    m[:, 6:9] = np.ascontiguousarray(gyr, dtype=np.float64).reshape(n, 3).view(np.uint64)
    return m


def unpack_columns(m: np.ndarray) -> tuple[np.ndarray, ...]:
    """Inverse of :func:`pack_columns`: ``seq, t_sensor_s, t_host_s, acc, gyr``."""
    seq = np.ascontiguousarray(m[:, 0]).view(np.int64)
    t_sensor = np.ascontiguousarray(m[:, 1]).view(np.float64)
    t_host = np.ascontiguousarray(m[:, 2]).view(np.float64)
    acc = np.ascontiguousarray(m[:, 3:6]).view(np.float64)
    gyr = np.ascontiguousarray(m[:, 6:9]).view(np.float64)
    return seq, t_sensor, t_host, acc, gyr


# -- column transforms ------------------------------------------------------------------------

def _xor(u: np.ndarray) -> np.ndarray:
    y = u.copy()
    y[1:] ^= u[:-1]
    return y


def _shuffle(u: np.ndarray) -> bytes:
    return np.ascontiguousarray(u.view(np.uint8).reshape(len(u), 8).T).tobytes()


def find_scale(x: np.ndarray, hint: float | None = None) -> tuple[np.ndarray, float] | None:
    """Integers ``k`` and a float64 ``s`` with ``k * s == x`` bit for bit, or None.

    Parameters
    ----------
    x : ndarray, shape (n,), float64
        A column of sensor values (e.g. m/s² from int16 counts times a scale factor).
    hint : float, optional
        A scale to try first (the one found for the previous chunk of the same sensor).

    Returns
    -------
    (k, s) or None
        ``k`` as float64 integers (|k| < 2**31), ``s`` > 0; None when no such scale is found
        (NaN/inf, -0.0, unquantised values).
    """
    if len(x) == 0 or not np.all(np.isfinite(x)):
        return None
    if hint:
        found = _try_step(x, x.view(np.uint64), hint)
        if found is not None:
            return found
    ax = np.abs(x)
    nz = ax[ax > 0]
    bits = x.view(np.uint64)
    if len(nz) == 0:
        return (np.zeros(len(x)), 1.0) if not np.any(bits) else None
    u = np.unique(nz)
    steps = [float(u[0])]
    eps = 64 * np.finfo(np.float64).eps * float(u[-1])  # rounding noise of differences
    d = np.diff(u)
    d = d[d > eps]
    if len(d):
        steps.append(float(min(u[0], d.min())))
        dd = np.diff(np.unique(d))  # clock ticks: sample spacings differ by one tick
        dd = dd[dd > eps]
        if len(dd):
            steps.append(float(min(steps[-1], dd.min())))
    for step in sorted(set(steps)):
        # the step seen may be a multiple of the scale (levels one count apart never occur)
        for m in [1] + _divisors_that_fit(x, step):
            found = _try_step(x, bits, step / m)
            if found is not None:
                return found
    return None


def _divisors_that_fit(x: np.ndarray, step: float, max_m: int = 64) -> list[int]:
    """Integers 2 ≤ m ≤ max_m for which ``x / (step / m)`` is nearly integral."""
    if not step > 0 or not np.isfinite(step):
        return []
    with np.errstate(over="ignore", invalid="ignore"):
        r = x[:64] / step
    if not np.max(np.abs(r)) <= 1e5:
        return []
    ms = np.arange(2, max_m + 1)
    rm = r[None, :] * ms[:, None]
    ok = np.max(np.abs(rm - np.round(rm)), axis=1) < 1e-3
    out = [int(m) for m in ms[ok][:2]]
    return out


def _try_step(x: np.ndarray, bits: np.ndarray, step: float) -> tuple[np.ndarray, float] | None:
    if not step > 0 or not np.isfinite(step):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        k = np.round(x / step)
    if not np.all(np.abs(k) < 2 ** 31 - 1):
        return None
    i = int(np.argmax(np.abs(k)))
    if k[i] == 0:  # an all-zero column: any step reproduces it
        return (k, step) if np.array_equal((k * step).view(np.uint64), bits) else None
    c0 = float(x[i] / k[i])
    cands = [step, c0]
    lo = hi = c0
    for _ in range(2):
        lo, hi = float(np.nextafter(lo, -np.inf)), float(np.nextafter(hi, np.inf))
        cands += [lo, hi]
    for c in cands:
        if c > 0 and np.array_equal((k * c).view(np.uint64), bits):
            return k, c
    return None


def _encode_column(j: int, u: np.ndarray, level: int, hints: dict | None = None
                   ) -> tuple[int, float, bytes]:
    """(method, param, compressed payload) of column ``j`` (uint64 bit patterns)."""
    if j == 0:
        s = u.view(np.int64)
        d = np.empty_like(s)
        if len(s):
            d[0] = s[0]
            np.subtract(s[1:], s[:-1], out=d[1:])
        return DELTA64, 0.0, zlib.compress(d.tobytes(), level)
    x = u.view(np.float64)
    if j != 2:  # acc, gyr and sensor clocks that count ticks of a fixed period
        q = find_scale(x, None if hints is None else hints.get(j))
        if q is not None:
            k, c = q
            if hints is not None:
                hints[j] = c
            small = np.all(np.abs(k) <= 32767)
            dt = np.int16 if small else np.int32
            ki = k.astype(dt)
            ki[(k == 0) & np.signbit(k)] = np.iinfo(dt).min  # -0.0 (np.round gives it)
            d = np.empty_like(ki)
            if len(ki):
                d[0] = ki[0]
                np.subtract(ki[1:], ki[:-1], out=d[1:])  # wraps; cumsum undoes it exactly
            return (QUANT16 if small else QUANT32), c, zlib.compress(d.tobytes(), level)
        if j >= 3:
            return RAW, 0.0, zlib.compress(u.tobytes(), level)
    best = None
    for method, data in ((RAW, u.tobytes()), (XOR, _xor(u).tobytes())):
        z = zlib.compress(data, level)
        if best is None or len(z) < len(best[2]):
            best = (method, 0.0, z)
    z = zlib.compress(_shuffle(_xor(u)), level)
    if len(z) < 0.8 * len(best[2]):  # shuffled decoding is ~3x slower: only when it pays
        best = (XORSHUF, 0.0, z)
    return best


def encode(m: np.ndarray, level: int = 1, hints: dict | None = None) -> bytes:
    """Encode an (n, 9) uint64 matrix (see :func:`pack_columns`) into a blob.

    ``hints`` (a dict kept per sensor by the caller, updated here) remembers each column's
    scale so the next chunk of the same sensor is checked against it first (fast path).
    """
    heads, bodies = [bytes([_VERSION])], []
    for j in range(NCOL):
        method, param, z = _encode_column(j, np.ascontiguousarray(m[:, j]), level, hints)
        heads.append(_COL.pack(method, param, len(z)))
        bodies.append(z)
    return b"".join(heads + bodies)


#: every column's ``<B method, d param, I nbytes>`` at once
_HEADS = struct.Struct("<" + "BdI" * NCOL)
#: quantised methods → (count dtype, its smallest value: the stored -0.0)
_QUANT = {QUANT16: (np.int16, int(np.iinfo(np.int16).min)),
          QUANT32: (np.int32, int(np.iinfo(np.int32).min))}


def _decode_column(method: int, param: float, raw: bytes, n: int, out: np.ndarray) -> None:
    """Write column values into ``out`` (a float64/int64 view of length n)."""
    if method in _QUANT:  # the usual case first; ufunc methods, not their wrappers
        dt, neg_zero = _QUANT[method]
        k = np.add.accumulate(np.frombuffer(raw, dt, count=n), dtype=dt)
        np.multiply(k, param, out=out, dtype=np.float64)
        if np.minimum.reduce(k) == neg_zero:  # the stored -0.0
            out[k == neg_zero] = -0.0
    elif method == RAW:
        out.view(np.uint64)[:] = np.frombuffer(raw, np.uint64, count=n)
    elif method == XOR:
        np.bitwise_xor.accumulate(np.frombuffer(raw, np.uint64, count=n), out=out.view(np.uint64))
    elif method == XORSHUF:
        u = np.ascontiguousarray(np.frombuffer(raw, np.uint8, count=8 * n).reshape(8, n).T)
        np.bitwise_xor.accumulate(u.view(np.uint64).ravel(), out=out.view(np.uint64))
    elif method == DELTA64:
        np.add.accumulate(np.frombuffer(raw, np.int64, count=n), dtype=np.int64,
                          out=out.view(np.int64))
    else:
        raise ValueError(f"unknown column method {method}")


def max_samples(nbytes: int) -> int:
    """Most samples a blob of ``nbytes`` can hold (deflate expands at most ~1032:1).

    Every sample takes at least 36 bytes before compression (seq, two times, six int16 counts),
    so a count above this is a lie that would only cost memory.
    """
    return min(MAX_CHUNK_SAMPLES, (max(0, nbytes - 1 - NCOL * _COL.size) * 1032) // 36 + 1)


def decode_into(blob: bytes, n: int, seq: np.ndarray, t_sensor_s: np.ndarray,
                t_host_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
    """Decode a blob from :func:`encode` straight into output arrays of length ``n``.

    ``seq`` int64 (n,), ``t_sensor_s`` and ``t_host_s`` float64 (n,), ``acc`` and ``gyr``
    float64 (n, 3) (views into larger arrays are fine). zlib releases the GIL, so chunks can
    be decoded in parallel threads.

    Raises
    ------
    ValueError
        If the blob is corrupt or does not hold ``n`` samples.
    """
    mv = memoryview(blob)
    head = 1 + NCOL * _COL.size
    if len(mv) < head or mv[0] != _VERSION:
        raise ValueError("corrupt sample chunk (bad header)")
    outs = [seq, t_sensor_s, t_host_s, acc[:, 0], acc[:, 1], acc[:, 2],
            gyr[:, 0], gyr[:, 1], gyr[:, 2]]
    pos = head
    heads = _HEADS.unpack_from(mv, 1)
    for j in range(NCOL):
        method, param, nbytes = heads[3 * j:3 * j + 3]
        if method not in (RAW, XOR, XORSHUF, DELTA64, QUANT16, QUANT32):
            raise ValueError(f"unknown column method {method}")
        if method in (QUANT16, QUANT32) and not (np.isfinite(param) and param > 0):
            raise ValueError(f"column {j} has scale {param!r}")
        width = 2 if method == QUANT16 else 4 if method == QUANT32 else 8
        try:  # never inflate more than the declared samples need (no zlib bombs)
            dec = _decompressobj()
            raw = dec.decompress(mv[pos:pos + nbytes], n * width + 1)
        except (zlib.error, _InflateError) as exc:
            raise ValueError(f"corrupt sample chunk ({exc})") from None
        pos += nbytes
        if len(raw) != n * width:
            raise ValueError(f"sample chunk column {j} holds {len(raw)} bytes, "
                             f"expected {n * width}")
        _decode_column(method, param, raw, n, outs[j])


def decode(blob: bytes, n: int) -> np.ndarray:
    """Decode a blob from :func:`encode` back into the (n, 9) uint64 matrix."""
    seq = np.empty(n, np.int64)
    ts, th = np.empty(n), np.empty(n)
    acc, gyr = np.empty((n, 3)), np.empty((n, 3))
    decode_into(blob, n, seq, ts, th, acc, gyr)
    return pack_columns(seq, ts, th, acc, gyr)
