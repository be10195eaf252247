"""Movella DOT protocol against virtual DOTs on the virtual link: payload modes decoded vs the
simulated truth, output-rate refusal, heading reset, time synchronisation and a DOT that
loses it, orientation-only recording."""

import asyncio
import time

import numpy as np
import pytest
from bleak import BleakClient

from imu import quat as Q
from imu.errors import SensorError
from imu.session.store import RecordingWriter, read_recording
from imu.sources.ble import dot as D
from imu.sources.ble.bumble_backend import BumbleClientBackend, BumbleScannerBackend
from imu.sources.ble.decoder import MalformedPacket
from imu.sources.ble.dot_virtual import SYNC_RESIDUAL_MAX_S, DotMotion, VirtualDot, yaw_rad
from imu.sources.ble.reader import BleSource
from imu.timing import session_times
from imu.types import SampleBlock, SensorData, SensorInfo

A1, A2 = "D0:7E:5E:00:00:01", "D0:7E:5E:00:00:02"
RATE = {"rate_hz": 60}
EXTENDED = {"rate_hz": 30, "payload": "extended-quaternion"}


def motion(seconds=30.0):
    """A sensor turning about all axes (yaw ±30°), specific force consistent with it."""
    t = np.arange(0, seconds, 0.005)
    rv = np.c_[0.3 * np.sin(t), 0.2 * np.sin(0.7 * t), 0.5 * np.sin(0.3 * t + 0.4)]
    q = Q.from_rotvec(rv)
    acc = Q.rotate(Q.conj(q), np.tile([0.3 * np.cos(t[0]), 0.0, 9.80665], (len(t), 1)))
    gyr = np.c_[0.3 * np.cos(t), 0.14 * np.cos(0.7 * t), 0.15 * np.cos(0.3 * t)]
    return DotMotion(t, q, acc, gyr)


async def session(dots, options, seconds=1.5, during=None, **kw):
    t_wall0 = time.monotonic()
    for d in dots:
        d._t_wall0 = t_wall0  # one motion worn by all (as a simulated session does)
        await d.power_on()
    src = BleSource({r: d.address for r, d in zip(options, dots)},
                    client_backend=BumbleClientBackend, scanner_backend=BumbleScannerBackend,
                    vendor_options=options, connect_timeout_s=3.0, **kw)
    got: dict = {}
    try:
        await src.start()

        async def collect():
            async for role, blk in src.role_blocks():
                got.setdefault(role, []).append(blk)

        task = asyncio.create_task(collect())
        await asyncio.sleep(seconds)
        if during is not None:
            await during(src)
        infos = {r: i for r, i in src.sensors.items()}
        status = dict(src.status())
        events = src.all_events
        await src.stop()
        await task
    finally:
        for d in dots:
            await d.close()
    cat = {r: SampleBlock(b[0].sensor_id, *(np.concatenate([getattr(x, f) for x in b])
                                            for f in ("seq", "t_sensor_s", "t_host_s", "acc",
                                                      "gyr")),
                          None if b[0].quat is None else np.concatenate([x.quat for x in b]))
           for r, b in got.items()}
    return cat, infos, status, events


