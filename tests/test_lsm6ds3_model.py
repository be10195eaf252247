"""The firmware's LSM6DS3TR-C driver (``firmware/lsm6ds3.py``) against a register-level model
of the chip written from its datasheet (``firmware/sim/lsm6ds3tr_c.py``), through an I2C
stand-in with CircuitPython's ``busio.I2C`` calls."""

import math

import numpy as np
import pytest

from firmware import lsm6ds3 as L
from firmware import protocol as P
from firmware.sim.lsm6ds3tr_c import G0, TS_WRAP, I2CBus, Lsm6ds3trc
from imu.sources.ble.decoder import StreamTracker

READ_EVERY_S = 0.02  # code.py's FIFO_READ_INTERVAL_S


def motion(t):
    """Different, time-varying values on every axis: swapped axes, signs or order show."""
    acc = (1.5 + math.sin(3.0 * t), -2.5 + 0.5 * math.cos(2.0 * t), G0 + 0.1 * t)
    gyr = (0.4 * math.sin(5.0 * t), -0.7 + 0.05 * t, 1.2 * math.cos(4.0 * t))
    return acc, gyr


def rig(clock_error=0.0, bus_hz=400_000, **kw):
    """Chip, bus at code.py's 400 kHz (transfers take time, as on the board), driver."""
    chip = Lsm6ds3trc(motion=motion, clock_error=clock_error, **kw)
    bus = I2CBus(chip, bus_hz=bus_hz)
    return chip, bus, L.Lsm6ds3(bus)


def stream(chip, imu, seconds, every_s=READ_EVERY_S):
    """Read the FIFO every ``every_s`` like code.py; returns samples and overrun flags."""
    out, flags = [], []
    for _ in range(int(round(seconds / every_s))):
        chip.advance(every_s)
        got, overrun = imu.samples()
        out += got
        flags.append(overrun)
    return out, flags


def truth_by_ts(chip):
    return {w["ts24"]: w for w in chip.written}


def test_model_reads_who_am_i_and_rejects_a_wrong_address():
    chip, bus, _ = rig()
    out = bytearray(1)
    bus.writeto_then_readfrom(0x6A, bytes((0x0F,)), out)
    assert out[0] == 0x6A
    with pytest.raises(OSError):
        bus.writeto_then_readfrom(0x6B, bytes((0x0F,)), out)
    with pytest.raises(OSError):  # the driver's check fails the same way code.py catches
        L.Lsm6ds3(I2CBus())


def test_driver_refuses_a_chip_with_another_who_am_i():
    chip = Lsm6ds3trc()
    chip.regs[0x0F] = 0x69  # an LSM6DS3 (not TR-C)
    with pytest.raises(RuntimeError, match="not found"):
        L.Lsm6ds3(I2CBus(chip))


def test_power_on_sets_bdu_auto_increment_and_a_25us_timestamp():
    chip, bus, imu = rig(bus_hz=None)
    assert chip.bdu and chip.if_inc
    assert chip.timer_en and chip.ts_resolution_s == 25e-6
    chip.advance(1.0)
    assert chip.timestamp() == 40000  # 1 s at 25 µs
    assert chip.bad_writes == []


def test_model_timestamp_resolution_is_6_4_ms_without_timer_hr():
    chip = Lsm6ds3trc()
    chip.write_register(0x19, 0x20)  # TIMER_EN only
    chip.advance(1.0)
    assert chip.timestamp() == int(1.0 / 6.4e-3)
    chip.write_register(0x42, 0xAA)  # reset
    assert chip.timestamp() == 0


