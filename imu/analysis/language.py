"""Plain-language sentences next to the numbers (report, ``imu analyze`` summary, dashboard).

Every function takes the plain dicts of the Analysis JSON and returns one short sentence, e.g.
``"Rep 4: the hinge turned into a squat (thigh 41° forward)."``
"""

from __future__ import annotations

from imu.analysis.hinge import FAULTS as HINGE_FAULTS
from imu.analysis.single_leg_hinge import IRH_FAULTS, SLH_FAULTS
from imu.analysis.squat import FAULTS as SQUAT_FAULTS

EXERCISE_NAMES = {
    "hinge": "Hip hinge",
    "single_leg_hinge": "Single-leg hinge",
    "ir_hinge": "Internal-rotation hinge",
    "single_leg_stance": "Single-leg stance",
    "hip_airplane": "Hip airplane",
    "squat": "Squat",
    "posture": "Posture / pelvic tilt reset",
    "walking": "Walking",
}

#: Every fault name in plain words: a short label (tables, chart markers) and the full phrase
#: (sentences, tooltips). The one table the report, the summary and the dashboard all use.
FAULT_LABELS = {
    "squat_pattern": "turned into a squat",
    "pelvic_twist": "pelvis twisted",
    "lateral_shift": "pelvis shifted sideways",
    "lumbar_flexion": "back rounded",
    "knee_collapse": "knee caved in",
    "pelvis_opening": "pelvis opened",
    "pelvic_drop": "pelvis dropped",
    "no_internal_rotation": "no internal rotation",
    "lumbar_twist": "lower back twisted",
}
FAULT_WORDS = {**{k: v for k, v in {**SLH_FAULTS, **IRH_FAULTS}.items() if k not in HINGE_FAULTS},
               **HINGE_FAULTS, **SQUAT_FAULTS}

#: How bad each fault is: ``"red"`` (the movement was a different one, or loaded the back or
#: knee) or ``"amber"`` (a compensation). An unknown fault counts as red.
FAULT_GRADES = {
    "squat_pattern": "red",
    "lumbar_flexion": "red",
    "knee_collapse": "red",
    "pelvic_twist": "amber",
    "lateral_shift": "amber",
    "pelvis_opening": "amber",
    "pelvic_drop": "amber",
    "no_internal_rotation": "amber",
    "lumbar_twist": "red",
}

_GRADE_ORDER = {"none": 0, "green": 1, "amber": 2, "red": 3}


def fault_label(fault: str) -> str:
    """A fault's short plain-words label (never the snake_case name)."""
    return FAULT_LABELS.get(fault, fault.replace("_", " "))


def worst_grade(*grades: str | None) -> str:
    """The worst of some ``"green"``/``"amber"``/``"red"`` grades (``"none"`` if none given)."""
    out = "none"
    for g in grades:
        if g in _GRADE_ORDER and _GRADE_ORDER[g] > _GRADE_ORDER[out]:
            out = g
    return out


def score_grade(score) -> str:
    """Colour band of a 0–100 rep score: green from 80, amber from 60, else red."""
    try:
        s = float(score)
    except (TypeError, ValueError):
        return "none"
    if s != s:
        return "none"
    return "green" if s >= 80 else ("amber" if s >= 60 else "red")


def item_grade(item: dict) -> str:
    """The colour a rep or hold is shown in: its grade (holds), else the worst of its score band
    and its faults' grades; a rep without faults or score is green. A rep with a fault is never
    green."""
    if item.get("grade") in _GRADE_ORDER:
        return item["grade"]
    faults = item.get("faults") or []
    grades = [FAULT_GRADES.get(f, "red") for f in faults]
    if item.get("low_confidence"):
        grades.append("amber")
    g = worst_grade(score_grade(item.get("score")), *grades)
    return "green" if g == "none" else g


GRADE_PHRASES = {
    "green": "pelvis stayed level",
    "amber": "some pelvic drop",
    "red": "the pelvis dropped on the lifted side",
}


def _standing_note(fn):
    """Rep sentences say when the rep had no quiet standing before it (docs/metrics.md baseline)."""
    import functools

    @functools.wraps(fn)
    def wrapped(rep: dict) -> str:
        text = fn(rep)
        if rep.get("standing_source") == "calibration":
            text = text[:-1] + " (no quiet standing before this rep: measured from the calibration pose)."
        return text

    return wrapped


