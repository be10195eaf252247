"""Fast fixed-decimal text of numeric tables (CSV, OpenSim .sto): vectorised, no per-value
Python: an hour of angles at 200 Hz (720 k rows) formats in a few seconds."""

from __future__ import annotations

import functools

import numpy as np


def _format_column(v: np.ndarray, decimals: int, width: int):
    """Right-aligned ASCII of ``v`` with fixed ``decimals``: (n, width) uint8 and the index of
    each value's first character; NaN/inf → ``nan``. Vectorised (no per-value Python)."""
    n = len(v)
    buf = np.full((n, width), 32, dtype=np.uint8)
    fin = np.isfinite(v)
    x = np.round(np.where(fin, np.abs(v), 0.0) * 10.0 ** decimals).astype(np.int64)
    neg = fin & (v < 0) & (x > 0)
    pos = width - 1
    for _ in range(decimals):
        buf[:, pos] = 48 + (x % 10).astype(np.uint8)
        x //= 10
        pos -= 1
    if decimals > 0:
        buf[:, pos] = 46
        pos -= 1
    buf[:, pos] = 48 + (x % 10).astype(np.uint8)  # at least one integer digit
    x //= 10
    start = np.full(n, pos, dtype=np.int64)
    pos -= 1
    while pos >= 1 and (x > 0).any():
        m = x > 0
        buf[:, pos] = np.where(m, 48 + (x % 10).astype(np.uint8), 32)
        start = np.where(m, pos, start)
        x //= 10
        pos -= 1
    start = np.where(neg, start - 1, start)
    buf[np.flatnonzero(neg), start[neg]] = 45
    if (~fin).any():
        buf[~fin] = 32
        buf[~fin, width - 3:] = np.frombuffer(b"nan", np.uint8)
        start = np.where(fin, start, width - 3)
    return buf, start


#: fraction digits up to this many come from a look-up table (10**decimals columns)
_TABLE_MAX_DECIMALS = 4


