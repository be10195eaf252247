"""Acceptance: a recording writer killed with SIGKILL at random moments loses at most 1 s.

A subprocess streams 3 sensors at 200 Hz in blocks of 10 samples (as a BLE reader would) and
reports on stdout when each block was handed to the writer, and when each commit began and
ended. It is killed with SIGKILL at 20 random moments: 16 while streaming (0.1–1.6 s after the
file exists) and 4 during start-up and file creation. Every file left behind must open, hold
gap-free sample runs from the start, every sample of every commit that ended before the kill,
and every block handed over more than 1 s before the kill.

A loaded machine can hold up what no writer controls: an fsync that takes seconds, a process
not scheduled. A block older than 1 s that is missing is therefore the machine's doing, not the
writer's, only when a commit the writer had begun within 1 s of it (the one that holds it, or one
before that kept the writer busy) was still being written at the kill, or when the writer's
process was not running meanwhile (its blocks came 0.5 s or more late); the run says so. Under normal load neither happens (worst loss ~0.3 s).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from imu.session.store import read_recording

CHILD = r"""
import sys, threading, time
import numpy as np
from imu.session.store import RecordingWriter
from imu.types import Event, SampleBlock, SensorInfo
roles = ["sacrum", "right_thigh", "left_thigh"]
out = sys.stdout
lock = threading.Lock()

def say(text):  # whole lines from both threads
    with lock:
        out.write(text + "\n")
        out.flush()

class Writer(RecordingWriter):  # reports each commit: when it began, when it ended
    def flush(self):
        say(f"s {time.time():.6f}")
        super().flush()
        say(f"c {self.samples_written} {time.time():.6f}")

w = Writer(sys.argv[1], {"test": "kill"},
           [SensorInfo(f"s{i}", r, rate_hz=200.0) for i, r in enumerate(roles)])
w.add_event(Event(0.0, "set_start", exercise="hinge"))
t0 = time.time()
say(f"ready {t0:.6f}")
rng = np.random.default_rng(int(sys.argv[2]))
k = 0
while True:
    due = t0 + (k + 1) * 10 / 200.0
    dt = due - time.time()
    if dt > 0:
        time.sleep(dt)
    seq = np.arange(10 * k, 10 * k + 10)
    for i, r in enumerate(roles):
        w.add_block(r, SampleBlock(f"s{i}", seq, seq / 200.0, t0 + seq / 200.0,
                                   rng.normal(0, 1, (10, 3)), rng.normal(0, 1, (10, 3))))
    say(f"{k} {time.time():.6f}")
    k += 1
"""

N_KILLS = 20


class Run:
    """What the child reported before the kill: ``t0`` (its clock's start, None if it never
    got there), ``handed`` (block → when handed over), ``commits`` (``[began, ended or None,
    samples written in all when it ended]``, in order)."""

    def __init__(self, out: str):
        self.t0 = None
        self.handed: dict[int, float] = {}
        self.commits: list[list] = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "ready":
                self.t0 = float(parts[1])
            elif len(parts) == 2 and parts[0] == "s":
                self.commits.append([float(parts[1]), None, None])
            elif len(parts) == 3 and parts[0] == "c" and self.commits:
                self.commits[-1][1:] = [float(parts[2]), int(parts[1])]
            elif len(parts) == 2:
                self.handed[int(parts[0])] = float(parts[1])

    def committed(self) -> int:
        """Samples (all sensors) of the commits that ended before the kill."""
        return max([c[2] for c in self.commits if c[2] is not None], default=0)

    def machine_held_up(self, k: int, bound_s: float = 1.0) -> str:
        """Why block ``k`` (missing from the file) may be older than ``bound_s`` without the
        writer being at fault, or "": the commit that holds it began within ``bound_s`` and was
        still under way at the kill (disk), or the process did not run meanwhile (CPU)."""
        h = self.handed[k]
        # a commit begun by then and still being written at the kill (commits take ms): the
        # one that holds the block, or one before it that kept the writer from starting it
        slow = [c for c in self.commits if c[1] is None and c[0] <= h + bound_s]
        if slow:
            return "a commit begun in time was still being written at the kill"
        late = [t - (self.t0 + (j + 1) * 10 / 200.0) for j, t in self.handed.items()
                if h <= t <= h + bound_s + 0.5] if self.t0 is not None else []
        if late and max(late) >= 0.5:
            return f"the writer's process did not run for {max(late):.2f} s"
        return ""


def run_and_kill(path, delay_s: float, seed: int, after_ready: bool) -> tuple[float, Run]:
    """Start the writer, SIGKILL it ``delay_s`` after it is streaming (``after_ready``) or after
    it was started (start-up and file creation); return (kill time, what it reported)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = ""
    if after_ready:
        first = proc.stdout.readline()  # blocks until the writer has created the file
        assert first.startswith("ready "), (proc.stderr.read() if proc.poll() is not None
                                            else first)
    time.sleep(delay_s)
    t_kill = time.time()
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    return t_kill, Run(first + out)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_at_random_moments_loses_at_most_one_second(tmp_path):
    rng = np.random.default_rng(20261121)
    n_startup = 4  # kills during interpreter start-up / file creation
    after_ready = np.arange(N_KILLS) >= n_startup
    delays = np.where(after_ready, rng.uniform(0.1, 1.6, N_KILLS), rng.uniform(0.05, 0.6, N_KILLS))
    worst_loss_s = 0.0
    opened = 0
    held_up = []
    for i, delay in enumerate(delays):
        path = tmp_path / f"kill{i}.imu"
        t_kill, run = run_and_kill(path, float(delay), i, bool(after_ready[i]))
        if not path.exists():  # killed before the file was linked into place
            assert not run.handed
            continue
        s = read_recording(path)  # must open (BadInputError would fail the test)
        opened += 1
        assert set(s.sensors) == {"sacrum", "right_thigh", "left_thigh"}
        if after_ready[i]:  # events are committed as they are added
            assert [(e.kind, e.exercise) for e in s.events] == [("set_start", "hinge")]
        # every commit that ended before the kill is in the file, whatever the machine did
        assert sum(len(d) for d in s.sensors.values()) >= run.committed(), f"run {i}"
        for role, d in s.sensors.items():
            n = len(d)
            assert np.array_equal(d.seq, np.arange(n)), f"run {i} {role}: samples out of order"
            assert n % 10 == 0
            stored_blocks = n // 10
            for k, t in run.handed.items():
                if k < stored_blocks:
                    continue
                if t_kill - t > 1.0:  # older than the bound: only the machine may excuse it
                    why = run.machine_held_up(k)
                    assert why, (f"run {i} {role}: block {k} handed over {t_kill - t:.2f} s "
                                 f"before the kill is missing")
                    held_up.append(f"run {i} {role} block {k}: {why}")
                else:
                    worst_loss_s = max(worst_loss_s, t_kill - t)
    assert opened >= N_KILLS - n_startup
    print(f"kills: {N_KILLS}, files opened: {opened}, worst loss: {worst_loss_s:.3f} s"
          + (f"; held up by the machine: {'; '.join(sorted(set(held_up)))}" if held_up else ""))
