"""The live path works on the rows available in blocks (a batch of angle rows at a time), not
row by row: the numbers are the same, to the bit, as when each row goes through alone."""

from __future__ import annotations

import functools

import numpy as np

from live_helpers import hinge_sim, missing, sim_profile, stream_angles


def _one_by_one(update_many):
    """HeadingHoldStream.update_many fed one row at a time."""
    def rowwise(self, t_s, R_WB, gyr_norm):
        n = len(t_s)
        offs = {r: np.empty(n) for r in self.roles}
        conf = {r: np.empty(n) for r in self.roles}
        for k in range(n):
            o, c = update_many(self, t_s[k:k + 1], {r: R_WB[r][k:k + 1] for r in self.roles},
                               {r: gyr_norm[r][k:k + 1] for r in self.roles})
            for r in self.roles:
                offs[r][k], conf[r][k] = o[r][0], c[r][0]
        return offs, conf
    return rowwise


@functools.lru_cache(maxsize=None)
def _session():
    """A hinge set (quiet standing between reps: the hold anchors and slews) with the left thigh's
    sensor missing for 3 s (rows with a gap between runs of full rows)."""
    res = hinge_sim()
    return missing(res.session, "left_thigh", 6.0, 9.0), sim_profile(res).alignment()


def _stream(monkeypatch=None):
    session, alignment = _session()
    anchors = []
    from imu.kinematics import heading
    orig = heading.HeadingHoldStream._anchor

    def anchor(self, t_s):
        anchors.append(t_s)
        return orig(self, t_s)

    if monkeypatch is not None:
        monkeypatch.setattr(heading.HeadingHoldStream, "update_many",
                            _one_by_one(heading.HeadingHoldStream.update_many))
    try:
        heading.HeadingHoldStream._anchor = anchor
        t, col = stream_angles(session, alignment, chunk=5)
    finally:
        heading.HeadingHoldStream._anchor = orig
    return t, col, anchors


def test_heading_hold_over_a_block_of_rows_equals_it_one_row_at_a_time(monkeypatch):
    t, col, anchors = _stream()
    t_ref, col_ref, anchors_ref = _stream(monkeypatch)
    assert anchors and anchors == anchors_ref          # it anchored (and slewed) on the way
    assert np.array_equal(t, t_ref)
    from imu.kinematics.frames import angle_columns
    for c in angle_columns(["right", "left"], False):
        assert np.array_equal(col(c), col_ref(c), equal_nan=True), c
    gap = np.isnan(col("left_hip_flexion"))
    assert 250 < gap.sum() < 400 and np.isnan(col("right_hip_flexion")).sum() < 30


def test_analysis_of_a_batch_of_rows_equals_it_one_row_at_a_time():
    """The analysis stage fed blocks of rows (as the angle stage hands them out, of every size)
    gives the same reps, holds, sets and drop trace as one row at a time, and after each block
    shows the same state of the set under way."""
    from live_helpers import live_run, sim
    from imu.live.analysis import LiveAnalysis
    from imu.types import AngleTable

    pipe, _ = live_run()
    t, cols = pipe.history()
    cols = {c: v for c, v in cols.items() if c != "pelvic_drop_deg"}
    blocks, rows = LiveAnalysis(list(cols)), LiveAnalysis(list(cols))
    for stage in (blocks, rows):
        for ev in sim().session.events:
            stage.event(ev)
    drops = {id(blocks): [], id(rows): []}
    sizes = [1, 2, 3, 7, 40, 5, 13]
    i0, j, states = 0, 0, 0
    while i0 < len(t):
        i1 = min(len(t), i0 + sizes[j % len(sizes)])
        j += 1
        drops[id(blocks)].append(blocks.rows(AngleTable(t[i0:i1], {c: v[i0:i1] for c, v in
                                                                   cols.items()})))
        for k in range(i0, i1):
            drops[id(rows)].append(rows.rows(AngleTable(t[k:k + 1], {c: v[k:k + 1] for c, v in
                                                                    cols.items()})))
        assert repr(blocks.live_state) == repr(rows.live_state)
        states += bool(blocks.live_state.get("exercise"))
        i0 = i1
    for stage in (blocks, rows):
        stage.finish()
    assert states > 100          # a set was under way for many of the blocks
    a, b = np.concatenate(drops[id(blocks)]), np.concatenate(drops[id(rows)])
    assert np.array_equal(a, b, equal_nan=True) and np.isfinite(a).sum() > 500
    for kind in ("reps", "holds", "sets"):
        assert repr(getattr(blocks, kind)) == repr(getattr(rows, kind))
    assert len(blocks.reps) >= 2 and len(blocks.holds) >= 2


def test_a_backlog_holds_the_rows_back_for_at_most_max_defer_s(monkeypatch):
    """While blocks keep waiting (a busy machine), the rows of the blocks fed meanwhile wait for
    the backlog's end, but never longer than MAX_DEFER_S: then a block hands them out, and
    the next waiting block starts a new wait."""
    import imu.live.pipeline as lp

    clock = [100.0]
    monkeypatch.setattr(lp.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(lp, "MAX_DEFER_S", 0.5)     # (steps of 1/8 s add up exactly)
    pipe = lp.LivePipeline.__new__(lp.LivePipeline)
    pipe._deferred_since = None
    step = 0.125
    got = []
    for backlog in [True] * 11 + [False, True, True]:
        got.append(pipe._defer(backlog))
        clock[0] += step
    # waits for 4 blocks (0 .. 3/4 of the limit), the 5th (at the limit) hands the rows out
    assert got == [True] * 4 + [False] + [True] * 4 + [False] + [True] + [False] + [True] * 2


def test_several_sensors_segment_quaternions_at_once_equal_one_sensor_at_a_time():
    """segment_quats (the live row batch's one pass over every sensor) gives the bytes of
    segment_quat per sensor, gap rows (NaN) included."""
    from imu import quat as Q
    from imu.kinematics.alignment import segment_quat, segment_quats

    rng = np.random.default_rng(5)
    qs = [Q.normalize(rng.normal(size=(n, 4))) for n in (3, 1, 7)]
    qs[2][4] = np.nan
    Rs = [Q.to_matrix(Q.normalize(rng.normal(size=4))) for _ in qs]
    got = segment_quats(qs, Rs)
    want = np.concatenate([segment_quat(q, R) for q, R in zip(qs, Rs)])
    assert got.shape == (11, 4) and got.tobytes() == want.tobytes()
    assert np.isnan(got[8]).all() and np.isfinite(np.delete(got, 8, axis=0)).all()
