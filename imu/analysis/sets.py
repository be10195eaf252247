"""Exercise sets of a session, from its events (docs/formats.md/§7).

A set runs from a ``set_start`` event to the next ``set_end`` (or the next ``set_start``, or the
end of the data). A session may hold several calibration phases (each ``calibration_start`` ..
``calibration_end``, or everything before ``calibration_end_s`` when given); none of them ever
counts as part of a set: a set that overlaps one is clipped (or split around it). A session with no set events becomes one set covering everything after
the calibration phase, of the exercise (and side) the caller names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu.errors import BadInputError
from imu.types import EXERCISES, Event

#: Accepted spellings of exercise names (command line, events).
EXERCISE_ALIASES = {
    "hinge": "hinge", "hip_hinge": "hinge", "hip-hinge": "hinge",
    "single_leg_stance": "single_leg_stance", "single-leg-stance": "single_leg_stance",
    "single_leg": "single_leg_stance", "single-leg": "single_leg_stance", "sls": "single_leg_stance",
    "hip_airplane": "hip_airplane", "hip-airplane": "hip_airplane", "airplane": "hip_airplane",
    "squat": "squat", "split_squat": "squat", "split-squat": "squat",
    "walking": "walking", "walk": "walking", "gait": "walking",
    "posture": "posture", "pelvic_tilt_reset": "posture", "tilt_reset": "posture",
    "single_leg_hinge": "single_leg_hinge", "single-leg-hinge": "single_leg_hinge",
    "single_leg_hip_hinge": "single_leg_hinge", "slh": "single_leg_hinge",
    "ir_hinge": "ir_hinge", "ir-hinge": "ir_hinge", "internal_rotation_hinge": "ir_hinge",
    "internal-rotation-hinge": "ir_hinge",
}

#: Exercises whose ``side`` is the stance leg and matters.
SIDED = ("single_leg_stance", "hip_airplane", "single_leg_hinge", "ir_hinge")

#: Sided exercises measured on the stance hip: the stance thigh must be instrumented.
STANCE_HIP = ("hip_airplane", "single_leg_hinge", "ir_hinge")


def normalize_exercise(name: str | None, where: str = "") -> str | None:
    """Canonical exercise name (docs/formats.md) or ``None``; refuses unknown names."""
    if name is None:
        return None
    key = str(name).strip().lower().replace(" ", "_")
    if key in EXERCISE_ALIASES:
        return EXERCISE_ALIASES[key]
    raise BadInputError(f"unknown exercise {name!r}{' in ' + where if where else ''}; "
                        f"use one of {', '.join(EXERCISES)}")


def normalize_side(side: str | None, where: str = "") -> str | None:
    if side is None or side == "":
        return None
    s = str(side).strip().lower()
    if s in ("left", "right"):
        return s
    if s in ("l", "r"):
        return "left" if s == "l" else "right"
    raise BadInputError(f"side must be 'left' or 'right', got {side!r}{' in ' + where if where else ''}")


@dataclass
class SetWindow:
    """One exercise set to analyse: ``[start_s, end_s]`` on the session clock."""

    exercise: str
    side: str | None
    start_s: float
    end_s: float
    source: str = "events"  # "events", "whole_session" or "inferred" (recognised)
    confidence: float = 1.0  # of the recognition, for inferred sets


def calibration_windows(events: list[Event], calibration_end_s: float | None = None
                        ) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of every calibration phase of a session, in time order.

    Each ``calibration_start`` pairs with the next ``calibration_end``; a start without an end
    runs to the next set or calibration start (or forever). ``calibration_end_s`` (the end of a
    protocol found in the data of a session without calibration events) adds the phase
    ``(-inf, calibration_end_s)``.
    """
    evs = sorted(events, key=lambda e: e.t_s)
    out: list[tuple[float, float]] = []
    open_t: float | None = None
    for e in evs:
        if e.kind == "calibration_start":
            if open_t is not None:
                out.append((open_t, float(e.t_s)))
            open_t = float(e.t_s)
        elif e.kind == "calibration_end":
            if open_t is not None:
                out.append((open_t, float(e.t_s)))
                open_t = None
            elif not out:  # an end without a start: everything before it
                out.append((-np.inf, float(e.t_s)))
        elif e.kind == "set_start" and open_t is not None:
            out.append((open_t, float(e.t_s)))
            open_t = None
    if open_t is not None:
        out.append((open_t, np.inf))
    if calibration_end_s is not None:
        out.append((-np.inf, float(calibration_end_s)))
        out.sort()
    return out


