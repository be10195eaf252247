"""Polar Verity Sense: the PMD control-point exchange and streaming against the virtual sensor.

The virtual Verity Sense streams the body simulator's motion; decoded samples are checked
against that motion within the frames' quantisation (1 mG, ``factor`` deg/s).
"""

import asyncio

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner

from imu.errors import SensorError
from imu.sources.ble import polar as PM
from imu.sources.ble.bumble_backend import BumbleClientBackend, BumbleScannerBackend
from imu.sources.ble.polar_virtual import BOOT_NS, VERITY_OFFERED, VirtualVeritySense
from imu.sources.ble.reader import BleSource
from imu.sources.ble.vendors import decode_polar_pmd
from imu.sources.ble.virtual import SampleFeed

ADDR = "D0:7E:5E:00:00:09"


@pytest.fixture(scope="module")
def motion():
    """The simulator's left-thigh motion (hinge reps), sensor clock from 0."""
    from imu.sim import simulate

    r = simulate("hinge", rate_hz=104, seed=3, reps=2, calibration=False,
                 roles=("sacrum", "left_thigh"))
    d = r.session.sensors["left_thigh"]
    return SampleFeed(d.t_sensor_s, d.acc, d.gyr, loop=True)


async def _connected(vs):
    await vs.power_on()
    dev = await BleakScanner.find_device_by_address(vs.address, timeout=3.0,
                                                    backend=BumbleScannerBackend)
    client = BleakClient(dev, backend=BumbleClientBackend)
    await client.connect()
    return client


def test_compressed_delta_frames_round_trip():
    rng = np.random.default_rng(1)
    for n, spread in ((1, 10), (7, 3), (40, 2000), (300, 30000)):
        s = np.cumsum(rng.integers(-spread, spread + 1, size=(n, 3)), axis=0)
        s = np.clip(s, -32768, 32767)
        frame = PM.encode_delta_frame(PM.GYRO, 123_456_789_000, s, PM.GYRO_FRAME_TYPE)
        assert len(frame) == PM.delta_frame_size(s)
        mtype, vs = decode_polar_pmd(frame, rate_hz=52, factor=0.5)
        assert mtype == PM.GYRO
        assert np.allclose(np.degrees(vs.gyr), s * 0.5)
        assert vs.t_sensor_s[-1] == pytest.approx(123.456789)
        assert np.allclose(np.diff(vs.t_sensor_s), 1 / 52)
    acc = np.array([[1000, -2, 980], [1001, -3, 979]])
    _, va = decode_polar_pmd(PM.encode_delta_frame(PM.ACC, 10**9, acc, PM.ACC_FRAME_TYPE),
                             rate_hz=52)
    assert np.allclose(va.acc / 9.80665 * 1000, acc)


def test_settings_and_responses_encode_as_the_sdk_reads_them():
    b = PM.encode_settings({PM.SAMPLE_RATE: [26, 52], PM.RANGE: [8], PM.FACTOR: [0.5]})
    assert b == bytes([0, 2, 26, 0, 52, 0, 2, 1, 8, 0, 5, 1]) + bytes.fromhex("0000003f")
    assert PM.decode_settings(b) == {PM.SAMPLE_RATE: [26, 52], PM.RANGE: [8], PM.FACTOR: [0.5]}
    r = PM.decode_response(bytes([0xF0, 0x02, 0x05, 0x08, 0x00]))
    assert (r.op, r.mtype, r.ok, r.status_name) == (2, 5, False, "invalid sample rate")
    assert PM.decode_features(PM.encode_features([2, 5])) == {2, 5}