@pytest.mark.parametrize("rate_hz", [104, 208])
@pytest.mark.parametrize("range_g", [2, 4, 8, 16])
@pytest.mark.parametrize("range_dps", [125, 250, 500, 1000, 2000])
def test_every_offered_rate_and_range_reaches_the_chip(rate_hz, range_g, range_dps):
    cfg = P.SensorConfig("x", "m", "f")  # what the firmware offers the host
    assert rate_hz in cfg.rates_hz and range_g in cfg.acc_ranges_g
    assert range_dps in cfg.gyr_ranges_dps
    chip, bus, imu = rig()
    imu.start(rate_hz, range_g, range_dps)
    assert (chip.xl_odr_hz, chip.g_odr_hz, chip.fifo_odr_hz) == (rate_hz,) * 3
    assert (chip.xl_fs_g, chip.g_fs_dps) == (range_g, range_dps)
    assert chip.fifo_mode == 0b110  # continuous
    assert chip.decimation() == (1, 1, 0, 1) and chip.ds4_timestamp
    assert chip.bad_writes == []
    samples, _ = stream(chip, imu, 1.0)
    # values scale with the chosen full scale: raw × sensitivity gives the physical value
    t = np.array([chip.written[k]["t_s"] for k in range(len(samples))])
    raw = np.array([s for _, s in samples], float)
    acc = raw[:, :3] * P.acc_scale(range_g)
    gyr = raw[:, 3:] * P.gyr_scale(range_dps)
    want = [motion(x) for x in t]
    want_acc = np.clip([w[0] for w in want], -range_g * G0, range_g * G0)
    want_gyr = np.array([w[1] for w in want])
    assert np.abs(acc - want_acc).max() <= P.acc_scale(range_g)
    assert np.abs(gyr - want_gyr).max() <= P.gyr_scale(range_dps)
    # one sample per FIFO slot at the chosen rate, 1/(rate·25 µs) ticks apart
    ticks = np.array([ts for ts, _ in samples])
    assert np.abs(np.diff(ticks) - 1 / (rate_hz * 25e-6)).max() <= 1.0
    imu.stop()
    assert chip.fifo_mode == 0 and chip.xl_odr_hz == 0 and chip.g_odr_hz == 0


def test_samples_arrive_in_order_axes_and_units_on_the_host():
    """Chip → driver → SampleCounter → Batcher → notifications → StreamTracker: m/s², rad/s,
    in the chip's axes, in time order, each sample with its own timestamp."""
    chip, bus, imu = rig(clock_error=0.003)
    rate, rg, rd = 208, 8, 1000
    imu.start(rate, rg, rd)
    counter, batcher = P.SampleCounter(rate), P.Batcher(rate_hz=rate, mtu=185)
    tracker = StreamTracker("x", P.acc_scale(rg), P.gyr_scale(rd), rate)
    blocks = []
    for i in range(150):  # 3 s
        chip.advance(READ_EVERY_S)
        got, overrun = imu.samples()
        assert not overrun
        for ticks, s in got:
            for pkt in batcher.add(counter.next(ticks), ticks, s):
                blocks.append(tracker.feed(pkt, chip.t_s))
    blocks.append(tracker.feed(batcher.flush(), chip.t_s))
    acc = np.concatenate([b.acc for b in blocks])
    gyr = np.concatenate([b.gyr for b in blocks])
    t = np.concatenate([b.t_sensor_s for b in blocks])
    truth = chip.written[:len(acc)]
    assert len(acc) >= len(chip.written) - 1  # at most the newest sample still pending
    assert np.abs(acc - [w["acc_mps2"] for w in truth]).max() <= P.acc_scale(rg)
    assert np.abs(gyr - [w["gyr_radps"] for w in truth]).max() <= P.gyr_scale(rd)
    # sensor time advances like true time on the chip's (0.3 % fast) clock
    t_true = np.array([w["t_s"] for w in truth])
    assert np.abs(np.diff(t) - np.diff(t_true) * 1.003).max() < 30e-6
    assert tracker.counts.dropped == 0 and tracker.counts.malformed == 0


def test_timestamps_stay_monotonic_across_the_24_bit_wrap():
    chip, bus, imu = rig()
    chip.advance(TS_WRAP * 25e-6 - 1.0)  # powered 7 min: the counter wraps 1 s from now
    imu.start(104, 8, 1000)
    samples, flags = stream(chip, imu, 3.0)
    raw_ts = [w["ts24"] for w in chip.written]
    assert any(b < a for a, b in zip(raw_ts, raw_ts[1:]))  # the chip's counter did wrap
    ticks = np.array([ts for ts, _ in samples])
    assert np.all(np.diff(ticks) > 0)
    assert np.abs(np.diff(ticks) - 1 / (104 * 25e-6)).max() <= 1.0
    assert ticks[-1] > TS_WRAP
    assert not any(flags)


