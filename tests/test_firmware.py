"""Host-side firmware tests: LSM6DS3TR-C register values, FIFO parsing, the whole sensor-side
chain (FIFO bytes → batcher → notification) decoded by the reader's decoder, and that the
CircuitPython files only use what CircuitPython has."""

import ast
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import lsm6ds3 as L
from firmware import protocol as P
from imu.sources.ble.decoder import StreamTracker, decode_control_response, decode_notification

FW = Path(__file__).resolve().parents[1] / "firmware"


def test_register_values_match_the_datasheet():
    assert L.ctrl1_xl(104, 8) == 0x4C   # ODR 0100, FS 11 (±8 g)
    assert L.ctrl1_xl(208, 16) == 0x54  # ODR 0101, FS 01 (±16 g)
    assert L.ctrl2_g(104, 1000) == 0x48
    assert L.ctrl2_g(208, 2000) == 0x5C
    assert L.ctrl2_g(104, 125) == 0x42  # FS_125
    assert L.fifo_ctrl5(208) == 0x2E    # ODR_FIFO 0101, continuous
    assert L.fifo_level(0x34, 0x42) == (0x234, True)


def fifo_bytes(samples, ts0=100, dts=385):
    """FIFO content for samples: gyro xyz, accel xyz, timestamp set (TS[15:8], TS[23:16], 0,
    TS[7:0], steps)."""
    out = bytearray()
    for k, s in enumerate(samples):
        ts = (ts0 + k * dts) % L.TS_WRAP
        out += struct.pack("<3h", *s[3:]) + struct.pack("<3h", *s[:3])
        out += bytes(((ts >> 8) & 0xFF, ts >> 16, 0, ts & 0xFF, 0, 0))
    return bytes(out)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(*[st.integers(-32768, 32767)] * 6), min_size=1, max_size=40),
       st.integers(0, 17), st.integers(1, 40))
def test_fifo_parser_handles_reads_split_anywhere(samples, start_word, chunk_words):
    data = fifo_bytes(samples)
    # the FIFO may be read from the middle of a pattern: those first words are skipped
    data = data[2 * start_word:] if start_word < 9 else data
    pattern = start_word if start_word < 9 else 0
    p = L.FifoParser(pattern)
    got = []
    step = 2 * chunk_words
    for i in range(0, len(data), step):
        got += p.feed(data[i:i + step])
    expect = samples[1:] if pattern else samples
    assert [s for _, s in got] == [tuple(s) for s in expect]


def test_timestamp_unwraps_24_bits():
    u = L.TimestampUnwrapper()
    ts = [(L.TS_WRAP - 800 + 385 * k) % L.TS_WRAP for k in range(6)]
    out = [u(t) for t in ts]
    assert out == [L.TS_WRAP - 800 + 385 * k for k in range(6)]


def test_sensor_side_chain_decodes_on_the_host():
    """FIFO → parser → unwrap → batcher → notifications → StreamTracker: same samples back."""
    rng = np.random.default_rng(0)
    n = 300
    raw = rng.integers(-32768, 32767, size=(n, 6))
    dts = 192  # 208 Hz at 25 us
    data = fifo_bytes([tuple(int(v) for v in r) for r in raw], ts0=L.TS_WRAP - 5000, dts=dts)
    parser, unwrap = L.FifoParser(0), L.TimestampUnwrapper()
    batcher = P.Batcher(rate_hz=208, mtu=185)
    pkts, seq = [], 0
    for i in range(0, len(data), 2 * 9 * 7):  # FIFO read every 7 samples
        for ts, s in parser.feed(data[i:i + 2 * 9 * 7]):
            pkts += batcher.add(seq, unwrap(ts), s)
            seq += 1
    pkts.append(batcher.flush())
    assert all(len(p) <= 185 - 3 for p in pkts)
    cfg = P.SensorConfig("x", "m", "f", rate_hz=208, acc_range_g=4, gyr_range_dps=500)
    tr = StreamTracker("x", P.acc_scale(4), P.gyr_scale(500), 208)
    blocks = [tr.feed(p, 0.1 * i) for i, p in enumerate(pkts)]
    acc = np.concatenate([b.acc for b in blocks])
    gyr = np.concatenate([b.gyr for b in blocks])
    t = np.concatenate([b.t_sensor_s for b in blocks])
    assert np.allclose(acc / P.acc_scale(4), raw[:, :3])
    assert np.allclose(gyr / P.gyr_scale(500), raw[:, 3:])
    assert np.allclose(np.diff(t), dts * P.TICK_S, atol=1e-9)  # across the 24-bit wrap
    assert tr.counts.dropped == 0 and tr.counts.malformed == 0
    assert cfg.info_bytes(185)  # info fits the config used


