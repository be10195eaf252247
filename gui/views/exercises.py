"""One table of per-exercise views: what the dashboard shows for each exercise.

Each :class:`ExerciseView` says which list its items go to (reps, holds or strides), the list's
columns, the three big readouts, the side box's caption, whether its side is the stance leg
(the stick figure draws that leg bold), whether the pelvic-drop grade lines and the drop sound
cue apply, and which hip traces it draws. Adding an exercise to the dashboard is one entry in
:data:`VIEWS`; everything else (set controls, list tabs, readouts, traces, figure, sound cue)
reads this table.

The views only format numbers the analysis already produced; they compute nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from imu.analysis.language import EXERCISE_NAMES, FAULT_WORDS, fault_label, item_grade


def fmt_deg(v, digits: int = 1, signed: bool = False) -> str:
    """Degrees for a table cell or readout (``"—"`` when missing)."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—"
    v = round(v, digits) + 0.0
    return f"{v:+.{digits}f}°" if signed else f"{v:.{digits}f}°"


def _num(v, digits: int = 0, unit: str = "") -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "—"
    return "—" if not math.isfinite(v) else f"{v:.{digits}f}{unit}"


def faults_text(item: dict) -> str:
    """The item's faults as short plain words (``"clean"`` when none)."""
    faults = item.get("faults") or []
    return ", ".join(fault_label(f) for f in faults) or "clean"


def faults_tooltip(item: dict) -> str:
    faults = item.get("faults") or []
    return "; ".join(FAULT_WORDS.get(f, fault_label(f)) for f in faults) or "no fault"


@dataclass(frozen=True)
class Column:
    """One list column: header, cell text from an item, and whether the cell carries the
    item's colour (its grade or worst fault)."""

    header: str
    text: Callable[[dict], str]
    coloured: bool = False
    tooltip: Callable[[dict], str] | None = None
    wide: bool = False          # takes the remaining width, wraps


@dataclass(frozen=True)
class Readout:
    """A big number: caption and the angle column shown (``{side}``/``{lifted}`` filled in),
    graded against the pelvic-drop limits when ``drop_grade``."""

    caption: str
    column: str
    drop_grade: bool = False


@dataclass(frozen=True)
class ExerciseView:
    key: str
    title: str
    kind: str                                   # "reps", "holds" or "strides"
    columns: tuple[Column, ...]
    readouts: tuple[Readout, Readout, Readout]
    side_caption: str = "Side"                  # what ``side`` means for this exercise
    stance_side: bool = False                   # side = the stance leg
    drop_lines: bool = False                    # pelvic-drop grade lines on the pelvis plot
    cue_on_drop: bool = False                   # sound when the drop leaves the green band
    item_word: str = "rep"
    in_controls: bool = True                    # offered in the live set controls
    hip_traces: tuple[str, ...] = ("hip_flexion", "thigh_inclination")   # lower plot, per side


def item_number(item: dict) -> str:
    """``set·index`` as the list and LAST REP both show it."""
    s, i = item.get("set_index"), item.get("index")
    if s is None:
        return str(i if i is not None else "?")
    return f"{s}·{i if i is not None else '?'}"


def numbered(item: dict) -> str:
    """The list's ``#`` cell: :func:`item_number`, and ``incomplete`` for a rep or hold during
    which a sensor was missing (:mod:`imu.live.analysis`; the tooltip says which)."""
    return item_number(item) + (" incomplete" if item.get("incomplete") else "")


def numbered_tooltip(item: dict) -> str:
    return f"incomplete: {item['incomplete']}" if item.get("incomplete") else ""


_NUM = Column("#", numbered, tooltip=numbered_tooltip)
_SCORE = Column("score", lambda r: _num(r.get("score")), coloured=True)
_FAULTS = Column("faults", faults_text, coloured=True, tooltip=faults_tooltip, wide=True)

VIEWS: dict[str, ExerciseView] = {}


def _add(v: ExerciseView) -> None:
    VIEWS[v.key] = v


_add(ExerciseView(
    "hinge", EXERCISE_NAMES["hinge"], "reps",
    (_NUM, Column("hip", lambda r: fmt_deg(r.get("hip_flexion_peak_deg"), 0)),
     Column("tilt", lambda r: fmt_deg(r.get("pelvis_tilt_peak_deg"), 0)),
     Column("thigh", lambda r: fmt_deg(r.get("thigh_inclination_peak_deg"), 0)),
     Column("share", lambda r: _num(r.get("pelvis_share"), 2)), _SCORE, _FAULTS),
    (Readout("{side} hip flexion", "{side}_hip_flexion"), Readout("pelvis tilt", "pelvis_tilt"),
     Readout("{side} thigh inclination", "{side}_thigh_inclination"))))

_add(ExerciseView(
    "squat", EXERCISE_NAMES["squat"], "reps",
    (_NUM, Column("hip", lambda r: fmt_deg(r.get("hip_flexion_peak_deg"), 0)),
     Column("collapse R", lambda r: fmt_deg(r.get("collapse_index_right"), 1)),
     Column("collapse L", lambda r: fmt_deg(r.get("collapse_index_left"), 1)), _FAULTS),
    (Readout("{side} hip flexion", "{side}_hip_flexion"), Readout("pelvis tilt", "pelvis_tilt"),
     Readout("{side} hip adduction", "{side}_hip_adduction")),
    side_caption="Front leg"))

