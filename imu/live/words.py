"""Plain words next to numbers: what a rep's faults and a hold's grade mean for the user."""

from __future__ import annotations

import math

#: Fault label (SPEC §5) → short plain sentence.
FAULT_WORDS = {
    "squat_pattern": "the hinge turned into a squat",
    "pelvic_twist": "the pelvis twisted",
    "lateral_shift": "the pelvis shifted sideways",
    "lumbar_flexion": "the lower back rounded",
    "knee_collapse": "the knee collapsed inwards",
}


def _num(rep: dict, key: str) -> float:
    v = rep.get(key)
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def fault_phrase(fault: str, rep: dict) -> str:
    """One fault in words with the number behind it, e.g. ``"the hinge turned into a squat
    (thigh 41° forward)"``."""
    base = FAULT_WORDS.get(fault, fault.replace("_", " "))
    detail = {
        "squat_pattern": ("thigh_inclination_peak_deg", "thigh {:.0f}° forward"),
        "pelvic_twist": ("pelvis_rotation_range_deg", "{:.0f}° of rotation"),
        "lateral_shift": ("pelvis_obliquity_range_deg", "{:.0f}° of obliquity"),
        "lumbar_flexion": ("lumbar_flexion_peak_deg", "{:.0f}° of lumbar flexion"),
    }.get(fault)
    if detail:
        v = _num(rep, detail[0])
        if math.isfinite(v):
            return f"{base} ({detail[1].format(v)})"
    return base


def rep_sentence(rep: dict, number: int | None = None) -> str:
    """A rep in one line, e.g. ``"Rep 4: score 62: the hinge turned into a squat (thigh 41°
    forward)"``; squat and hip-airplane reps name their own figures."""
    head = f"Rep {number}" if number is not None else "Rep"
    exercise = rep.get("exercise") or "hinge"
    faults = list(rep.get("faults") or [])
    if exercise == "hip_airplane":
        ir, er = _num(rep, "hip_internal_rotation_peak_deg"), _num(rep, "hip_external_rotation_peak_deg")
        text = f"{head}: internal {ir:.0f}°, external {er:.0f}°" if math.isfinite(ir) and math.isfinite(er) else head
        leak = _num(rep, "obliquity_leak_deg")
        if math.isfinite(leak):
            text += f", obliquity leak {leak:.1f}°"
        if rep.get("low_confidence"):
            text += " (heading not held: rotation uncertain)"
        return text
    if exercise == "squat":
        cis = [(s, _num(rep, f"collapse_index_{s}")) for s in ("right", "left")]
        cis = [f"{s} {v:.1f}°" for s, v in cis if math.isfinite(v)]
        text = f"{head}: knee-collapse index " + ", ".join(cis) if cis else head
        return text + ("; " + "; ".join(fault_phrase(f, rep) for f in faults) if faults else ", knees tracked well")
    score = _num(rep, "score")
    if math.isfinite(score):
        head += f": score {score:.0f}"
    if not faults:
        return f"{head}: good hinge, the hips did the work"
    return f"{head}: " + "; ".join(fault_phrase(f, rep) for f in faults)


GRADE_WORDS = {
    "green": "pelvis level",
    "amber": "the pelvis dropped a little",
    "red": "the pelvis dropped",
}


def hold_sentence(hold: dict, number: int | None = None) -> str:
    """A hold in one line, e.g. ``"Hold 2 on the left leg: drop 5.1° at the end (amber)"``."""
    head = f"Hold {number}" if number is not None else "Hold"
    side = hold.get("side")
    if side:
        head += f" on the {side} leg"
    final = _num(hold, "pelvic_drop_final_deg")
    grade = str(hold.get("grade", ""))
    words = GRADE_WORDS.get(grade, "")
    parts = []
    if math.isfinite(final):
        parts.append(f"drop {final:.1f}° at the end")
    if words:
        parts.append(f"{words} ({grade})")
    return head + (": " + ", ".join(parts) if parts else "")
