"""Compare two analyses set by set and rep by rep (e.g. an analysis against simulator truth, or
the live path against the batch path).

Reps/holds are paired by the largest time overlap; unpaired items are *missed* (in the reference
only) or *extra* (in the candidate only). Fault labels are checked only where the reference's
underlying value lies more than ``margin_deg`` from the fault's threshold.
"""

from __future__ import annotations

import math

from imu.analysis.settings import Settings

#: exercise -> fault -> (field of the value, settings key of its threshold)
FAULT_VALUES = {
    "hinge": {
        "squat_pattern": ("thigh_inclination_peak_deg", "hinge.squat_inclination_deg"),
        "pelvic_twist": ("pelvis_rotation_range_deg", "hinge.twist_range_deg"),
        "lateral_shift": ("pelvis_obliquity_range_deg", "hinge.shift_range_deg"),
        "lumbar_flexion": ("lumbar_flexion_peak_deg", "hinge.lumbar_flexion_deg"),
    },
    "squat": {"knee_collapse": (("collapse_index_right", "collapse_index_left"),
                                "squat.collapse_threshold_deg")},
    "single_leg_hinge": {
        "pelvis_opening": ("pelvis_opening_peak_deg", "single_leg_hinge.opening_deg"),
        "pelvic_drop": ("pelvic_drop_max_deg", "single_leg_hinge.drop_deg"),
        "squat_pattern": ("stance_thigh_inclination_peak_deg", "single_leg_hinge.squat_inclination_deg"),
        "lumbar_flexion": ("lumbar_flexion_peak_deg", "single_leg_hinge.lumbar_flexion_deg"),
    },
    "ir_hinge": {
        "no_internal_rotation": ("hip_internal_rotation_peak_deg", "ir_hinge.min_internal_rotation_deg"),
        "lateral_shift": ("pelvis_obliquity_range_deg", "ir_hinge.shift_range_deg"),
        "lumbar_twist": ("lumbar_twist_peak_deg", "ir_hinge.lumbar_twist_deg"),
    },
}


def _overlap(a: dict, b: dict) -> float:
    return min(a["end_s"], b["end_s"]) - max(a["start_s"], b["start_s"])


def pair_items(ref: list[dict], cand: list[dict]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """``(pairs, missed, extra)``: greedy pairing by largest positive overlap."""
    cands = sorted(((_overlap(r, c), i, j) for i, r in enumerate(ref) for j, c in enumerate(cand)),
                   reverse=True)
    used_r, used_c, pairs = set(), set(), []
    for ov, i, j in cands:
        if ov <= 0 or i in used_r or j in used_c:
            continue
        used_r.add(i)
        used_c.add(j)
        pairs.append((i, j))
    pairs.sort()
    return ([(ref[i], cand[j]) for i, j in pairs], [r for i, r in enumerate(ref) if i not in used_r],
            [c for j, c in enumerate(cand) if j not in used_c])


def _fault_value(item: dict, field):
    if isinstance(field, tuple):
        vals = [item[f] for f in field if item.get(f) is not None]
        return max(vals) if vals else None
    return item.get(field)


def compare_sets(ref_sets: list[dict], cand_sets: list[dict], settings: Settings | None = None,
                 margin_deg: float = 1.5) -> dict:
    """Errors of ``cand_sets`` against ``ref_sets`` (both docs/formats.md ``sets`` lists).

    Returns
    -------
    dict
        ``items`` (list of per-pair dicts: exercise, index, field errors), ``missed``, ``extra``
        (counts), ``fault_checks`` / ``fault_correct`` (per rep, faults whose reference value is
        more than ``margin_deg`` from the threshold), ``max_abs`` (field -> largest |error|),
        ``set_pairs`` and ``unpaired_sets``.
    """
    settings = settings or Settings()
    out = {"items": [], "missed": 0, "extra": 0, "fault_checks": 0, "fault_correct": 0,
           "fault_errors": [], "max_abs": {}, "set_pairs": 0, "unpaired_sets": 0}
    used = set()
    for rs in ref_sets:
        match = None
        for j, cs in enumerate(cand_sets):
            if j in used or cs["exercise"] != rs["exercise"] or cs.get("side") != rs.get("side"):
                continue
            if _overlap(rs, cs) > 0:
                match = j
                break
        if match is None:
            out["unpaired_sets"] += 1
            out["missed"] += len(rs.get("reps", rs.get("holds", [])))
            continue
        used.add(match)
        cs = cand_sets[match]
        out["set_pairs"] += 1
        key = "holds" if "holds" in rs else "reps"
        pairs, missed, extra = pair_items(rs.get(key, []), cs.get(key, []))
        out["missed"] += len(missed)
        out["extra"] += len(extra)
        for k, (r, c) in enumerate(pairs, 1):
            errs = {}
            for f, v in r.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or f == "index":
                    continue
                cv = c.get(f)
                if cv is None or not math.isfinite(v):
                    continue
                errs[f] = float(cv) - float(v)
                out["max_abs"][f] = max(out["max_abs"].get(f, 0.0), abs(errs[f]))
            item = {"exercise": rs["exercise"], "index": k, "errors": errs}
            checks = FAULT_VALUES.get(rs["exercise"], {})
            rep_ok, rep_checked = True, False
            for fault, (field, key_) in checks.items():
                val = _fault_value(r, field)
                if val is None:
                    continue
                if abs(val - settings[key_]) <= margin_deg:
                    continue
                rep_checked = True
                if (fault in r.get("faults", [])) != (fault in c.get("faults", [])):
                    rep_ok = False
                    out["fault_errors"].append({"exercise": rs["exercise"], "start_s": r["start_s"],
                                                "fault": fault, "true_value": val,
                                                "estimated": _fault_value(c, field)})
            if rep_checked:
                out["fault_checks"] += 1
                out["fault_correct"] += int(rep_ok)
            out["items"].append(item)
    out["unpaired_sets"] += len(cand_sets) - len(used)
    return out
