"""Exact per-rep / per-hold values (docs/metrics.md as made precise in docs/metrics.md) from the truth
angle series and the program's known rep windows.

The program knows when each rep's motion starts and ends (``t0``/``t1``); the values follow the
shared metric definitions so that an analysis of the simulated signals can be compared rep by
rep: boundaries where the signal is back within the stated band of the standing baseline, peaks
and ranges over ``[start_s, end_s]``.
"""

from __future__ import annotations

import numpy as np

from imu.sim.body import Placed

SQUAT_PATTERN_DEG = 25.0
PELVIC_TWIST_DEG = 6.0
LATERAL_SHIFT_DEG = 4.0
LUMBAR_FLEXION_DEG = 20.0
KNEE_COLLAPSE = 8.0
HOLD_FLEX_DEG = 20.0
PELVIS_OPENING_DEG = 8.0
PELVIC_DROP_DEG = 5.0
NO_IR_DEG = 5.0
LUMBAR_TWIST_DEG = 10.0


def _idx(t: np.ndarray, t_s: float) -> int:
    return int(np.clip(np.searchsorted(t, t_s), 0, len(t) - 1))


def _baseline(t, x, t_start) -> float:
    i0, i1 = _idx(t, t_start - 1.0), _idx(t, t_start)
    return float(np.median(x[i0:max(i1, i0 + 1)]))


def _bounds(x: np.ndarray, base: float, i_first: int, i_last: int, band: float,
            lo: int, hi: int) -> tuple[int, int]:
    """Last index ≤ ``i_first`` and first index ≥ ``i_last`` where ``|x − base| ≤ band``,
    searched within [lo, hi]."""
    inside = np.abs(x - base) <= band
    before = np.nonzero(inside[lo:i_first + 1])[0]
    start = lo + int(before[-1]) if len(before) else lo
    after = np.nonzero(inside[i_last:hi + 1])[0]
    end = i_last + int(after[0]) if len(after) else hi
    return start, end


def _side_mean(angles: dict, sides: list[str], name: str) -> np.ndarray:
    """Mean over the instrumented sides of ``<side>_<name>``; precomputed by
    :func:`truth_sets` under the key ``_mean_<name>``."""
    key = f"_mean_{name}"
    if key in angles:
        return angles[key]
    return np.mean([angles[f"{s}_{name}"] for s in sides], axis=0)


def hinge_rep(t, angles, sides, trunk, r, t_set, lo, hi) -> dict:
    """Per-rep values of a hinge rep whose motion spans session times ``r['t0']..r['t1']``."""
    h = _side_mean(angles, sides, "hip_flexion")
    t0 = t_set + r["t0"]
    t1 = t_set + r["t1"]
    base = _baseline(t, h, t0)
    i0, i1 = _idx(t, t0), _idx(t, t1)
    ip = i0 + int(np.argmax(h[i0:i1 + 1]))
    a, b = _bounds(h, base, ip, ip, 5.0, lo, hi)
    sl = slice(a, b + 1)
    tilt = angles["pelvis_tilt"]
    inc = _side_mean(angles, sides, "thigh_inclination")
    rot = angles["pelvis_rotation"]
    obl = angles["pelvis_obliquity"]
    hp = float(h[ip])
    rep = {
        "start_s": float(t[a]), "end_s": float(t[b]),
        "hip_flexion_peak_deg": hp,
        "pelvis_tilt_peak_deg": float(tilt[sl].max()),
        "thigh_inclination_peak_deg": float(inc[sl].max()),
        "pelvis_share": float((tilt[sl].max() - tilt[a]) / (hp - h[a])),
        "pelvis_rotation_range_deg": float(np.ptp(rot[sl])),
        "pelvis_obliquity_range_deg": float(np.ptp(obl[sl])),
        "tempo_down_s": float(t[ip] - t[a]), "tempo_up_s": float(t[b] - t[ip]),
    }
    _faults(rep, r, angles, sl, a, trunk, (
        ("thigh_inclination_peak_deg", SQUAT_PATTERN_DEG, "squat_pattern"),
        ("pelvis_rotation_range_deg", PELVIC_TWIST_DEG, "pelvic_twist"),
        ("pelvis_obliquity_range_deg", LATERAL_SHIFT_DEG, "lateral_shift")))
    return rep, ip, base