@functools.lru_cache(maxsize=None)
def _fraction_table(decimals: int) -> np.ndarray:
    """ASCII digits (decimals, 10**decimals) uint8: column ``i`` is ``i`` zero-padded."""
    i = np.arange(10 ** decimals)
    rows = [48 + (i // 10 ** (decimals - 1 - k)) % 10 for k in range(decimals)]
    return np.ascontiguousarray(np.stack(rows).astype(np.uint8))


def _divmod10(x: np.ndarray):
    """``divmod(x, 10)`` of non-negative integers: a floor division by a constant (fast in
    numpy) and a multiply-subtract, several times faster than ``np.divmod``."""
    q = x // 10
    return q, x - q * 10


def _fill_column(v: np.ndarray, decimals: int, width: int, buf: np.ndarray) -> np.ndarray:
    """:func:`_format_column` written into ``buf`` of shape (width, n) (one row per character
    position, so every write is contiguous); returns the index of each value's first
    character. Same characters as :func:`_format_column`."""
    v = np.ascontiguousarray(v, dtype=float)
    n = len(v)
    buf[...] = 32
    fin = np.isfinite(v)
    x = np.round(np.where(fin, np.abs(v), 0.0) * 10.0 ** decimals).astype(np.int64)
    neg = fin & (v < 0) & (x > 0)
    pos = width - 1
    if 0 < decimals <= _TABLE_MAX_DECIMALS:  # all fraction digits in one table look-up
        p = 10 ** decimals
        q = x // p
        np.take(_fraction_table(decimals), x - q * p, axis=1, mode="clip",
                out=buf[pos - decimals + 1:pos + 1])
        x = q
        pos -= decimals
    else:
        for _ in range(decimals):
            x, r = _divmod10(x)
            np.add(r, 48, out=buf[pos], casting="unsafe")
            pos -= 1
    if decimals > 0:
        buf[pos] = 46
        pos -= 1
    x, r = _divmod10(x)
    np.add(r, 48, out=buf[pos], casting="unsafe")  # at least one integer digit
    start = np.full(n, pos, dtype=np.int64)
    pos -= 1
    while pos >= 1 and (x > 0).any():
        m = x > 0
        x, r = _divmod10(x)
        buf[pos] = np.where(m, 48 + r, 32)
        start[m] = pos
        pos -= 1
    if neg.any():
        start = np.where(neg, start - 1, start)
        idx = np.flatnonzero(neg)
        buf[start[idx], idx] = 45
    if not fin.all():
        bad = np.flatnonzero(~fin)
        buf[:, bad] = 32
        buf[width - 3:, bad] = np.frombuffer(b"nan", np.uint8)[:, None]
        start[bad] = width - 3
    return start


def format_rows(data, decimals, separators=None) -> bytes:
    """CSV lines (bytes) of a (n, k) float array, ``decimals`` per column, ``nan`` for gaps.

    Same text as ``"%.{d}f"`` per value (without negative zero). ``separators`` (k - 1 single
    characters) go between the columns (default all ``,``); each line ends with ``\\n``.
    ``data`` may also be a sequence of k columns (n,) (no stacked copy is made).

    Values below 10**7 with at most 7 decimals are written a word at a time
    (:func:`_format_rows_words`); anything else one character position at a time.
    """
    return b"".join(format_row_parts(data, decimals, separators))


def format_row_parts(data, decimals, separators=None) -> list[bytes]:
    """:func:`format_rows` as consecutive pieces of whole lines (written one after the other
    they are its text; no joined copy)."""
    if isinstance(data, (list, tuple)):
        cols = [np.asarray(c, dtype=float).reshape(-1) for c in data]
    else:
        data = np.asarray(data, dtype=float)
        cols = [data[:, j] for j in range(data.shape[1])]
    k = len(cols)
    dec = [int(d) for d in np.broadcast_to(np.asarray(decimals, dtype=np.int64), (k,))]
    seps = list(separators) if separators is not None else [","] * (k - 1)
    if len(seps) != k - 1:
        raise ValueError(f"need {k - 1} separators, got {len(seps)}")
    ends = [ord(c) for c in seps] + [10]
    n = len(cols[0]) if cols else 0
    if not n:
        return []
    if all(0 <= d <= 7 for d in dec) and all(0 < e < 128 for e in ends):
        tops = []
        for v, d in zip(cols, dec):
            # two passes without temporaries (fmax/fmin skip NaN)
            top = max(float(np.fmax.reduce(v)), -float(np.fmin.reduce(v)))
            if not np.isfinite(top):  # inf somewhere (or all NaN): the largest finite magnitude
                a = np.abs(v)
                top = float(np.max(a, where=np.isfinite(a), initial=0.0))
            tops.append(top * 10.0 ** d)
        if all(t < 0.5e7 * 10.0 ** d for t, d in zip(tops, dec)):
            return _format_rows_words(cols, dec, ends, tops)
    return [_format_rows_bytewise(np.column_stack(cols), dec, seps)]


#: rows per block of :func:`_format_rows_words` (its temporaries stay in the CPU cache)
_WORD_ROWS = 16384


def _digit_bytes(v: np.ndarray, neg: np.ndarray, size: int, end: int, width: int = 0
                 ) -> np.ndarray:
    """(len(v), size) uint8: the decimal digits of the non-negative integers ``v`` ending at
    byte ``end`` (at least ``width`` of them, zero-padded), a ``-`` before them where ``neg``,
    NUL elsewhere."""
    out = np.zeros((len(v), size), dtype=np.uint8)
    nd = np.ones(len(v), dtype=np.int64)
    for k in range(end + 1):
        m = (v >= 10 ** k) | (k < max(width, 1))
        if not m.any():
            break
        out[m, end - k] = 48 + (v[m] // 10 ** k) % 10
        nd[m] = k + 1
    idx = np.flatnonzero(neg)
    out[idx, end - nd[idx]] = 45
    return out


def _word_table(b: np.ndarray) -> np.ndarray:
    """(N, 4 or 8) uint8 → N little-endian words of those bytes (byte 0 first in memory)."""
    return np.ascontiguousarray(b).view("<u4" if b.shape[1] == 4 else "<u8").ravel()


@functools.lru_cache(maxsize=None)
def _int_tables(size: int):
    """Words of integer parts, right-aligned in ``size`` bytes: ``small[i + 1000 * neg]`` for
    ``i < 1000``; for size 8 also ``high[h + 10000 * neg]`` (the digits of ``h`` ending at
    byte 4) and ``low[i]`` (3 zero-padded digits in bytes 5..7), ``high | low`` = ``1000 h + i``."""
    i = np.arange(1000)
    small = _word_table(np.concatenate([_digit_bytes(i, i < 0, size, size - 1),
                                        _digit_bytes(i, i >= 0, size, size - 1)]))
    if size == 4:
        return small, None, None
    h = np.arange(10000)
    high = _word_table(np.concatenate([_digit_bytes(h, h < 0, 8, 4),
                                       _digit_bytes(h, h >= 0, 8, 4)]))
    low = _word_table(_digit_bytes(i, i < 0, 8, 7, width=3))
    return small, high, low


@functools.lru_cache(maxsize=None)
def _fraction_words(decimals: int):
    """Words ``.ddd`` of fractions (``decimals`` 1..7): ``(high, low)`` with the word of ``f`` =
    ``high[f // 1000] | low[f % 1000]`` (``decimals`` > 3, 8 bytes) or ``high[f]`` (4 bytes)."""
    size = 4 if decimals <= 3 else 8
    if decimals <= 3:
        f = np.arange(10 ** decimals)
        b = _digit_bytes(f, f < 0, size, decimals, width=decimals)
        b[:, 0] = 46
        return _word_table(b), None
    f = np.arange(10 ** (decimals - 3))
    b = _digit_bytes(f, f < 0, size, decimals - 3, width=decimals - 3)
    b[:, 0] = 46
    lo = np.arange(1000)
    return _word_table(b), _word_table(_digit_bytes(lo, lo < 0, size, decimals, width=3))


@functools.lru_cache(maxsize=None)
def _wide_tables(decimals: int):
    """``(small, fraction)`` as 8-byte words: the 4-byte integer words of :func:`_int_tables`
    in the low half, the fraction words of :func:`_fraction_words` (``decimals`` <= 3) in the
    high half, so ``small[i] | fraction[f]`` is the two words side by side."""
    small = _int_tables(4)[0].astype(np.uint64)
    frac = _fraction_words(decimals)[0].astype(np.uint64) << np.uint64(32)
    return small, frac


def _format_rows_words(cols: list, dec: list, ends: list, tops: list) -> list[bytes]:
    """:func:`format_rows` for values below 10**7 (``tops``: each column's largest
    ``|value| * 10**decimals``): each value becomes an integer-part word (sign and digits,
    4 or 8 bytes), a fraction word (``.`` and digits) and its separator byte in one packed
    record per row; the NUL padding is then squeezed out."""
    n, k = len(cols[0]), len(cols)
    isize = [4 if t < 999.5 * 10.0 ** d else 8 for t, d in zip(tops, dec)]
    fsize = [0 if d == 0 else 4 if d <= 3 else 8 for d in dec]
    # a 4-byte integer word and a 4-byte fraction word side by side: one 8-byte word (one
    # store into the record instead of two; its low half is the integer word's bytes)
    wide = [isize[j] == 4 and fsize[j] == 4 for j in range(k)]
    fields = []
    for j in range(k):
        if wide[j]:
            fields.append((f"w{j}", "<u8"))
        else:
            fields += [(f"i{j}", f"<u{isize[j]}")] + (
                [(f"f{j}", f"<u{fsize[j]}")] if dec[j] else [])
        fields.append((f"s{j}", "u1"))
    rec = np.zeros(min(n, _WORD_ROWS), dtype=np.dtype(fields))  # packed, no alignment gaps
    for j in range(k):
        rec[f"s{j}"] = ends[j]
    nan_word = {4: int.from_bytes(b"\0nan", "little"),
                8: int.from_bytes(b"\0" * 5 + b"nan", "little")}
    parts = []
    for i0 in range(0, n, _WORD_ROWS):
        m = min(n, i0 + _WORD_ROWS) - i0
        r = rec[:m]
        for j in range(k):
            v = cols[j][i0:i0 + m]
            d = dec[j]
            p = 10 ** d
            y = v * float(p)  # = round(|v| 10^d) with v's sign: rint is symmetric
            np.round(y, out=y)
            with np.errstate(invalid="ignore", over="ignore"):  # one sum tells: all finite?
                fin = None if np.isfinite(np.add.reduce(y)) else np.isfinite(y)
            if fin is not None:
                y[~fin] = 0.0
            neg = y < 0  # never for a value that rounds to zero (no "-0.000")
            x = np.abs(y, out=y).astype(np.int64)
            ip = x // p if d else x
            if wide[j]:  # integer and fraction words from 8-byte tables, ORed
                small64, frac64 = _wide_tables(d)
                fw = frac64.take(x - ip * p)
                if fin is not None:
                    fw[~fin] = 0
                np.add(ip, 1000 * neg, out=ip)
                iw = small64.take(ip)
                if fin is not None:
                    iw[~fin] = nan_word[4]
                iw |= fw
                r[f"w{j}"] = iw
                continue
            if d:
                fh, fl = _fraction_words(d)
                f = x - ip * p
                fw = fh.take(f) if fl is None else fh.take(f // 1000) | fl.take(f % 1000)
                if fin is not None:
                    fw[~fin] = 0
                r[f"f{j}"] = fw
            small, high, low = _int_tables(isize[j])
            if high is None or tops[j] < 999.5 * p:
                idx = ip if high is None else ip % 1000  # (ip is not needed after this)
                np.add(idx, 1000, out=idx, where=neg)
                iw = small.take(idx)
            else:
                hi = ip // 1000
                lo = ip - hi * 1000
                iw = np.where(hi > 0, high.take(hi + neg * 10000) | low.take(lo),
                              small.take(lo + neg * 1000))
            if fin is not None:
                iw[~fin] = nan_word[isize[j]]
            r[f"i{j}"] = iw
        parts.append(r.tobytes().translate(None, b"\0"))  # faster than a numpy mask here
    return parts


def _format_rows_bytewise(data: np.ndarray, decimals, separators=None) -> bytes:
    """:func:`format_rows` one character position at a time (any magnitude and precision)."""
    data = np.asarray(data, dtype=float)
    n, k = data.shape
    dec = np.broadcast_to(np.asarray(decimals, dtype=np.int64), (k,))
    seps = list(separators) if separators is not None else [","] * (k - 1)
    if len(seps) != k - 1:
        raise ValueError(f"need {k - 1} separators, got {len(seps)}")
    widths = []
    for j in range(k):
        v = np.abs(data[:, j])
        big = float(np.max(v[np.isfinite(v)], initial=0.0))
        digits = len(str(int(round(big * 10.0 ** dec[j])))) if big > 0 else 1
        widths.append(max(digits, int(dec[j]) + 1) + 3)  # sign, point, and a spare column
    total = sum(w + 1 for w in widths)
    # built one character position per row (contiguous writes), transposed once at the end
    out = np.empty((total, n), dtype=np.uint8)
    keep = np.empty((total, n), dtype=bool)
    o = 0
    for j in range(k):
        w = widths[j]
        start = _fill_column(data[:, j], int(dec[j]), w, out[o:o + w])
        np.greater_equal(np.arange(w)[:, None], start[None, :], out=keep[o:o + w])
        out[o + w] = 10 if j == k - 1 else ord(seps[j])
        keep[o + w] = True
        o += w + 1
    return np.ascontiguousarray(out.T)[np.ascontiguousarray(keep.T)].tobytes()
