"""The reader against virtual sensors over bumble's in-process link, through bleak's API."""

import asyncio
import dataclasses
import os
import time

import numpy as np
import pytest

from imu.errors import SensorError
from imu.sources.ble.bumble_backend import BumbleClientBackend, BumbleScannerBackend
from imu.sources.ble.decoder import decode_notification
from imu.sources.ble.reader import BleSource
from imu.sources.ble.scan import scan
from imu.sources.ble.virtual import SampleFeed, VirtualSensor, sim_address

ROLES = ("sacrum", "right_thigh", "left_thigh")


def feed(rate_hz, seconds, drift_ppm=0.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(rate_hz * seconds)
    t = np.arange(n) / rate_hz * (1 + drift_ppm * 1e-6)
    acc = np.c_[np.sin(t), np.cos(t), 9.81 + 0.01 * rng.standard_normal(n)]
    gyr = np.c_[0.5 * np.sin(3 * t), 0.1 * np.cos(t), np.zeros(n)]
    return SampleFeed(t, acc, gyr, loop=True)


async def start_sensors(rate_hz, speed, seconds=30.0):
    sensors = {}
    for i, role in enumerate(ROLES):
        vs = VirtualSensor(sim_address(i), f"IMU-TEST {role}", feed(rate_hz, seconds, 20 * i, i),
                           f"test-{role}", speed=speed, rate_hz=rate_hz)
        await vs.power_on()
        sensors[role] = vs
    t0 = time.monotonic()
    for vs in sensors.values():
        vs._t_wall0 = t0
    return sensors, (lambda: (time.monotonic() - t0) * speed)


def virtual_source(sensors, rate_hz, clock):
    return BleSource({r: vs.address for r, vs in sensors.items()}, rate_hz=rate_hz,
                     client_backend=BumbleClientBackend, scanner_backend=BumbleScannerBackend,
                     clock=clock, connect_timeout_s=3.0)


async def reconnected(src, role, timeout_s=15.0):
    """Wait until ``role`` has reconnected once, then 1 s more of streaming (a loaded machine
    may take longer than usual to scan and connect: poll, never a fixed sleep)."""
    t0 = time.monotonic()
    while src.status()[role].reconnects < 1 and time.monotonic() - t0 < timeout_s:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)


async def collect(src, into):
    async for role, blk in src.role_blocks():
        into.setdefault(role, []).append(blk)