def test_fifo_overrun_is_reported_and_no_sample_is_misaligned():
    chip, bus, imu = rig()
    imu.start(104, 8, 1000)
    before, _ = stream(chip, imu, 1.0)
    chip.advance(5.0)  # the reader stalls: 2048 words hold 227 samples = 2.2 s at 104 Hz
    assert chip.overrun
    after, overrun = imu.samples()
    assert overrun and imu.overruns == 1
    more, flags = stream(chip, imu, 1.0)
    assert not any(flags)  # reported once, then clear
    truth = truth_by_ts(chip)
    for ts, s in before + after + more:  # every sample is a real one, words never mixed
        assert s == truth[ts % TS_WRAP]["raw"]
    ticks = np.array([ts for ts, _ in before + after + more])
    assert np.all(np.diff(ticks) > 0)
    # the lost samples show as one jump in time, of the length of what was overwritten
    period = 1 / (104 * 25e-6)
    jumps = np.round(np.diff(ticks) / period).astype(int)
    lost = len(chip.written) - len(before + after + more) - (1 if chip.fifo else 0)
    assert sorted(jumps)[-1] - 1 == pytest.approx(lost, abs=1)
    assert (jumps > 1).sum() == 1
    assert len(after) >= 220  # the FIFO's worth of samples was kept


def test_overrun_shows_on_the_host_as_a_counted_gap():
    chip, bus, imu = rig()
    imu.start(208, 4, 500)
    counter, batcher = P.SampleCounter(208), P.Batcher(rate_hz=208, mtu=185)
    tracker = StreamTracker("x", P.acc_scale(4), P.gyr_scale(500), 208)
    kept = 0
    for i in range(200):
        chip.advance(READ_EVERY_S if i != 50 else 3.0)  # one 3 s stall: FIFO holds 1.1 s
        got, _ = imu.samples()
        kept += len(got)
        for ticks, s in got:
            for pkt in batcher.add(counter.next(ticks), ticks, s):
                tracker.feed(pkt, chip.t_s)
    tracker.feed(batcher.flush(), chip.t_s)
    lost = len(chip.written) - kept - len(chip.fifo) // 9
    assert lost > 300
    assert tracker.counts.dropped == pytest.approx(lost, abs=1)
    assert tracker.counts.malformed == 0


@pytest.mark.parametrize("words_taken", [1, 4, 8, 10])
def test_reading_that_starts_mid_pattern_realigns(words_taken):
    """Words read behind the parser's back (an interrupted burst, a restarted script) leave
    the FIFO mid-pattern: the driver sees FIFO_PATTERN disagree and realigns."""
    chip, bus, imu = rig()
    imu.start(104, 8, 1000)
    before, _ = stream(chip, imu, 0.5)
    chip.advance(0.1)
    junk = bytearray(2 * words_taken)
    bus.writeto_then_readfrom(0x6A, bytes((0x3E,)), junk)
    after, flags = stream(chip, imu, 1.0)
    assert not any(flags)
    truth = truth_by_ts(chip)
    for ts, s in before + after:
        assert s == truth[ts % TS_WRAP]["raw"]
    lost = len(chip.written) - len(before + after) - (1 if chip.fifo else 0)
    assert lost == math.ceil(words_taken / 9)


def test_a_new_driver_on_a_running_chip_starts_clean():
    chip, bus, imu = rig()
    imu.start(208, 8, 1000)
    stream(chip, imu, 0.37)
    chip.advance(0.013)
    imu2 = L.Lsm6ds3(bus)  # CircuitPython reloaded code.py while the chip kept running
    imu2.start(208, 8, 1000)
    n0 = len(chip.written)
    got, flags = stream(chip, imu2, 1.0)
    truth = chip.written[n0:]
    assert [s for _, s in got] == [w["raw"] for w in truth[:len(got)]]
    assert got[0][0] < 2 * 1 / (208 * 25e-6)  # the timestamp was reset at power-on


