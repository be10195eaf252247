"""Lining the sensors' notifications up: the planner's choice of closing samples."""

import math

import numpy as np
import pytest

from imu.live.phase import MARGIN_S, NotificationPhase

PERIOD_S = 0.005  # 200 Hz


def _observe(plan, role, seq0, t0_s, n=4):
    seq = np.arange(seq0, seq0 + n)
    plan.observe(role, seq, t0_s + (seq - seq0) * PERIOD_S)


@pytest.mark.parametrize("offset_s", [0.0, 0.0002, 0.0004, 0.0007, 0.0017, 0.0049, -0.0003,
                                      -0.0021])
def test_each_thigh_closes_on_its_first_sample_past_the_sacrums_closing_one(offset_s):
    p = NotificationPhase()
    _observe(p, "sacrum", 100, 1.000)                        # newest sacrum sample 103 at 1.015
    _observe(p, "right_thigh", 5000, 0.9 + offset_s)         # a lattice offset by offset_s
    _observe(p, "left_thigh", 70, 1.000 + offset_s - 0.010)  # its newest two samples earlier
    plan = p.plan(["sacrum", "right_thigh", "left_thigh"], 1.0)
    assert plan["sacrum"] == 103
    s_close = 1.015
    for role, (seq0, t0) in {"right_thigh": (5000, 0.9 + offset_s),
                             "left_thigh": (70, 0.990 + offset_s)}.items():
        t_close = t0 + (plan[role] - seq0) * PERIOD_S
        # past every row of the sacrum's notification (by the margin), and not a whole sample
        # later than needed
        assert s_close + MARGIN_S - 1e-9 <= t_close < s_close + MARGIN_S + PERIOD_S


@pytest.mark.parametrize("offset_s", [0.0, 0.0009, -0.0014, -0.0016, 0.0031])
def test_with_a_tolerance_a_coinciding_thigh_closes_on_the_same_sample(offset_s):
    """The live stage completes a row once the others' newest sample is within tol_s before it:
    a thigh sampling within tol_s - margin of the sacrum's closing sample closes on it (not on
    the one after, a sample interval later); further off, on its first one past that."""
    tol = 0.0025
    p = NotificationPhase(tol_s=tol)
    _observe(p, "sacrum", 100, 1.000)                        # closing sample 103 at 1.015
    _observe(p, "right_thigh", 300, 1.000 + offset_s)
    plan = p.plan(["sacrum", "right_thigh"], 1.0)
    t_close = 1.0 + offset_s + (plan["right_thigh"] - 300) * PERIOD_S
    assert 1.015 - tol + MARGIN_S - 1e-9 <= t_close < 1.015 - tol + MARGIN_S + PERIOD_S
    if abs(offset_s) < tol - MARGIN_S:
        assert plan["right_thigh"] == 303


def test_a_missed_cycle_gets_a_new_plan_at_once():
    p = NotificationPhase(resync_s=1.0)
    roles = ["sacrum", "right_thigh"]
    _observe(p, "sacrum", 0, 0.0)
    _observe(p, "right_thigh", 0, 0.001)
    assert p.plan(roles, 0.2) == {"sacrum": 3, "right_thigh": 3}
    # a refit put the thigh's samples 2 ms earlier: its notifications now leave rows waiting
    _observe(p, "sacrum", 40, 0.2)
    _observe(p, "right_thigh", 40, 0.199)
    assert p.plan(roles, 0.3) is None                       # not due for another 0.9 s
    p.missed()
    assert p.plan(roles, 0.3) == {"sacrum": 43, "right_thigh": 44}
    assert p.misses == 1


def test_a_plan_waits_for_every_role_and_is_sent_again_only_when_a_pick_changed():
    p = NotificationPhase(resync_s=1.0)
    roles = ["sacrum", "right_thigh"]
    _observe(p, "sacrum", 0, 0.0)
    assert p.plan(roles, 0.1) is None                       # the thigh has not been seen
    _observe(p, "right_thigh", 0, 0.001)
    assert p.plan(roles, 0.2) == {"sacrum": 3, "right_thigh": 3}
    assert p.plan(roles, 1.1) is None                       # not due yet
    # a whole number of notifications (4 samples) later: the same picks, nothing to send
    _observe(p, "sacrum", 1000, 5.0)
    _observe(p, "right_thigh", 1000, 5.001)
    assert p.plan(roles, 5.2) is None
    # the thigh's clock model moved it 2 ms earlier: its pick moves by a sample
    _observe(p, "right_thigh", 2000, 9.999)
    _observe(p, "sacrum", 2000, 10.0)
    assert p.plan(roles, 10.2) == {"sacrum": 2003, "right_thigh": 2004}
    assert p.plans == 2


def test_sequence_numbers_are_sent_wrapped():
    p = NotificationPhase()
    _observe(p, "sacrum", 2**32 - 2, 10.0)
    _observe(p, "right_thigh", 2**33 + 7, 10.0 + 0.003)
    plan = p.plan(["sacrum", "right_thigh"], 10.0)
    assert plan == {"sacrum": 1, "right_thigh": 10}
    assert all(0 <= v < 2**32 for v in plan.values())
    assert math.isfinite(p._last["sacrum"][2])