def test_three_sensors_with_forced_disconnects_lose_only_the_disconnected_time():
    """Acceptance, scaled: 3 sensors at 200 Hz, 40 s of session at 5x, 2 drops per sensor."""
    rate, speed, session_s, down_wall_s = 200, 5.0, 40.0, 0.3

    async def main():
        sensors, clock = await start_sensors(rate, speed)
        src = virtual_source(sensors, rate, clock)
        await src.start()
        got = {}
        task = asyncio.create_task(collect(src, got))
        # every sensor streaming before the drops: from here on, what a sensor's FIFO drops
        # is lost to a drop
        t_wait = time.monotonic()
        while time.monotonic() - t_wait < 15.0 and not all(
                st.state == "streaming" for st in src.status().values()):
            await asyncio.sleep(0.01)
        skipped0 = {r: vs.samples_skipped for r, vs in sensors.items()}
        rng = np.random.default_rng(5)  # drops spread out, at least 1.5 s apart per sensor
        drops = sorted(((f + 0.08 * i + rng.uniform(0, 0.05)) * session_s / speed, role)
                       for i, role in enumerate(ROLES) for f in (0.15, 0.55))
        t_start = time.monotonic()
        for t_drop, role in drops:
            await asyncio.sleep(max(0.0, t_start + t_drop - time.monotonic()))
            await sensors[role].force_disconnect(down_wall_s)
        await asyncio.sleep(max(0.0, t_start + session_s / speed - time.monotonic()))
        t_wait = time.monotonic()  # a loaded machine may still be reconnecting: poll, no sleep
        while time.monotonic() - t_wait < 15.0 and not all(
                st.reconnects == 2 and st.state == "streaming" for st in src.status().values()):
            await asyncio.sleep(0.05)
        status = {r: (s.state, s.dropped, s.duplicates, s.malformed, s.reconnects)
                  for r, s in src.status().items()}
        await src.stop()
        await task
        sent = {r: vs.samples_sent for r, vs in sensors.items()}
        skipped = {r: vs.samples_skipped - skipped0[r] for r, vs in sensors.items()}
        tick = {r: vs.max_tick_gap_s for r, vs in sensors.items()}
        for vs in sensors.values():
            await vs.close()
        return got, src.all_events, status, sent, tick, skipped

    got, events, status, sent, tick, skipped = asyncio.run(main())
    for role in ROLES:
        blocks = got[role]
        seq = np.concatenate([b.seq for b in blocks])
        t_host = np.concatenate([b.t_host_s for b in blocks])
        assert np.all(np.diff(seq) >= 1)
        gaps = np.flatnonzero(np.diff(seq) > 1)
        downs = [e for e in events if e.kind == "disconnect" and e.data["role"] == role]
        ups = [e for e in events if e.kind == "reconnect" and e.data["role"] == role]
        assert len(downs) == len(ups) == 2, (role, events)
        assert status[role][4] == 2 and status[role][0] == "streaming"
        # every missing sample lies in a recorded gap: each gap inside a disconnect/reconnect
        # pair (the sensor's FIFO may bridge a drop entirely: then there is no gap)
        assert 1 <= len(gaps) <= 2, (role, gaps)
        for g in gaps:
            pair = [(d, u) for d, u in zip(downs, ups)
                    if t_host[g] <= d.t_s + 0.5 and t_host[g + 1] >= u.t_s]
            assert len(pair) == 1, (role, t_host[g], t_host[g + 1], downs, ups)
            down, up = pair[0]
            # a gap only where the link was down (until the first sample after it came)
            assert int(seq[g + 1] - seq[g] - 1) / rate <= t_host[g + 1] - down.t_s
        assert all(u.data["down_wall_s"] < 3.0 for u in ups)
        assert status[role][1] == int(sum(seq[g + 1] - seq[g] - 1 for g in gaps))
        assert status[role][2:4] == (0, 0)
        # nothing else lost: what the sensor sent arrived, lies in a gap, or was still in
        # flight when the reader stopped (the last FIFO reads)
        in_gaps = int(sum(seq[g + 1] - seq[g] - 1 for g in gaps))
        # the samples lost are those the sensor's FIFO overflowed while the link was down
        # (counted by the sensor), and at most the batch it was filling and the notifications
        # in flight when each link dropped
        assert skipped[role] <= in_gaps <= skipped[role] + 2 * 40, (role, in_gaps, skipped[role])
        assert sent[role] - len(seq) - in_gaps <= 19 + 2 * tick[role] * speed * rate
        assert len(seq) > 0.8 * rate * (session_s - 2 * 2 * down_wall_s * speed)


def test_a_short_drop_is_bridged_by_the_sensor_fifo():
    """At 104 Hz the FIFO holds 2.2 s: a 0.3 s drop loses nothing, and is still recorded."""
    async def main():
        sensors, clock = await start_sensors(104, 1.0, seconds=10.0)
        src = virtual_source(sensors, 104, clock)
        await src.start()
        got = {}
        task = asyncio.create_task(collect(src, got))
        await asyncio.sleep(1.0)
        await sensors["sacrum"].force_disconnect(0.3)
        await reconnected(src, "sacrum")
        st = dataclasses.replace(src.status()["sacrum"])
        await src.stop()
        await task
        for vs in sensors.values():
            await vs.close()
        return got, st, src.all_events

    got, st, events = asyncio.run(main())
    seq = np.concatenate([b.seq for b in got["sacrum"]])
    assert [e.kind for e in events] == ["disconnect", "reconnect"]
    assert st.reconnects == 1 and st.dropped == 0
    assert np.array_equal(seq, np.arange(seq[0], seq[0] + len(seq)))