def test_control_point_settings_start_stop_and_refusals(motion):
    """Every answer of the control point, straight over the link."""
    async def main():
        vs = VirtualVeritySense(ADDR, "Polar Sense B5A00009", motion)
        client = await _connected(vs)
        drv = PM.PolarDriver(ADDR, label="sensor left_thigh (x)")
        await client.start_notify(PM.POLAR_PMD_CONTROL_UUID, drv._on_control)
        out = {"features": PM.decode_features(await client.read_gatt_char(
            PM.POLAR_PMD_CONTROL_UUID))}
        for m in (PM.ACC, PM.GYRO):
            out[m] = await drv.get_settings(client, m)
        req = {PM.SAMPLE_RATE: [52], PM.RESOLUTION: [16], PM.RANGE: [2000], PM.CHANNELS: [3]}
        cases = [("ecg", PM.OP_GET_SETTINGS, PM.ECG, None),
                 ("bad op", 0x07, PM.ACC, None),
                 ("rate", PM.OP_START, PM.GYRO, {**req, PM.SAMPLE_RATE: [104]}),
                 ("range", PM.OP_START, PM.GYRO, {**req, PM.RANGE: [250]}),
                 ("resolution", PM.OP_START, PM.GYRO, {**req, PM.RESOLUTION: [24]}),
                 ("no rate", PM.OP_START, PM.GYRO, {PM.RESOLUTION: [16]}),
                 ("stop idle", PM.OP_STOP, PM.GYRO, None),
                 ("start", PM.OP_START, PM.GYRO, req),
                 ("start again", PM.OP_START, PM.GYRO, req),
                 ("stop", PM.OP_STOP, PM.GYRO, None)]
        for name, op, m, st in cases:
            out[name] = await drv.request(client, op, m, st)
        await client.disconnect()
        await vs.close()
        return out

    out = asyncio.run(main())
    assert {PM.ACC, PM.GYRO} <= out["features"]
    assert out[PM.ACC] == VERITY_OFFERED[PM.ACC] and out[PM.GYRO] == VERITY_OFFERED[PM.GYRO]
    status = {k: v.status_name for k, v in out.items() if isinstance(v, PM.PmdResponse)}
    assert status == {"ecg": "not supported", "bad op": "invalid op code",
                      "rate": "invalid sample rate", "range": "invalid range",
                      "resolution": "invalid resolution", "no rate": "invalid parameter",
                      "stop idle": "already in state", "start": "success",
                      "start again": "already in state", "stop": "success"}
    factor = PM.decode_settings(out["start"].params)[PM.FACTOR][0]
    assert factor == pytest.approx(2000 / 32768, rel=1e-6)


