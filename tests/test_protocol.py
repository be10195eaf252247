"""Protocol v1: the firmware's encoder/batcher/command handler against the host decoder."""

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import protocol as P
from imu.sources.ble.decoder import (MalformedPacket, decode_control_response, decode_info,
                                     decode_notification)

i16 = st.integers(-32768, 32767)
sample = st.tuples(i16, i16, i16, i16, i16, i16)


@settings(max_examples=100, deadline=None)
@given(seq=st.integers(0, 2**40), t0=st.integers(0, 2**40), dt=st.integers(1, 0xFFFF),
       samples=st.lists(sample, min_size=1, max_size=P.max_samples(247)))
def test_encode_decode_round_trip(seq, t0, dt, samples):
    pkt = P.encode_batch(seq, t0, dt, samples)
    assert len(pkt) == P.HEADER_SIZE + P.SAMPLE_SIZE * len(samples)
    b = decode_notification(pkt)
    assert b.seq == seq % 2**32
    assert b.t0_ticks == t0 % 2**32
    assert b.dt_q4 == dt
    assert b.raw.tolist() == [list(s) for s in samples]


@pytest.mark.parametrize("mtu,n", [(23, 1), (27, 1), (39, 2), (185, 14), (247, 19), (517, 41)])
def test_batch_fills_the_negotiated_mtu(mtu, n):
    assert P.max_samples(mtu) == n
    assert P.HEADER_SIZE + P.SAMPLE_SIZE * n <= max(mtu - 3, P.HEADER_SIZE + P.SAMPLE_SIZE)


def test_batcher_emits_full_batches_with_measured_interval():
    b = P.Batcher(rate_hz=208, mtu=247)
    period = 1 / (208 * P.TICK_S)  # 192.3 ticks
    pkts = []
    for i in range(50):
        pkts += b.add(1000 + i, int(round(5000 + i * period)), (i, -i, 1, 2, 3, 4))
    pkts.append(b.flush())
    got = [decode_notification(p) for p in pkts]
    assert [len(g) for g in got] == [19, 19, 12]
    assert [g.seq for g in got] == [1000, 1019, 1038]
    assert abs(got[0].dt_q4 / 16 - period) < 0.1
    assert got[1].t0_ticks == int(round(5000 + 19 * period))
    assert b.flush() is None


def test_batcher_closes_batch_at_a_sequence_gap():
    b = P.Batcher(rate_hz=104, mtu=247)
    out = []
    for s in (0, 1, 2, 10, 11):
        out += b.add(s, s * 385, (0,) * 6)
    out.append(b.flush())
    got = [decode_notification(p) for p in out]
    assert [(g.seq, len(g)) for g in got] == [(0, 3), (10, 2)]


def test_batcher_sends_a_partial_batch_when_its_oldest_sample_is_due():
    """200 Hz, polled at every sample: no sample waits longer than the maximum age, and the
    notifications decode to the same consecutive samples."""
    rate = 200
    period = 1 / (rate * P.TICK_S)  # 200 ticks
    b = P.Batcher(rate_hz=rate, mtu=247, max_age_s=P.MAX_BATCH_AGE_S)
    sent = []  # (notification, sensor time it was sent, ticks)
    for i in range(200):
        t = int(round(i * period))
        for pkt in b.add(i, t, (i, 0, 0, 0, 0, 0)):
            sent.append((pkt, t))
        pkt = b.poll(t)
        if pkt is not None:
            sent.append((pkt, t))
    got = [(decode_notification(p), t) for p, t in sent]
    assert [s for g, _ in got for s in g.raw[:, 0].tolist()] == list(range(len(
        [s for g, _ in got for s in g.raw[:, 0]])))
    assert sum(len(g) for g, _ in got) >= 200 - 3
    waits = [t_sent - g.t0_ticks for g, t_sent in got]
    assert max(waits) * P.TICK_S <= P.MAX_BATCH_AGE_S + 1e-9
    assert max(len(g) for g, _ in got) == 5          # 0, 5, .. 20 ms: 5 samples at 200 Hz
    assert all(abs(g.dt_q4 / 16 - period) < 0.1 for g, _ in got if len(g) > 1)