def _firmware_loop(seed, batcher, read_every, n=400, dts=192):
    """The firmware's loop at 208 Hz (``dts`` ticks a sample) over ``n`` random samples: a
    FIFO read every ``read_every`` samples, each sample added to ``batcher``, then a poll
    with the newest sample's time. Returns (raw samples, [(notification, ticks when sent)],
    the newest sample's ticks)."""
    raw = np.random.default_rng(seed).integers(-32768, 32767, size=(n, 6))
    data = fifo_bytes([tuple(int(v) for v in r) for r in raw], ts0=1000, dts=dts)
    parser, unwrap = L.FifoParser(0), L.TimestampUnwrapper()
    counter = P.SampleCounter(208)
    sent, newest = [], 0
    for i in range(0, len(data), 2 * 9 * read_every):
        for ts, s in parser.feed(data[i:i + 2 * 9 * read_every]):
            ticks = unwrap(ts)
            sent += [(p, ticks) for p in batcher.add(counter.next(ticks), ticks, s)]
            newest = ticks
        pkt = batcher.poll(newest)
        if pkt is not None:
            sent.append((pkt, newest))
    return raw, sent, newest


def test_sensor_side_chain_with_batch_age_bounds_the_wait():
    """The firmware's loop (FIFO read every 2 samples at 208 Hz, then poll with the newest
    sample's time): every sample reaches the host, none waited longer than the maximum age
    plus one read, and no sequence number is counted as lost."""
    n, dts = 400, 192
    batcher = P.Batcher(rate_hz=208, mtu=247, max_age_s=P.MAX_BATCH_AGE_S)
    raw, sent, newest = _firmware_loop(1, batcher, read_every=2, n=n, dts=dts)
    if batcher.pending:                                # the tail, not yet due
        sent.append((batcher.flush(), newest))
    tr = StreamTracker("x", P.acc_scale(8), P.gyr_scale(1000), 208)
    blocks = [tr.feed(p, 0.01 * i) for i, (p, _) in enumerate(sent)]
    acc = np.concatenate([b.acc for b in blocks])
    got = len(acc)
    assert got == n and np.allclose(acc / P.acc_scale(8), raw[:, :3])
    assert tr.counts.dropped == 0 and tr.counts.malformed == 0
    waits_s = [(t_sent - decode_notification(p).t0_ticks) * P.TICK_S for p, t_sent in sent]
    assert max(waits_s) <= P.MAX_BATCH_AGE_S + 2 * dts * P.TICK_S
    assert max(len(decode_notification(p)) for p, _ in sent) <= 6   # not 19-sample ones


def test_sample_counter_shows_fifo_overflow_as_a_gap():
    c = P.SampleCounter(208)
    period = 1 / (208 * P.TICK_S)
    rng = np.random.default_rng(2)
    t = 1000 + np.cumsum(period * (1 + 0.002) + rng.uniform(-8, 8, 500))  # 0.2 % slow, jitter
    t[300:] += 75 * period  # 75 samples overwritten in the FIFO
    seq = [c.next(int(x)) for x in t]
    assert seq[:300] == list(range(300))
    assert seq[300:] == list(range(375, 575))


@pytest.mark.parametrize("volts,pct", [(3.0, 0), (3.84, 50), (4.2, 100), (4.3, 100),
                                       (3.965, 72)])
def test_battery_percent_from_lipo_voltage(volts, pct):
    assert L.battery_percent(volts) == pct


CIRCUITPY_MODULES = {"struct", "json", "time", "_bleio", "analogio", "board", "busio",
                     "digitalio", "microcontroller", "adafruit_ble", "lsm6ds3", "protocol"}


@pytest.mark.parametrize("name", ["code.py", "protocol.py", "lsm6ds3.py"])
def test_firmware_files_import_only_circuitpython_modules(name):
    tree = ast.parse((FW / name).read_text())
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mods.add(node.module.split(".")[0])
    assert mods <= CIRCUITPY_MODULES, mods - CIRCUITPY_MODULES
    # no dataclasses, typing or numpy on the sensor
    assert not {"dataclasses", "typing", "numpy"} & mods


def test_sensor_side_chain_on_the_hosts_phase_sends_every_fourth_sample():
    """The firmware's loop at 208 Hz once the host named a sample (``set_phase``): a
    notification leaves with every 4th sample from it (the FIFO read that brings it), each
    holds the 4 samples since the last, and every sample reaches the host."""
    n = 400
    batcher = P.Batcher(rate_hz=208, mtu=247, max_age_s=P.MAX_BATCH_AGE_S)
    handler = P.CommandHandler(P.SensorConfig("x", "m", "f"),
                               on_phase=lambda s: batcher.set_phase(P.unwrap_near(s, 0)))
    assert decode_control_response(handler.handle(
        P.command(P.OP_SET_PHASE, 1, struct.pack("<I", 2)))).ok
    raw, sent, _ = _firmware_loop(2, batcher, read_every=3, n=n)
    # every notification went out with its closing sample (the FIFO read that brought it),
    # none by age
    assert all(decode_notification(p).t0_ticks + 3 * 192 == t for p, t in sent[1:])
    tr = StreamTracker("x", P.acc_scale(8), P.gyr_scale(1000), 208)
    blocks = [tr.feed(p, 0.01 * i) for i, (p, _) in enumerate(sent)]
    assert [len(b) for b in blocks[1:]] == [4] * (len(blocks) - 1)
    assert all((int(b.seq[-1]) - 2) % 4 == 0 for b in blocks)
    got = np.concatenate([b.acc for b in blocks])
    assert len(got) == n - batcher.pending and np.allclose(got / P.acc_scale(8),
                                                           raw[:len(got), :3])
