"""BLE acceptance run over the virtual link (issue 5), in real time.

3 virtual sensors at 200 Hz stream for 10 minutes (``--quick``: 1 minute) through bumble's
in-process link into the bleak-based reader and straight into a recording; each sensor is
dropped 5 times (1.5 s silent each, longer than the sensor's 1.1 s FIFO). Reported: samples sent / received, samples missing outside a
recorded gap (must be 0), the slowest reconnection, the worst "lost time minus disconnected
time" (negative: the sensor's FIFO bridged part of the drop), and the CPU the whole pipeline
used (share of one core) with the same three sensors streaming without drops as the baseline
in the same run.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from imu.session.store import RecordingWriter, read_recording
from imu.sources.ble.bumble_backend import BumbleClientBackend, BumbleScannerBackend
from imu.sources.ble.reader import BleSource
from imu.sources.ble.virtual import SampleFeed, VirtualSensor, sim_address
from imu.sources.simulated import record_source

ROLES = ("sacrum", "right_thigh", "left_thigh")
RATE_HZ = 200
#: Each forced drop keeps the sensor silent this long: longer than its FIFO (1.1 s at 200 Hz),
#: so every drop leaves a real gap of samples.
DOWN_S = 1.5


def _feed(seconds: float, i: int) -> SampleFeed:
    rng = np.random.default_rng(i)
    n = int(RATE_HZ * seconds)
    t = np.arange(n) / RATE_HZ * (1 + 30e-6 * i)
    acc = np.c_[np.sin(t), np.cos(t), 9.81 + 0.02 * rng.standard_normal(n)]
    gyr = np.c_[0.5 * np.sin(3 * t), 0.1 * np.cos(t), 0.01 * rng.standard_normal(n)]
    return SampleFeed(t, acc, gyr, loop=True)


async def _session(duration_s: float, drops_per_sensor: int, down_s: float, path: Path):
    sensors = {}
    for i, role in enumerate(ROLES):
        vs = VirtualSensor(sim_address(i), f"IMU-BENCH {role}", _feed(120.0, i),
                           f"bench-{role}", rate_hz=RATE_HZ)
        await vs.power_on()
        sensors[role] = vs
    t0 = time.monotonic()
    for vs in sensors.values():
        vs._t_wall0 = t0
    src = BleSource({r: vs.address for r, vs in sensors.items()}, rate_hz=RATE_HZ,
                    client_backend=BumbleClientBackend, scanner_backend=BumbleScannerBackend,
                    clock=lambda: time.monotonic() - t0, connect_timeout_s=3.0)
    writer = RecordingWriter(path, {"bench": "ble"}, [])
    await src.start()
    rng = np.random.default_rng(7)
    drops = sorted(((k + 0.5 + 0.3 * rng.uniform(-1, 1)) / drops_per_sensor * duration_s
                    + 2.0 * i, role)
                   for i, role in enumerate(ROLES) for k in range(drops_per_sensor))

    async def dropper():
        t_start = time.monotonic()
        for t_drop, role in drops:
            await asyncio.sleep(max(0.0, t_start + t_drop - time.monotonic()))
            await sensors[role].force_disconnect(down_s)

    stop = asyncio.Event()
    task = asyncio.create_task(dropper()) if drops_per_sensor else None
    cpu0, wall0 = time.process_time(), time.perf_counter()

    async def timer():
        last = 0
        while True:
            await asyncio.sleep(1.0)
            el = time.perf_counter() - wall0
            if el >= duration_s:
                stop.set()
                return
            if int(el) // 60 != last:
                last = int(el) // 60
                print(f"  {el:.0f} s / {duration_s:.0f} s", file=sys.stderr, flush=True)

    tt = asyncio.create_task(timer())
    await record_source(src, writer, stop_event=stop, start=False)
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    tt.cancel()
    if task:
        task.cancel()
    writer.close()
    sent = {r: vs.samples_sent for r, vs in sensors.items()}
    forced = {r: vs.disconnects_forced for r, vs in sensors.items()}
    reconnect_wall = [w for link in src.links.values() for w in link.reconnect_wall_s]
    for vs in sensors.values():
        await vs.close()
    return sent, forced, reconnect_wall, cpu


def check(path: Path) -> dict:
    """Gap bookkeeping of a recording: missing samples outside gaps, lost vs disconnected."""
    sess = read_recording(path)
    out = {"received": 0, "missing": 0, "unexplained": 0, "worst_excess_s": -np.inf, "gaps": 0}
    for role, d in sess.sensors.items():
        seq, th = d.seq, d.t_host_s
        out["received"] += len(seq)
        downs = [e for e in sess.events if e.kind == "disconnect" and e.data.get("role") == role]
        ups = [e for e in sess.events if e.kind == "reconnect" and e.data.get("role") == role]
        for g in np.flatnonzero(np.diff(seq) > 1):
            missing = int(seq[g + 1] - seq[g] - 1)
            out["missing"] += missing
            out["gaps"] += 1
            pair = [(dn, up) for dn, up in zip(downs, ups)
                    if th[g] <= dn.t_s + 0.5 and th[g + 1] >= up.t_s]
            if not pair:
                out["unexplained"] += missing
                continue
            dn, up = pair[0]
            out["worst_excess_s"] = max(out["worst_excess_s"],
                                        missing / RATE_HZ - (up.t_s - dn.t_s))
    return out


def run(quick: bool = False) -> list[dict]:
    duration_s = 60.0 if quick else 600.0
    tmp = Path(tempfile.mkdtemp(prefix="imu-bench-ble-"))
    print(f"  baseline: 3 sensors @ {RATE_HZ} Hz, no drops, 30 s", file=sys.stderr, flush=True)
    _, _, _, cpu_base = asyncio.run(_session(30.0, 0, 1.0, tmp / "base.imu"))
    print(f"  acceptance: 3 sensors @ {RATE_HZ} Hz, {duration_s:.0f} s, 5 drops each",
          file=sys.stderr, flush=True)
    sent, forced, rec_wall, cpu = asyncio.run(_session(duration_s, 5, DOWN_S, tmp / "run.imu"))
    c = check(tmp / "run.imu")
    label = f"{duration_s / 60:g} min x 3 @ {RATE_HZ} Hz, 5 drops/sensor"
    return [
        {"name": f"samples sent / received ({label})", "value": c["received"],
         "unit": "samples", "baseline": sum(sent.values()),
         "note": f"{c['missing']} missing in {c['gaps']} gaps"},
        {"name": "samples missing outside a recorded gap", "value": c["unexplained"],
         "unit": "samples", "note": "must be 0"},
        {"name": "forced disconnects / reconnections", "value": len(rec_wall),
         "unit": "", "baseline": sum(forced.values())},
        {"name": "slowest reconnection (wall)", "value": max(rec_wall) if rec_wall else 0.0,
         "unit": "s", "note": f"must be < 3 s; sensor silent {DOWN_S:g} s"},
        {"name": "worst lost time minus disconnected time",
         "value": c["worst_excess_s"] if np.isfinite(c["worst_excess_s"]) else "no gap",
         "unit": "s", "note": "must be <= 0; the sensor FIFO (1.1 s at 200 Hz) bridges drops"},
        {"name": "CPU, whole pipeline incl. virtual sensors", "value": cpu, "unit": "cores",
         "baseline": cpu_base, "note": "baseline: same sensors without drops, 30 s"},
    ]