def test_batcher_sends_a_backlog_in_full_notifications():
    """A FIFO read after a pause (or a re-send): full notifications, then the old remainder."""
    period = 1 / (200 * P.TICK_S)
    b = P.Batcher(rate_hz=200, mtu=247, max_age_s=P.MAX_BATCH_AGE_S)
    pkts = []
    for i in range(50):
        pkts += b.add(i, int(round(i * period)), (0,) * 6)
    now = int(round(50 * period))
    assert b.due_ticks() == int(round(38 * period)) + b.max_age_ticks
    pkts.append(b.poll(now))
    assert [len(decode_notification(p)) for p in pkts] == [19, 19, 12]
    assert b.poll(now) is None and b.due_ticks() is None


def test_batcher_without_maximum_age_only_sends_full_batches():
    b = P.Batcher(rate_hz=200, mtu=247)
    for i in range(5):
        assert b.add(i, i * 200, (0,) * 6) == []
    assert b.poll(10**9) is None and b.pending == 5


def test_info_characteristic_decodes_with_datasheet_scales():
    cfg = P.SensorConfig("abc123", "imu-xiao-s", "1.0.0", acc_range_g=8, gyr_range_dps=1000)
    info = decode_info(cfg.info_bytes(247))
    assert info.version == 1 and info.sensor_id == "abc123" and info.batch == 19
    assert info.rates_hz == [104, 208]
    assert info.acc_scale == pytest.approx(0.244e-3 * 9.80665)
    assert info.gyr_scale == pytest.approx(35e-3 * np.pi / 180)
    assert info.tick_s == 25e-6
    with pytest.raises(MalformedPacket):
        decode_info(b"{not json")


class Calls:
    def __init__(self):
        self.log = []

    def handler(self, streaming=False):
        cfg = P.SensorConfig("id", "m", "fw")
        h = P.CommandHandler(cfg, on_start=lambda resume=None: self.log.append(
                                 "start" if resume is None else ("start", resume)),
                             on_stop=lambda: self.log.append("stop"),
                             on_identify=lambda s: self.log.append(("identify", s)),
                             on_config=lambda c: self.log.append(("config", c.rate_hz,
                                                                  c.acc_range_g, c.gyr_range_dps)),
                             battery=lambda: 77)
        h.streaming = streaming
        return h


def resp(h, data):
    return decode_control_response(h.handle(data))


def test_every_control_command_is_handled():
    c = Calls()
    h = c.handler()
    r = resp(h, P.cmd_set_rate(208, token=7))
    assert (r.opcode, r.token, r.ok) == (P.OP_SET_RATE, 7, True) and h.config.rate_hz == 208
    r = resp(h, P.cmd_set_range(4, 500, token=8))
    assert r.ok and (h.config.acc_range_g, h.config.gyr_range_dps) == (4, 500)
    r = resp(h, P.cmd_identify(5, token=9))
    assert r.ok
    r = resp(h, P.command(P.OP_START, 10))
    assert r.ok and h.streaming
    r = resp(h, P.command(P.OP_GET_STATUS, 11))
    streaming, rate, acc_g, gyr_dps, batt = struct.unpack("<BHBHB", r.payload)
    assert (streaming, rate, acc_g, gyr_dps, batt) == (1, 208, 4, 500, 77)
    r = resp(h, P.command(P.OP_STOP, 12))
    assert r.ok and not h.streaming
    r = resp(h, P.command(P.OP_START, 13, struct.pack("<I", 4_000_000_000)))
    assert r.ok and h.streaming
    assert c.log == [("config", 208, 8, 1000), ("config", 208, 4, 500), ("identify", 5),
                     "start", "stop", ("start", 4_000_000_000)]


def test_the_resender_keeps_the_last_samples_across_the_sequence_wrap():
    r = P.Resender(size=5)
    for k in range(20):
        r.add((P.SEQ_WRAP - 10 + k) % P.SEQ_WRAP, k, (k,) * 6)
    assert [x[1] for x in r.since(P.SEQ_WRAP - 10)] == [15, 16, 17, 18, 19]  # only 5 kept
    assert [x[1] for x in r.since(8)] == [18, 19]  # 8 follows the wrap: samples 18 and 19
    assert r.since(10) == []  # beyond the newest: nothing to re-send