def test_notifications_lost_in_flight_at_a_drop_are_sent_again():
    """Notifications have no acknowledgement: those queued when the link drops never arrive
    (seen under CPU load as 11 samples lost in a 0.3 s drop). After reconnecting, the reader
    asks for everything from its next expected sample and the sensor re-sends it."""
    state = {"swallow": 0, "lost": 0}

    def tamper(pkt):
        if state["swallow"]:
            state["swallow"] -= 1
            state["lost"] += len(decode_notification(pkt))
            return []  # sent by the sensor, never received: in flight when the link dropped
        return [pkt]

    async def main():
        sensors, clock = await start_sensors(104, 1.0, seconds=10.0)
        src = virtual_source(sensors, 104, clock)
        await src.start()
        got = {}
        task = asyncio.create_task(collect(src, got))
        await asyncio.sleep(1.0)
        vs = sensors["sacrum"]
        vs.tamper = tamper
        state["swallow"] = 3
        while state["swallow"]:  # the last three notifications before the drop are lost
            await asyncio.sleep(0.01)
        await vs.force_disconnect(0.3)
        await reconnected(src, "sacrum")
        st = dataclasses.replace(src.status()["sacrum"])
        await src.stop()
        await task
        for v in sensors.values():
            await v.close()
        return got, st

    got, st = asyncio.run(main())
    seq = np.concatenate([b.seq for b in got["sacrum"]])
    assert state["lost"] >= 3 and st.reconnects == 1
    assert st.dropped == 0 and st.duplicates == 0
    assert np.array_equal(seq, np.arange(seq[0], seq[0] + len(seq)))
    assert len(seq) > 104 * 2.0


def test_tampered_notifications_are_counted_and_never_crash_the_reader():
    rate, speed = 104, 4.0
    expect = {"malformed": 0, "duplicates": 0, "out_of_order": 0}
    rng = np.random.default_rng(1)
    state = {"i": 0, "held": None, "on": True}

    def tamper(pkt):
        if not state["on"]:
            return []
        i = state["i"]
        state["i"] += 1
        n = len(decode_notification(pkt))
        if state["held"] is not None:  # deliver the held packet after this one: out of order
            held, state["held"] = state["held"], None
            expect["out_of_order"] += len(decode_notification(held))
            return [pkt, held]
        k = i % 6
        if k == 1:  # garbage (random bytes; never starts with version 1)
            expect["malformed"] += 1
            return [pkt, bytes([2 + int(rng.integers(250))]) + rng.bytes(int(rng.integers(0, 60)))]
        if k == 2:  # truncated copy first, then the real one
            expect["malformed"] += 1
            return [pkt[: int(rng.integers(1, len(pkt)))], pkt]
        if k == 3:  # replay
            expect["duplicates"] += n
            return [pkt, pkt]
        if k == 4 and i > 6:  # hold for out-of-order delivery
            state["held"] = pkt
            return []
        return [pkt]

    async def main():
        sensors, clock = await start_sensors(rate, speed)
        src = virtual_source(sensors, rate, clock)
        await src.start()
        sensors["sacrum"].tamper = tamper
        got = {}
        task = asyncio.create_task(collect(src, got))
        await asyncio.sleep(3.0)
        state["on"] = False
        await asyncio.sleep(0.5)
        st = src.status()["sacrum"]
        result = (st.malformed, st.duplicates, st.extra["out_of_order"], st.dropped, st.state)
        await src.stop()
        await task
        for vs in sensors.values():
            await vs.close()
        return result, got

    (malformed, dups, ooo, dropped, state_), got = asyncio.run(main())
    assert expect["malformed"] > 10 and expect["out_of_order"] > 0
    assert malformed == expect["malformed"]
    assert dups == expect["duplicates"] + expect["out_of_order"]  # status shows both
    assert ooo == expect["out_of_order"]
    assert dropped == expect["out_of_order"]  # a late packet's samples stay missing
    assert state_ == "streaming"
    seq = np.concatenate([b.seq for b in got["sacrum"]])
    assert np.all(np.diff(seq) >= 1)


