"""Per-exercise views, colours, plain words, stick figure and sound cue (offscreen Qt)."""

import functools
import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest


pytest.importorskip("PySide6.QtWidgets")


@pytest.fixture
def app(qtbot):
    """The process's QApplication (pytest-qt's ``qtbot`` drives the widgets)."""
    from imu.gui.app import ensure_app
    return ensure_app(offscreen=True)


@functools.lru_cache(maxsize=None)
def player():
    """Calibration, hinge, single-leg (both legs) and hip airplane sets, 3 reps/holds each (one squat-pattern hinge rep)."""
    from imu.live.player import build_player
    from imu.sim import simulate
    s = simulate(["calibration", "hinge", "single_leg_stance", "hip_airplane"], reps=3, seed=11,
                 rate_hz=104)
    return build_player(s.session, None, window_s=20.0, progress=False)


class Fixed:
    """A model that always returns the same snapshot."""

    def __init__(self, snap):
        self.snap = snap
        self.started = []

    def snapshot(self):
        return self.snap

    def start_set(self, exercise, side):
        self.started.append((exercise, side))

    def end_set(self):
        pass


def _window(app, model, mode, **kw):
    from imu.gui.dashboard import Dashboard
    win = Dashboard(model, mode=mode, refresh_hz=0, **kw)
    win.resize(1280, 800)
    win.show()
    for _ in range(2):
        win.refresh()
        app.processEvents()
    return win


def _cells(table, row):
    return [table.item(row, k).text() for k in range(table.columnCount())]


def test_each_exercise_lists_its_items_with_its_own_columns(app):
    from imu.gui.app import dispose
    from imu.gui.views.exercises import VIEWS
    p = player()
    p.pause()
    p.seek(p.duration_s)
    win = _window(app, p, "replay")
    tabs = win.replist.tables
    assert set(tabs) == {"hinge", "single_leg_stance", "hip_airplane"}
    headers = {ex: [t.horizontalHeaderItem(k).text() for k in range(t.columnCount())]
               for ex, t in tabs.items()}
    assert headers["hinge"] == ["#", "hip", "tilt", "thigh", "share", "score", "faults"]
    assert headers["single_leg_stance"] == ["#", "stance", "mean", "max", "end", "in band", "grade"]
    assert headers["hip_airplane"] == ["#", "IR peak", "ER peak", "pelvis leak", "confidence"]
    assert [c.header for c in VIEWS["walking"].columns][2:] == ["hip range", "pelvic drop", "cadence"]
    planes = [r for r in p.reps if r["exercise"] == "hip_airplane"]
    assert tabs["hip_airplane"].rowCount() == len(planes) >= 1
    newest = _cells(tabs["hip_airplane"], 0)            # newest first
    r = planes[-1]
    assert newest[0] == f"{r['set_index']}·{r['index']}"
    assert newest[1] == f"{round(r['hip_internal_rotation_peak_deg']):.0f}°"
    assert newest[2] == f"{round(r['hip_external_rotation_peak_deg']):.0f}°"
    assert newest[3] == f"{r['obliquity_leak_deg']:.1f}°"
    assert "—" not in newest                            # no hinge columns of dashes
    holds = p.holds
    assert tabs["single_leg_stance"].rowCount() == len(holds) == 6
    h = holds[-1]
    assert _cells(tabs["single_leg_stance"], 0)[1:] == [
        h["side"], f"{h['pelvic_drop_mean_deg']:.1f}°", f"{h['pelvic_drop_max_deg']:.1f}°",
        f"{h['pelvic_drop_final_deg']:.1f}°", f"{h['time_in_band_pct']:.0f} %", h["grade"]]
    # the LAST REP header numbers the rep like the list does
    assert f"set {r['set_index']} #{r['index']}" in win.readouts.last.text()
    dispose(win)


