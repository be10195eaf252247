"""A sensor that starts late, connects late, or whose first notifications are held up (a busy
host: they then come in a burst) costs the live pipeline at most the reps it actually missed;
the other reps come out with the numbers of a run where every sensor starts together. The
simulator gives the truth (which reps happened, when, and their numbers)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from live_helpers import hinge_sim, held_up, live_on, missing, sim_profile

PEAK = "hip_flexion_peak_deg"


@functools.lru_cache(maxsize=None)
def _together():
    res = hinge_sim()
    return live_on(res.session, sim_profile(res))


def _truth_reps():
    return [r for s in hinge_sim().truth_sets for r in s["reps"]]


def _rel(pipe, reps):
    return [(r["start_s"] - pipe.t_first_s, r[PEAK]) for r in reps]


def test_all_sensors_together_find_every_true_rep():
    pipe, truth = _together(), _truth_reps()
    assert len(pipe.reps) == len(truth) == 4
    for (t, peak), tr in zip(_rel(pipe, pipe.reps), truth):
        assert abs(t - tr["start_s"]) < 0.3 and abs(peak - tr[PEAK]) < 1.5


@pytest.mark.parametrize("role", ["left_thigh", "sacrum"])
@pytest.mark.parametrize("held_s", [0.5, 2.0])
def test_held_up_first_notifications_give_the_reps_of_a_run_where_all_start_together(role, held_s):
    """The sensor's first notifications come ``held_s`` late, then in a burst (nothing lost):
    its clock must not put its samples late (they would be out of step with the others' until
    the next clock fit, then jump back), so every rep has the numbers of the run together."""
    res = hinge_sim()
    pipe = live_on(held_up(res.session, role, held_s), sim_profile(res))
    together = _together()
    assert len(pipe.reps) == len(together.reps) == 4
    for (t, peak), (t0, peak0) in zip(_rel(pipe, pipe.reps), _rel(together, together.reps)):
        assert abs(t - t0) < 0.02
        assert abs(peak - peak0) < 0.1


def test_a_sensor_connecting_10_s_late_costs_only_the_reps_before_it_connected():
    res = hinge_sim()
    pipe = live_on(missing(res.session, "left_thigh", -1.0, 10.0), sim_profile(res))
    together = _together()
    after = [(t, p) for t, p in _rel(together, together.reps) if t > 10.0]
    assert len(after) == 2 and len(pipe.reps) == len(after)
    for (t, peak), (t0, peak0) in zip(_rel(pipe, pipe.reps), after):
        # the same reps; the gyro bias learnt at quiet standing waits for every sensor, so the
        # numbers differ by that (a few tenths of a degree at most)
        assert abs(t - t0) < 0.02 and abs(peak - peak0) < 0.3


def test_a_held_up_sensor_clock_is_trusted_once_its_backlog_drained():
    """StreamingClock: notifications held up 0.5 s and then drained in a burst are not trusted
    (``settled``) until they arrive on time again; the settled model maps every sample of the
    burst to within a sample period of its true time."""
    from imu.live.clock import StreamingClock

    rate, n = 104.0, 8                   # 8 samples a notification, 13 a second
    clock = StreamingClock()
    s = np.arange(0, 3.0, 1 / rate)      # sensor clock; true session time = s + 100 s
    held, settled_at = True, None
    t_arrival = 100.5
    for i0 in range(0, len(s), n):
        blk = s[i0:i0 + n]
        on_time = 100.0 + blk[-1] + 0.005
        if held and t_arrival + 0.01 >= on_time:
            held = False
        t_arrival = t_arrival + 0.01 if held else on_time
        clock.update(blk, np.full(len(blk), t_arrival))
        if held:
            assert not clock.settled
        elif clock.settled and settled_at is None:
            settled_at = t_arrival
    assert settled_at is not None and settled_at - 100.5 < 1.5
    mapped = clock.to_session(s, s)
    assert np.max(np.abs(mapped - (s + 100.0))) < 1 / rate


@pytest.mark.parametrize("role", ["left_thigh", "sacrum"])
def test_a_rep_during_which_a_sensor_was_missing_is_marked_incomplete_the_others_unchanged(role):
    """The sensor's link is down from 5 s to 8 s (its samples lost), inside the first rep
    (truth: 4.0-7.0 s): that rep says which sensor was missing and for how long; the other
    reps have no mark and the numbers of the run where nothing was missing."""
    res = hinge_sim()
    pipe = live_on(missing(res.session, role, 5.0, 8.0), sim_profile(res))
    together = _together()
    assert len(pipe.reps) == len(together.reps) == 4
    first, others = pipe.reps[0], pipe.reps[1:]
    assert 1.5 <= first["missing_sensors"][role] <= 3.1 and list(first["missing_sensors"]) == [role]
    assert first["incomplete"].startswith(role.replace("_", " ") + " sensor missing for")
    for rep, (t0, peak0) in zip(others, _rel(together, together.reps[1:])):
        assert "incomplete" not in rep
        assert abs(rep["start_s"] - pipe.t_first_s - t0) < 0.02
        assert abs(rep[PEAK] - peak0) < 0.15


@pytest.mark.parametrize("role", ["left_thigh", "sacrum"])
def test_imu_analyze_of_the_recording_marks_and_counts_the_rep_the_live_view_marked(role):
    """The same link outage (5-8 s, inside the first rep): ``imu analyze`` (the API, its text
    and its HTML report) marks the same rep incomplete with the same reason, and both count it
    in the set's summary; the other reps have no mark."""
    import imu
    from imu.analysis.language import quick_look_lines
    from imu.analysis.report import render_report

    res = hinge_sim()
    session = missing(res.session, role, 5.0, 8.0)
    live = live_on(session, sim_profile(res))
    batch = imu.analyze(session, calibration=sim_profile(res))
    reps = batch.result["sets"][0]["reps"]
    assert len(reps) == len(live.reps) == 4
    assert list(reps[0]["missing_sensors"]) == list(live.reps[0]["missing_sensors"]) == [role]
    assert abs(reps[0]["missing_sensors"][role] - live.reps[0]["missing_sensors"][role]) < 0.05
    assert reps[0]["incomplete"] == live.reps[0]["incomplete"]
    assert not any("incomplete" in r for r in reps[1:])
    assert batch.result["sets"][0]["summary"]["incomplete_reps"] == 1
    assert live.sets[0]["summary"]["incomplete_reps"] == 1
    text = "\n".join(quick_look_lines(batch.result))
    assert "1 rep incomplete" in text and f"Incomplete: {reps[0]['incomplete']}." in text
    html = render_report(batch.result, batch.angles)
    assert html.count(">incomplete</span>") == 1