@pytest.mark.parametrize("data,status", [
    (b"", P.ST_BAD_LENGTH),
    (b"\x01", P.ST_BAD_LENGTH),
    (b"\x7f\x00", P.ST_UNKNOWN_OPCODE),
    (b"\x01\x00\x00", P.ST_BAD_LENGTH),                       # start: 0 or 4 bytes
    (P.command(P.OP_SET_RATE, 1, b"\x68"), P.ST_BAD_LENGTH),   # rate needs 2 bytes
    (P.cmd_set_rate(100), P.ST_BAD_VALUE),                     # not an LSM6DS3 rate offered
    (P.cmd_set_range(3, 1000), P.ST_BAD_VALUE),
    (P.cmd_set_range(8, 300), P.ST_BAD_VALUE),
    (P.cmd_identify(0), P.ST_BAD_VALUE),
    (P.command(P.OP_IDENTIFY, 1, b""), P.ST_BAD_LENGTH),
])
def test_malformed_command_answers_an_error_code(data, status):
    h = Calls().handler()
    r = resp(h, data)
    assert r.status == status
    assert h.config.rate_hz == 104 and not h.streaming


def test_configuration_refused_while_streaming():
    h = Calls().handler(streaming=True)
    assert resp(h, P.cmd_set_rate(208)).status == P.ST_BUSY
    assert resp(h, P.cmd_set_range(2, 250)).status == P.ST_BUSY
    assert h.config.rate_hz == 104


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_fuzzed_commands_never_raise(data):
    out = Calls().handler().handle(data)
    r = decode_control_response(out)
    assert r.status in P.STATUS_NAMES
    assert r.opcode == (data[0] & 0x7F if data else 0)


def _closing_seqs(b, seqs, ticks_per_sample=200):
    """Add samples ``seqs`` (at ``seq * ticks_per_sample``); the (first, last) sequence numbers
    of each notification sent."""
    out = []
    for s in seqs:
        for pkt in b.add(s, s * ticks_per_sample, (0, 0, 0, 0, 0, 0)):
            d = decode_notification(pkt)
            out.append((d.seq, d.seq + len(d.raw) - 1))
    return out


def test_batcher_on_a_phase_sends_after_every_cycle_of_samples_from_the_hosts_sample():
    b = P.Batcher(rate_hz=200, mtu=247, max_age_s=0.020)
    assert b.cycle == 4                      # 20 ms of samples at 200 Hz
    b.set_phase(10)
    assert _closing_seqs(b, range(0, 19)) == [(0, 2), (3, 6), (7, 10), (11, 14), (15, 18)]
    assert b.pending == 0
    # by age again
    b.set_phase(None)
    assert _closing_seqs(b, range(19, 40)) == [(19, 37)]   # only a full notification (19)


@pytest.mark.parametrize("rate_hz,cycle", [(200, 4), (208, 4), (104, 2), (100, 2), (50, 1)])
def test_a_cycle_is_the_samples_of_one_maximum_batch_age(rate_hz, cycle):
    assert P.Batcher(rate_hz=rate_hz, max_age_s=P.MAX_BATCH_AGE_S).cycle == cycle


def test_on_a_phase_the_pending_batch_is_due_with_its_closing_sample_or_its_age():
    b = P.Batcher(rate_hz=200, mtu=247, max_age_s=0.020)
    b.set_phase(7)
    b.add(4, 800, (0,) * 6)
    assert b.due_ticks() == 7 * 200           # the closing sample's time
    assert b.closes_at(8, 1600) == 11 * 200   # the next cycle's
    assert b.poll(7 * 200 - 1) is None
    # the closing sample never comes (lost by the sensor): the maximum age still sends it
    b.add(5, 1000, (0,) * 6)
    assert b.poll(800 + 800) is not None and b.pending == 0


def test_the_set_phase_command_places_the_hosts_sequence_number_on_the_sensors_counter():
    got = []
    cfg = P.SensorConfig("id", "m", "fw")
    h = P.CommandHandler(cfg, on_phase=got.append)
    r = resp(h, P.command(P.OP_SET_PHASE, 3, struct.pack("<I", 5)))
    assert r.ok and r.token == 3
    assert resp(h, P.command(P.OP_SET_PHASE, 4)).ok
    assert resp(h, P.command(P.OP_SET_PHASE, 5, b"\x01\x02")).status == P.ST_BAD_LENGTH
    assert got == [5, None]
    # an older sensor without it answers "unknown opcode" (the host then keeps the age rule)
    old = P.CommandHandler(cfg)
    assert resp(old, P.command(P.OP_SET_PHASE, 6, struct.pack("<I", 5))).status == \
        P.ST_UNKNOWN_OPCODE
    # the wrapped u32 lands next to the sensor's unwrapped counter, across the wrap too
    assert P.unwrap_near(5, 2**32 - 3) == 2**32 + 5
    assert P.unwrap_near(2**32 - 3, 2**32 + 5) == 2**32 - 3
    assert P.unwrap_near(1000, 3 * 2**32 + 990) == 3 * 2**32 + 1000
