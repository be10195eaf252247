"""Shared, cached simulated sessions for the live / replay / GUI tests (simulated once per run)."""

from __future__ import annotations

import functools
import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@functools.lru_cache(maxsize=None)
def sim(seed: int = 11):
    """Calibration protocol, a hinge set and single-leg sets (2 reps/holds each), sensor errors on."""
    from imu.sim import simulate
    return simulate(["calibration", "hinge", "single_leg_stance"], reps=2, seed=seed, rate_hz=104)


@functools.lru_cache(maxsize=None)
def live_run(seed: int = 11):
    """The session replayed as fast as possible through the live pipeline (auto-calibrating
    from its calibration events). Returns ``(pipeline, source)``."""
    from imu.calibration import calibrate_session
    from imu.live.pipeline import LivePipeline
    from imu.sources.replay import ReplaySource

    src = ReplaySource(sim(seed).session, speed=math.inf)
    pipe = LivePipeline(src, calibrator=calibrate_session)
    pipe.run_blocking()
    return pipe, src


def recording(tmp_dir, seed: int = 11):
    """The simulated session written as a recording file in ``tmp_dir``; returns its path."""
    path = os.path.join(str(tmp_dir), f"sim{seed}.imu")
    if os.path.exists(path):
        return path
    return write_recording(sim(seed).session, path)


def write_recording(s, path, until_s: float | None = None, calibration: dict | None = None):
    """Session ``s`` written as a recording at ``path`` (only its first ``until_s`` seconds
    and their events when given; ``calibration`` stored in it); returns ``path``."""
    from imu.session.store import RecordingWriter
    from imu.types import SampleBlock

    t0 = min(float(d.t_host_s[0]) for d in s.sensors.values() if len(d))
    end = math.inf if until_s is None else t0 + until_s
    with RecordingWriter(path, dict(s.meta), [d.info for d in s.sensors.values()]) as w:
        for role, d in s.sensors.items():
            k = d.t_host_s < end
            w.add_block(role, SampleBlock(d.info.sensor_id, d.seq[k], d.t_sensor_s[k],
                                          d.t_host_s[k], d.acc[k], d.gyr[k]))
        for e in s.events:
            if until_s is None or e.t_s < until_s:
                w.add_event(e)
        if calibration is not None:
            w.set_calibration(calibration)
    return path


def truth_reps(seed: int = 11):
    """True hinge reps and single-leg holds of the simulated session."""
    sets = sim(seed).truth_sets
    reps = [r for s in sets if s["exercise"] == "hinge" for r in s.get("reps", [])]
    holds = [h for s in sets if s["exercise"] == "single_leg_stance" for h in s.get("holds", [])]
    return reps, holds


def stream_angles(session, alignment, chunk: int = 16):
    """``session`` streamed through :class:`~imu.kinematics.pipeline.AnglePipeline` in
    interleaved ``chunk``-sample notifications, as the live stage feeds it. Returns
    ``(time_s, columns)``: the rows' times and a function ``column(name) -> (N,)``."""
    import numpy as np

    from imu.kinematics.pipeline import AnglePipeline, sensor_times_s

    times = {r: sensor_times_s(d) for r, d in session.sensors.items()}
    pipe = AnglePipeline(alignment, {r: d.info.rate_hz for r, d in session.sensors.items()})
    chunks = []
    n = max(len(d) for d in session.sensors.values())
    for i0 in range(0, n, chunk):
        for r, d in session.sensors.items():
            sl = slice(i0, i0 + chunk)
            out = pipe.update(r, times[r][sl], d.acc[sl], d.gyr[sl])
            if len(out.time_s):
                chunks.append(out)
    t = np.concatenate([c.time_s for c in chunks])
    return t, lambda name: np.concatenate([c[name] for c in chunks])


@functools.lru_cache(maxsize=None)
def hinge_sim(seed: int = 3, reps: int = 4):
    """A hinge set without the calibration protocol (the simulator's mounting is the
    calibration: :func:`sim_profile`), sensor errors on."""
    from imu.sim import simulate
    return simulate("hinge", reps=reps, seed=seed, rate_hz=104, calibration=False)


def sim_profile(res):
    """The calibration a skipped protocol uses (the simulator's own sensor mounting)."""
    from imu.chain import simulator_profile

    class _Src:
        def simulate(self):
            return res
    return simulator_profile(_Src())


def with_sensor(session, role, fn):
    """``session`` with ``role``'s SensorData replaced by ``fn(data, t0_s)`` (``t0_s``: the
    session's first host time)."""
    from imu.types import Session

    t0 = min(float(d.t_host_s[0]) for d in session.sensors.values() if len(d))
    return Session(meta=dict(session.meta),
                   sensors={r: fn(d, t0) if r == role else d for r, d in session.sensors.items()},
                   events=list(session.events), source=session.source)


def _take(d, keep):
    from imu.types import SensorData
    return SensorData(d.info, d.seq[keep], d.t_sensor_s[keep], d.t_host_s[keep], d.acc[keep],
                      d.gyr[keep])


def missing(session, role, t0_s: float, t1_s: float):
    """``role``'s sensor sent nothing from ``t0_s`` to ``t1_s`` (seconds from the session's
    start): it connected late (``t0_s`` <= 0) or its link was down (those samples are lost)."""
    def fn(d, t0):
        rel = d.t_host_s - t0
        return _take(d, ~((rel >= t0_s) & (rel < t1_s)))
    return with_sensor(session, role, fn)


def held_up(session, role, until_s: float, from_s: float = -1.0, drain_s: float = 0.01):
    """``role``'s notifications that would have arrived from ``from_s`` to ``until_s`` (seconds
    from the session's start) are held up and then come in a burst, one every ``drain_s`` from
    ``until_s`` on, until the backlog is drained (a busy host, a link still settling, a FIFO
    resent after a reconnection). Nothing is lost; only the arrival (host) times change."""
    import numpy as np
    from imu.types import SensorData

    def fn(d, t0):
        th = np.array(d.t_host_s, dtype=float)
        notes = np.unique(th)                       # one arrival time per notification
        t_next = t0 + until_s
        for t in notes[notes >= t0 + from_s]:
            if t >= t_next:
                break                               # caught up: on time from here
            th[d.t_host_s == t] = t_next
            t_next += drain_s
        return SensorData(d.info, d.seq, d.t_sensor_s, th, d.acc, d.gyr)
    return with_sensor(session, role, fn)


def live_on(session, profile):
    """``session`` replayed as fast as possible through the live pipeline with ``profile``."""
    from imu.live.pipeline import LivePipeline
    from imu.sources.replay import ReplaySource

    pipe = LivePipeline(ReplaySource(session, speed=math.inf), profile=profile)
    pipe.run_blocking()
    return pipe