@pytest.mark.parametrize("role", ["left_thigh", "sacrum"])
def test_set_means_leave_the_incomplete_rep_out_and_say_so_live_and_batch(role):
    """The rep during which a sensor was missing rests on part of the movement: the set's
    means are those of its complete reps, the counts still of all; live, batch, the text and
    the HTML report's trend agree. Before, the incomplete rep was averaged in."""
    import imu
    from imu.analysis.language import quick_look_lines

    res = hinge_sim()
    session = missing(res.session, role, 5.0, 8.0)
    live = live_on(session, sim_profile(res))
    batch = imu.analyze(session, calibration=sim_profile(res))
    s = batch.result["sets"][0]
    reps, summ = s["reps"], s["summary"]
    done = [r for r in reps if not r.get("incomplete")]
    assert len(done) == len(reps) - 1 == 3
    assert summ["reps"] == 4 and summ["incomplete_reps"] == summ["left_out_of_means"] == 1
    assert summ["mean_score"] == pytest.approx(np.mean([r["score"] for r in done]), abs=1e-3)
    assert summ["mean_score"] != pytest.approx(np.mean([r["score"] for r in reps]), abs=1e-3) \
        or summ["mean_hip_flexion_peak_deg"] != pytest.approx(
            np.mean([r["hip_flexion_peak_deg"] for r in reps]), abs=1e-3)
    assert summ["mean_hip_flexion_peak_deg"] == pytest.approx(
        np.mean([r["hip_flexion_peak_deg"] for r in done]), abs=1e-3)
    assert summ["reps_with_faults"] == sum(1 for r in reps if r["faults"])  # counts: all
    lsum = live.sets[0]["summary"]
    assert lsum["left_out_of_means"] == 1
    assert lsum["mean_score"] == pytest.approx(summ["mean_score"], abs=0.5)
    text = "\n".join(quick_look_lines(batch.result))
    assert f"mean score {summ['mean_score']:.0f}/100" in text
    assert "1 rep incomplete (a sensor was missing): left out of the means." in text


