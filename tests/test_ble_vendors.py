"""Vendor sensors (Movella DOT, WitMotion) through the same reader, on the virtual link."""

import asyncio
import time

import numpy as np
import pytest

from imu.errors import SensorError
from imu.sources.ble.bumble_backend import BumbleClientBackend, BumbleScannerBackend
from imu.sources.ble.reader import BleSource
from imu.sources.ble.scan import scan
from imu.sources.ble.vendor_link import TimestampTracker
from imu.sources.ble.vendors import VendorSamples
from imu.sources.ble.virtual import SampleFeed, VirtualSensor, VirtualVendorSensor, sim_address


def feed(rate_hz, seconds=20.0):
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    acc = np.c_[np.sin(t), np.cos(t), 9.81 + 0 * t]
    gyr = np.c_[0.5 * np.sin(3 * t), 0.1 * np.cos(t), 0 * t]
    return SampleFeed(t, acc, gyr, loop=True)


def test_timestamp_tracker_numbers_samples_and_counts_gaps():
    tr = TimestampTracker("x", rate_hz=None, wrap_s=2.0**32 * 1e-6)
    t = (2**32 - 40_000 + np.arange(40) * 16_667) % 2**32 * 1e-6  # 60 Hz µs clock wrapping
    keep = np.r_[0:20, 25:40]
    blocks = [tr.feed(VendorSamples(np.array([t[i]]), acc=np.zeros((1, 3)),
                                    gyr=np.zeros((1, 3))), 0.0) for i in keep]
    blocks += [tr.feed(VendorSamples(np.array([t[30]]), acc=np.zeros((1, 3)),
                                     gyr=np.zeros((1, 3))), 0.0)]  # a replay
    seq = np.concatenate([b.seq for b in blocks if b is not None])
    assert seq.tolist() == keep.tolist()
    assert tr.rate_hz == pytest.approx(60.0, rel=1e-3)
    assert (tr.counts.dropped, tr.counts.duplicates) == (5, 1)


def test_movella_and_witmotion_stream_next_to_our_sensor():
    async def main():
        ours = VirtualSensor(sim_address(0), "IMU-SIM sacrum", feed(104), "sim-sacrum",
                             rate_hz=104)
        dot = VirtualVendorSensor("movella", sim_address(1), "Movella DOT", feed(60))
        wit = VirtualVendorSensor("witmotion", sim_address(2), "WT901BLE68", feed(50))
        for vs in (ours, dot, wit):
            await vs.power_on()
        found = await scan(0.5, scanner_backend=BumbleScannerBackend,
                           client_backend=BumbleClientBackend, read_details=False)
        src = BleSource({"sacrum": ours.address, "right_thigh": dot.address,
                         "left_thigh": wit.address}, rate_hz=50,
                        client_backend=BumbleClientBackend, scanner_backend=BumbleScannerBackend,
                        connect_timeout_s=3.0)
        await src.start()
        got = {}

        async def collect():
            async for role, blk in src.role_blocks():
                got.setdefault(role, []).append(blk)

        task = asyncio.create_task(collect())
        await asyncio.sleep(1.5)
        await dot.force_disconnect(0.3)
        await asyncio.sleep(2.0)
        with pytest.raises(SensorError):
            await src.identify("left_thigh")
        status = {r: (s.state, s.dropped, s.reconnects) for r, s in src.status().items()}
        infos = dict(src.sensors)
        await src.stop()
        await task
        for vs in (ours, dot, wit):
            await vs.close()
        return found, got, status, infos, wit.writes

    found, got, status, infos, wit_writes = asyncio.run(main())
    assert {r.model for r in found} == {"imu-protocol-v1", "movella-dot", "witmotion-wt901ble"}
    assert infos["right_thigh"].model == "movella-dot"
    assert infos["right_thigh"].rate_hz == pytest.approx(60, rel=1e-3)  # measured
    assert infos["left_thigh"].model == "witmotion-wt901ble"
    assert wit_writes[0] == bytes((0xFF, 0xAA, 0x69, 0x88, 0xB5))  # unlock, then rate 50 Hz
    assert wit_writes[1] == bytes((0xFF, 0xAA, 0x03, 0x08, 0x00))
    dot_seq = np.concatenate([b.seq for b in got["right_thigh"]])
    assert np.all(np.diff(dot_seq) >= 1)
    assert status["right_thigh"][2] == 1 and status["right_thigh"][1] > 0  # the drop is a gap
    assert status["right_thigh"][1] == int(np.sum(np.diff(dot_seq) - 1))
    dot_acc = np.concatenate([b.acc for b in got["right_thigh"]])
    dot_t = np.concatenate([b.t_sensor_s for b in got["right_thigh"]])
    assert np.allclose(dot_acc[:, 0], np.sin(dot_t), atol=1e-5)  # float32 payload
    wit_gyr = np.concatenate([b.gyr for b in got["left_thigh"]])
    assert len(wit_gyr) > 50
    assert np.abs(wit_gyr).max() <= 0.5 + 2000 * np.pi / 180 / 32768
    assert status["sacrum"][:2] == ("streaming", 0)