def _deg(v, signed: bool = False) -> str:
    if v is None:
        return "?°"
    v = round(float(v)) + 0.0  # no "-0°"
    return f"{v:+.0f}°" if signed else f"{v:.0f}°"


def exercise_title(s: dict) -> str:
    name = EXERCISE_NAMES.get(s["exercise"], s["exercise"])
    if s["exercise"] == "squat" and s.get("side"):
        return f"Split squat, {s['side']} leg in front"
    if s.get("side") and s["exercise"] in ("single_leg_stance", "hip_airplane", "single_leg_hinge",
                                           "ir_hinge"):
        name += f", standing on the {s['side']} leg"
    elif s.get("side"):
        name += f" ({s['side']})"
    return name


def _fault_phrase(words: dict, details: dict, fault: str, rep: dict) -> str:
    """A fault in words (``words``) with its number: ``details`` maps a fault to the rep field
    that measures it and the phrase the degrees go in (``"{} of side tilt"``)."""
    base = words.get(fault, fault.replace("_", " "))
    if fault not in details:
        return base
    key, phrase = details[fault]
    return f"{base} ({phrase.format(_deg(rep.get(key)))})"


#: fault → (rep field, phrase) of each rep kind's fault numbers
HINGE_FAULT_NUMBERS = {
    "squat_pattern": ("thigh_inclination_peak_deg", "thigh {} forward"),
    "pelvic_twist": ("pelvis_rotation_range_deg", "{} of rotation"),
    "lateral_shift": ("pelvis_obliquity_range_deg", "{} of side tilt"),
    "lumbar_flexion": ("lumbar_flexion_peak_deg", "{} of lumbar flexion")}
SLH_FAULT_NUMBERS = {
    "pelvis_opening": ("pelvis_opening_peak_deg", "{}"),
    "pelvic_drop": ("pelvic_drop_max_deg", "{}"),
    "squat_pattern": ("stance_thigh_inclination_peak_deg", "thigh {} forward"),
    "lumbar_flexion": ("lumbar_flexion_peak_deg", "{} of lumbar flexion")}
IRH_FAULT_NUMBERS = {
    "no_internal_rotation": ("hip_internal_rotation_peak_deg", "{} of internal rotation"),
    "lateral_shift": ("pelvis_obliquity_range_deg", "{} of side tilt"),
    "lumbar_twist": ("lumbar_twist_peak_deg", "{} of twist")}


def hinge_fault_phrase(fault: str, rep: dict) -> str:
    """One fault of a hinge rep with its number."""
    return _fault_phrase(HINGE_FAULTS, HINGE_FAULT_NUMBERS, fault, rep)


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


@_standing_note
def hinge_rep_sentence(rep: dict) -> str:
    n = rep.get("index", "?")
    if rep.get("faults"):
        return f"Rep {n}: " + _join([hinge_fault_phrase(f, rep) for f in rep["faults"]]) + "."
    share = rep.get("pelvis_share")
    share_txt = f", {share * 100:.0f}% of it from the pelvis" if share is not None else ""
    return (f"Rep {n}: clean hinge, {_deg(rep.get('hip_flexion_peak_deg'))} of hip flexion"
            f"{share_txt}.")


def slh_fault_phrase(fault: str, rep: dict) -> str:
    """One fault of a single-leg hinge rep with its number."""
    return _fault_phrase(SLH_FAULTS, SLH_FAULT_NUMBERS, fault, rep)


@_standing_note
def slh_rep_sentence(rep: dict) -> str:
    n = rep.get("index", "?")
    if rep.get("faults"):
        return f"Rep {n}: " + _join([slh_fault_phrase(f, rep) for f in rep["faults"]]) + "."
    free = rep.get("free_thigh_inclination_min_deg")
    leg = (f", free leg {_deg(-free)} behind the hip" if free is not None and free < 0 else "")
    return (f"Rep {n}: square pelvis, {_deg(rep.get('hip_flexion_peak_deg'))} of hip flexion on the "
            f"{rep.get('side')} leg{leg}.")