def test_missing_spans_of_a_table_are_the_live_rule():
    """Rows follow the sacrum: a stretch without pelvis angles is the sacrum missing (from the
    last row with them to the next), a thigh only where the pelvis rows go on without it;
    stretches shorter than 0.25 s do not count."""
    from imu.analysis.missing import missing_in, missing_spans

    t = np.arange(0, 10, 0.01)
    tilt, hip, incl = np.zeros_like(t), np.zeros_like(t), np.zeros_like(t)
    tilt[(t >= 2) & (t < 3)] = np.nan                  # sacrum gone 2-3 s: every angle NaN
    hip[(t >= 2) & (t < 3)] = incl[(t >= 2) & (t < 3)] = np.nan
    hip[(t >= 5) & (t < 5.5)] = incl[(t >= 5) & (t < 5.5)] = np.nan   # left thigh 5-5.5 s
    hip[(t >= 7) & (t < 7.2)] = incl[(t >= 7) & (t < 7.2)] = np.nan   # too short
    spans = missing_spans(t, {"pelvis_tilt": tilt, "left_hip_flexion": hip,
                              "left_thigh_inclination": incl})
    assert [(r, round(a, 2), round(b, 2)) for r, a, b in spans] == [
        ("left_thigh", 5.0, 5.5), ("sacrum", 1.99, 3.0)]
    assert missing_in(spans, 0.0, 10.0) == {"left_thigh": 0.5, "sacrum": 1.01}
    assert missing_in(spans, 5.4, 8.0) == {}


def test_every_rep_is_complete_when_no_sensor_is_missing():
    assert not any("incomplete" in r for r in _together().reps)


def test_the_rep_list_marks_an_incomplete_rep_and_says_why():
    from imu.gui.views.exercises import VIEWS

    num = VIEWS["hinge"].columns[0]
    rep = {"set_index": 1, "index": 2, "incomplete": "left thigh sensor missing for 2.2 s of it"}
    assert num.text(rep) == "1·2 incomplete"
    assert num.tooltip(rep) == "incomplete: left thigh sensor missing for 2.2 s of it"
    assert num.text({"set_index": 1, "index": 3}) == "1·3" and num.tooltip({"index": 3}) == ""


def _calibrating(session):
    import math

    from imu.calibration import calibrate_session
    from imu.live.pipeline import LivePipeline
    from imu.sources.replay import ReplaySource

    pipe = LivePipeline(ReplaySource(session, speed=math.inf), calibrator=calibrate_session)
    pipe.run_blocking()
    return pipe


def test_a_sensor_connecting_2_s_into_the_calibration_protocol_still_calibrates_and_scores():
    """The calibration protocol begins with 5 s of standing: a sensor missing its first 2 s
    leaves enough; the calibration completes and every rep and hold of the truth is found."""
    from live_helpers import live_run, sim, truth_reps

    together, _ = live_run()
    pipe = _calibrating(missing(sim().session, "left_thigh", -1.0, 2.0))
    reps, holds = truth_reps()
    assert pipe.calibration.state == "ok"
    assert len(pipe.reps) == len(reps) == len(together.reps)
    assert len(pipe.holds) == len(holds) == len(together.holds)
    for a, b in zip(pipe.reps, together.reps):
        assert abs(a[PEAK] - b[PEAK]) < 0.3
    for a, b in zip(pipe.holds, together.holds):
        assert abs(a["pelvic_drop_mean_deg"] - b["pelvic_drop_mean_deg"]) < 0.3