def test_driver_negotiates_starts_pairs_and_stops(motion):
    async def main():
        vs = VirtualVeritySense(ADDR, "Polar Sense B5A00009", motion, speed=2.0,
                                odr_error=0.02)  # 53.04 Hz on its own clock
        client = await _connected(vs)
        vs._t_wall0 -= 3.0  # the sensor clock 6 s into the program: mid-rep
        drv = PM.PolarDriver(ADDR, 104)  # 104 Hz is not offered: the nearest common rate
        blocks = []
        await drv.configure(client, lambda _c, d: blocks.append(drv.feed(d, 0.0)))
        await drv.start(client)
        await asyncio.sleep(1.5)
        await drv.stop(client)
        streams_after_stop = dict(vs.streams)
        await asyncio.sleep(0.3)
        n_after = len(blocks)
        await asyncio.sleep(0.3)
        requests = list(vs.requests)
        frames = dict(vs.frames_sent)
        await client.disconnect()
        await vs.close()
        return drv, [b for b in blocks if b is not None], n_after, len(blocks), \
            streams_after_stop, requests, frames, vs

    drv, blocks, n_after, n_end, streams, requests, frames, vs = asyncio.run(main())
    assert drv.rate_hz == 52
    assert [r[:2] for r in requests] == [bytes([1, 2]), bytes([1, 5]), bytes([2, 2]),
                                         bytes([2, 5]), bytes([3, 2]), bytes([3, 5])]
    assert PM.decode_settings(requests[2][2:]) == {PM.SAMPLE_RATE: [52], PM.RESOLUTION: [16],
                                                   PM.RANGE: [8], PM.CHANNELS: [3]}
    assert streams == {} and n_after == n_end  # stopped: nothing more arrives
    assert drv.settings[PM.GYRO].factor == pytest.approx(2000 / 32768, rel=1e-6)
    seq = np.concatenate([b.seq for b in blocks])
    t = np.concatenate([b.t_sensor_s for b in blocks])
    acc = np.concatenate([b.acc for b in blocks])
    gyr = np.concatenate([b.gyr for b in blocks])
    assert len(seq) > 52 * 2  # 1.5 wall s at speed 2
    assert np.array_equal(seq, np.arange(seq[0], seq[0] + len(seq)))  # paired, no gap
    assert drv.counts.dropped == 0 and drv.counts.malformed == 0
    # after its first frame (spaced at the nominal 52 Hz) the sensor's real rate, measured
    later = t - t[0] > 1.0
    assert np.allclose(np.diff(t)[later[1:]], 1 / 53.04, atol=1e-6)
    # the numbers are the simulated motion at the sensor's sample instants: sample index =
    # sequence number + one offset (from the last sample's exact time)
    f = vs.resampled(52)
    k = seq - seq[-1] + int(np.rint((t[-1] - BOOT_NS * 1e-9) * 53.04))
    assert np.allclose(f.t[k[later] % len(f.t)], (t[later] - BOOT_NS * 1e-9) % f.span_s,
                       atol=1e-6)
    k = k % len(f.t)
    assert np.abs(acc - f.acc[k]).max() <= 0.5e-3 * 9.80665 + 1e-6  # 1 mG steps
    gyr_step = np.radians(2000 / 32768)
    assert np.abs(gyr - f.gyr[k]).max() <= gyr_step / 2 + 1e-6
    assert np.ptp(gyr[:, 0]) + np.ptp(gyr[:, 1]) + np.ptp(gyr[:, 2]) > 0.05  # it moves


def test_dropped_frames_are_counted_as_gaps(motion):
    async def main():
        vs = VirtualVeritySense(ADDR, "Polar Sense B5A00009", motion, speed=2.0,
                                odr_error=-0.03)
        vs.drop = lambda m, k: (m == PM.ACC and k in (4, 5)) or (m == PM.GYRO and k == 9)
        client = await _connected(vs)
        drv = PM.PolarDriver(ADDR)
        blocks = []

        await drv.configure(client, lambda _c, d: blocks.append(drv.feed(d, 0.0)))
        await drv.start(client)
        await asyncio.sleep(2.0)
        await drv.stop(client)
        await client.disconnect()
        await vs.close()
        return drv, [b for b in blocks if b is not None], vs

    drv, blocks, vs = asyncio.run(main())
    assert vs.frames_dropped == {PM.ACC: 2, PM.GYRO: 1}
    seq = np.concatenate([b.seq for b in blocks])
    missing = int(seq[-1] - seq[0] + 1 - len(seq))
    assert missing == drv.counts.dropped == vs.samples_dropped_total > 0
    assert np.all(np.diff(seq) > 0)


def test_refused_range_is_one_line_error_naming_sensor_stream_and_setting(motion):
    async def main():
        vs = VirtualVeritySense(ADDR, "Polar Sense B5A00009", motion)
        await vs.power_on()
        src = BleSource({"left_thigh": ADDR}, rate_hz=52, acc_range_g=16, gyr_range_dps=2000,
                        client_backend=BumbleClientBackend, scanner_backend=BumbleScannerBackend,
                        connect_timeout_s=3.0, first_connect_timeout_s=5.0)
        try:
            with pytest.raises(SensorError) as err:
                await src.start()
        finally:
            await src.stop()
            streams = dict(vs.streams)
            await vs.close()
        return str(err.value), streams

    msg, streams = asyncio.run(main())
    assert "\n" not in msg
    assert msg == (f"sensor left_thigh ({ADDR}): the Polar sensor refused start ACC: invalid "
                   "range (range 16 g; offered: 8)")
    assert streams == {}