def test_model_fifo_pattern_follows_decimation_and_fifo_pattern_register():
    """The model itself: gyro every slot, accel every 2nd, timestamp every 4th → a 4-slot
    recursive pattern of 3+3+3 + 3 + 3+3 + 3 = 21 words; FIFO_PATTERN tracks the head."""
    chip = Lsm6ds3trc(motion=motion)
    for reg, value in ((0x10, 0x40), (0x11, 0x40), (0x19, 0x20), (0x5C, 0x10), (0x07, 0x80),
                       (0x08, (1 << 3) | 2), (0x09, 4 << 3), (0x0A, (4 << 3) | 0b110)):
        chip.write_register(reg, value)
    period, pat = chip.pattern()
    assert period == 4
    assert pat == [(0, 0), (1, 0), (3, 0), (0, 1), (0, 2), (1, 2), (0, 3)]
    chip.advance(4.5 / 104)
    assert len(chip.fifo) == 21
    bus = I2CBus(chip)
    st = bytearray(4)
    for k in range(21):
        bus.writeto_then_readfrom(0x6A, bytes((0x3A,)), st)
        assert L.fifo_level(st[0], st[1])[0] == 21 - k
        assert L.fifo_pattern(st[2], st[3]) == k
        bus.writeto_then_readfrom(0x6A, bytes((0x3E,)), bytearray(2))
    bus.writeto_then_readfrom(0x6A, bytes((0x3A,)), st)
    assert st[1] & 0x10  # FIFO_EMPTY


def test_model_fifo_mode_stops_when_full_and_continuous_overwrites():
    chip = Lsm6ds3trc()
    for reg, value in ((0x10, 0x40), (0x11, 0x40), (0x08, 0x09), (0x0A, (4 << 3) | 0b001)):
        chip.write_register(reg, value)
    chip.advance(10.0)
    assert len(chip.fifo) == 2046 and not chip.overrun  # 341 whole 6-word slots, then stop
    chip.write_register(0x0A, 0)  # bypass empties it
    assert len(chip.fifo) == 0
    chip.write_register(0x0A, (4 << 3) | 0b110)
    chip.advance(10.0)
    assert len(chip.fifo) == 2048 and chip.overrun
    assert chip.read_register(0x3A) | (chip.read_register(0x3B) & 7) << 8 == 2047


def test_model_timestamp_registers_and_fifo_threshold_flag():
    chip, bus, imu = rig(clock_error=-0.01, bus_hz=None)
    chip.advance(2.0)
    out = bytearray(3)
    bus.writeto_then_readfrom(0x6A, bytes((0x40,)), out)  # TIMESTAMP0..2, LSB first
    assert out[0] | out[1] << 8 | out[2] << 16 == int(2.0 * 0.99 / 25e-6)
    bus.writeto(0x6A, bytes((0x42, 0xAA)))
    bus.writeto_then_readfrom(0x6A, bytes((0x40,)), out)
    assert bytes(out) == b"\0\0\0"
    bus.writeto(0x6A, bytes((0x06, 90)))  # FTH = 90 words (FIFO_CTRL2's FTH[10:8] stay 0)
    imu.start(104, 8, 1000)  # leaves FIFO_CTRL1 alone
    chip.advance(9.5 / (104 * 0.99))  # 9 slots = 81 words: below the watermark
    assert not chip.read_register(0x3B) & 0x80
    chip.advance(1 / (104 * 0.99))    # 90 words
    assert chip.read_register(0x3B) & 0x80


def test_first_overflow_during_a_read_does_not_misalign_samples():
    """The FIFO one slot short of full when a read starts: the slot that overflows it lands
    between the status read and the burst (2048 words are not a whole number of 9-word
    patterns, so the first overflow moves the head mid-pattern). The driver sees
    FIFO_FULL_SMART and lets the overflow happen before it reads, then realigns on it."""
    chip, bus, imu = rig()
    imu.start(104, 8, 1000)
    before, _ = stream(chip, imu, 0.5)
    slot_s = 1 / 104
    # wait until 227 slots (2043 words) sit in the FIFO and the 228th is 0.3 ms away:
    # inside the status read (~0.16 ms) + first burst bytes at 400 kHz
    chip.advance(227 * slot_s - 0.5e-3)
    chip.advance(chip._next_slot_s - chip.t_s - 0.3e-3)
    assert len(chip.fifo) == 2043 and not chip.overrun
    got = []
    flags = []
    for _ in range(5):
        g, f = imu.samples()
        got += g
        flags.append(f)
        chip.advance(READ_EVERY_S)
    assert any(flags) and imu.overruns == 1
    truth = truth_by_ts(chip)
    for ts, s in before + got:
        assert s == truth[ts % TS_WRAP]["raw"]
    ticks = np.array([ts for ts, _ in before + got])
    assert np.all(np.diff(ticks) > 0)