def _faults(rep: dict, r: dict, angles, sl, a: int, trunk: bool, limits) -> None:
    """A hinge-like rep's true ``faults`` (each ``(field, limit, fault)`` of ``limits`` whose
    field exceeds its limit, then the lumbar flexion with a trunk sensor) and ``design``."""
    faults = [name for key, limit, name in limits if rep[key] > limit]
    if trunk:
        lf = angles["lumbar_flexion"]
        rep["lumbar_flexion_peak_deg"] = float(lf[sl].max() - lf[a])
        if rep["lumbar_flexion_peak_deg"] > LUMBAR_FLEXION_DEG:
            faults.append("lumbar_flexion")
    rep["faults"] = faults
    rep["design"] = r.get("design")


def squat_rep(t, angles, sides, r, t_set, lo, hi) -> dict:
    rep, ip, _ = hinge_rep(t, angles, sides, False, r, t_set, lo, hi)
    t0 = t_set + r["t0"]
    out = {k: rep[k] for k in ("start_s", "end_s", "hip_flexion_peak_deg")}
    faults = []
    for s in sides:
        add = angles[f"{s}_hip_adduction"]
        ir = angles[f"{s}_hip_rotation"]
        ci = (add[ip] - _baseline(t, add, t0)) + 0.5 * (ir[ip] - _baseline(t, ir, t0))
        out[f"collapse_index_{s}"] = float(ci)
        if ci > KNEE_COLLAPSE and "knee_collapse" not in faults:
            faults.append("knee_collapse")
    out["faults"] = faults
    out["design"] = r.get("design")
    return out


def _one_leg_core(t, angles, side, r, t_set, lo, hi):
    """Rep bounds by the hinge rule on the stance hip, and the fields every one-leg drill has."""
    h = angles[f"{side}_hip_flexion"]
    t0 = t_set + r["t0"]
    base = _baseline(t, h, t0)
    i0, i1 = _idx(t, t0), _idx(t, t_set + r["t1"])
    ip = i0 + int(np.argmax(h[i0:i1 + 1]))
    a, b = _bounds(h, base, ip, ip, 5.0, lo, hi)
    sl = slice(a, b + 1)
    tilt = angles["pelvis_tilt"]
    hp = float(h[ip])
    rep = {"start_s": float(t[a]), "end_s": float(t[b]), "side": side,
           "hip_flexion_peak_deg": hp,
           "pelvis_tilt_peak_deg": float(tilt[sl].max()),
           "pelvis_share": float((tilt[sl].max() - tilt[a]) / (hp - h[a])),
           "tempo_down_s": float(t[ip] - t[a]), "tempo_up_s": float(t[b] - t[ip])}
    return rep, sl, t0, a


def single_leg_hinge_rep(t, angles, trunk, side, r, t_set, lo, hi) -> dict:
    """Per-rep values of a single-leg hinge rep (docs/metrics.md, docs/metrics.md): changes from the
    rep's standing (median over the second before the motion)."""
    rep, sl, t0, a = _one_leg_core(t, angles, side, r, t_set, lo, hi)
    free = "left" if side == "right" else "right"
    sgn_open = 1.0 if side == "right" else -1.0
    sgn_drop = 1.0 if free == "right" else -1.0
    rot, obl = angles["pelvis_rotation"], angles["pelvis_obliquity"]
    rep["pelvis_opening_peak_deg"] = float((sgn_open * (rot[sl] - _baseline(t, rot, t0))).max())
    rep["pelvic_drop_max_deg"] = float((sgn_drop * (obl[sl] - _baseline(t, obl, t0))).max())
    key = f"{free}_thigh_inclination"
    rep["free_thigh_inclination_min_deg"] = float(angles[key][sl].min()) if key in angles else None
    rep["stance_thigh_inclination_peak_deg"] = float(angles[f"{side}_thigh_inclination"][sl].max())
    _faults(rep, r, angles, sl, a, trunk, (
        ("pelvis_opening_peak_deg", PELVIS_OPENING_DEG, "pelvis_opening"),
        ("pelvic_drop_max_deg", PELVIC_DROP_DEG, "pelvic_drop"),
        ("stance_thigh_inclination_peak_deg", SQUAT_PATTERN_DEG, "squat_pattern")))
    return rep