def test_a_silent_link_is_dropped_and_reconnected():
    async def main():
        sensors, clock = await start_sensors(104, 1.0, seconds=5.0)
        src = virtual_source(sensors, 104, clock)
        await src.start()
        src.links["left_thigh"].stall_s = 0.8
        got = {}
        task = asyncio.create_task(collect(src, got))
        sensors["left_thigh"].tamper = lambda pkt: []  # connected, but nothing arrives
        await asyncio.sleep(1.5)
        sensors["left_thigh"].tamper = None
        t_end = time.monotonic() + 5
        while src.status()["left_thigh"].reconnects == 0 and time.monotonic() < t_end:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        n_before = src.status()["left_thigh"].samples
        await asyncio.sleep(0.5)
        st = dataclasses.replace(src.status()["left_thigh"])
        await src.stop()
        await task
        for vs in sensors.values():
            await vs.close()
        return src.all_events, st, n_before

    events, st, n_before = asyncio.run(main())
    kinds = [(e.kind, e.data.get("role")) for e in events]
    assert kinds == [("disconnect", "left_thigh"), ("reconnect", "left_thigh")]
    assert "stalled" in events[0].data["reason"]
    assert st.state == "streaming" and st.samples > n_before


def test_scan_lists_virtual_sensors_with_battery():
    async def main():
        sensors, _ = await start_sensors(104, 1.0, seconds=2.0)
        try:
            return await scan(0.5, scanner_backend=BumbleScannerBackend,
                              client_backend=BumbleClientBackend)
        finally:
            for vs in sensors.values():
                await vs.close()

    res = asyncio.run(main())
    assert sorted(r.address for r in res) == [sim_address(i) for i in range(3)]
    assert all(r.model == "imu-sim" and r.battery_pct == 87 and r.rssi_dbm is not None
               for r in res)


def test_identify_blinks_the_right_sensor():
    async def main():
        sensors, clock = await start_sensors(104, 1.0, seconds=2.0)
        src = virtual_source(sensors, 104, clock)
        await src.start()
        await src.identify("right_thigh", 2)
        blinking = {r: vs.identifying for r, vs in sensors.items()}
        await src.stop()
        for vs in sensors.values():
            await vs.close()
        return blinking

    assert asyncio.run(main()) == {"sacrum": False, "right_thigh": True, "left_thigh": False}


def test_unknown_virtual_address_fails_with_one_line():
    async def main():
        sensors, clock = await start_sensors(104, 1.0, seconds=2.0)
        src = BleSource({"sacrum": sensors["sacrum"].address, "right_thigh": "C0:1D:5E:00:00:99"},
                        client_backend=BumbleClientBackend, scanner_backend=BumbleScannerBackend,
                        connect_timeout_s=0.5)
        try:
            await src.start()
        finally:
            for vs in sensors.values():
                await vs.close()

    with pytest.raises(SensorError) as ei:
        asyncio.run(main())
    msg = str(ei.value)
    assert "right_thigh" in msg and "C0:1D:5E:00:00:99" in msg and "\n" not in msg


@pytest.mark.skipif(os.path.exists("/run/dbus/system_bus_socket")
                    or os.path.exists("/var/run/dbus/system_bus_socket"),
                    reason="a system D-Bus (maybe with a Bluetooth adapter) exists here")