def test_a_faulted_rep_is_coloured_by_its_worst_fault_not_its_score(app):
    from imu.gui import theme
    from imu.gui.app import dispose
    from imu.analysis.language import item_grade
    from imu.live.snapshot import Snapshot
    twist = {"exercise": "hinge", "set_index": 1, "index": 3, "start_s": 1.0, "end_s": 4.0,
             "score": 85, "faults": ["pelvic_twist"], "pelvis_rotation_range_deg": 14.0,
             "hip_flexion_peak_deg": 60.0}
    squat = {**twist, "index": 4, "start_s": 5.0, "end_s": 8.0, "score": 90,
             "faults": ["pelvic_twist", "squat_pattern"], "thigh_inclination_peak_deg": 31.0}
    clean = {**twist, "index": 2, "start_s": 0.0, "end_s": 0.5, "faults": [], "score": 95}
    assert (item_grade(clean), item_grade(twist), item_grade(squat)) == ("green", "amber", "red")
    snap = Snapshot(mode="replay", t_now_s=9.0, reps=[clean, twist])
    win = _window(app, Fixed(snap), "replay")
    t = win.replist.tables["hinge"]
    row = _cells(t, 0)
    assert row[-1] == "pelvis twisted" and row[0] == "1·3"        # plain words, set·rep
    assert t.item(0, 5).foreground().color().name() == theme.AMBER   # score cell: amber, not green
    assert t.item(1, 6).text() == "clean"
    assert t.item(1, 6).foreground().color().name() == theme.GREEN
    last = win.readouts.last.text()
    assert theme.AMBER in last and theme.GREEN not in last and "the pelvis twisted (14° of rotation)" in last
    snap.reps.append(squat)
    win.refresh()
    assert t.item(0, 6).text() == "pelvis twisted, turned into a squat"
    assert t.item(0, 6).foreground().color().name() == theme.RED
    dispose(win)


def test_report_names_faults_in_plain_words_coloured_by_grade():
    from imu.analysis.report import _faults_cell
    cell = _faults_cell({"faults": ["pelvic_twist", "squat_pattern"]})
    assert "pelvic_twist" not in cell and "squat_pattern" not in cell
    assert 'class="fault amber"' in cell and ">pelvis twisted<" in cell
    assert 'class="fault red"' in cell and ">turned into a squat<" in cell


def test_drop_grade_lines_only_during_single_leg_sets(app):
    from imu.gui.app import dispose
    p = player()
    p.pause()
    plane = next(r for r in p.reps if r["exercise"] == "hip_airplane")
    hold = p.holds[-1]
    p.seek(hold["end_s"] - 0.5)
    win = _window(app, p, "replay")
    assert all(ln.isVisible() for ln in win.traces._bands)
    p.seek(plane["end_s"])
    win.refresh()
    snap = win.last_snapshot
    assert snap.current_set["exercise"] == "hip_airplane"
    assert not any(ln.isVisible() for ln in win.traces._bands)
    # airplane: hip rotation traced, readout and caption follow the stance leg
    assert win.traces.curves[f"{plane['side']}_hip_rotation"].isVisible()
    assert win.readouts.numbers[0].caption.text() == f"{plane['side'].upper()} HIP ROTATION"
    assert f"standing on the {plane['side']} leg" in win.readouts.subtitle.text()
    dispose(win)


def test_set_controls_follow_a_set_started_by_the_source(app):
    from imu.gui.app import dispose
    from imu.live.snapshot import Snapshot
    snap = Snapshot(current_set={"exercise": "single_leg_stance", "side": "left", "start_s": 3.0})
    win = _window(app, Fixed(snap), "live")
    c = win.controls
    assert c.exercise.currentData() == "single_leg_stance" and c.side.currentData() == "left"
    assert c.side_label.text() == "Stance leg"
    assert "standing on the left leg" in win.readouts.subtitle.text()
    dispose(win)


