import math

import numpy as np

from live_helpers import live_run, sim, truth_reps


def test_live_pipeline_finds_every_hinge_rep_and_hold_of_the_simulated_session():
    pipe, _ = live_run()
    reps, holds = truth_reps()
    assert pipe.calibration.state == "ok"
    assert len(pipe.reps) == len(reps) and len(pipe.holds) == len(holds)
    for got, true in zip(pipe.reps, reps):
        assert abs(got["start_s"] - true["start_s"]) < 0.5
        assert abs(got["end_s"] - true["end_s"]) < 0.5
        assert abs(got["hip_flexion_peak_deg"] - true["hip_flexion_peak_deg"]) < 2.0
        assert abs(got["pelvis_tilt_peak_deg"] - true["pelvis_tilt_peak_deg"]) < 2.0
        assert sorted(got["faults"]) == sorted(true["faults"])
    for got, true in zip(pipe.holds, holds):
        assert got["side"] == true["side"]
        assert abs(got["pelvic_drop_max_deg"] - true["pelvic_drop_max_deg"]) < 1.5
        assert abs(got["pelvic_drop_final_deg"] - true["pelvic_drop_final_deg"]) < 1.5
    assert [s["exercise"] for s in pipe.sets] == ["hinge", "single_leg_stance", "single_leg_stance"]


def test_live_angles_follow_the_true_angles_after_calibration():
    pipe, _ = live_run()
    res = sim()
    t, cols = pipe.history()
    after = t > 45.0                                 # after the calibration protocol
    truth_t = res.truth_time_s
    for name, tol in (("pelvis_tilt", 1.5), ("right_hip_flexion", 2.0),
                      ("left_hip_flexion", 2.0), ("pelvis_obliquity", 1.5)):
        true = np.interp(t[after], truth_t, res.truth_angles[name])
        err = cols[name][after] - true
        err = err[np.isfinite(err)]
        assert len(err) > 0.9 * after.sum()
        assert np.sqrt(np.mean(err ** 2)) < tol, name


def test_snapshot_shows_sensor_rates_calibration_and_completed_items():
    pipe, src = live_run()
    snap = pipe.snapshot()
    assert snap.mode == "live" and snap.calibration.state == "ok"
    assert set(snap.status) == {"sacrum", "right_thigh", "left_thigh"}
    for st in snap.status.values():
        assert st.samples > 10000
    assert len(snap.reps) == 2 and len(snap.holds) == 4
    assert snap.angles_t[-1] <= snap.t_now_s + 1e-9
    assert snap.angles_t[-1] - snap.angles_t[0] <= snap.window_s
    assert snap.current_set is None           # every set ended


def test_pipeline_records_every_block_and_the_gui_set_events(tmp_path):
    from imu.calibration import calibrate_session
    from imu.live.pipeline import LivePipeline
    from imu.session.store import RecordingWriter, read_recording
    from imu.sources.replay import ReplaySource

    session = sim().session
    src = ReplaySource(session, speed=math.inf, end_s=12.0)
    path = tmp_path / "live.imu"
    with RecordingWriter(path) as w:
        pipe = LivePipeline(src, writer=w, calibrator=calibrate_session)
        pipe.start_set("posture", None, t_s=5.0)
        pipe.end_set(t_s=6.0)
        pipe.run_blocking()
    got = read_recording(path)
    for role, d in session.sensors.items():
        n = int(np.sum(d.t_host_s - src.t0_s <= 12.0))
        assert len(got.sensors[role]) == n
        assert np.array_equal(got.sensors[role].acc, d.acc[:n])
    kinds = [(e.kind, e.exercise) for e in got.events]
    assert ("set_start", "posture") in kinds and ("set_end", "posture") in kinds
    assert ("calibration_start", None) in kinds