def test_payloads_messages_and_records_round_trip():
    q = Q.normalize(np.array([0.9, 0.1, -0.3, 0.2]))
    for code, mode in D.PAYLOAD_MODES.items():
        pkt = D.encode_payload(mode, 2 ** 32 + 5, acc=[1, 2, 3], gyr_dps=[4, 5, 6], quat=q,
                               free_acc=[0.1, 0.2, 0.3], status=0x100, clip_acc=2)
        assert len(pkt) == (20 if mode.uuid == D.SHORT_PAYLOAD_UUID else 40)
        s = D.decode_payload(mode, pkt)
        assert s.ts_us == 5
        if mode.orientation:
            assert np.allclose(s.quat, q, atol=1e-7)
            with pytest.raises(MalformedPacket):
                D.decode_payload(mode, pkt[:mode.size - 1])
        else:
            assert s.gyr_dps.tolist() == [4, 5, 6]
    ext = D.decode_payload(D.payload_mode("extended-quaternion"),
                           D.encode_payload(D.payload_mode(2), 1, quat=q, free_acc=[0, 0, 1],
                                            status=0x100, clip_acc=2, clip_gyr=3))
    assert (ext.status, ext.clip_acc, ext.clip_gyr) == (0x100, 2, 3)
    bad = D.encode_payload(D.payload_mode(5), 1, quat=[2.0, 0, 0, 0])
    with pytest.raises(MalformedPacket, match="norm"):
        D.decode_payload(D.payload_mode(5), bad)
    # the documented sync message: 02 07 01 <root address LSB first> checksum
    msg = D.start_sync_message("DB:F0:3F:28:7A:C9")
    assert msg[:3] == bytes((2, 7, 1)) and msg[3:9] == bytes.fromhex("C97A283FF0DB")
    assert sum(msg) % 256 == 0
    assert D.parse_message(D.sync_result_message(0)) == (2, 3, b"\x00")
    with pytest.raises(MalformedPacket, match="checksum"):
        D.parse_message(msg[:-1] + bytes(((msg[-1] + 1) % 256,)))
    ctl = D.DeviceControl(visit_index=0x10, tag="pelvis", output_rate_hz=120)
    assert len(ctl.to_bytes()) == 32 and D.DeviceControl.from_bytes(ctl.to_bytes()) == ctl
    info = D.DeviceInfo("D4:22:CD:00:01:27", "2.6.0", "2023-05-10T10:00:00", 7005000, 12345,
                        "XS-T01")
    assert len(info.to_bytes()) == 34 and D.DeviceInfo.from_bytes(info.to_bytes()) == info


def test_rate_and_orientation_modes_decode_to_the_simulated_truth():
    m = motion()
    a, b = VirtualDot(A1, "Movella DOT", m), VirtualDot(A2, "Movella DOT", m)
    got, infos, status, _ = asyncio.run(session([a, b], {"right_thigh": RATE,
                                                         "trunk": EXTENDED}))
    assert infos["right_thigh"].rate_hz == 60 and infos["trunk"].rate_hz == 30
    assert infos["trunk"].extra["derived"] == ["acc", "gyr"]
    assert infos["right_thigh"].firmware == "2.6.0"
    r, t = got["right_thigh"], got["trunk"]
    assert len(r) > 60 and len(t) > 30 and r.quat is None
    assert np.all(np.diff(r.seq) == 1) and np.all(np.diff(t.seq) == 1)
    # rate quantities: the motion's acc and gyr at the sample's true instant (float32)
    mr = a.motion_s(a.true_of_clock(r.t_sensor_s))
    _, acc, gyr = m.at(mr)
    assert np.abs(r.acc - acc).max() < 2e-5 * 10
    assert np.abs(r.gyr - gyr).max() < 1e-6 * 10
    # orientation: the DOT's own output (its heading, its small error) to float32 precision,
    # and within its error budget of the true orientation in its heading frame
    mt = b.motion_s(b.true_of_clock(t.t_sensor_s))
    q_out, _, acc_t, _ = b.outputs(mt)
    assert Q.angle_deg(t.quat, q_out).max() < 1e-3
    err = Q.angle_deg(t.quat, b.true_orientation_in_dot_frame(mt))
    assert err.max() < 0.9 and err.max() > 0.01
    # specific force derived from orientation and free acceleration is the true one
    assert np.abs(t.acc - acc_t).max() < 1e-4
    assert status["trunk"].samples == len(t) and status["trunk"].dropped == 0