def test_a_verity_sense_without_gyro_is_refused(motion):
    async def main():
        vs = VirtualVeritySense(ADDR, "Polar Sense B5A00009", motion,
                                features=(PM.PPG, PM.ACC, PM.PPI))
        await vs.power_on()
        src = BleSource({"left_thigh": ADDR}, rate_hz=52, client_backend=BumbleClientBackend,
                        scanner_backend=BumbleScannerBackend, connect_timeout_s=3.0,
                        first_connect_timeout_s=5.0)
        try:
            with pytest.raises(SensorError) as err:
                await src.start()
        finally:
            await src.stop()
            await vs.close()
        return str(err.value)

    msg = asyncio.run(main())
    assert msg == (f"sensor left_thigh ({ADDR}): the Polar sensor offers no GYRO stream "
                   "(it offers PPG, ACC, PPI); both ACC and GYRO are needed")


def test_exact_rate_the_sensor_refuses_names_the_rate(motion):
    async def main():
        vs = VirtualVeritySense(ADDR, "Polar Sense B5A00009", motion)
        client = await _connected(vs)
        drv = PM.PolarDriver(ADDR, 104, exact=True, label="sensor left_thigh (x)")
        await drv.configure(client, lambda *_: None)
        with pytest.raises(SensorError) as err:
            await drv.start(client)
        streams = dict(vs.streams)
        await client.disconnect()
        await vs.close()
        return str(err.value), streams

    msg, streams = asyncio.run(main())
    assert msg == ("sensor left_thigh (x): the Polar sensor refused start ACC: invalid sample "
                   "rate (sample rate 104 Hz; offered: 52)")
    assert streams == {}


def test_a_dropped_link_restarts_both_streams_and_counts_the_gap(motion):
    """The Verity Sense stops streaming when the link drops; the reader reconnects, starts ACC
    and GYRO again, and the samples in between are one gap on the sensor clock."""
    async def main():
        vs = VirtualVeritySense(ADDR, "Polar Sense B5A00009", motion, speed=2.0)
        await vs.power_on()
        src = BleSource({"left_thigh": ADDR}, rate_hz=52, client_backend=BumbleClientBackend,
                        scanner_backend=BumbleScannerBackend, connect_timeout_s=3.0)
        await src.start()
        got = []

        async def collect():
            async for _, blk in src.role_blocks():
                got.append(blk)

        task = asyncio.create_task(collect())
        await asyncio.sleep(1.0)
        await vs.force_disconnect(0.5)
        await asyncio.sleep(2.5)
        st = src.status()["left_thigh"]
        status = (st.state, st.reconnects, st.dropped)
        starts = [r for r in vs.requests if r[0] == PM.OP_START]
        await src.stop()
        await task
        await vs.close()
        return got, status, starts

    got, (state, reconnects, dropped), starts = asyncio.run(main())
    assert state == "streaming" and reconnects == 1
    assert [s[1] for s in starts] == [PM.ACC, PM.GYRO, PM.ACC, PM.GYRO]
    seq = np.concatenate([b.seq for b in got])
    t = np.concatenate([b.t_sensor_s for b in got])
    assert np.all(np.diff(seq) > 0)
    jumps = np.diff(seq)[np.diff(seq) > 1]
    assert len(jumps) == 1 and dropped == int(jumps[0] - 1) > 0.5 * 2 * 52 * 0.5
    # the sensor clock runs on through the drop: index and time agree after it too
    assert np.allclose(np.diff(t), np.diff(seq) / 52, atol=1e-6)


