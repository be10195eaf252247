"""SimulatedSource (body simulator → virtual sensors → BLE reader), `imu record`, LSL outlets."""

import asyncio
import os
import signal
import time

import numpy as np
import pytest

from imu.session.store import RecordingWriter, read_recording
from imu.sources.simulated import SimulatedSource, record_source
from imu.types import SensorInfo


@pytest.mark.parametrize("process", [False, True], ids=["in-process", "sensor-process"])
def test_simulated_source_delivers_the_simulator_samples(tmp_path, process):
    """What arrives over the virtual link is the simulator's signal, int16-quantised, with the
    virtual sensors in our process or in their own (the host stack then talks HCI to their
    controller over a socket)."""
    src = SimulatedSource("hinge", rate_hz=200, seed=3, speed=4.0, reps=2, calibration=False,
                          process=process)
    path = tmp_path / "s.imu"
    w = RecordingWriter(path, {"test": True}, [])
    n = asyncio.run(record_source(src, w, seconds=6.0))
    w.close()
    sess = read_recording(path)
    truth = src.sim_result.session
    assert sorted(sess.sensors) == sorted(truth.sensors)
    assert n == sum(len(d) for d in sess.sensors.values())
    for role, d in sess.sensors.items():
        info = src.sensors[role]
        assert d.info.rate_hz == 200 and d.info.model == "imu-sim"
        assert 200 * 3 < len(d) < 200 * 8  # later sensors connect a little later
        ref = truth.sensors[role]
        idx = np.searchsorted(ref.seq, d.seq)  # the sensor's sequence numbers index the truth
        assert np.array_equal(ref.seq[idx], d.seq)
        assert np.abs(d.acc - ref.acc[idx]).max() <= info.extra["acc_scale"] / 2 + 1e-9
        assert np.abs(d.gyr - ref.gyr[idx]).max() <= info.extra["gyr_scale"] / 2 + 1e-9
        dt_ref = np.diff(ref.t_sensor_s[idx])
        assert np.allclose(np.diff(d.t_sensor_s), dt_ref, atol=2e-4)
    kinds = [e.kind for e in sess.events]
    assert "set_start" in kinds  # the program's events come through


def test_sensor_process_drops_and_resumes_a_link_and_logs_notifications():
    """With the sensors in their own process a forced drop is reconnected and resumed from the
    sensor's FIFO (no sample lost), and the child reports when each notification left."""
    src = SimulatedSource("hinge", rate_hz=100, seed=4, reps=2, calibration=False, process=True)
    src.log_notifications = True
    seqs: dict[str, list] = {}

    async def main():
        await src.start()
        it = src.blocks().__aiter__()
        t_drop = time.monotonic() + 0.5
        events, n_after = [], 0
        deadline = time.monotonic() + 30.0          # a loaded machine reconnects slowly
        while time.monotonic() < deadline:
            b = await asyncio.wait_for(it.__anext__(), 10.0)
            seqs.setdefault(b.sensor_id, []).append(b.seq)
            if t_drop is not None and time.monotonic() > t_drop:
                t_drop = None
                await src.force_disconnect("sacrum", down_s=0.3)
            events += src.events()
            if any(e.kind == "reconnect" for e in events):
                n_after += 1
                if n_after > 30:                    # streaming again for a while
                    break
        await src.stop()
        return events

    events = asyncio.run(main())
    kinds = [e.kind for e in events]
    assert "disconnect" in kinds and "reconnect" in kinds
    sacrum = src.sensors["sacrum"].sensor_id
    seq = np.concatenate(seqs[sacrum])
    assert np.array_equal(seq, np.arange(seq[0], seq[0] + len(seq)))   # resumed, nothing lost
    sent = src.sensor_process.stats["notifications"]
    assert {s[0] for s in sent} == set(seqs)
    age_s = np.array([t_sent - t_oldest for _, _, t_sent, t_oldest in sent])
    assert age_s.min() >= 0.0
    # a batch leaves when its oldest sample is MAX_BATCH_AGE_S old (the backlog after the drop
    # is older)
    assert np.median(age_s) < 0.02 + 0.01
    assert src.sensor_process.proc is None         # the child is gone