def test_unsupported_output_rate_is_refused_in_one_line():
    a = VirtualDot(A1, "Movella DOT", motion())

    async def raw():
        await a.power_on()
        try:
            async with BleakClient(a.address, backend=BumbleClientBackend) as c:
                ctl = D.DeviceControl.from_bytes(await c.read_gatt_char(D.DEVICE_CONTROL_UUID))
                ctl.visit_index, ctl.output_rate_hz = D.VISIT_OUTPUT_RATE, 100
                with pytest.raises(Exception):
                    await c.write_gatt_char(D.DEVICE_CONTROL_UUID, ctl.to_bytes(), response=True)
                after = D.DeviceControl.from_bytes(await c.read_gatt_char(D.DEVICE_CONTROL_UUID))
                ctl.output_rate_hz = 120
                await c.write_gatt_char(D.DEVICE_CONTROL_UUID, ctl.to_bytes(), response=True)
                return after.output_rate_hz, a.rate_hz
        finally:
            await a.close()

    assert asyncio.run(raw()) == (60, 120)
    b = VirtualDot(A2, "Movella DOT", motion())
    with pytest.raises(SensorError) as exc:
        asyncio.run(session([b], {"left_thigh": {"rate_hz": 100}}))
    msg = exc.value.message
    assert "left_thigh" in msg and A2 in msg and "100 Hz" in msg and "\n" not in msg
    with pytest.raises(SensorError, match="payload mode"):
        D.dot_options({"payload": "high-fidelity"})


def test_heading_reset_rezeroes_the_yaw_of_the_output():
    m = motion()
    b = VirtualDot(A2, "Movella DOT", m, heading_deg=70.0)

    async def run():
        await b.power_on()
        try:
            async with BleakClient(b.address, backend=BumbleClientBackend) as c:
                drv = D.DotDriver(b.address, rate_hz=60, payload="orientation-quaternion")
                rows = []
                await drv.configure(c, lambda _ch, data: rows.append(drv.feed(data, 0.0)))
                with pytest.raises(SensorError, match="heading reset"):
                    await drv.reset_heading(c)  # only while measuring
                await drv.start(c)
                await asyncio.sleep(0.6)
                tau_reset = b.true_s()
                await drv.reset_heading(c)
                await asyncio.sleep(0.6)
                await drv.reset_heading(c, revert=True)
                await asyncio.sleep(0.4)
                await drv.stop(c)
                return rows, tau_reset
        finally:
            await b.close()

    rows, tau_reset = asyncio.run(run())
    (n_before, psi), (n_reset, psi_default) = b.heading_log  # samples sent before each change
    assert np.isclose(psi_default, np.radians(70.0))
    q = np.concatenate([r.quat for r in rows if r is not None])
    ts = np.concatenate([r.t_sensor_s for r in rows if r is not None])
    mt = b.motion_s(b.true_of_clock(ts))
    q_true, _, _ = m.at(mt)
    d_yaw = np.degrees(np.angle(np.exp(1j * (yaw_rad(q) - yaw_rad(q_true)))))
    assert np.abs(d_yaw[:n_before] + 70.0).max() < 1.0  # the default heading reference
    # after the reset the output's yaw is what the true yaw has turned since the reset
    yaw_at_reset = yaw_rad(m.at(b.motion_s(tau_reset))[0])[0]
    assert abs(np.degrees(psi - yaw_at_reset)) < 1.0
    turned = np.degrees(np.angle(np.exp(1j * (yaw_rad(q_true) - yaw_at_reset))))
    after = slice(n_before, n_reset)
    assert n_reset - n_before > 20
    assert np.abs(np.degrees(yaw_rad(q[after])) - turned[after]).max() < 1.5
    assert np.abs(d_yaw[n_reset:] + 70.0).max() < 1.0  # reverted
    z_out = Q.rotate(Q.conj(q), np.tile([0, 0, 1.0], (len(q), 1)))
    z_true = Q.rotate(Q.conj(q_true), np.tile([0, 0, 1.0], (len(q), 1)))
    assert np.degrees(np.arccos(np.clip((z_out * z_true).sum(1), -1, 1))).max() < 0.6  # tilt kept