def ir_hinge_rep(t, angles, trunk, side, r, t_set, lo, hi) -> dict:
    """Per-rep values of an internal-rotation hinge rep (docs/metrics.md, docs/metrics.md)."""
    rep, sl, t0, a = _one_leg_core(t, angles, side, r, t_set, lo, hi)
    ir = angles[f"{side}_hip_rotation"]
    rep["hip_internal_rotation_peak_deg"] = float((ir[sl] - _baseline(t, ir, t0)).max())
    rep["pelvis_obliquity_range_deg"] = float(np.ptp(angles["pelvis_obliquity"][sl]))
    faults = []
    if rep["hip_internal_rotation_peak_deg"] < NO_IR_DEG:
        faults.append("no_internal_rotation")
    if rep["pelvis_obliquity_range_deg"] > LATERAL_SHIFT_DEG:
        faults.append("lateral_shift")
    if trunk:
        lr = angles["lumbar_rotation"]
        rep["lumbar_twist_peak_deg"] = float(np.abs(lr[sl] - _baseline(t, lr, t0)).max())
        if rep["lumbar_twist_peak_deg"] > LUMBAR_TWIST_DEG:
            faults.append("lumbar_twist")
    rep["faults"] = faults
    rep["design"] = r.get("design")
    return rep


def _grade(x: float) -> str:
    return "green" if x < 4.0 else ("amber" if x < 8.0 else "red")


def hold_values(t, drop, a: int, b: int, side: str) -> dict:
    sl = slice(a, b + 1)
    d = drop[sl]
    tt = t[sl]
    first = d[tt < tt[0] + 0.5]
    last = d[tt > tt[-1] - 1.0]
    change = d - first.mean()
    return {"start_s": float(t[a]), "end_s": float(t[b]), "side": side,
            "pelvic_drop_mean_deg": float(d.mean()), "pelvic_drop_max_deg": float(d.max()),
            "pelvic_drop_final_deg": float(last.mean()),
            "drift_rms_deg": float(np.sqrt(np.mean(change ** 2))),
            "time_in_band_pct": float(100.0 * np.mean(np.abs(change) < 3.0)),
            "grade": _grade(float(d.max()))}


def sls_holds(t, angles, p: Placed, lo, hi) -> list[dict]:
    side = p.block.side
    lifted = "left" if side == "right" else "right"
    obl = angles["pelvis_obliquity"]
    drop = obl if lifted == "right" else -obl
    col = f"{lifted}_hip_flexion"
    holds = []
    if col in angles:
        f = angles[col]
        for r in p.block.reps:
            i0, i1 = _idx(t, p.start_s + r["t0"]), _idx(t, p.start_s + r["t1"])
            above = np.nonzero(f[i0:i1 + 1] > HOLD_FLEX_DEG)[0]
            if not len(above):
                continue
            a, b = i0 + int(above[0]), i0 + int(above[-1])
            hv = hold_values(t, drop, a, b, side)
            hv["design"] = r.get("design")
            holds.append(hv)
    else:
        holds.append(hold_values(t, drop, lo, hi, side))
    return holds


#: docs/metrics.md hip airplane: return band (°), the larger excursion's threshold (°), and the
#: neutral pause that ends a rep early (s)
AIRPLANE_BAND_DEG = 3.0
AIRPLANE_THRESHOLD_DEG = 10.0
AIRPLANE_PAUSE_S = 1.0


