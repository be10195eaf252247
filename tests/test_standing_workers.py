"""Quiet standing judged by the fusion's forked workers, each its own sensor
(imu.kinematics.pipeline.fuse_session): the same stretches, hence the same angles, as one
process judging every sensor; from a thread (no workers); and a worker that fails first stops
the run with its error instead of leaving the others waiting."""

import os
import signal
import threading

import numpy as np
import pytest

from imu.calibration import calibrate_session
from imu.kinematics import pipeline as P
from imu.sim import simulate
from imu.workers import can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs forked workers (Linux, 2+ CPUs)")


@pytest.fixture(scope="module")
def run():
    res = simulate("demo", rate_hz=100.0, seed=77, errors=True, reps=2)
    return res.session, calibrate_session(res.session).alignment()


def _same(a, b):
    assert list(a.columns) == list(b.columns)
    for c in a.columns:
        assert np.array_equal(a.columns[c], b.columns[c], equal_nan=True), c


def test_workers_judging_their_own_sensor_give_the_same_angles(run, monkeypatch):
    session, align = run
    forked = P.compute_angles(session, align)
    monkeypatch.setenv("IMU_FORK", "0")  # one process judges every sensor
    _same(forked, P.compute_angles(session, align))


def test_fusing_from_a_thread_gives_the_same_angles(run):
    session, align = run
    out = {}
    th = threading.Thread(target=lambda: out.update(t=P.compute_angles(session, align)))
    th.start()
    th.join(timeout=300)
    _same(P.compute_angles(session, align), out["t"])


def test_a_worker_failing_before_judging_raises_its_error(run, monkeypatch):
    session, align = run
    main = os.getpid()
    real = P.standing_mask

    def failing(*a, **k):
        if os.getpid() != main:
            raise RuntimeError("worker failed while judging")
        return real(*a, **k)

    monkeypatch.setattr(P, "standing_mask", failing)
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("hung")))
    signal.alarm(120)
    try:
        with pytest.raises(RuntimeError, match="worker failed while judging"):
            P.compute_angles(session, align)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