def test_a_calibration_refused_because_a_sensor_missed_the_protocol_says_so():
    from live_helpers import sim

    pipe = _calibrating(missing(sim().session, "left_thigh", -1.0, 10.0))
    assert pipe.calibration.state == "refused"
    assert pipe.calibration.message.endswith(
        "(the left thigh sensor sent nothing for 10 s of the protocol)")


def test_a_held_up_sensor_loses_nothing_from_the_recording(tmp_path):
    """Its blocks wait for its clock only on the way to the angles: the recording gets every
    sample as it arrives, exactly."""
    import math

    from imu.live.pipeline import LivePipeline
    from imu.session.store import RecordingWriter, read_recording
    from imu.sources.replay import ReplaySource

    res = hinge_sim()
    session = held_up(res.session, "left_thigh", 2.0)
    writer = RecordingWriter(tmp_path / "late.imu")
    pipe = LivePipeline(ReplaySource(session, speed=math.inf), writer=writer,
                        profile=sim_profile(res))
    pipe.run_blocking()
    writer.close()
    rec = read_recording(tmp_path / "late.imu")
    for role, d in session.sensors.items():
        got = rec.sensors[role]
        assert np.array_equal(got.seq, d.seq) and np.array_equal(got.t_sensor_s, d.t_sensor_s)
        assert np.array_equal(got.t_host_s, d.t_host_s) and np.array_equal(got.acc, d.acc)


def test_a_hold_during_which_the_sacrum_was_missing_is_marked_incomplete_the_others_unchanged():
    """Single-leg holds (truth: the simulator's): the sacrum's link is down 2.5 s inside the
    second hold. That hold is marked; the other holds keep the numbers of the run together."""
    from live_helpers import live_run, sim, truth_reps

    together, _ = live_run()
    hold = truth_reps()[1][1]
    t0 = hold["start_s"] + 2.0
    pipe = _calibrating(missing(sim().session, "sacrum", t0, t0 + 2.5))
    assert len(pipe.holds) == len(together.holds) == 4
    assert 2.0 <= pipe.holds[1]["missing_sensors"]["sacrum"] <= 2.6
    for k in (0, 2, 3):
        assert "incomplete" not in pipe.holds[k]
        assert abs(pipe.holds[k]["pelvic_drop_mean_deg"]
                   - together.holds[k]["pelvic_drop_mean_deg"]) < 0.02


def test_a_clock_refit_that_moves_a_sensor_back_never_steps_its_samples_back():
    """A refit finding the sensor's offset 15 ms earlier (at 200 Hz, three sample periods):
    the fused times keep increasing (a fusion filter restarts on a step back) and reach the new
    model's within a few samples."""
    from imu.live.clock import increasing

    s = np.arange(20) / 200.0
    before = increasing(s[:10], s[:10] + 100.015, None)
    after = increasing(s[10:], s[10:] + 100.0, (s[9], before[-1]))
    t = np.concatenate([before, after])
    assert np.all(np.diff(t) >= 0.5 / 200.0 - 1e-12)
    assert np.allclose(after[6:], s[16:] + 100.0) and np.allclose(before, s[:10] + 100.015)