def airplane_reps(t, angles, p: Placed, lo, hi) -> list[dict]:
    """True hip-airplane reps of one set (docs/metrics.md): one opening and one closing excursion of the
    stance hip's rotation, from leaving neutral (the last sample within the band of standing
    before the first excursion) to the return after the second (the first sample back within
    it). Where the two programmed excursions are separated by more than 1 s at neutral (the
    rotation within the band), the rep ends early: two reps of one excursion each.

    Standing is the median rotation over the second before a rep, or the previous rep's
    standing when that rep ended less than a second before (back-to-back reps).
    """
    side = p.block.side
    col = f"{side}_hip_rotation"
    if col not in angles:
        return []
    x = angles[col]
    obl = angles["pelvis_obliquity"]
    out: list[dict] = []
    base = None
    prev_end_s = -np.inf
    for r in p.block.reps:
        t0 = p.start_s + r["t0"]
        if base is None or t0 - prev_end_s >= 1.0:
            base = _baseline(t, x, t0)
        i_a, i_b = _idx(t, t0), _idx(t, p.start_s + r["t1"])
        # the two programmed excursions: their peaks and directions
        k1 = _idx(t, t0 + r["d1"] + 0.5 * r["h1"]) - i_a
        k2 = _idx(t, p.start_s + r["tc"] + r["d2"] + 0.5 * r["h2"]) - i_a
        seg = x[i_a:i_b + 1] - base
        s1, s2 = np.sign(seg[k1]), np.sign(seg[k2])
        o1 = np.flatnonzero(seg[:k2] * s1 > AIRPLANE_BAND_DEG)
        o2 = k1 + np.flatnonzero(seg[k1:] * s2 > AIRPLANE_BAND_DEG)
        if not len(o1) or not len(o2):
            continue
        if t[i_a + o2[0]] - t[i_a + o1[-1]] > AIRPLANE_PAUSE_S:  # a pause ends the rep early
            parts = [(o1[0], o1[-1], k1), (o2[0], o2[-1], k2)]
        else:
            parts = [(o1[0], o2[-1], max(k1, k2))]
        for first, last, k in parts:
            if np.max(np.abs(seg[first:last + 1])) <= AIRPLANE_THRESHOLD_DEG:
                continue
            a, b = _bounds(x, base, i_a + int(first), i_a + int(last), AIRPLANE_BAND_DEG, lo, hi)
            sl = slice(a, b + 1)
            out.append({"start_s": float(t[a]), "end_s": float(t[b]),
                        "hip_internal_rotation_peak_deg": float(x[sl].max()),
                        "hip_external_rotation_peak_deg": float((-x[sl]).max()),
                        "obliquity_leak_deg": float(np.abs(obl[sl] - obl[a]).max()),
                        "confidence": 1.0, "design": r.get("design")})
            prev_end_s = float(t[b])
    return out


def posture_values(t, angles, lo, hi) -> dict:
    sl = slice(lo, hi + 1)
    tilt = angles["pelvis_tilt"][sl]
    tt = t[sl]
    return {"static_tilt_deg": float(np.median(tilt)),
            "static_obliquity_deg": float(np.median(angles["pelvis_obliquity"][sl])),
            "tilt_range_deg": float(np.ptp(tilt)),
            "return_error_deg": float(abs(np.median(tilt[tt > tt[-1] - 1.0]))),
            "time_in_zone_pct": float(100.0 * np.mean(np.abs(tilt) < 5.0))}


def truth_sets(placed: list[Placed], t: np.ndarray, angles: dict, sides: list[str],
               trunk: bool) -> list[dict]:
    """docs/formats.md analysis-JSON sets with the true per-rep / per-hold values."""
    out = []
    angles = dict(angles)
    for name in ("hip_flexion", "thigh_inclination"):
        angles[f"_mean_{name}"] = _side_mean(angles, sides, name)
    for p in placed:
        bl = p.block
        if bl.exercise is None or bl.set_window is None:
            continue
        s0, s1 = p.start_s + bl.set_window[0], p.start_s + bl.set_window[1]
        lo, hi = _idx(t, s0), _idx(t, s1)
        st = {"exercise": bl.exercise, "side": bl.side, "start_s": float(s0), "end_s": float(s1)}
        if bl.exercise == "hinge":
            st["reps"] = [hinge_rep(t, angles, sides, trunk, r, p.start_s, lo, hi)[0]
                          for r in bl.reps]
        elif bl.exercise == "squat":
            st["reps"] = [squat_rep(t, angles, sides, r, p.start_s, lo, hi) for r in bl.reps]
        elif bl.exercise == "single_leg_stance":
            st["holds"] = sls_holds(t, angles, p, lo, hi)
        elif bl.exercise == "hip_airplane":
            st["reps"] = airplane_reps(t, angles, p, lo, hi)
        elif bl.exercise in ("single_leg_hinge", "ir_hinge"):
            if f"{bl.side}_hip_flexion" not in angles:
                continue
            fn = single_leg_hinge_rep if bl.exercise == "single_leg_hinge" else ir_hinge_rep
            st["reps"] = [fn(t, angles, trunk, bl.side, r, p.start_s, lo, hi) for r in bl.reps]
        elif bl.exercise == "posture":
            st.update(posture_values(t, angles, lo, hi))
            st["reps"] = []
        out.append(st)
    return out