def test_no_adapter_fails_cleanly():
    src = BleSource({"sacrum": "AA:BB:CC:DD:EE:01", "right_thigh": "AA:BB:CC:DD:EE:02"},
                    connect_timeout_s=1.0)
    with pytest.raises(SensorError) as ei:
        asyncio.run(src.start())
    assert "\n" not in str(ei.value)
    import argparse

    from imu.commands import scan as scan_cmd
    p = argparse.ArgumentParser()
    scan_cmd.add_arguments(p)
    with pytest.raises(SensorError) as ei:  # the CLI prints it as one line, exit status 2
        scan_cmd.run(p.parse_args(["--timeout", "1"]))
    assert "Bluetooth" in str(ei.value) and "\n" not in str(ei.value)
    assert ei.value.exit_status == 2


def test_sample_feed_windows_tile_the_looped_clock_and_name_the_next_sample():
    # 104 Hz with a little jitter, looped: consecutive windows (as the streaming loop asks for
    # them) give every sample once, in order, with its time on the unrolled clock
    rng = np.random.default_rng(4)
    t = 3.0 + np.arange(500) / 104.0 + rng.uniform(-2e-4, 2e-4, 500)
    f = SampleFeed(t, np.zeros((500, 3)), np.zeros((500, 3)), loop=True)
    rel = t - t[0]
    truth = np.concatenate([rel + k * f.span_s for k in range(3)])
    # window edges anywhere, some exactly on a sample (a window starts at such a sample)
    edges = np.sort(np.concatenate([[0.0, 3 * f.span_s], rng.uniform(0, 3 * f.span_s, 400),
                                    truth[::97]]))
    got = []
    for a, b in zip(edges[:-1], edges[1:]):
        w_t, _, _, w_seq = f.window(a, b)
        assert np.all((w_t >= a) & (w_t < b))
        nxt = f.next_time(a)
        assert nxt == truth[np.searchsorted(truth, a)]
        if len(w_t):
            assert w_t[0] == nxt
        got.append(w_seq)
    np.testing.assert_array_equal(np.concatenate(got), np.arange(1500))
    # without looping the feed ends
    once = SampleFeed(t, np.zeros((500, 3)), np.zeros((500, 3)), loop=False)
    assert once.next_time(rel[-1] + 1e-3) is None
    assert once.next_time(rel[10]) == rel[10]
    assert len(once.window(rel[10], rel[20])[0]) == 10


def test_set_phase_lines_the_sensors_notifications_up():
    from imu.live.phase import NotificationPhase

    async def main():
        sensors, clock = await start_sensors(200, 1.0, seconds=10.0)
        src = virtual_source(sensors, 200, clock)
        got: dict = {}
        await src.start()
        task = asyncio.create_task(collect(src, got))
        await asyncio.sleep(1.0)
        planner = NotificationPhase()
        for role, blks in got.items():   # the sensors' clocks are the session clock here
            planner.observe(role, blks[-1].seq, blks[-1].t_sensor_s)
        plan = planner.plan(list(ROLES), 1.0)
        oks = [await src.set_batch_phase(r, s) for r, s in plan.items()]
        n0 = {r: len(b) for r, b in got.items()}
        await asyncio.sleep(2.0)
        await src.stop()
        task.cancel()
        for vs in sensors.values():
            await vs.close()
        return plan, oks, {r: b[n0[r] + 2:] for r, b in got.items()}

    plan, oks, after = asyncio.run(main())
    assert oks == [True, True, True]
    for role, blks in after.items():
        # one notification after every 4th sample (20 ms at 200 Hz) from the planned sample
        assert len(blks) > 50
        assert all(len(b) == 4 and (int(b.seq[-1]) - plan[role]) % 4 == 0 for b in blks), role
    # each cycle: the thighs' last sample just past the sacrum's (sensor clocks ~ the same)
    s_last = np.array([b.t_sensor_s[-1] for b in after["sacrum"]])
    for role in ("right_thigh", "left_thigh"):
        t_last = np.array([b.t_sensor_s[-1] for b in after[role]])
        d = t_last[:, None] - s_last[None, :]
        d = np.where(d >= 0, d, np.inf).min(axis=1)
        d = d[np.isfinite(d)]          # (a first thigh notification before the first sacrum's)
        assert len(d) > 50 and np.all(d < 0.0055)