_add(ExerciseView(
    "single_leg_stance", EXERCISE_NAMES["single_leg_stance"], "holds",
    (_NUM, Column("stance", lambda h: str(h.get("side") or "—")),
     Column("mean", lambda h: fmt_deg(h.get("pelvic_drop_mean_deg"))),
     Column("max", lambda h: fmt_deg(h.get("pelvic_drop_max_deg"))),
     Column("end", lambda h: fmt_deg(h.get("pelvic_drop_final_deg"))),
     Column("in band", lambda h: _num(h.get("time_in_band_pct"), 0, " %")),
     Column("grade", lambda h: str(h.get("grade") or "—"), coloured=True, wide=True)),
    (Readout("pelvic drop", "pelvic_drop_deg", drop_grade=True),
     Readout("pelvis obliquity", "pelvis_obliquity"),
     Readout("{lifted} hip flexion", "{lifted}_hip_flexion")),
    side_caption="Stance leg", stance_side=True, drop_lines=True, cue_on_drop=True, item_word="hold"))

_add(ExerciseView(
    "hip_airplane", EXERCISE_NAMES["hip_airplane"], "reps",
    (_NUM, Column("IR peak", lambda r: fmt_deg(r.get("hip_internal_rotation_peak_deg"), 0)),
     Column("ER peak", lambda r: fmt_deg(r.get("hip_external_rotation_peak_deg"), 0)),
     Column("pelvis leak", lambda r: fmt_deg(r.get("obliquity_leak_deg"))),
     Column("confidence", lambda r: _num(r.get("confidence"), 2) + (" low" if r.get("low_confidence") else ""),
            coloured=True, wide=True)),
    (Readout("{side} hip rotation", "{side}_hip_rotation"),
     Readout("pelvis rotation", "pelvis_rotation"), Readout("pelvis obliquity", "pelvis_obliquity")),
    side_caption="Stance leg", stance_side=True,
    hip_traces=("hip_rotation", "hip_flexion")))

_add(ExerciseView(
    "single_leg_hinge", "Single-leg hinge", "reps",
    (_NUM, Column("hip", lambda r: fmt_deg(r.get("hip_flexion_peak_deg"), 0)),
     Column("tilt", lambda r: fmt_deg(r.get("pelvis_tilt_peak_deg"), 0)),
     Column("opening", lambda r: fmt_deg(r.get("pelvis_opening_peak_deg"), 0)),
     Column("drop", lambda r: fmt_deg(r.get("pelvic_drop_max_deg"))), _SCORE, _FAULTS),
    (Readout("{side} hip flexion", "{side}_hip_flexion"), Readout("pelvis tilt", "pelvis_tilt"),
     Readout("pelvis rotation", "pelvis_rotation")),
    side_caption="Stance leg", stance_side=True))

_add(ExerciseView(
    "ir_hinge", "Internal-rotation hinge", "reps",
    (_NUM, Column("hip", lambda r: fmt_deg(r.get("hip_flexion_peak_deg"), 0)),
     Column("IR peak", lambda r: fmt_deg(r.get("hip_internal_rotation_peak_deg"), 0)),
     Column("obliquity", lambda r: fmt_deg(r.get("pelvis_obliquity_range_deg"))), _SCORE, _FAULTS),
    (Readout("{side} hip rotation", "{side}_hip_rotation"),
     Readout("{side} hip flexion", "{side}_hip_flexion"), Readout("pelvis rotation", "pelvis_rotation")),
    side_caption="Stance leg", stance_side=True,
    hip_traces=("hip_rotation", "hip_flexion")))

_add(ExerciseView(
    "walking", "Walking", "strides",
    (_NUM, Column("side", lambda s: str(s.get("side") or "—")),
     Column("hip range", lambda s: fmt_deg(s.get("hip_flexion_range_deg"), 0)),
     Column("pelvic drop", lambda s: fmt_deg(s.get("pelvic_drop_deg"))),
     Column("cadence", lambda s: _num(s.get("cadence_steps_per_min"), 0, "/min"), wide=True)),
    (Readout("right hip flexion", "right_hip_flexion"), Readout("left hip flexion", "left_hip_flexion"),
     Readout("pelvis obliquity", "pelvis_obliquity")), item_word="stride", in_controls=False))

_add(ExerciseView(
    "posture", EXERCISE_NAMES["posture"], "reps", (_NUM,),
    (Readout("pelvis tilt", "pelvis_tilt"), Readout("pelvis obliquity", "pelvis_obliquity"),
     Readout("pelvis rotation", "pelvis_rotation"))))

#: shown when no set is running and nothing was done yet
IDLE = ExerciseView(
    "", "No set running", "reps", (_NUM,),
    (Readout("{side} hip flexion", "{side}_hip_flexion"), Readout("pelvis tilt", "pelvis_tilt"),
     Readout("pelvis obliquity", "pelvis_obliquity")))


def view_for(exercise: str | None) -> ExerciseView:
    """The view of ``exercise`` (the idle view for none or an exercise without a view)."""
    if exercise in VIEWS:
        return VIEWS[exercise]
    if exercise:
        return ExerciseView(exercise, exercise.replace("_", " ").capitalize(), "reps",
                            (_NUM, _SCORE, _FAULTS), IDLE.readouts)
    return IDLE


def items_of(snap, exercise: str) -> list[dict]:
    """The completed items (reps, holds or strides) of ``exercise`` in a snapshot, in order."""
    v = view_for(exercise)
    pool = {"holds": snap.holds, "strides": getattr(snap, "strides", [])}.get(v.kind, snap.reps)
    return [it for it in pool if (it.get("exercise") or ("single_leg_stance" if v.kind == "holds"
                                                           else "hinge")) == exercise]