def test_sync_puts_the_dots_on_one_clock():
    m = motion()
    a, b = VirtualDot(A1, "Movella DOT", m), VirtualDot(A2, "Movella DOT", m)
    assert abs(a.clock_s(0) - b.clock_s(0)) > 1.0  # their own clocks disagree by seconds
    got, infos, _, events = asyncio.run(session([a, b], {"right_thigh": RATE, "trunk": RATE}))
    assert {e.data.get("sync") for e in events if e.kind == "note"} == {"synced"}
    assert infos["trunk"].extra["sync"] == {"state": "synced", "root": A1}
    assert a.disconnects_forced == b.disconnects_forced == 1  # off the link while syncing
    r, t = got["right_thigh"], got["trunk"]
    common, ir, it = np.intersect1d(np.rint(r.t_sensor_s * 1e6), np.rint(t.t_sensor_s * 1e6),
                                    return_indices=True)
    assert len(common) > 0.9 * min(len(r), len(t))
    # a shared timestamp is a shared instant: true sample times agree within the residual
    dt = a.true_of_clock(r.t_sensor_s[ir]) - b.true_of_clock(t.t_sensor_s[it])
    assert np.abs(dt).max() <= 2 * SYNC_RESIDUAL_MAX_S + 1e-6
    assert np.allclose(r.acc[ir], t.acc[it], atol=1e-3)  # same motion, same instant


def test_a_dot_that_fails_to_sync_is_reported_and_keeps_its_own_clock():
    m = motion()
    a, b = VirtualDot(A1, "Movella DOT", m), VirtualDot(A2, "Movella DOT", m)
    b.fail_sync = True
    said = []
    got, infos, _, events = asyncio.run(session([a, b], {"right_thigh": RATE, "trunk": RATE},
                                                announce=said.append))
    assert infos["trunk"].extra["sync"]["state"] == "failed"
    assert any("trunk" in s and "sync failed" in s and A2 in s for s in said)
    assert [e.data["role"] for e in events if e.data.get("sync") == "failed"] == ["trunk"]
    t = got["trunk"]
    assert len(t) > 60  # it still records, on its own clock
    # its stamps are on its own clock: the same instant reads seconds apart on the two DOTs
    assert abs(b.clock_s(10.0) - a.clock_s(10.0)) > 1.0
    assert np.abs(np.subtract.outer(t.t_sensor_s[:50], got["right_thigh"].t_sensor_s)).min() > 0.5


def test_a_dot_that_restarts_loses_sync_is_reported_and_not_misaligned():
    m = motion()
    a, b = VirtualDot(A1, "Movella DOT", m), VirtualDot(A2, "Movella DOT", m)

    before = {}

    async def drop(src):
        before["clock"] = (b.clock_offset_s, b.drift)  # the synced clock, for the truth
        await b.restart(down_s=0.4)
        await asyncio.sleep(3.0)

    said = []
    got, infos, status, events = asyncio.run(session([a, b], {"right_thigh": RATE,
                                                              "trunk": RATE},
                                                     seconds=1.5, during=drop,
                                                     announce=said.append))
    # the console is told what the recording's event says
    assert [s for s in said if "lost" in s] == [e.note for e in events
                                                 if e.data.get("sync") == "lost"]
    lost = [e for e in events if e.data.get("sync") == "lost"]
    assert [e.data["role"] for e in lost] == ["trunk"] and "own clock" in lost[0].note
    assert infos["trunk"].extra["sync"]["state"] == "lost"
    assert status["trunk"].reconnects == 1
    t = got["trunk"]
    assert np.all(np.diff(t.seq) >= 1)  # numbered on, the reset gap counted as dropped
    assert status["trunk"].dropped == int(np.sum(np.diff(t.seq) - 1)) > 0
    k = int(np.argmax(np.diff(t.t_sensor_s) < -1.0)) + 1  # its clock restarted near 0
    assert k > 0 and t.t_sensor_s[k] < 10.0
    # the session puts both clock segments on host time: no sample jumps by the clock step
    sd = SensorData(infos["trunk"], t.seq, t.t_sensor_s, t.t_host_s, t.acc, t.gyr)
    ts = session_times(sd)
    off0, d0 = before["clock"]
    tau = np.r_[(t.t_sensor_s[:k] - off0) / (1 + d0), b.true_of_clock(t.t_sensor_s[k:])]
    lag = ts - tau  # session clock minus true time: one constant up to arrival jitter
    assert np.ptp(lag) < 0.1
    assert abs((ts[k] - ts[k - 1]) - (tau[k] - tau[k - 1])) < 0.1  # across the restart too