def irh_fault_phrase(fault: str, rep: dict) -> str:
    """One fault of an internal-rotation hinge rep with its number."""
    return _fault_phrase(IRH_FAULTS, IRH_FAULT_NUMBERS, fault, rep)


@_standing_note
def irh_rep_sentence(rep: dict) -> str:
    n = rep.get("index", "?")
    if rep.get("faults"):
        return f"Rep {n}: " + _join([irh_fault_phrase(f, rep) for f in rep["faults"]]) + "."
    return (f"Rep {n}: the {rep.get('side')} hip turned in "
            f"{_deg(rep.get('hip_internal_rotation_peak_deg'))} at "
            f"{_deg(rep.get('hip_flexion_peak_deg'))} of hip flexion, pelvis level.")


@_standing_note
def squat_rep_sentence(rep: dict) -> str:
    n = rep.get("index", "?")
    sides = rep.get("collapse_sides") or []
    idx = {s: rep.get(f"collapse_index_{s}") for s in ("right", "left")
           if f"collapse_index_{s}" in rep}
    if sides:
        what = _join([f"{s} ({_deg(idx.get(s))})" for s in sides])
        return f"Rep {n}: the knee caved in on the {what}."
    vals = ", ".join(f"{s} {_deg(v, True)}" for s, v in idx.items())
    return (f"Rep {n}: knees tracked well at {_deg(rep.get('hip_flexion_peak_deg'))} of hip flexion"
            f"{' (collapse index ' + vals + ')' if vals else ''}.")


def hold_sentence(hold: dict) -> str:
    n = hold.get("index", "?")
    dur = (hold["end_s"] - hold["start_s"]) if hold.get("end_s") is not None else None
    grade = hold.get("grade")
    head = f"Hold {n} ({dur:.0f} s on the {hold.get('side')} leg)" if dur is not None else f"Hold {n}"
    phrase = GRADE_PHRASES.get(grade, "no pelvic drop measured")
    band = hold.get("time_in_band_pct")
    band_txt = f", {band:.0f}% of the time within ±3° of the start" if band is not None else ""
    return (f"{head}: {phrase}, largest drop {_deg(hold.get('pelvic_drop_max_deg'))}, "
            f"{_deg(hold.get('pelvic_drop_final_deg'))} at the end{band_txt}.")


@_standing_note
def airplane_rep_sentence(rep: dict) -> str:
    n = rep.get("index", "?")
    leak = rep.get("obliquity_leak_deg")
    level = ("the pelvis stayed level" if leak is not None and leak <= 4
             else f"the pelvis tipped {_deg(leak)} sideways")
    conf = rep.get("confidence")
    conf_txt = ""
    if rep.get("low_confidence"):
        conf_txt = f" (heading confidence low, {conf:.2f}: rotation may have drifted)"
    return (f"Rep {n}: {_deg(rep.get('hip_external_rotation_peak_deg'))} external and "
            f"{_deg(rep.get('hip_internal_rotation_peak_deg'))} internal rotation on the "
            f"{rep.get('side')} hip; {level}{conf_txt}.")


def posture_sentence(p: dict | None) -> str:
    if not p or p.get("static_tilt_deg") is None:
        return "No pelvis data in this set."
    tilt = p["static_tilt_deg"]
    if abs(tilt) < 0.5:
        tilt_txt = "neutral tilt"
    else:
        tilt_txt = f"{abs(tilt):.0f}° {'anterior' if tilt > 0 else 'posterior'} tilt"
    return (f"Pelvis at rest: {tilt_txt} and {abs(p['static_obliquity_deg']):.0f}° "
            f"obliquity; within ±5° of neutral {p['time_in_zone_pct']:.0f}% of the time; "
            f"came back to within {p['return_error_deg']:.0f}° of neutral.")


def stride_sentence(stride: dict) -> str:
    """One walking stride: its leg, hip range, pelvic drop on that leg's stance and cadence."""
    n = stride.get("index", "?")
    cad = stride.get("cadence_steps_per_min")
    cad_txt = f", {cad:.0f} steps/min" if cad is not None else ""
    return (f"Stride {n} ({stride.get('side')} leg): {_deg(stride.get('hip_flexion_range_deg'))} "
            f"of hip flexion range, pelvis dropped {_deg(stride.get('pelvic_drop_deg'))} on its "
            f"stance{cad_txt}.")