def test_record_source_survives_pauses_between_blocks(tmp_path):
    """A source silent for longer than the status interval keeps recording (regression)."""
    from imu.sources.base import SensorStatus, Source
    from imu.types import SampleBlock

    class Paused(Source):
        sensors = {"sacrum": SensorInfo("p1", "sacrum", "test", 10.0)}

        async def start(self):
            pass

        async def stop(self):
            pass

        async def blocks(self):
            for k in range(3):
                await asyncio.sleep(0.6)
                n = 5
                rng = np.random.default_rng(k)
                yield SampleBlock("p1", np.arange(k * n, (k + 1) * n), k * 0.5 + np.arange(n) * 0.1,
                                  np.full(n, k * 0.6), rng.normal(size=(n, 3)),
                                  rng.normal(size=(n, 3)))

        def status(self):
            return {"sacrum": SensorStatus("p1", "sacrum")}

    path = tmp_path / "p.imu"
    w = RecordingWriter(path, {}, [])
    n = asyncio.run(record_source(Paused(), w))
    w.close()
    assert n == 15
    assert read_recording(path).sensors["sacrum"].seq.tolist() == list(range(15))


def test_record_command_writes_three_sensors_at_the_set_rate(tmp_path, capsys):
    from imu.cli import main
    from imu.commands.info import sensor_summary

    out = tmp_path / "S"
    rc = main(["record", "--simulate", "--seconds", "5", "--speed", "2", "--rate", "200",
               "--program", "hinge", "-o", str(out), "--quiet"])
    assert rc == 0 and out.exists()
    sess = read_recording(out)
    assert sorted(sess.sensors) == ["left_thigh", "right_thigh", "sacrum"]
    for d in sess.sensors.values():
        s = sensor_summary(d)
        assert s["rate_set_hz"] == 200, s
        assert s["rate_measured_hz"] == pytest.approx(200, rel=0.01), s
        assert s["duration_s"] > 4.0, s
    assert "written to" in capsys.readouterr().err


