"""Stream tracking (gaps, duplicates, replays, out-of-order, garbage) and vendor decoders."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import protocol as P
from imu.sources.ble.decoder import MalformedPacket, StreamTracker, decode_notification
from imu.sources.ble.vendors import (POLAR_ACC, POLAR_GYRO, decode_movella_rate_quantities,
                                     decode_polar_pmd, decode_witmotion)

RATE = 208
PERIOD = 1 / (RATE * P.TICK_S)


def packets(n_samples, start_seq=0, start_tick=1000, batch=19):
    """Encoded notifications of a ramp signal: sample k has acc_x = k."""
    out = []
    for s0 in range(0, n_samples, batch):
        ks = range(s0, min(s0 + batch, n_samples))
        samples = [(k % 30000, 0, 4096, 0, 0, -k % 30000) for k in ks]
        out.append(P.encode_batch(start_seq + s0, int(round(start_tick + s0 * PERIOD)),
                                  int(round(PERIOD * 16)), samples))
    return out


def tracker():
    return StreamTracker("s1", acc_scale=0.001, gyr_scale=0.01, rate_hz=RATE)


def feed_all(tr, pkts, dt_host=19 / RATE):
    blocks = []
    for i, p in enumerate(pkts):
        b = tr.feed(p, i * dt_host)
        if b is not None:
            blocks.append(b)
    return blocks


def test_clean_stream_converts_units_and_timestamps():
    tr = tracker()
    blocks = feed_all(tr, packets(100))
    seq = np.concatenate([b.seq for b in blocks])
    assert seq.tolist() == list(range(100))
    t = np.concatenate([b.t_sensor_s for b in blocks])
    assert np.allclose(np.diff(t), 1 / RATE, atol=2 * P.TICK_S)
    acc = np.concatenate([b.acc for b in blocks])
    assert acc[7].tolist() == pytest.approx([0.007, 0.0, 4.096])
    assert (tr.counts.dropped, tr.counts.duplicates, tr.counts.malformed) == (0, 0, 0)


def test_gap_is_counted_and_recorded():
    pk = packets(95)
    tr = tracker()
    feed_all(tr, pk[:2] + pk[3:])
    assert tr.counts.dropped == 19
    assert tr.gaps == [(38, 19)]


def test_replayed_and_late_packets_are_counted_not_kept():
    pk = packets(95)
    tr = tracker()
    order = [pk[0], pk[1], pk[1], pk[3], pk[2], pk[4], pk[0]]
    blocks = feed_all(tr, order)
    seq = np.concatenate([b.seq for b in blocks])
    assert np.all(np.diff(seq) > 0)  # the kept stream stays monotonic
    assert tr.counts.duplicates == 38  # pk[1] again and pk[0] again
    assert tr.counts.out_of_order == 19  # pk[2] arrived after pk[3]
    assert tr.counts.dropped == 19


def test_sequence_and_clock_wrap_around():
    pk = packets(60, start_seq=2**32 - 20, start_tick=2**32 - 1000)
    tr = tracker()
    blocks = feed_all(tr, pk)
    seq = np.concatenate([b.seq for b in blocks])
    assert seq.tolist() == list(range(2**32 - 20, 2**32 + 40))
    t = np.concatenate([b.t_sensor_s for b in blocks])
    assert np.all(np.diff(t) > 0) and tr.counts.malformed == 0


def test_a_jump_the_clock_contradicts_is_malformed():
    pk = packets(57)
    bad = bytearray(pk[2])
    struct.pack_into("<I", bad, 4, 5000)  # seq far ahead, timestamps not
    tr = tracker()
    feed_all(tr, [pk[0], pk[1], bytes(bad)])
    assert tr.counts.malformed == 1 and tr.counts.dropped == 0
    assert tr.feed(pk[2], 1.0) is not None  # the real one still fits


def test_a_real_jump_is_accepted_after_consistent_packets():
    # Sensor clock and counter jump 10 minutes ahead within 1 s of host time (e.g. host
    # suspended): implausible at first, accepted once three packets continue it.
    tr = tracker()
    feed_all(tr, packets(38))
    later = packets(76, start_seq=38 + 600 * RATE, start_tick=1000 + int((38 + 600 * RATE) * PERIOD))
    got = [tr.feed(p, 1.0 + 0.1 * i) for i, p in enumerate(later)]
    assert got[0] is None and got[1] is None
    assert got[2] is not None and len(got[2]) == 57  # the three held packets
    assert tr.counts.malformed == 0 and tr.counts.dropped == 600 * RATE and tr.resyncs == 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=80),
                          st.sampled_from(packets(200)),
                          st.tuples(st.sampled_from(packets(200)), st.integers(0, 250),
                                    st.integers(0, 255)).map(
                              lambda x: x[0][:x[1] % len(x[0])] + bytes([x[2]]) + x[0][x[1] % len(x[0]) + 1:])),
                max_size=40))
def test_fuzzed_notifications_never_crash_and_stream_stays_monotonic(items):
    tr = tracker()
    last = None
    for i, data in enumerate(items):
        b = tr.feed(data, 0.05 * i)
        if b is not None:
            assert len(b.seq) == len(b.acc) == len(b.t_sensor_s)
            if last is not None:
                assert b.seq[0] > last
            last = b.seq[-1]
    c = tr.counts
    assert min(c.samples, c.dropped, c.duplicates, c.malformed, c.out_of_order) >= 0


def test_decoder_rejects_wrong_version_and_length():
    p = packets(19)[0]
    with pytest.raises(MalformedPacket):
        decode_notification(b"\x02" + p[1:])
    with pytest.raises(MalformedPacket):
        decode_notification(p[:-1])
    with pytest.raises(MalformedPacket):
        decode_notification(p[:2] + b"\x00\x00" + p[4:])  # dt 0


# -- vendor decoders, packets built from the documented layouts -------------------------------

def test_movella_rate_quantities():
    pkt = struct.pack("<I6f", 1_234_567, 0.1, -9.81, 0.5, 90.0, 0.0, -180.0) + bytes(12)
    s = decode_movella_rate_quantities(pkt)
    assert s.t_sensor_s.tolist() == pytest.approx([1.234567])
    assert s.acc[0] == pytest.approx([0.1, -9.81, 0.5], abs=1e-6)
    assert s.gyr[0] == pytest.approx([np.pi / 2, 0.0, -np.pi], abs=1e-6)
    with pytest.raises(MalformedPacket):
        decode_movella_rate_quantities(pkt[:20])


def test_polar_pmd_raw_16bit_acc():
    samples = [(1000, -1000, 0), (0, 500, -2000)]
    body = b"".join(struct.pack("<3h", *s) for s in samples)
    pkt = bytes([POLAR_ACC]) + struct.pack("<Q", 2_000_000_000) + bytes([0x01]) + body
    mtype, s = decode_polar_pmd(pkt, rate_hz=52)
    assert mtype == POLAR_ACC
    assert s.acc / 9.80665e-3 == pytest.approx(np.array(samples, float))
    assert s.t_sensor_s == pytest.approx([2.0 - 1 / 52, 2.0])


def _pack_bits(values, width):
    bits = []
    for v in values:
        v &= (1 << width) - 1
        bits += [(v >> i) & 1 for i in range(width)]
    bits += [0] * (-len(bits) % 8)
    return bytes(np.packbits(np.array(bits, np.uint8), bitorder="little"))


def test_polar_pmd_compressed_delta_gyro():
    ref = (100, -200, 300)
    deltas = [(1, -2, 3), (-4, 5, -6), (7, -8, 0)]
    body = _pack_bits(ref, 16) + bytes([4, 3]) + _pack_bits([d for row in deltas for d in row], 4)
    pkt = bytes([POLAR_GYRO]) + struct.pack("<Q", 10**9) + bytes([0x80]) + body
    mtype, s = decode_polar_pmd(pkt, rate_hz=52, factor=0.5)
    expect = np.cumsum(np.array([ref] + deltas, float), axis=0) * 0.5
    assert mtype == POLAR_GYRO and s.gyr.shape == (4, 3)
    assert s.gyr == pytest.approx(expect * np.pi / 180)
    with pytest.raises(MalformedPacket):
        decode_polar_pmd(pkt[:13], rate_hz=52)  # reference sample cut short


def test_witmotion_0x55_0x61():
    vals = (16384, 0, -16384, 8192, 0, 0, 16384, -8192, 0)
    pkt = b"\x55\x61" + struct.pack("<9h", *vals)
    s = decode_witmotion(pkt + pkt, t_host_s=3.0)
    assert s.acc[0] == pytest.approx([8 * 9.80665, 0, -8 * 9.80665])
    assert s.gyr[0] == pytest.approx([500 * np.pi / 180, 0, 0])
    assert s.angles_deg[1] == pytest.approx([90.0, -45.0, 0.0])
    with pytest.raises(MalformedPacket):
        decode_witmotion(b"\x55\x51" + pkt[2:])


def test_replay_memory_is_bounded_on_long_streams():
    tr = tracker()
    pk = packets(19 * 6000)
    for i, p in enumerate(pk):
        tr.feed(p, i * 19 / RATE)
    assert len(tr._received) <= 4096
    assert tr.feed(pk[-3], 1e4) is None and tr.counts.duplicates == 19  # recent replay known