def _phased_run(order, in_phase=True):
    """A hinge set (104 Hz: 2 samples a notification) fed to the live angle stage: by age
    for 3 s, then on the stage's own plan, each cycle's notifications in ``order``. Returns
    (at which role's push each batch of rows went out, per cycle after the plan; the rows)."""
    from live_helpers import hinge_sim, sim_profile

    from imu.live.angles import LiveAngleStage
    from imu.types import SampleBlock

    res = hinge_sim()
    data = {r: res.session.sensors[r] for r in ("sacrum", "right_thigh", "left_thigh")}
    stage = LiveAngleStage(sim_profile(res).alignment(), {r: d.info.rate_hz
                                                         for r, d in data.items()})

    def block(r, i0, i1):
        d = data[r]
        return SampleBlock(d.info.sensor_id, d.seq[i0:i1], d.t_sensor_s[i0:i1],
                           d.t_host_s[i0:i1], d.acc[i0:i1], d.gyr[i0:i1])

    rows = []
    n_age = int(3.0 * 104)
    for i in range(0, n_age, 2):
        for r in data:
            out = stage.push(r, block(r, i, i + 2))
            if out is not None and len(out.time_s):
                rows.append(out)
    plan = stage.phase.plan(list(data), np.inf)
    stage.in_phase = in_phase
    # cycle k: each sensor's notification ends on its pick + k cycles (the picks pair the
    # sensors' samples by session time: here a thigh's sample numbers run ~16 ms behind the
    # sacrum's, as it started later)
    seqs = {r: np.asarray(d.seq, dtype=np.int64) for r, d in data.items()}
    k0 = max(math.ceil((int(seqs[r][n_age]) - plan[r]) / 2) for r in data)
    pos = {r: n_age for r in data}
    who = []
    for k in range(k0, k0 + 200):
        ends = {r: int(np.searchsorted(seqs[r], plan[r] + 2 * k)) + 1 for r in data}
        if any(ends[r] > len(seqs[r]) - 1 for r in data):
            break
        got = []
        for r in order:
            if ends[r] <= pos[r]:      # the cycle fell in a gap (samples the sensor lost)
                continue
            out = stage.push(r, block(r, pos[r], ends[r]))
            pos[r] = ends[r]
            if out is not None and len(out.time_s):
                rows.append(out)
                got.append(r)
        who.append(tuple(got))
    return who, rows


@pytest.mark.parametrize("order", [("sacrum", "right_thigh", "left_thigh"),
                                   ("right_thigh", "left_thigh", "sacrum"),
                                   ("right_thigh", "sacrum", "left_thigh")])
def test_on_a_phase_a_cycles_rows_go_out_at_once(order):
    who, rows = _phased_run(order)
    assert len(who) > 100
    # one batch of rows a cycle (not one per notification that completes some)
    assert sum(len(w) == 1 for w in who) >= 0.95 * len(who)
    assert sum(w == (order[-1],) for w in who[:50]) >= 45     # with its last notification
    # the same rows, to the bit, as handed out the usual way
    _, plain = _phased_run(order, in_phase=False)
    t = np.concatenate([r.time_s for r in rows])
    t0 = np.concatenate([r.time_s for r in plain])
    assert np.array_equal(t, t0)
    for c in rows[0].columns:
        assert np.array_equal(np.concatenate([r[c] for r in rows]),
                              np.concatenate([r[c] for r in plain]), equal_nan=True), c


def test_on_a_phase_a_thigh_notification_before_the_sacrums_hands_nothing_out():
    """Once a cycle's rows are out, the next cycle's thigh notification (before the sacrum's)
    completes no new row: no batch (an empty one would also restart the wait for every
    sensor); the sacrum's then completes the cycle's rows."""
    from live_helpers import hinge_sim, sim_profile

    from imu.live.angles import LiveAngleStage
    from imu.types import SampleBlock

    res = hinge_sim()
    data = {r: res.session.sensors[r] for r in ("sacrum", "right_thigh")}
    # the same sample times for both (a thigh sampling with the sacrum)
    t = data["sacrum"].t_sensor_s
    stage = LiveAngleStage(sim_profile(res).alignment(), {r: d.info.rate_hz
                                                         for r, d in data.items()})

    def block(r, i0, i1):
        d = data[r]
        return SampleBlock(d.info.sensor_id, d.seq[i0:i1], t[i0:i1],
                           data["sacrum"].t_host_s[i0:i1], d.acc[i0:i1], d.gyr[i0:i1])

    for i in range(0, 300, 2):
        stage.push("sacrum", block("sacrum", i, i + 2))
        stage.push("right_thigh", block("right_thigh", i, i + 2))
    stage.in_phase = True
    got = []
    for i in range(300, 400, 2):
        got.append(stage.push("right_thigh", block("right_thigh", i, i + 2)))
        out = stage.push("sacrum", block("sacrum", i, i + 2))
        assert out is not None and len(out.time_s) == 2     # the sacrum's two rows, at once
    assert all(g is None for g in got)