def test_a_set_whose_movement_disagrees_with_its_label_is_flagged(app):
    from imu.gui import theme
    from imu.gui.app import dispose
    from imu.live.snapshot import Snapshot
    cs = {"exercise": "hinge", "side": None, "start_s": 3.0, "label_mismatch": True,
          "warning": "recorded as a hip hinge but the movement looks like a squat"}
    win = _window(app, Fixed(Snapshot(mode="replay", current_set=cs)), "replay")
    text = win.readouts.subtitle.text()
    assert "looks like a squat" in text and theme.AMBER in text
    cs2 = {"exercise": "squat", "side": None, "start_s": 3.0, "inferred": True, "confidence": 0.83}
    win.model = Fixed(Snapshot(mode="replay", current_set=cs2))
    win.refresh()
    assert "recognised from the movement (confidence 0.83)" in win.readouts.subtitle.text()
    dispose(win)


def test_replay_flags_a_hinge_set_recorded_as_single_leg_stance(app):
    from dataclasses import replace

    from imu.live.player import build_player
    from imu.gui import theme
    from imu.gui.app import dispose
    from imu.sim import simulate
    from imu.types import Session
    s = simulate(["calibration", "hinge"], reps=3, seed=11, rate_hz=52).session
    events = [replace(e, exercise="single_leg_stance", side="left")
              if e.kind == "set_start" and e.exercise == "hinge" else e for e in s.events]
    p = build_player(Session(dict(s.meta), s.sensors, events), None, progress=False)
    st = next(x for x in p.sets if x["exercise"] == "single_leg_stance")
    assert st.get("label_mismatch")
    p.pause()
    p.seek((st["start_s"] + st["end_s"]) / 2)
    win = _window(app, p, "replay")
    text = win.readouts.subtitle.text()
    assert "⚠" in text and "hip hinge" in text and theme.AMBER in text
    dispose(win)


def test_header_badges_replay_and_recalibration(app):
    from imu.gui.app import dispose
    from imu.live.snapshot import CalibrationState, Snapshot
    snap = Snapshot(angles={"pelvis_tilt": np.zeros(3)}, angles_t=np.arange(3.0),
                    calibration=CalibrationState(state="recording"), recording_path="x.imu")
    win = _window(app, Fixed(snap), "live")
    assert "calibrated" in win.calib_badge.text() and "new calibration" in win.calib_badge.text()
    assert win.recording.text() == "recording → x.imu"
    dispose(win)
    p = player()
    p.pause()
    p.seek(p.duration_s)
    win = _window(app, p, "replay")
    assert win.recording.text().startswith("replaying ")
    assert "start a set" not in win.readouts.subtitle.text()
    dispose(win)


def test_rotation_trace_breaks_at_a_heading_re_zero_instead_of_drawing_a_wall():
    from imu.gui.views.traces import line_breaks
    y = np.r_[np.linspace(0, 3, 50), np.linspace(-9, -8, 50), np.nan, 1.0]
    c = line_breaks(y)
    assert not c[49] and c[:49].all() and c[50:98].all()       # broken only at the jump
    assert not c[99] and not c[100]                             # and around the NaN


# ------------------------------------------------------------------------- stick figure -----

def test_stick_figure_poses_pelvis_and_thighs_from_the_angles(app):
    from imu.gui.views.figure import StickFigure
    f = StickFigure()
    f.set_angles({"pelvis_tilt": 30.0, "pelvis_obliquity": 6.0, "right_thigh_inclination": 20.0,
                  "right_hip_flexion": 50.0, "left_hip_flexion": 70.0, "left_hip_adduction": 6.0,
                  "right_hip_adduction": -6.0})
    pose = f.pose()
    c30, s30 = math.cos(math.radians(30)), math.sin(math.radians(30))
    assert pose["side_pelvis"] == pytest.approx((c30, -s30))      # anterior tilt: front down
    assert pose["side_trunk"] == pytest.approx((s30, c30))        # trunk leans forward
    s20 = math.sin(math.radians(20))
    assert pose["side_thigh_right"] == pytest.approx((s20, -math.cos(math.radians(20))))
    s40 = math.sin(math.radians(40))                              # no inclination: flexion − tilt
    assert pose["side_thigh_left"] == pytest.approx((s40, -math.cos(math.radians(40))))
    # front view: + obliquity = right side lower; the right hip is drawn on the left, so the
    # right→left vector rises; a stance femur adducted by the drop stays vertical
    assert pose["front_pelvis"][1] > 0
    assert pose["front_thigh_left"] == pytest.approx((0.0, -1.0))
    assert pose["front_thigh_right"] == pytest.approx((0.0, -1.0))


