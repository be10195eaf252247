"""Sensor info validated at connect; `imu record` says so when a sensor delivered nothing,
counts only what was written, and leaves no empty recording after Ctrl-C while connecting."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time

import numpy as np
import pytest

from imu.errors import SensorError
from imu.sources.ble.decoder import MalformedPacket, StreamTracker, decode_info
from imu.sources.ble.protocol import SensorConfig


def info_bytes(**changes) -> bytes:
    d = json.loads(SensorConfig("abc123", "imu-xiao-sense", "1.0.0").info_bytes())
    d.update(changes)
    return json.dumps(d).encode()


def test_good_info_decodes():
    assert decode_info(info_bytes()).rate_hz == 104


@pytest.mark.parametrize("changes, words", [
    ({"v": 1e999}, "unreadable"), ({"tick_s": 0}, "clock tick"), ({"rate_hz": 0}, "rate"),
    ({"acc_scale": float("nan")}, "accelerometer scale"), ({"gyr_scale": -1}, "gyroscope"),
    ({"id": "a\x00b"}, "sensor id"), ({"batch": 10**9}, "batch"), ({"rates_hz": []}, "rates"),
    ({"tick_s": 1.0}, "clock tick"),
])
def test_impossible_info_is_refused(changes, words):
    with pytest.raises(MalformedPacket, match=words):
        decode_info(info_bytes(**changes))


@pytest.mark.parametrize("kw", [{"rate_hz": 0}, {"tick_s": 0.0}, {"acc_scale": float("inf")}])
def test_stream_tracker_refuses_impossible_settings(kw):
    args = {"acc_scale": 0.002, "gyr_scale": 0.001, "rate_hz": 104, "tick_s": 2.5e-5, **kw}
    with pytest.raises(ValueError, match="positive"):
        StreamTracker("s", **args)


def test_a_sensor_announcing_a_zero_clock_tick_is_refused_at_connect():
    from imu.sources.ble.bumble_backend import BumbleClientBackend, BumbleScannerBackend
    from imu.sources.ble.reader import BleSource
    from imu.sources.ble.virtual import VirtualSensor, sim_address, still_feed

    async def main():
        vs = VirtualSensor(sim_address(7), "IMU-BAD", still_feed(), "bad-one")
        vs.config.info_bytes = lambda mtu=247: info_bytes(id="bad-one", tick_s=0)
        await vs.power_on()
        src = BleSource({"sacrum": vs.address}, rate_hz=104, client_backend=BumbleClientBackend,
                        scanner_backend=BumbleScannerBackend, connect_timeout_s=3.0)
        try:
            with pytest.raises(SensorError) as exc:
                await src.start()
            return exc.value.message
        finally:
            await src.stop()
            await vs.close()

    msg = asyncio.run(main())
    assert "sacrum" in msg and vs_address_in(msg) and "clock tick" in msg, msg


def vs_address_in(msg):
    from imu.sources.ble.virtual import sim_address
    return sim_address(7) in msg


class _OneSilent:
    """A source whose left thigh never delivers (e.g. its notifications never arrive)."""

    def __init__(self, n_blocks=5):
        from imu.types import SensorInfo
        self.sensors = {r: SensorInfo(f"id-{r}", r, "test", 50.0)
                        for r in ("sacrum", "right_thigh", "left_thigh")}
        self.n_blocks = n_blocks

    async def start(self):
        pass

    async def stop(self):
        pass

    async def blocks(self):
        from imu.types import SampleBlock
        for k in range(self.n_blocks):
            await asyncio.sleep(0.01)
            for r in ("sacrum", "right_thigh"):
                n = 10
                yield SampleBlock(f"id-{r}", np.arange(k * n, k * n + n), k * 0.2 +
                                  np.arange(n) * 0.02, k * 0.2 + np.arange(n) * 0.02,
                                  np.zeros((n, 3)), np.zeros((n, 3)))

    def events(self):
        return []

    def status(self):
        from imu.sources.base import SensorStatus
        return {r: SensorStatus(i.sensor_id, r, samples=999) for r, i in self.sensors.items()}


def test_record_says_which_sensor_delivered_nothing_and_counts_what_was_written(
        tmp_path, capsys, monkeypatch):
    from imu.cli import main
    from imu.commands import record
    from imu.session.store import read_recording

    monkeypatch.setattr(record, "build_source", lambda args, progress: (_OneSilent(), {}))
    out = tmp_path / "r.imu"
    rc = main(["record", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "no samples from left_thigh (id-left_thigh)" in err[-1], err
    s = read_recording(out)  # the other sensors' data is kept
    assert len(s.sensors["sacrum"]) == len(s.sensors["right_thigh"]) == 50
    # the final status counts what was written, not what the source claims (999)
    final = {ln.split()[0]: int(ln.split()[4]) for ln in err if "samples" in ln
             and ln.split()[0] in ("sacrum", "right_thigh", "left_thigh")}
    assert final == {"sacrum": 50, "right_thigh": 50, "left_thigh": 0}, err


def test_ctrl_c_while_connecting_leaves_no_recording(tmp_path, capsys):
    from imu.cli import main

    out = tmp_path / "c.imu"

    def interrupt():
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGINT)

    th = threading.Thread(target=interrupt, daemon=True)
    th.start()
    rc = main(["record", "--simulate", "--program", "hinge", "--rate", "104", "-o", str(out)])
    th.join()
    err = capsys.readouterr().err
    assert rc == 130 and "nothing recorded" in err, err
    assert not out.exists() and list(tmp_path.iterdir()) == []