def test_a_failing_analysis_stage_never_stops_the_recording(tmp_path):
    from imu.live.pipeline import LivePipeline
    from imu.session.store import RecordingWriter, read_recording
    from imu.sources.replay import ReplaySource

    from imu.calibration import calibrate_session

    class BrokenCorrection:                      # an intrinsic correction that fails
        def apply(self, acc, gyr):
            raise ValueError("boom")

    session = sim().session
    profile = calibrate_session(session)
    src = ReplaySource(session, speed=math.inf, end_s=5.0)
    path = tmp_path / "rec.imu"
    with RecordingWriter(path) as w:
        pipe = LivePipeline(src, writer=w, profile=profile,
                            intrinsics={"sacrum": BrokenCorrection()})
        pipe.run_blocking()
    assert isinstance(pipe.processing_error, ValueError)
    assert "still recording" in pipe.snapshot().message
    # what the sensors see (the wizard's live quality) is still summed up, to the end
    assert pipe.snapshot().motion.label != "no data"
    assert pipe._next_motion_s >= pipe._t_now_s
    got = read_recording(path)
    for role, d in session.sensors.items():
        assert len(got.sensors[role]) == int(np.sum(d.t_host_s - src.t0_s <= 5.0))


def test_lsl_flag_publishes_raw_streams_and_the_live_angles():
    import threading
    import time

    import numpy as np
    import pytest

    from imu.calibration import calibrate_session
    from imu.live.pipeline import LivePipeline
    from imu.sources.replay import ReplaySource
    from tests.live_helpers import sim

    try:
        import pylsl
        probe = pylsl.StreamOutlet(pylsl.StreamInfo("imu probe", "probe", 1, 0, "float32",
                                                    "imu-lsl-probe"))
        ok = pylsl.resolve_byprop("source_id", "imu-lsl-probe", timeout=3.0)
        del probe
    except Exception as exc:  # no liblsl / no network stack in this sandbox
        pytest.skip(f"LSL unavailable here: {exc}")
    if not ok:
        pytest.skip("LSL: an outlet cannot be resolved on localhost (multicast blocked?)")

    res = sim()
    # 25x real time (about 5 s): as fast as possible, a loaded machine could finish the
    # session before the listener has resolved the stream (rows before that are not kept)
    pipe = LivePipeline(ReplaySource(res.session, speed=25.0), calibrator=calibrate_session,
                        lsl=True)
    got, inlets, t_rows = [], {}, []

    def listen():
        found = pylsl.resolve_byprop("source_id", "imu-angles", timeout=10.0)
        if not found:
            return
        inlet = pylsl.StreamInlet(found[0], max_buflen=360)
        inlets["angles"] = found[0]
        inlet.open_stream(timeout=5.0)
        t_end = time.monotonic() + 60
        while pipe.running or time.monotonic() < t_end and not got:
            chunk, _ = inlet.pull_chunk(timeout=0.2, max_samples=100000)
            got.extend(chunk)
            if not pipe.running and not chunk and got:
                break

    th = threading.Thread(target=listen, daemon=True)
    pipe.start()
    th.start()
    th.join(90)
    pipe.stop()
    assert pipe.publisher is not None
    assert set(pipe.publisher.source_ids) == set(res.session.sensors) | {"angles"}
    assert "angles" in inlets
    names = pipe.publisher.angle_columns
    assert names[:3] == ["pelvis_tilt", "pelvis_obliquity", "pelvis_rotation"]
    rows = np.array(got, dtype=float)
    assert len(rows) > 100
    # the published hip flexion covers the hinge reps (> 15°) the pipeline found
    flex = rows[:, names.index("right_hip_flexion")]
    assert np.nanmax(flex) > 15.0 and len(pipe.reps) >= 2