def test_record_simulate_vendors_records_the_verity_sense_at_52_hz_with_the_simulated_motion(
        tmp_path):
    from imu.cli import main
    from imu.commands.info import sensor_summary
    from imu.session.store import read_recording
    from imu.sim import simulate

    out = tmp_path / "v.imu"
    rc = main(["record", "--simulate-vendors", "--seconds", "4", "--speed", "2", "--program",
               "hinge", "-o", str(out), "--quiet"])
    assert rc == 0
    s = read_recording(out)
    models = {r: d.info.model for r, d in s.sensors.items()}
    assert models == {"sacrum": "imu-sim", "right_thigh": "movella-dot",
                      "left_thigh": "polar-verity-sense", "trunk": "movella-dot"}
    d = s.sensors["left_thigh"]
    summ = sensor_summary(d)
    assert summ["rate_set_hz"] == 52
    assert summ["rate_measured_hz"] == pytest.approx(52 * 1.004, rel=1e-3)  # not 52.0
    assert summ["gaps"] == 0 and summ["duration_s"] > 3.0
    # the same simulation the source ran: the Verity Sense's samples are its left-thigh motion
    sim = simulate("hinge", rate_hz=104, seed=0,
                   roles=("sacrum", "right_thigh", "left_thigh", "trunk"))
    ref = sim.session.sensors["left_thigh"]
    vs = VirtualVeritySense(ADDR, "x", SampleFeed(ref.t_sensor_s, ref.acc, ref.gyr))
    vs.odr_error = 0.004  # as the registered one
    f = vs.resampled(52)
    rel = d.t_sensor_s - BOOT_NS * 1e-9
    k = d.seq - d.seq[-1] + int(np.rint(rel[-1] * 52 * 1.004))  # one offset for all samples
    later = rel - rel[0] > 1.0
    assert k[0] >= 0 and np.allclose(f.t[k[later]], rel[later], atol=1e-6)
    assert np.abs(d.acc - f.acc[k]).max() <= 0.5e-3 * 9.80665 + 1e-6
    assert np.abs(d.gyr - f.gyr[k]).max() <= np.radians(2000 / 32768) / 2 + 1e-6


def test_samples_of_one_stream_wait_for_their_partner_with_bounded_memory():
    """Frames fed straight to the driver: ACC alone is held (bounded), then paired with GYRO
    by sample index; a GYRO frame lost in between is a gap of exactly its samples."""
    drv = PM.PolarDriver("x")
    for m, f in ((PM.ACC, 1.0), (PM.GYRO, 2000 / 32768)):
        drv.settings[m] = PM.StreamSettings(52, 16, 8, factor=f)
    rng = np.random.default_rng(4)
    period_ns = 10**9 / 52 / 1.01  # the sensor 1 % fast
    acc = rng.integers(-900, 900, size=(52 * 30, 3))
    gyr = rng.integers(-3000, 3000, size=(52 * 30, 3))

    def frame(m, i0, i1):
        vals, ft = (acc, PM.ACC_FRAME_TYPE) if m == PM.ACC else (gyr, PM.GYRO_FRAME_TYPE)
        return PM.encode_delta_frame(m, BOOT_NS + int(round((i1 - 1) * period_ns)), vals[i0:i1],
                                     ft)

    blocks = [drv.feed(frame(PM.ACC, i, i + 13), 0.0) for i in range(0, 52 * 15, 13)]
    assert all(b is None for b in blocks)
    assert len(drv._pair.acc) == 52 * 10  # only the newest 10 s are kept
    out = []
    for i in range(0, 52 * 30, 13):
        if i >= 52 * 15:
            out.append(drv.feed(frame(PM.ACC, i, i + 13), 0.0))
        if i != 52 * 20:  # this GYRO frame is lost
            out.append(drv.feed(frame(PM.GYRO, i, i + 13), 0.0))
    out = [b for b in out if b is not None]
    seq = np.concatenate([b.seq for b in out])
    assert seq[0] == 52 * 5 and seq[-1] == 52 * 30 - 1  # the first 5 s were let go
    assert drv.counts.dropped == 13 and len(seq) == 52 * 25 - 13
    a = np.concatenate([b.acc for b in out]) / 9.80665 * 1000
    g = np.degrees(np.concatenate([b.gyr for b in out])) / (2000 / 32768)
    assert np.allclose(a, acc[seq]) and np.allclose(g, gyr[seq])