def test_orientation_only_dot_stream_is_recorded_with_its_quaternions(tmp_path):
    m = motion()
    a, b = VirtualDot(A1, "Movella DOT", m), VirtualDot(A2, "Movella DOT", m)
    opts = {"right_thigh": RATE, "trunk": {**EXTENDED, "heading_reset": True}}
    got, infos, _, _ = asyncio.run(session([a, b], opts))
    path = tmp_path / "dot.imu"
    with RecordingWriter(path, {}, list(infos.values())) as w:
        for role, blk in got.items():
            half = len(blk) // 2
            for sl in (slice(0, half), slice(half, None)):
                w.add_block(role, SampleBlock(blk.sensor_id, blk.seq[sl], blk.t_sensor_s[sl],
                                              blk.t_host_s[sl], blk.acc[sl], blk.gyr[sl],
                                              None if blk.quat is None else blk.quat[sl]))
    s = read_recording(path)
    assert s.sensors["trunk"].kind == "orientation"
    assert s.sensors["right_thigh"].kind == "raw"
    assert np.array_equal(s.sensors["trunk"].quat, got["trunk"].quat)
    assert s.sensors["trunk"].info.extra["sync"]["state"] == "synced"


def test_record_simulate_vendors_keeps_both_dots_at_their_set_rates(tmp_path):
    from imu.cli import main
    from imu.commands.info import sensor_summary

    out = tmp_path / "v.imu"
    rc = main(["record", "--simulate-vendors", "--roles", "sacrum,right_thigh,trunk",
               "--seconds", "4", "--speed", "2", "--program", "hinge", "-o", str(out),
               "--quiet"])
    assert rc == 0
    s = read_recording(out)
    rt, tr = s.sensors["right_thigh"], s.sensors["trunk"]
    assert (rt.info.model, rt.kind, tr.info.model, tr.kind) == (
        "movella-dot", "raw", "movella-dot", "orientation")
    for d, hz in ((rt, 60), (tr, 30)):
        summ = sensor_summary(d)
        assert summ["rate_set_hz"] == hz and summ["rate_measured_hz"] == pytest.approx(hz,
                                                                                     rel=0.02)
        assert summ["duration_s"] > 3.0
        assert d.info.extra["sync"]["state"] == "synced"
    assert np.allclose(np.linalg.norm(tr.quat, axis=1), 1.0, atol=1e-6)
    # the trunk's gravity direction from its own orientation and from its derived force agree
    g_dir = Q.rotate(Q.conj(tr.quat), np.tile([0, 0, 1.0], (len(tr), 1)))
    f = tr.acc / np.linalg.norm(tr.acc, axis=1, keepdims=True)
    assert np.degrees(np.arccos(np.clip((g_dir * f).sum(1), -1, 1))).mean() < 10.0
    notes = [e.note for e in s.events if e.kind == "note"]
    assert any("time synchronised" in n for n in notes) and "trunk heading reset" in notes


def test_record_options_ask_every_dot_for_the_mode_rate_and_heading_reset():
    import argparse

    from imu.commands.record import add_source_arguments, build_source

    p = argparse.ArgumentParser()
    add_source_arguments(p)
    args = p.parse_args(["--sensor", "sacrum=C0:1D:5E:00:00:01", "--sensor",
                         f"trunk={A2}", "--sensor", f"right_thigh={A1}", "--dot-payload",
                         "extended-quaternion", "--dot-rate", "30", "--dot-heading-reset"])
    src, meta = build_source(args, progress=False)
    want = {"payload": "extended-quaternion", "rate_hz": 30, "heading_reset": True}
    assert src.vendor_options == {r: want for r in ("sacrum", "trunk", "right_thigh")}
    src, _ = build_source(p.parse_args(["--sensor", "sacrum=C0:1D:5E:00:00:01", "--sensor",
                                        f"right_thigh={A1}"]), progress=False)
    assert src.vendor_options == {}  # nothing asked: a DOT keeps its own rate, mode 21
    with pytest.raises(SystemExit):
        p.parse_args(["--dot-payload", "high-fidelity"])