def incomplete_note(item: dict) -> str:
    """`` Incomplete: <why>.`` for a rep/hold/stride during which a sensor was missing
    (:mod:`imu.analysis.missing`), else ``""``."""
    why = item.get("incomplete")
    return f" Incomplete: {why}." if why else ""


def item_sentence(exercise: str, item: dict) -> str:
    """The sentence of one rep/hold of ``exercise`` (saying so when it is incomplete)."""
    text = _item_sentence(exercise, item)
    return text + incomplete_note(item) if text else text


def _item_sentence(exercise: str, item: dict) -> str:
    if exercise == "hinge":
        return hinge_rep_sentence(item)
    if exercise == "squat":
        return squat_rep_sentence(item)
    if exercise == "single_leg_hinge":
        return slh_rep_sentence(item)
    if exercise == "ir_hinge":
        return irh_rep_sentence(item)
    if exercise == "hip_airplane":
        return airplane_rep_sentence(item)
    if exercise == "single_leg_stance":
        return hold_sentence(item)
    if exercise == "walking":
        return stride_sentence(item)
    return ""


def set_sentence(s: dict) -> str:
    """One-line summary of a set (with how many of its reps/holds are incomplete)."""
    text = _set_sentence(s)
    summ = s.get("summary") or {}
    counts = [(summ.get(f"incomplete_{k}"), k) for k in ("reps", "holds", "strides")]
    notes = [f"{n} {k[:-1] if n == 1 else k} incomplete" for n, k in counts if n]
    if text and notes:
        out = summ.get("left_out_of_means")
        text += (f" {'; '.join(notes)} (a sensor was missing)"
                 + (": left out of the means." if out else "."))
    return text


def _score(v) -> str:
    """A mean score as text (``—/100`` when no rep gave one: every rep incomplete)."""
    return "—/100" if v is None else f"{v:.0f}/100"


def _set_sentence(s: dict) -> str:
    ex = s["exercise"]
    summ = s.get("summary") or {}
    if ex == "hinge":
        n = len(s.get("reps", []))
        if not n:
            return "No hinge reps found (hip flexion never rose 15° above standing)."
        bad = summ.get("reps_with_faults", 0)
        return (f"{n} rep{'s' if n != 1 else ''}, mean score {_score(summ.get('mean_score'))}, "
                f"mean peak hip flexion {_deg(summ.get('mean_hip_flexion_peak_deg'))}; "
                + ("all clean." if not bad else f"{bad} with faults."))
    if ex == "walking":
        n = len(s.get("strides", []))
        if not n:
            return "No strides found (hip flexion never swung back and forth 15° in step)."
        sides = s.get("sides") or {}
        per = "; ".join(f"{sd} hip {_deg(v.get('hip_flexion_range_deg'))} range, pelvic drop "
                        f"{_deg(v.get('pelvic_drop_deg'))}" for sd, v in sides.items())
        cad = s.get("cadence_steps_per_min")
        return (f"{n} stride{'s' if n != 1 else ''}"
                + (f", cadence {cad:.0f} steps/min" if cad else "") + (f"; {per}." if per else "."))
    if ex in ("single_leg_hinge", "ir_hinge"):
        n = len(s.get("reps", []))
        if not n:
            return "No reps found (the stance hip never flexed 15° above standing)."
        bad = summ.get("reps_with_faults", 0)
        extra = (f"pelvis opened up to {_deg(summ.get('max_pelvis_opening_deg'))} and dropped up to "
                 f"{_deg(summ.get('max_pelvic_drop_deg'))}" if ex == "single_leg_hinge" else
                 f"internal rotation up to {_deg(summ.get('max_internal_rotation_deg'))}")
        return (f"{n} rep{'s' if n != 1 else ''}, mean score {_score(summ.get('mean_score'))}, "
                f"mean peak hip flexion {_deg(summ.get('mean_hip_flexion_peak_deg'))}, {extra}; "
                + ("all clean." if not bad else f"{bad} with faults."))
    if ex == "squat":
        n = len(s.get("reps", []))
        if not n:
            return "No squat reps found."
        bad = summ.get("reps_with_faults", 0)
        return (f"{n} rep{'s' if n != 1 else ''}, mean peak hip flexion "
                f"{_deg(summ.get('mean_hip_flexion_peak_deg'))}; "
                + ("knees tracked well." if not bad else f"knee collapse in {bad}."))
    if ex == "single_leg_stance":
        n = len(s.get("holds", []))
        if not n:
            return "No holds found (the lifted leg never came up past 20°)."
        return (f"{n} hold{'s' if n != 1 else ''}, {summ.get('hold_time_s', 0):.0f} s on one leg; "
                f"largest pelvic drop {_deg(summ.get('worst_pelvic_drop_max_deg'))}.")
    if ex == "hip_airplane":
        n = len(s.get("reps", []))
        if not n:
            return "No airplane reps found (hip rotation never left neutral by 10°)."
        return (f"{n} rep{'s' if n != 1 else ''}; up to {_deg(summ.get('max_external_rotation_deg'))} "
                f"external and {_deg(summ.get('max_internal_rotation_deg'))} internal rotation, "
                f"obliquity leak up to {_deg(summ.get('max_obliquity_leak_deg'))}"
                f" (heading confidence {summ.get('min_confidence', 1):.2f}).")
    if ex == "posture":
        return posture_sentence(s)
    return ""