def calibration_window(events: list[Event], calibration_end_s: float | None = None
                       ) -> tuple[float, float] | None:
    """The first calibration phase ``(start_s, end_s)``, or ``None`` if there is none."""
    w = calibration_windows(events, calibration_end_s)
    return w[0] if w else None


def outside_calibration(sets: list[SetWindow], windows: list[tuple[float, float]]
                        ) -> list[SetWindow]:
    """The parts of ``sets`` outside every calibration phase (a set that spans a phase is
    split in two; one inside a phase is dropped)."""
    from dataclasses import replace

    out = list(sets)
    for w0, w1 in windows:
        nxt = []
        for s in out:
            if s.end_s <= w0 or s.start_s >= w1:
                nxt.append(s)
                continue
            if s.start_s < w0:
                nxt.append(replace(s, end_s=w0))
            if s.end_s > w1:
                nxt.append(replace(s, start_s=w1))
        out = nxt
    return [s for s in out if s.end_s > s.start_s]


def find_sets(events: list[Event], t0_s: float, t1_s: float, exercise: str | None = None,
              side: str | None = None, calibration_end_s: float | None = None) -> list[SetWindow]:
    """The sets to analyse.

    Parameters
    ----------
    events : list of Event
    t0_s, t1_s : float
        First and last time of the angle data.
    exercise, side : str or None
        For a session without set events: the exercise of its single set (required then).
        For a session with sets: only sets of this exercise are kept; a set without a side
        takes ``side``.
    calibration_end_s : float or None
        End of the calibration phase, overriding the events' ``calibration_end``.
    """
    exercise = normalize_exercise(exercise, "--exercise")
    side = normalize_side(side, "--side")
    evs = sorted(events, key=lambda e: e.t_s)
    sets: list[SetWindow] = []
    open_set: SetWindow | None = None
    for e in evs:
        if e.kind == "set_start":
            if open_set is not None:
                open_set.end_s = e.t_s
                sets.append(open_set)
            ex = normalize_exercise(e.exercise, f"the set_start event at {e.t_s:.2f} s")
            if ex is None:
                ex = exercise
            if ex is None:
                raise BadInputError(f"the set_start event at {e.t_s:.2f} s names no exercise; "
                                    "pass --exercise")
            open_set = SetWindow(ex, normalize_side(e.side, f"the set_start event at {e.t_s:.2f} s"),
                                 float(e.t_s), float(t1_s))
        elif e.kind == "set_end" and open_set is not None:
            open_set.end_s = float(e.t_s)
            sets.append(open_set)
            open_set = None
    if open_set is not None:
        sets.append(open_set)

    cals = calibration_windows(evs, calibration_end_s)
    if not sets:
        if exercise is None:
            raise BadInputError("the session has no exercise sets (no set_start events); "
                                "pass --exercise NAME (and --side for single-leg work)")
        sets = [SetWindow(exercise, side, float(t0_s), float(t1_s), "whole_session")]
    else:
        if exercise is not None:
            sets = [s for s in sets if s.exercise == exercise]
            if not sets:
                raise BadInputError(f"the session has no {exercise} sets")
        for s in sets:
            if s.side is None:
                s.side = side
    for s in sets:
        s.start_s, s.end_s = max(s.start_s, t0_s), min(s.end_s, t1_s)
    return outside_calibration([s for s in sets if s.end_s > s.start_s], cals)


def infer_stance_side(exercise: str, columns: dict[str, np.ndarray], lift_threshold_deg: float = 20.0
                      ) -> str | None:
    """Guess the stance leg of a single-leg set from its angles (``None`` if it cannot).

    The lifted leg's thigh leaves the vertical (single-leg stance: hip flexion past the lift
    threshold; airplane and the single-leg / internal-rotation hinges: the leg reaches back)
    while the stance thigh stays near vertical.

    Parameters
    ----------
    columns : dict of column -> (N,) degrees over the set
    """
    sides = [s for s in ("right", "left") if f"{s}_hip_flexion" in columns]
    if not sides:
        return None

    def spread(s):
        inc = columns.get(f"{s}_thigh_inclination", columns[f"{s}_hip_flexion"])
        inc = inc[np.isfinite(inc)]
        return float(np.percentile(np.abs(inc), 90)) if len(inc) else 0.0

    if len(sides) == 2:
        a, b = spread("right"), spread("left")
        return "right" if a < b else "left"
    s = sides[0]
    other = "left" if s == "right" else "right"
    flex = columns[f"{s}_hip_flexion"]
    lifted = np.nanmax(flex) > lift_threshold_deg if np.isfinite(flex).any() else False
    if exercise in STANCE_HIP:
        return s  # these need the stance thigh; the only thigh must be it
    return other if lifted else s