def test_auto_calibration_waiting_because_a_sensor_began_late_says_so():
    """``imu demo --calibrate``'s way (the protocol found automatically, no events): the left
    thigh began 10 s into the protocol, so no try can succeed; the calibration state says why."""
    import math

    from live_helpers import sim

    from imu.calibration import calibrate_session
    from imu.live.pipeline import LivePipeline
    from imu.sources.replay import ReplaySource

    s = missing(sim().session, "left_thigh", -1.0, 10.0)
    s.events = [e for e in s.events if not e.kind.startswith("calibration")]
    pipe = LivePipeline(ReplaySource(s, speed=math.inf), calibrator=calibrate_session,
                        auto_calibrate=True)
    pipe.run_blocking()
    assert pipe.calibration.state == "none" and not pipe.reps
    assert pipe.calibration.message.startswith(
        "no calibration yet: the left thigh sensor began 10 s after the first")


def test_the_first_rows_before_a_late_sensor_starts_carry_the_held_heading_as_in_the_batch():
    """The left thigh starts ~0.1 s after the others: the rows before its first sample are
    handed out (as the batch has them) with the pelvis and right thigh facing forward, not
    with the fusion's arbitrary world heading (pelvis rotation was ~135°, right hip rotation
    ~-31° there), and every angle of them is the batch's (``imu analyze --causal``)."""
    from imu.chain import Chain

    res = hinge_sim()
    session = missing(res.session, "left_thigh", -1.0, 0.05)
    pipe = live_on(session, sim_profile(res))
    t, cols = pipe.history()
    early = np.isnan(cols["left_hip_rotation"]) & (t < t[0] + 0.5)
    assert early.sum() >= 3 and early[0]
    batch = Chain(sim_profile(res), causal=True).run(session).angles_
    for c in ("pelvis_rotation", "right_hip_rotation", "right_hip_flexion",
              "right_hip_adduction", "pelvis_tilt"):
        live_v = cols[c][early]
        batch_v = np.interp(t[early], batch.time_s, batch[c])
        assert np.all(np.abs(live_v) < 3.0), (c, live_v)
        assert np.all(np.abs(live_v - batch_v) < 0.5), (c, live_v, batch_v)


def _arrivals(rate=200.0, n=4, seconds=6.0, slow_first_s=0.6, slow_extra_s=0.012, seed=1):
    """(sensor times, host arrival times) of notifications of ``n`` samples: latency 1-4 ms,
    plus ``slow_extra_s`` over the first ``slow_first_s`` (a link still settling)."""
    rng = np.random.default_rng(seed)
    s = np.arange(0, seconds, 1 / rate)          # true session time = s + 100 s
    out = []
    for i0 in range(0, len(s) - n + 1, n):
        blk = s[i0:i0 + n]
        lat = 0.001 + 0.003 * rng.random() + (slow_extra_s if blk[-1] < slow_first_s else 0.0)
        out.append((blk, np.full(n, 100.0 + blk[-1] + lat)))
    return out


def test_a_clock_model_fitted_on_a_slow_start_is_replaced_within_seconds():
    """The first fits follow arrivals that were 12 ms slower than later ones: while the
    history is short the model is refitted every quarter of its span, so 2 s in it is within
    a millisecond of the truth (at a fixed 5 s refit it stayed ~12 ms late until then)."""
    from imu.live.clock import StreamingClock

    clock = StreamingClock()
    for blk, h in _arrivals():
        t = clock.update(blk, h)
        if blk[-1] >= 2.0:
            assert np.all(np.abs(t - (blk + 100.0)) < 0.0045), blk[-1]    # latency 1-4 ms
    assert abs(clock.model.to_session(np.array([5.0]))[0] - 105.0) < 0.0045


def test_a_deferred_refit_is_the_one_made_at_once_a_block_later():
    """defer_refits (the live path): a refit that comes due is made by catch_up, fitted to the
    same arrivals; only the block it came due at keeps the previous model."""
    from imu.live.clock import StreamingClock

    now, later = StreamingClock(), StreamingClock()
    later.defer_refits = True
    deferred = 0
    for blk, h in _arrivals(seconds=12.0):
        a = now.update(blk, h)
        b = later.update(blk, h)
        due = later._refit_due
        if not due:
            assert np.array_equal(a, b)
        deferred += later.catch_up()
        if due:
            assert now.model == later.model
    assert deferred >= 5