def test_angle_rows_come_as_soon_as_the_sensor_they_wait_for_delivers():
    """Rows need a sample at or after them from every sensor: the block of the sensor with the
    oldest newest sample completes rows at once, without waiting for the other sensors' next
    blocks (they would hold finished rows back by up to a notification interval)."""
    from imu.chain import simulator_profile
    from imu.live.angles import LiveAngleStage
    from imu.types import SampleBlock

    res = sim()

    class Src:
        def simulate(self):
            return res

    stage = LiveAngleStage(simulator_profile(Src()).alignment(),
                           {r: d.info.rate_hz for r, d in res.session.sensors.items()})
    roles = list(res.session.sensors)

    def block(role, i0, n=5):
        d = res.session.sensors[role]
        sl = slice(i0, i0 + n)
        return SampleBlock(d.info.sensor_id, d.seq[sl], d.t_sensor_s[sl], d.t_sensor_s[sl],
                           d.acc[sl], d.gyr[sl])

    # staggered sensors: role k's blocks end k samples later than role 0's
    nxt = {r: k for k, r in enumerate(roles)}
    for r in roles:       # one round: every sensor delivered 0.5 s (their clocks settle)
        stage.push(r, block(r, 0, 52 + nxt[r]))
        nxt[r] += 52
    emitted = []
    for _ in range(30):
        # the sensor the rows wait for: the oldest newest sample
        r = min(roles, key=lambda x: res.session.sensors[x].t_sensor_s[nxt[x] - 1])
        out = stage.push(r, block(r, nxt[r]))
        nxt[r] += 5
        emitted.append(out is not None and len(out.time_s) > 0)
    assert all(emitted)                           # each such block completed rows at once


def test_a_backlog_of_blocks_gives_one_batch_of_the_same_rows():
    """Blocks pushed with ``defer`` (more were already waiting: the pipeline fell behind) hand
    their rows out with the next block pushed without it, in one batch: the same rows with the
    same numbers as block by block, none lost or held back beyond the backlog."""
    from imu.chain import simulator_profile
    from imu.live.angles import LiveAngleStage
    from imu.types import SampleBlock

    res = sim()

    class Src:
        def simulate(self):
            return res

    alignment = simulator_profile(Src()).alignment()
    rates = {r: d.info.rate_hz for r, d in res.session.sensors.items()}
    roles = list(res.session.sensors)
    blocks = []                    # staggered 5-sample blocks of every sensor, in time order
    for k, r in enumerate(roles):
        d = res.session.sensors[r]
        for i0 in range(k, min(len(d.acc), 3000) - 5, 5):
            sl = slice(i0, i0 + 5)
            blocks.append((float(d.t_sensor_s[i0 + 4]), k, SampleBlock(
                d.info.sensor_id, d.seq[sl], d.t_sensor_s[sl], d.t_sensor_s[sl],
                d.acc[sl], d.gyr[sl])))
    blocks.sort(key=lambda b: b[:2])
    role_of = {d.info.sensor_id: r for r, d in res.session.sensors.items()}

    def run(backlog):
        stage = LiveAngleStage(alignment, rates)
        batches, count = [], []           # count: rows out after each block
        for i, (_, _, blk) in enumerate(blocks):
            out = stage.push(role_of[blk.sensor_id], blk, defer=backlog(i))
            if out is not None and len(out.time_s):
                batches.append(out)
            count.append(sum(len(b.time_s) for b in batches))
        return batches, np.array(count)

    one_by_one, n_a = run(lambda i: False)
    # backlogs of 6 blocks now and then (a busy machine): blocks 7..12, 28..33, ...
    deferred = lambda i: (i // 7) % 3 == 1 and i % 7 != 6  # noqa: E731
    behind, n_b = run(deferred)
    assert 0 < len(behind) < len(one_by_one)
    t_a = np.concatenate([b.time_s for b in one_by_one])
    t_b = np.concatenate([b.time_s for b in behind])
    assert len(t_a) > 1000 and np.array_equal(t_a, t_b)
    for c in one_by_one[0].columns:
        a = np.concatenate([b.columns[c] for b in one_by_one])
        b = np.concatenate([b.columns[c] for b in behind])
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9, equal_nan=True)
    # deferred blocks hand out nothing; the block ending a backlog hands out every row
    # completed by then (as many as block by block, or more)
    d = np.array([deferred(i) for i in range(len(blocks))])
    d[0] = False
    assert (n_b[d] == n_b[np.flatnonzero(d) - 1]).all() and (n_b[d] < n_a[d]).any()
    ends = np.flatnonzero(d[:-1] & ~d[1:]) + 1
    assert len(ends) > 30 and (n_b[ends] >= n_a[ends]).all()