def test_stick_figure_follows_replay_at_a_hinge_peak(app):
    from imu.gui.app import dispose
    p = player()
    p.pause()
    rep = next(r for r in p.reps if r["exercise"] == "hinge")
    p.seek(rep["peak_s"])
    win = _window(app, p, "replay")
    tilt = win.last_snapshot.current["pelvis_tilt"]
    assert tilt > 20
    vx, vy = win.figure.pose()["side_trunk"]
    assert math.degrees(math.atan2(vx, vy)) == pytest.approx(tilt, abs=1e-6)
    img = win.figure.grab().toImage()
    colours = {img.pixelColor(x, y).name() for x in range(0, img.width(), 4)
               for y in range(0, img.height(), 4)}
    assert len(colours) > 5                                      # something is drawn
    dispose(win)


# ---------------------------------------------------------------------------- sound cue -----

class Counter:
    def __init__(self):
        self.kinds = []

    def play(self, kind):
        self.kinds.append(kind)


def test_sound_cue_fires_for_faulted_reps_and_drops_out_of_the_green_band(app):
    from imu.gui.app import dispose
    from imu.live.snapshot import drop_grade
    p = player()
    p.pause()
    p.seek(0.0)
    sink = Counter()
    win = _window(app, p, "replay", sound=True, sink=sink)
    step = 0.1
    times = np.arange(0.0, p.duration_s, step)
    for t in times:
        p.seek(float(t))
        win.refresh()
    # truth: one fault cue per faulted item, one drop cue per green→amber/red step in a hold set
    faulted = [it for it in p.reps + p.holds if it.get("faults")]
    drops = 0
    was_green = False
    for t in times:
        snap = p.snapshot_at(float(t))
        cs = snap.current_set
        d = snap.current.get("pelvic_drop_deg") if cs and cs["exercise"] == "single_leg_stance" else None
        g = drop_grade(d) if d is not None else "none"
        drops += g in ("amber", "red") and was_green
        was_green = g == "green"
    assert faulted and drops
    assert sink.kinds.count("fault") == len(faulted)
    assert sink.kinds.count("drop") == drops
    # off by default: nothing plays
    quiet = Counter()
    win2 = _window(app, p, "replay", sink=quiet)
    assert not win2.sound_box.isChecked()
    for t in times[::5]:
        p.seek(float(t))
        win2.refresh()
    assert quiet.kinds == []
    dispose(win)
    dispose(win2)


def test_tone_file_is_a_short_sine(tmp_path):
    import wave
    from imu.gui.sound import tone_wav
    path = tone_wav(tmp_path / "t.wav", 660.0, 0.2, rate_hz=8000)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, 8000, 1600)
        y = np.frombuffer(w.readframes(1600), "<i2").astype(float)
    spec = np.abs(np.fft.rfft(y))
    assert np.argmax(spec) * 8000 / 1600 == pytest.approx(660.0, abs=5.0)


# ------------------------------------------------------------------------- jump to rep -----