def session_summary_lines(result: dict) -> list[str]:
    """Short plain-language summary of a whole analysis (one line per set)."""
    lines = []
    for k, s in enumerate(result.get("sets", []), 1):
        how = f" (recognised, confidence {s.get('confidence', 0):.2f})" if s.get("inferred") else ""
        lines.append(f"Set {k} – {exercise_title(s)}{how} ({s['start_s']:.0f}–{s['end_s']:.0f} s): "
                     f"{set_sentence(s)}")
        if s.get("label_mismatch"):
            lines.append(f"  Warning: {s.get('warning')}")
    for x in result.get("sets_not_analysed", []):
        lines.append(f"Not analysed: {x.get('exercise')} ({x['start_s'] or 0:.0f}–"
                     f"{x['end_s'] or 0:.0f} s): {x.get('reason')}")
    if not lines:
        lines.append("No exercise sets to analyse.")
    return lines


def quick_look_lines(result: dict) -> list[str]:
    """The readable summary ``imu analyze`` prints without ``--json``: per set its line, then
    one line per rep, hold or stride in plain words, the calibrations used and the sets that
    could not be analysed."""
    lines = []
    sets = result.get("sets", [])
    for k, s in enumerate(sets, 1):
        how = f", recognised ({s.get('confidence', 0):.2f})" if s.get("inferred") else ""
        several = len(result.get("calibrations", [])) > 1
        cal = f", {s['calibration']}" if s.get("calibration") and several else ""
        lines.append(f"Set {k}: {exercise_title(s)} {s['start_s']:.0f}–{s['end_s']:.0f} s"
                     f"{how}{cal}")
        lines.append(f"  {set_sentence(s)}")
        if s.get("label_mismatch"):
            lines.append(f"  Warning: {s.get('warning')}")
        for item in s.get("reps", s.get("holds", [])):
            text = item_sentence(s["exercise"], item)
            if text:
                lines.append(f"    {text}")
        strides = s.get("strides")
        if strides:
            lines.append(f"    {len(strides)} strides")
    if not sets:
        lines.append("No exercise sets to analyse.")
    for x in result.get("sets_not_analysed", []):
        lines.append(f"Not analysed: {exercise_title(x)} {x['start_s'] or 0:.0f}–"
                     f"{x['end_s'] or 0:.0f} s: {x.get('reason')}")
    n_rep = sum(len(s.get("reps", [])) for s in sets)
    n_hold = sum(len(s.get("holds", [])) for s in sets)
    faults = sum(1 for s in sets for r in s.get("reps", []) if r.get("faults"))
    lines.append(f"In all: {len(sets)} set{'s' if len(sets) != 1 else ''}, {n_rep} reps "
                 f"({faults} with faults), {n_hold} holds.")
    return lines


def capitalise(text: str) -> str:
    """``text`` with its first letter upper-case."""
    return text[:1].upper() + text[1:]