def test_record_command_bad_sensor_argument_is_one_line(tmp_path, capsys):
    from imu.cli import main
    assert main(["record", "--sensor", "pelvis=AA:BB", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pelvis" in err[0]
    assert not (tmp_path / "x").exists()


def test_record_stops_cleanly_on_ctrl_c(tmp_path, capsys):
    """SIGINT (Ctrl-C) ends `imu record` with exit 0 and a closed, readable file."""
    import threading

    from imu.cli import main

    out = tmp_path / "ctrlc.imu"

    def interrupt():  # Ctrl-C once every sensor has samples in the file
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end:
            time.sleep(0.2)
            try:
                s = read_recording(out)
            except Exception:
                continue
            if len(s.sensors) == 3 and all(len(d) > 50 for d in s.sensors.values()):
                break
        os.kill(os.getpid(), signal.SIGINT)

    th = threading.Thread(target=interrupt, daemon=True)
    th.start()
    rc = main(["record", "--simulate", "--program", "hinge", "--rate", "104", "--speed", "2",
               "-o", str(out)])
    th.join()
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Traceback" not in err and "written to" in err
    sess = read_recording(out)
    assert len(sess.sensors) == 3 and all(len(d) > 50 for d in sess.sensors.values())


def test_lsl_outlet_reaches_an_inlet_on_localhost():
    try:
        from imu.sources.lsl import LslPublisher
        pub = LslPublisher({"sacrum": SensorInfo("lsltest-1", "sacrum", "imu-sim", 100.0)},
                           angle_columns=["pelvis_tilt", "pelvis_obliquity"], angles_rate_hz=100)
        import pylsl
        found = pylsl.resolve_byprop("source_id", "imu-lsltest-1", timeout=5.0)
    except Exception as exc:  # no liblsl / no network stack in this sandbox
        pytest.skip(f"LSL unavailable here: {exc}")
    if not found:
        pytest.skip("LSL: the outlet cannot be resolved on localhost (multicast blocked?)")
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(timeout=5.0)
    time.sleep(0.3)
    from imu.types import SampleBlock
    n = 10
    acc = np.arange(n * 3, dtype=float).reshape(n, 3)
    gyr = -acc / 100
    blk = SampleBlock("lsltest-1", np.arange(n), np.arange(n) / 100, np.zeros(n), acc, gyr)
    pub.push_block("sacrum", blk)
    got, ts = [], []
    t_end = time.monotonic() + 5
    while len(got) < n and time.monotonic() < t_end:
        chunk, t = inlet.pull_chunk(timeout=0.5)
        got += chunk
        ts += t
    assert np.allclose(np.array(got), np.hstack([acc, gyr]), atol=1e-4)
    assert np.allclose(np.diff(ts), 0.01, atol=1e-6)
    ang = pylsl.resolve_byprop("source_id", "imu-angles", timeout=5.0)
    assert ang and ang[0].channel_count() == 2
    pub.close()


def _own_sockets(pid: int | None = None) -> list[tuple[str, str]]:
    """(protocol, local address) of every socket of this process, from /proc."""
    import socket
    import struct

    pid = pid or os.getpid()
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    out = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = open(f"/proc/net/{proto}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[9] not in inodes:
                continue
            ip = parts[1].split(":")[0]
            if len(ip) == 8:
                addr = socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(ip, 16)))
            else:
                b = bytes.fromhex(ip)
                addr = socket.inet_ntop(socket.AF_INET6, b"".join(b[i:i + 4][::-1]
                                                                  for i in range(0, 16, 4)))
            out.append((proto, addr))
    return out


def test_lsl_is_discoverable_from_this_machine_only_by_default(tmp_path):
    """Default scope: discovery answers on loopback only, no IPv6, no LAN multicast; liblsl's
    data and time servers cannot be bound (no setting) and are the only other sockets."""
    import subprocess
    import sys

    code = (
        "import os, sys, time\n"
        "from imu.sources.lsl import LslPublisher\n"
        "from imu.types import SensorInfo\n"
        "pub = LslPublisher({'sacrum': SensorInfo('scope-1', 'sacrum', 'imu-sim', 100.0)})\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        if line.strip() != "ready":
            pytest.skip("no liblsl here")
        time.sleep(0.5)
        socks = _own_sockets(p.pid)
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    assert socks, "no LSL sockets found"
    assert not [s for s in socks if s[0].endswith("6")], socks  # IPv6 off
    udp = [a for proto, a in socks if proto == "udp"]
    # the discovery responder(s) on loopback; one unicast time server on the wildcard address
    assert udp.count("0.0.0.0") == 1 and all(a in ("127.0.0.1", "0.0.0.0") for a in udp), socks
    assert "127.0.0.1" in udp
    assert [a for proto, a in socks if proto == "tcp"] == ["0.0.0.0"], socks  # data server


def test_lsl_config_is_private_and_never_follows_a_planted_link(tmp_path, monkeypatch):
    from imu.sources import lsl

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    (tmp_path / "imu-lsl-api.cfg").symlink_to(tmp_path / "victim")  # the old predictable name
    path = lsl._private_config_file(lsl.lsl_config("machine"))
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert "ResolveScope = machine" in open(path).read()
    assert not (tmp_path / "victim").exists()


def test_record_seconds_and_speed_that_are_not_positive_numbers_are_one_line(tmp_path, capsys):
    # --seconds nan recorded until killed (nan <= 0 is false)
    from imu.cli import main
    for opt, value in (("--seconds", "nan"), ("--seconds", "inf"), ("--speed", "nan"),
                       ("--speed", "inf")):
        capsys.readouterr()
        assert main(["record", "--simulate", opt, value, "--quiet", "-o",
                     str(tmp_path / "x.imu")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and opt in err[0] and "positive number" in err[0], err
    assert not (tmp_path / "x.imu").exists()