def test_replay_jumps_to_a_clicked_rep_and_seeks_with_keys_and_the_track(app, qtbot):
    from PySide6 import QtCore
    from imu.gui.app import dispose
    p = player()
    p.pause()
    p.seek(p.duration_s)
    win = _window(app, p, "replay")
    t = win.replist.tables["hinge"]
    hinge = [r for r in p.reps if r["exercise"] == "hinge"]
    rect = t.visualItemRect(t.item(len(hinge) - 1, 1))           # the oldest rep, bottom row
    qtbot.mouseClick(t.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=rect.center())
    assert p.position_s == pytest.approx(hinge[0]["end_s"] + 0.05)
    assert win.last_snapshot.reps[-1]["index"] == hinge[0]["index"]
    win.activateWindow()
    win.setFocus()
    at = p.position_s
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Right)
    assert p.position_s == pytest.approx(at + 5.0)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Left)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Left)
    assert p.position_s == pytest.approx(at - 5.0)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Home)
    assert p.position_s == 0.0
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)
    assert p.playing
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)
    assert not p.playing
    s = win.controls.slider
    x = s.width() * 3 // 4
    qtbot.mouseClick(s, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(x, s.height() // 2))
    assert p.position_s == pytest.approx(s.value_at(x) / 10.0)
    assert 0.6 * p.duration_s < p.position_s < 0.9 * p.duration_s
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Q, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=2000)
    dispose(win)


def test_walking_lists_strides_with_hip_range_pelvic_drop_and_cadence(app):
    from imu.live.player import build_player
    from imu.gui.app import dispose
    from imu.sim import simulate
    s = simulate(["calibration", "walking"], seed=4, rate_hz=52, duration_s=90)
    p = build_player(s.session, None, progress=False)
    assert len(p.strides) > 20
    p.pause()
    p.seek(p.duration_s)
    win = _window(app, p, "replay")
    t = win.replist.tables["walking"]
    assert [t.horizontalHeaderItem(k).text() for k in range(t.columnCount())] == \
        ["#", "side", "hip range", "pelvic drop", "cadence"]
    assert t.rowCount() == len(p.strides)
    st = p.strides[-1]
    assert _cells(t, 0) == [f"{st['set_index']}·{st['index']}", st["side"],
                            f"{round(st['hip_flexion_range_deg']):.0f}°",
                            f"{st['pelvic_drop_deg']:.1f}°",
                            f"{st['cadence_steps_per_min']:.0f}/min"]
    last = win.readouts.last.text()
    assert "LAST STRIDE" in last and f"Stride {st['index']} ({st['side']} leg)" in last
    dispose(win)


@functools.lru_cache(maxsize=None)
def drill_player():
    """Calibration, then a single-leg hinge and an internal-rotation hinge set (3 reps each)."""
    from imu.live.player import build_player
    from imu.sim import simulate
    s = simulate(["calibration", "single_leg_hinge", "ir_hinge"], reps=3, seed=4, rate_hz=104)
    return build_player(s.session, None, window_s=20.0, progress=False)


def test_both_drills_have_their_views_set_controls_and_stance_leg(app):
    from imu.gui.app import dispose
    p = drill_player()
    p.pause()
    p.seek(p.duration_s)
    win = _window(app, p, "replay")
    tabs = win.replist.tables
    assert {"single_leg_hinge", "ir_hinge"} <= set(tabs)
    heads = {ex: [tabs[ex].horizontalHeaderItem(k).text() for k in range(tabs[ex].columnCount())]
             for ex in ("single_leg_hinge", "ir_hinge")}
    assert heads["single_leg_hinge"] == ["#", "hip", "tilt", "opening", "drop", "score", "faults"]
    assert heads["ir_hinge"] == ["#", "hip", "IR peak", "obliquity", "score", "faults"]
    for ex in ("single_leg_hinge", "ir_hinge"):
        reps = [r for r in p.reps if r["exercise"] == ex]
        assert tabs[ex].rowCount() == len(reps) >= 2
        r = reps[-1]
        row = _cells(tabs[ex], 0)
        assert row[0] == f"{r['set_index']}·{r['index']}"
        assert row[1] == f"{round(r['hip_flexion_peak_deg']):.0f}°"
        assert row[-2] == f"{r['score']:.0f}"
        if ex == "ir_hinge":
            assert row[2] == f"{round(r['hip_internal_rotation_peak_deg']):.0f}°"
        else:
            assert row[3] == f"{round(r['pelvis_opening_peak_deg']):.0f}°"
    dispose(win)
    # mid-set: readouts, the hip-rotation trace, the stance leg in the subtitle and the figure
    ir = next(s for s in p.sets if s["exercise"] == "ir_hinge")
    rep = next(r for r in p.reps if r["exercise"] == "ir_hinge")
    p.seek(rep["peak_s"])
    win = _window(app, p, "replay")
    side = ir["side"]
    assert win.readouts.title.text() == "Internal-rotation hinge"
    assert win.readouts.numbers[0].caption.text() == f"{side.upper()} HIP ROTATION"
    assert f"standing on the {side} leg" in win.readouts.subtitle.text()
    assert win.traces.curves[f"{side}_hip_rotation"].isVisible()
    assert win.figure.stance == side
    dispose(win)
    # live set controls offer both drills with the stance-leg caption
    from imu.live.snapshot import Snapshot
    win = _window(app, Fixed(Snapshot()), "live")
    c = win.controls
    for ex in ("single_leg_hinge", "ir_hinge"):
        i = c.exercise.findData(ex)
        assert i >= 0
        c.exercise.setCurrentIndex(i)
        assert c.side_label.text() == "Stance leg"
    c.side.setCurrentIndex(c.side.findData("left"))
    c.toggle.click()
    assert win.model.started == [("ir_hinge", "left")]
    dispose(win)


def test_peak_decimation_keeps_every_bins_extremes_and_the_gaps():
    from imu.gui.views.traces import peak_decimate
    t = np.arange(4000) / 200.0                      # 20 s at 200 Hz
    y = np.sin(2 * np.pi * 0.5 * t) * 30.0
    y[1234] = 80.0                                   # a one-sample spike
    y[2000:2100] = np.nan                            # a gap of 0.5 s
    ys = np.vstack([y, -y])
    td, yd = peak_decimate(t + 100.0, ys, 20.0 / 550)
    assert yd.shape[1] < 1200 and yd.shape == td.shape == (2, yd.shape[1])
    for x, v, full in zip(td, yd, ys):
        assert np.all(np.diff(x) >= 0)               # in time order
        j = np.round((x - 100.0) * 200).astype(int)  # each kept point is a sample, at its time
        ok = np.isfinite(v)
        assert np.array_equal(v[ok], full[j[ok]])
    assert np.nanmax(yd[0]) == 80.0 and np.nanmin(yd[1]) == -80.0   # the spike survives
    assert np.nanmax(yd[0][td[0] < 106.0]) == pytest.approx(30.0, abs=0.01)   # no spike there
    gap = (td[0] > 100.0 + 2005 / 200) & (td[0] < 100.0 + 2095 / 200)
    assert gap.any() and np.isnan(yd[:, gap]).all()                   # the gap stays a gap
    # bins are aligned to absolute time: the same sample lands in the same bin next frame
    td2, _ = peak_decimate(t[5:] + 100.0, ys[:1, 5:], 20.0 / 550)
    assert np.isin(td2[0, 4:-4], td[0]).all()
    short_t, short_y = peak_decimate(t[:10], y[None, :10], 0.004)   # bins under 2 samples
    assert np.array_equal(short_t, t[:10])            # nothing to decimate


# ------------------------------------------------------------------------- trace panel -----

def _growing_snapshots(n_frames, rate_hz=200, fps=45.0, t_start=30.0):
    """Snapshots of a live trace window growing frame by frame (the same rows each time)."""
    from imu.live.snapshot import Snapshot
    cols = ["pelvis_tilt", "pelvis_obliquity", "pelvis_rotation", "right_hip_flexion",
            "left_hip_flexion", "lumbar_flexion"]
    for k in range(n_frames):
        t_now = t_start + k / fps
        i = np.arange(int((t_now - 20.0) * rate_hz), int(t_now * rate_hz))
        t = i / rate_hz
        ang = {c: 25 * np.sin(2 * np.pi * t / (3 + j)) + 4 * j + 0.5 * np.sin(40 * t)
               for j, c in enumerate(cols)}
        ang["pelvis_rotation"][(t > 35.0) & (t < 35.3)] = np.nan            # a gap
        reps = [{"start_s": 32.0, "end_s": 33.5, "score": 90, "faults": []}]
        if k >= 100:          # a rep ends: its shading comes into columns already drawn
            reps.append({"start_s": 30.8, "end_s": 31.9, "score": 40,
                         "faults": ["squat_pattern"]})
        yield Snapshot(mode="live", t_now_s=t_now, angles_t=t, angles=ang,
                       current_set={"exercise": "hinge", "side": None, "start_s": 31.0},
                       reps=reps)


def _pixels(widget):
    img = widget.grab().toImage().convertToFormat(
        __import__("PySide6.QtGui", fromlist=["QImage"]).QImage.Format.Format_RGB32)
    a = np.frombuffer(img.constBits(), dtype=np.uint32).reshape(img.height(), -1)
    return a[:, :img.width()].copy()


def test_trace_picture_kept_between_frames_matches_one_drawn_from_scratch(app):
    """Frame by frame the plots scroll a ring of pixel columns and draw only the new bins;
    the picture must be the one a full redraw gives (lines may differ by a pixel where two
    pieces join, never a pixel out of place)."""
    from imu.gui.views.traces import TracePanel
    panel = TracePanel()
    panel.resize(900, 520)
    panel.show()
    for snap in _growing_snapshots(160):          # ~3.5 s: the ring wraps part way
        panel.update_snapshot(snap)
        app.processEvents()
    a = _pixels(panel)
    for plot in panel.plots:
        plot.key = None                            # force a full redraw of the same moment
    panel.update_snapshot(snap)
    b = _pixels(panel)
    diff = np.argwhere(a != b)
    assert len(diff) < 0.002 * a.size
    for y, x in diff:                              # every differing pixel has its colour
        for img, other in ((a, b), (b, a)):        # within a pixel in the other picture
            win = other[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3]
            assert (win == img[y, x]).any(), (y, x)


def test_trace_shows_the_newest_sample_at_once(app):
    """The newest row is on screen in the frame that received it (drawn over the picture
    until its bin is finished)."""
    from imu.gui import theme
    from imu.gui.views.traces import TracePanel, _rgb
    panel = TracePanel()
    panel.resize(900, 520)
    panel.show()
    for snap in _growing_snapshots(30):
        panel.update_snapshot(snap)
        app.processEvents()
        img = _pixels(panel)
        plot = panel.hip
        r = plot.rect
        t0 = plot.viewRange()[0][0]
        x = r.left() + int((snap.angles_t[-1] - t0) * r.width() / panel.window_s)
        y = r.top() + int(round(panel._y_px(plot, snap.angles["right_hip_flexion"][-1])))
        colour = _rgb(theme.TRACE_COLOURS["right_hip_flexion"])
        assert (img[y - 2:y + 3, x - 2:x + 3] == colour).any()


def test_trace_y_range_fits_the_rows_in_the_window_shown(app):
    """Rows before the window shown (here two start-up rows at negative session time with a
    135-degree pelvis rotation) do not set the y range."""
    from imu.gui.views.traces import TracePanel
    from imu.live.snapshot import Snapshot
    panel = TracePanel()
    panel.resize(900, 520)
    panel.show()
    t = np.arange(-2, 600) / 200.0
    rot = np.where(t < 0, 135.0, 3.0 * np.sin(t))
    snap = Snapshot(mode="live", t_now_s=float(t[-1]), angles_t=t,
                    angles={"pelvis_tilt": np.sin(t), "pelvis_rotation": rot})
    panel.update_snapshot(snap)
    lo, hi = panel.pelvis.viewRange()[1]
    assert panel.pelvis.viewRange()[0][0] >= 0.0 > t[0]        # those rows are not shown
    assert -10.0 <= lo < -3.0 and 3.0 < hi <= 15.0               # and do not stretch the axis
