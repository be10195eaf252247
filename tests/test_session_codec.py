"""Chunk codec: bit-exact for any values; quantised sensor data stored as integer counts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from imu.session import codec

LSB_ACC = 9.80665 * 8 / 32768
LSB_GYR = np.deg2rad(2000 / 32768)


def matrix(seq, ts, th, acc, gyr):
    return codec.pack_columns(seq, ts, th, acc, gyr)


def methods(blob):
    return [codec._COL.unpack_from(blob, 1 + j * codec._COL.size)[0] for j in range(codec.NCOL)]


def sensor_chunk(n=4096, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 200.0
    acc = np.round((np.array([0.1, -0.2, 9.81]) + rng.normal(0, 0.5, (n, 3))) / LSB_ACC) * LSB_ACC
    gyr = np.round(rng.normal(0, 0.002, (n, 3)) / LSB_GYR) * LSB_GYR  # mostly -0.0, 0, ±1 LSB
    ts = np.round((3.0 + t * (1 + 30e-6)) / 25e-6) * 25e-6  # 25 µs ticks, drifting clock
    th = t + 0.02 + np.repeat(rng.uniform(0, 0.01, n // 8 + 1), 8)[:n]
    return matrix(np.arange(n) + 17, ts, th, acc, gyr)


def test_quantised_sensor_data_is_stored_as_counts_and_comes_back_bit_exact():
    m = sensor_chunk()
    assert np.any(np.signbit(m[:, 6:9].view(np.float64)) & (m[:, 6:9].view(np.float64) == 0))
    blob = codec.encode(m)
    assert np.array_equal(codec.decode(blob, len(m)), m)
    got = methods(blob)
    assert got[0] == codec.DELTA64
    assert got[1] == codec.QUANT32  # tick clock found despite drift
    assert got[3:] == [codec.QUANT16] * 6
    assert len(blob) / len(m) < 12  # bytes per sample (raw: 72)


def test_unquantised_floats_fall_back_to_plain_and_stay_exact():
    rng = np.random.default_rng(1)
    n = 1000
    m = matrix(np.arange(n), rng.random(n).cumsum(), rng.random(n).cumsum(),
               rng.normal(size=(n, 3)), rng.normal(size=(n, 3)))
    blob = codec.encode(m)
    assert methods(blob)[3:] == [codec.RAW] * 6
    assert np.array_equal(codec.decode(blob, n), m)


def test_find_scale_verifies_bit_for_bit():
    k = np.array([3.0, -7.0, 0.0, 12000.0])
    x = k * LSB_ACC
    got = codec.find_scale(x)
    assert got is not None and np.array_equal((got[0] * got[1]).view(np.uint64), x.view(np.uint64))
    assert codec.find_scale(np.array([0.1, 0.2, np.nan])) is None
    assert codec.find_scale(np.array([np.pi, np.e, 1.0])) is None


def test_large_counts_use_int32():
    k = np.random.default_rng(2).integers(-2_000_000, 2_000_000, 2000)
    x = np.concatenate([k, k + 1]).astype(np.float64) * 1e-3
    m = matrix(np.arange(len(x)), x, x, np.column_stack([x, x, x]), np.zeros((len(x), 3)))
    blob = codec.encode(m)
    assert methods(blob)[3] == codec.QUANT32
    assert np.array_equal(codec.decode(blob, len(x)), m)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.uint64, st.tuples(st.integers(1, 40), st.just(9)),
                  elements=st.integers(0, 2 ** 64 - 1)))
def test_any_bit_pattern_round_trips(m):
    assert np.array_equal(codec.decode(codec.encode(m), len(m)), m)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-32768, 32767), min_size=1, max_size=50),
       st.sampled_from([LSB_ACC, LSB_GYR, 1e-3, 0.5, 1 / 3]))
def test_any_quantised_column_round_trips(counts, lsb):
    k = np.array(counts, dtype=np.float64)
    x = k * lsb
    x[k == 0] = np.where(np.arange((k == 0).sum()) % 2, -0.0, 0.0)
    n = len(x)
    m = matrix(np.arange(n), x, x, np.column_stack([x, -x, 2 * x]), np.column_stack([x, x, x]))
    assert np.array_equal(codec.decode(codec.encode(m), n), m)


def test_corrupt_blob_raises_value_error():
    blob = bytearray(codec.encode(sensor_chunk(100)))
    blob[-5] ^= 0xFF
    try:
        codec.decode(bytes(blob), 100)
    except ValueError:
        pass
    else:  # pragma: no cover - zlib's checksum must catch it
        raise AssertionError("corruption not detected")
