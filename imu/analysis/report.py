"""The self-contained HTML session report.

One HTML file with inline CSS and inline SVG charts (:mod:`imu.analysis.plotting`); no scripts,
no fonts or images from the network, so it opens anywhere offline. Contents: session summary,
calibration quality, per set an angle chart with reps shaded and faults marked plus a per-rep
table with a plain-language sentence per rep, per hold a pelvic-drop trace over green / amber /
red bands, and trends across sets (peak hip flexion, score, pelvic drop).

    write_report(path, result, angles, session_meta, calibration_quality=None)
"""

from __future__ import annotations

import datetime as _dt
import math
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from imu.analysis.pelvic_drop import lifted_side, pelvic_drop_deg
from imu.analysis import language as L
from imu.analysis.plotting import CHART_CSS, Chart
from imu.analysis.settings import DEFAULTS
from imu.types import AngleTable


CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --green:#2e8b57; --amber:#b7791f; --red:#c0392b; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: #f6f7f9; line-height: 1.45; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.lead { color: var(--muted); margin: 0 0 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 12px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.stat { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.stat b { display: block; font-size: 22px; }
.stat span { color: var(--muted); font-size: 12px; }
.tw { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; background: #fff; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; white-space: nowrap; }
th.num { text-align: right; }
tr.main td { border-bottom: none; padding-bottom: 1px; }
tr.say td { color: #374151; font-style: italic; padding-top: 0; }
table.narrow { width: auto; min-width: 360px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { width: 34%; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.pill.green { background: #d8f0dd; color: #1d6b40; } .pill.amber { background: #fbedc4; color: #8a5a00; }
.pill.red { background: #f8d4cf; color: #9b2c20; } .pill.grey { background: #eceef1; color: #4b5563; }
ul.summary { margin: 6px 0; padding-left: 20px; }
.note { color: var(--muted); font-size: 13px; }
.warn { color: #b45309; font-weight: 600; }
.fault { color: var(--red); font-weight: 600; }
.fault.amber { color: var(--amber); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
""" + CHART_CSS


def _esc(x: Any) -> str:
    return escape(str(x))


def _n(v, digits: int = 1, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return f"{round(v, digits) + 0.0:.{digits}f}{unit}"
    return _esc(v)


def _pill(text: str, color: str) -> str:
    return f'<span class="pill {color}">{_esc(text)}</span>'


def _num(item: dict) -> str:
    """The ``#`` cell of a rep/hold/stride: its index, and ``incomplete`` (why in the tooltip)
    when a sensor was missing during it, as the live rep list shows it."""
    why = item.get("incomplete")
    if not why:
        return _esc(item["index"])
    return (f'{_esc(item["index"])} <span class="pill amber" title="{_esc(why)}">'
            f'incomplete</span>')


def _slice(angles: AngleTable, t0: float, t1: float) -> tuple[np.ndarray, dict]:
    t = np.asarray(angles.time_s, float)
    a, b = np.searchsorted(t, t0, "left"), np.searchsorted(t, t1, "right")
    return t[a:b], {c: np.asarray(v, float)[a:b] for c, v in angles.columns.items()}


def _side_mean(cols: dict, suffix: str) -> np.ndarray | None:
    arrs = [cols[c] for c in (f"right_{suffix}", f"left_{suffix}") if c in cols]
    if not arrs:
        return None
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(np.stack(arrs), axis=0)


# ---------------------------------------------------------------------------------------------
# per-exercise charts


def _rep_spans(chart: Chart, items: list[dict], prefix=""):
    for it in items:
        chart.span(it["start_s"], it["end_s"], L.item_grade(it), 0.13,
                   f"{prefix}{it['index']}")


def _set_chart(s: dict, angles: AngleTable, settings: dict) -> str:
    ex = s["exercise"]
    t, cols = _slice(angles, s["start_s"], s["end_s"])
    if len(t) == 0:
        return '<p class="note">No angle samples in this set.</p>'
    items = s.get("reps", s.get("holds", [])) or []
    ch = Chart(title="Angles during the set", x_range=(s["start_s"], s["end_s"]))
    if ex == "walking":
        for side, color in (("right", "blue"), ("left", "purple")):
            if f"{side}_hip_flexion" in cols:
                ch.line(t, cols[f"{side}_hip_flexion"], color, f"{side} hip flexion")
        ch.line(t, cols["pelvis_obliquity"], "orange", "pelvis obliquity")
        return ch.svg()
    if ex in ("hinge", "squat"):
        h = _side_mean(cols, "hip_flexion")
        if h is not None:
            ch.line(t, h, "blue", "hip flexion")
        ch.line(t, cols["pelvis_tilt"], "orange", "pelvis tilt")
        if ex == "hinge":
            inc = _side_mean(cols, "thigh_inclination")
            if inc is not None:
                ch.line(t, inc, "purple", "thigh inclination", dash="5 3")
            if "lumbar_flexion" in cols:
                ch.line(t, cols["lumbar_flexion"], "teal", "lumbar flexion", width=1.2)
            ch.hline(settings["hinge.squat_inclination_deg"], "purple", "2 3", "squat limit")
        else:
            for side, color in (("right", "red"), ("left", "green")):
                if f"{side}_hip_adduction" in cols:
                    ch.line(t, cols[f"{side}_hip_adduction"], color, f"{side} adduction", width=1.1)
        _rep_spans(ch, items)
        for it in items:
            for k, fault in enumerate(it.get("faults", [])):
                label = L.fault_label(fault)
                if fault == "knee_collapse" and it.get("collapse_sides"):
                    label += " " + "+".join(x[0].upper() for x in it["collapse_sides"])
                ch.marker(it.get("peak_s", it["start_s"]), (it.get("hip_flexion_peak_deg") or 0) + 4 + 9 * k,
                          "red", label)
    elif ex in ("single_leg_hinge", "ir_hinge"):
        side = s.get("side") or "right"
        free = "left" if side == "right" else "right"
        if f"{side}_hip_flexion" in cols:
            ch.line(t, cols[f"{side}_hip_flexion"], "blue", f"stance ({side}) hip flexion")
        ch.line(t, cols["pelvis_tilt"], "orange", "pelvis tilt")
        if ex == "single_leg_hinge":
            sgn = 1.0 if side == "right" else -1.0
            ch.line(t, sgn * cols["pelvis_rotation"], "red", "pelvis opening (toward the free leg)",
                    width=1.2)
            ch.line(t, -sgn * cols["pelvis_obliquity"], "green", "pelvic drop (free-leg side)",
                    width=1.2)
            if f"{free}_thigh_inclination" in cols:
                ch.line(t, cols[f"{free}_thigh_inclination"], "purple",
                        f"free ({free}) thigh inclination", dash="5 3")
        else:
            if f"{side}_hip_rotation" in cols:
                ch.line(t, cols[f"{side}_hip_rotation"], "red", f"{side} hip rotation (+internal)",
                        width=1.4)
            ch.line(t, cols["pelvis_obliquity"], "green", "pelvis obliquity", width=1.2)
            if "lumbar_rotation" in cols:
                ch.line(t, cols["lumbar_rotation"], "teal", "lumbar rotation", width=1.2)
        ch.hline(0, "grey", "2 2")
        _rep_spans(ch, items)
        for it in items:
            for k, fault in enumerate(it.get("faults", [])):
                ch.marker(it.get("peak_s", it["start_s"]), (it.get("hip_flexion_peak_deg") or 0) + 4 + 9 * k,
                          "red", L.fault_label(fault))
    elif ex == "hip_airplane":
        side = s.get("side") or "right"
        if f"{side}_hip_rotation" in cols:
            ch.line(t, cols[f"{side}_hip_rotation"], "blue", f"{side} hip rotation (+internal)")
        ch.line(t, cols["pelvis_obliquity"], "orange", "pelvis obliquity")
        ch.line(t, cols["pelvis_rotation"], "grey", "pelvis rotation", width=1.1, dash="4 3")
        ch.hline(0, "grey", "2 2")
        _rep_spans(ch, items)
        for it in items:
            if it.get("low_confidence"):
                ch.marker(it.get("peak_s", it["start_s"]), it.get("hip_internal_rotation_peak_deg") or 0,
                          "amber", "low conf.")
    elif ex == "single_leg_stance":
        side = s.get("side") or "right"
        lifted = lifted_side(side)
        if f"{lifted}_hip_flexion" in cols:
            ch.line(t, cols[f"{lifted}_hip_flexion"], "blue", f"lifted ({lifted}) hip flexion")
        ch.line(t, pelvic_drop_deg(cols["pelvis_obliquity"], side), "orange", "pelvic drop")
        ch.hline(settings["single_leg.lift_threshold_deg"], "blue", "2 3", "lift threshold")
        for it in items:
            ch.span(it["start_s"], it["end_s"], {"green": "green", "amber": "amber", "red": "red"}.get(
                it.get("grade"), "grey"), 0.13, f"hold {it['index']}")
    elif ex == "posture":
        z = settings["posture.zone_deg"]
        ch.hband(-z, z, "zone_green")
        ch.line(t, cols["pelvis_tilt"], "blue", "pelvis tilt (+anterior)")
        ch.line(t, cols["pelvis_obliquity"], "orange", "pelvis obliquity")
        ch.hline(0, "grey", "2 2")
    return ch.svg()


def _hold_chart(s: dict, hold: dict, angles: AngleTable, settings: dict) -> str:
    side = s.get("side") or "right"
    t, cols = _slice(angles, hold["start_s"], hold["end_s"])
    drop = pelvic_drop_deg(cols["pelvis_obliquity"], side)
    g, a = settings["single_leg.green_deg"], settings["single_leg.amber_deg"]
    finite = drop[np.isfinite(drop)]
    lo = min(-2.0, float(finite.min()) - 1) if len(finite) else -2.0
    hi = max(a + 3.0, float(finite.max()) + 1.5) if len(finite) else a + 3.0
    ch = Chart(height=190, title=f"Hold {hold['index']}: pelvic drop (positive = lifted side lower)",
               y_range=(lo, hi), x_range=(hold["start_s"], hold["end_s"]))
    ch.hband(lo, g, "zone_green").hband(g, a, "zone_amber").hband(a, hi, "zone_red")
    ch.hline(0, "grey", "2 2")
    ch.line(t, drop, "orange", "pelvic drop", width=2)
    if hold.get("pelvic_drop_final_deg") is not None:
        fw = settings["single_leg.final_window_s"]
        ch.line([hold["end_s"] - fw, hold["end_s"]], [hold["pelvic_drop_final_deg"]] * 2, "#1f2937", "final (last 1 s)",
                width=2.5)
    return ch.svg()


# ---------------------------------------------------------------------------------------------
# tables

def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset(), say: bool = True) -> str:
    hdr = headers[:-1] if say else headers
    out = ['<div class="tw"><table><thead><tr>' + "".join(
        f'<th class="num">{_esc(h)}</th>' if i in numeric else f"<th>{_esc(h)}</th>" for i, h in enumerate(hdr))
        + "</tr></thead><tbody>"]
    for r in rows:
        cells = r[:-1] if say else r
        out.append('<tr class="main">' + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(cells)) + "</tr>")
        if say:
            out.append(f'<tr class="say"><td></td><td colspan="{len(cells) - 1}">{r[-1]}</td></tr>')
    out.append("</tbody></table></div>")
    return "".join(out)


def _faults_cell(it: dict) -> str:
    fs = it.get("faults") or []
    if not fs:
        return _pill("clean", "green")
    return ", ".join(f'<span class="fault {L.FAULT_GRADES.get(f, "red")}" title="{_esc(L.FAULT_WORDS.get(f, ""))}">'
                     f'{_esc(L.fault_label(f))}</span>' for f in fs)


def _items_table(s: dict) -> str:
    ex = s["exercise"]
    if ex == "hinge":
        reps = s.get("reps", [])
        has_lumbar = any("lumbar_flexion_peak_deg" in r for r in reps)
        hdr = ["#", "time (s)", "hip flex", "tilt", "thigh", "share", "rotation",
               "obliquity"] + (["lumbar"] if has_lumbar else []) + ["down / up (s)", "score", "faults",
                                                                    "what happened"]
        rows = []
        for r in reps:
            sc = r.get("score")
            color = L.item_grade(r)
            row = [_num(r), f"{r['start_s']:.1f}–{r['end_s']:.1f}", _n(r["hip_flexion_peak_deg"], 0, "°"),
                   _n(r["pelvis_tilt_peak_deg"], 0, "°"), _n(r["thigh_inclination_peak_deg"], 0, "°"),
                   _n(r["pelvis_share"], 2), _n(r["pelvis_rotation_range_deg"], 1, "°"),
                   _n(r["pelvis_obliquity_range_deg"], 1, "°")]
            if has_lumbar:
                row.append(_n(r.get("lumbar_flexion_peak_deg"), 0, "°"))
            row += [f"{_n(r['tempo_down_s'], 1)} / {_n(r['tempo_up_s'], 1)}", _pill(str(sc), color),
                    _faults_cell(r), _esc(L.item_sentence("hinge", r))]
            rows.append(row)
        num = set(range(2, 8 + has_lumbar + 1))
        return _table(hdr, rows, num)
    if ex in ("single_leg_hinge", "ir_hinge"):
        return _drill_table(s)
    if ex == "squat":
        reps = s.get("reps", [])
        sides = [x for x in ("right", "left") if any(f"collapse_index_{x}" in r for r in reps)]
        hdr = ["#", "time (s)", "hip flex peak"] + [f"collapse {x}" for x in sides] + ["faults", "what happened"]
        rows = [[_num(r), f"{r['start_s']:.1f}–{r['end_s']:.1f}", _n(r["hip_flexion_peak_deg"], 0, "°")]
                + [_n(r.get(f"collapse_index_{x}"), 1, "°") for x in sides]
                + [_faults_cell(r), _esc(L.item_sentence("squat", r))] for r in reps]
        return _table(hdr, rows, set(range(2, 3 + len(sides))))
    if ex == "hip_airplane":
        reps = s.get("reps", [])
        hdr = ["#", "time (s)", "external peak", "internal peak", "obliquity leak", "confidence", "what happened"]
        rows = [[_num(r), f"{r['start_s']:.1f}–{r['end_s']:.1f}",
                 _n(r["hip_external_rotation_peak_deg"], 0, "°"), _n(r["hip_internal_rotation_peak_deg"], 0, "°"),
                 _n(r["obliquity_leak_deg"], 1, "°"),
                 _pill(_n(r.get("confidence"), 2), "amber" if r.get("low_confidence") else "green"),
                 _esc(L.item_sentence("hip_airplane", r))] for r in reps]
        return _table(hdr, rows, {2, 3, 4})
    if ex == "single_leg_stance":
        holds = s.get("holds", [])
        hdr = ["#", "time (s)", "mean drop", "max drop", "final drop", "drift (RMS)", "in ±3°", "grade",
               "what happened"]
        rows = [[_num(h), f"{h['start_s']:.1f}–{h['end_s']:.1f}", _n(h["pelvic_drop_mean_deg"], 1, "°"),
                 _n(h["pelvic_drop_max_deg"], 1, "°"), _n(h["pelvic_drop_final_deg"], 1, "°"),
                 _n(h["drift_rms_deg"], 1, "°"), _n(h["time_in_band_pct"], 0, "%"),
                 _pill(h.get("grade") or "–", h.get("grade") or "grey"), _esc(L.item_sentence("single_leg_stance", h))]
                for h in holds]
        return _table(hdr, rows, {2, 3, 4, 5, 6})
    if ex == "walking":
        strides = s.get("strides", [])
        hdr = ["#", "leg", "time (s)", "stride (s)", "hip flex peak", "hip ext peak", "hip range",
               "obliquity (stance)", "pelvic drop (stance)", "tilt range", "rotation range"]
        rows = [[_num(r), r["side"], f"{r['start_s']:.1f}–{r['end_s']:.1f}",
                 _n(r["stride_time_s"], 2), _n(r["hip_flexion_peak_deg"], 0, "°"),
                 _n(r["hip_extension_peak_deg"], 0, "°"), _n(r["hip_flexion_range_deg"], 0, "°"),
                 _n(r["pelvic_obliquity_range_deg"], 1, "°"), _n(r["pelvic_drop_deg"], 1, "°"),
                 _n(r["pelvis_tilt_range_deg"], 1, "°"), _n(r["pelvis_rotation_range_deg"], 1, "°")]
                for r in strides]
        summ = [["cadence", _n(s.get("cadence_steps_per_min"), 0, " steps/min")],
                ["median stride time", _n(s.get("stride_time_median_s"), 2, " s")]]
        for f, d in (s.get("symmetry") or {}).items():
            summ.append([f"symmetry {f.replace('_', ' ')} (right − left, index)",
                         f"{_n(d.get('right_minus_left'), 2)} ({_n(d.get('index_pct'), 0, '%')})"])
        return (_table(["measure", "value"], summ, {1}, say=False).replace(
            "<table>", '<table class="narrow">') + _table(hdr, rows, set(range(3, 11))))
    if ex == "posture":
        p = s
        rows = [["static tilt (+anterior)", _n(p.get("static_tilt_deg"), 1, "°")],
                ["static obliquity", _n(p.get("static_obliquity_deg"), 1, "°")],
                ["tilt range", _n(p.get("tilt_range_deg"), 1, "°")],
                ["return error (last second)", _n(p.get("return_error_deg"), 1, "°")],
                ["time within ±5°", _n(p.get("time_in_zone_pct"), 0, "%")]]
        return _table(["measure", "value"], rows, {1}, say=False).replace("<table>", '<table class="narrow">')
    return ""


def _drill_table(s: dict) -> str:
    """Per-rep table of a single-leg hinge or internal-rotation hinge set."""
    ex = s["exercise"]
    reps = s.get("reps", [])
    if ex == "single_leg_hinge":
        cols = [("hip flex", "hip_flexion_peak_deg", 0), ("tilt", "pelvis_tilt_peak_deg", 0),
                ("pelvis opening", "pelvis_opening_peak_deg", 1), ("pelvic drop", "pelvic_drop_max_deg", 1),
                ("free thigh", "free_thigh_inclination_min_deg", 0),
                ("stance thigh", "stance_thigh_inclination_peak_deg", 0)]
        if any("lumbar_flexion_peak_deg" in r for r in reps):
            cols.append(("lumbar", "lumbar_flexion_peak_deg", 0))
        say = L.slh_rep_sentence
    else:
        cols = [("hip flex", "hip_flexion_peak_deg", 0), ("internal rotation", "hip_internal_rotation_peak_deg", 1),
                ("obliquity", "pelvis_obliquity_range_deg", 1)]
        if any("lumbar_twist_peak_deg" in r for r in reps):
            cols.append(("lumbar twist", "lumbar_twist_peak_deg", 1))
        say = L.irh_rep_sentence
    hdr = ["#", "time (s)"] + [c[0] for c in cols] + ["score", "faults", "what happened"]
    rows = []
    for r in reps:
        sc = r.get("score")
        color = "green" if sc is not None and sc >= 80 else ("amber" if sc is not None and sc >= 60 else "red")
        rows.append([_num(r), f"{r['start_s']:.1f}–{r['end_s']:.1f}"]
                    + [_n(r.get(key), d, "°") for _, key, d in cols]
                    + [_pill(str(sc), color), _faults_cell(r), _esc(say(r) + L.incomplete_note(r))])
    return _table(hdr, rows, set(range(2, 2 + len(cols))))


def _kv_table(d: dict) -> str:
    rows = []

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}{k}" if not prefix else f"{prefix} › {k}", x)
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, (int, float)) for x in v):
            rows.append((prefix, ", ".join(_n(x, 3) if isinstance(x, float) else str(x) for x in v)))
        else:
            rows.append((prefix, _n(v, 3) if isinstance(v, float) else _esc(v)))

    walk("", d)
    return ('<table class="kv"><tbody>' + "".join(f"<tr><th>{_esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
            + "</tbody></table>")


PHASE_NAMES = {
    "standing": "Quiet standing (vertical axes)",
    "hinges": "Hip hinges (pelvis flexion axis)",
    "still_before_swings": "Still before the leg swings",
    "swings_right": "Right leg swings (femur flexion axis)",
    "swings_left": "Left leg swings (femur flexion axis)",
    "still_end": "Still at the end",
}


def _phase_summary(f: dict) -> str:
    if f.get("missing"):
        return "not found"
    parts = []
    if "duration_s" in f:
        parts.append(f"{f['duration_s']:.1f} s")
    sensors = f.get("sensors")
    if isinstance(sensors, dict) and sensors:
        g = [x.get("gravity_spread_deg") for x in sensors.values() if isinstance(x, dict)]
        r = [x.get("gyr_rms_deg_s") for x in sensors.values() if isinstance(x, dict)]
        g = [v for v in g if isinstance(v, (int, float))]
        r = [v for v in r if isinstance(v, (int, float))]
        if g:
            parts.append(f"gravity scatter up to {max(g):.2f}°")
        if r:
            parts.append(f"rate noise up to {max(r):.2f}°/s")
        parts.append(f"{len(sensors)} sensors")
    if "reps" in f:
        parts.append(f"{f['reps']} reps")
    if isinstance(f.get("range_deg"), (int, float)):
        parts.append(f"range {f['range_deg']:.0f}°")
    if isinstance(f.get("axis_spread_deg"), (int, float)):
        parts.append(f"axis spread {f['axis_spread_deg']:.1f}° between reps")
    if not parts:
        parts = [f"{k} {_n(v, 2) if isinstance(v, float) else _esc(v)}" for k, v in f.items()
                 if not isinstance(v, (dict, list))]
    return ", ".join(parts)


def _calibration_table(quality: dict, problems: list) -> str:
    bad = {}
    for item in problems or []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            bad.setdefault(item[0], []).append(str(item[1]))
    rows = []
    other = {}
    for phase, f in quality.items():
        if not isinstance(f, dict):
            other[phase] = f
            continue
        status = ("poor", "red") if phase in bad or f.get("missing") else ("ok", "green")
        note = "; ".join(bad.get(phase, []))
        rows.append([_esc(PHASE_NAMES.get(phase, phase.replace("_", " "))), _pill(*status),
                     _esc(_phase_summary(f)) + (f' <span class="fault">{_esc(note)}</span>' if note else "")])
    html = _table(["phase", "", "figures"], rows, say=False) if rows else ""
    if other:
        html += _kv_table(other)
    return html


# ---------------------------------------------------------------------------------------------
# trends


def _trends(sets: list[dict]) -> str:
    out = []
    hinge = [(k, s) for k, s in enumerate(sets, 1) if s["exercise"] == "hinge" and s.get("reps")]
    sls = [(k, s) for k, s in enumerate(sets, 1) if s["exercise"] == "single_leg_stance" and s.get("holds")]
    if len(hinge) >= 2:
        x = [k for k, _ in hinge]
        ticks = [(k, f"set {k}") for k in x]
        # the sets' own means (their summaries leave incomplete reps out)
        peak = [_mean_of(s, "mean_hip_flexion_peak_deg") for _, s in hinge]
        ch = Chart(height=210, title="Hinge: peak hip flexion per set (mean over reps)", xlabel="set",
                   x_range=(min(x) - 0.5, max(x) + 0.5), x_ticks=ticks, y_range=(0, np.nanmax(peak + [0.0]) * 1.15 + 5))
        ch.points(x, peak, "blue", "peak hip flexion")
        out.append(ch.svg())
        hs = [(k, s) for k, s in hinge if s["exercise"] == "hinge"]
        if len(hs) >= 2:
            xs = [k for k, _ in hs]
            score = [_mean_of(s, "mean_score") for _, s in hs]
            ch = Chart(height=210, title="Hinge score per set (mean over reps)", xlabel="set", ylabel="score",
                       x_range=(min(x) - 0.5, max(x) + 0.5), y_range=(0, 105), x_ticks=[(k, f"set {k}") for k in xs])
            ch.points(xs, score, "green", "mean score")
            out.append(ch.svg())
    if len(sls) >= 2:
        x = [k for k, _ in sls]
        mx = [max(h["pelvic_drop_max_deg"] for h in s["holds"] if h["pelvic_drop_max_deg"] is not None)
              for _, s in sls]
        mean = [_mean_of(s, "mean_pelvic_drop_deg") for _, s in sls]
        ch = Chart(height=210, title="Pelvic drop per single-leg set", xlabel="set",
                   x_range=(min(x) - 0.5, max(x) + 0.5), x_ticks=[(k, f"set {k}") for k in x],
                   y_range=(min(0.0, np.nanmin(mean + [1.0]) - 1), max(10.0, max(mx) + 1.5)))
        ch.hband(-50, 4, "zone_green").hband(4, 8, "zone_amber").hband(8, 90, "zone_red")
        ch.points(x, mx, "red", "largest drop").points(x, mean, "orange", "mean drop")
        out.append(ch.svg())
    if not out:
        return '<p class="note">Trends appear when the session has two or more sets of the same kind.</p>'
    return "".join(f'<div class="card">{c}</div>' for c in out)


# ---------------------------------------------------------------------------------------------


def _mean_of(s: dict, key: str) -> float:
    """A set's summary mean ``key`` (NaN when it has none: every rep incomplete)."""
    v = (s.get("summary") or {}).get(key)
    return float("nan") if v is None else float(v)


def _overview(result: dict) -> str:
    sets = result.get("sets", [])
    reps = sum(len(s.get("reps", [])) for s in sets if s["exercise"] != "posture")
    holds = sum(len(s.get("holds", [])) for s in sets)
    scores = [r["score"] for s in sets if s["exercise"] in ("hinge", "single_leg_hinge", "ir_hinge")
              for r in s.get("reps", []) if not r.get("incomplete")]  # as the sets' means
    drops = [h["pelvic_drop_max_deg"] for s in sets for h in s.get("holds", [])
             if h.get("pelvic_drop_max_deg") is not None]
    stats = [(str(len(sets)), "sets"), (str(reps), "reps"), (str(holds), "single-leg holds")]
    if scores:
        stats.append((f"{np.mean(scores):.0f}/100", "mean hinge score (all hinge drills)"))
    if drops:
        stats.append((f"{max(drops):.1f}°", "largest pelvic drop"))
    return '<div class="cards">' + "".join(f'<div class="stat"><b>{_esc(v)}</b><span>{_esc(k)}</span></div>'
                                           for v, k in stats) + "</div>"


def render_report(result: dict, angles: AngleTable, session_meta: dict | None = None,
                  calibration_quality: dict | None = None) -> str:
    """The report as an HTML string (see :func:`write_report`)."""
    session_meta = dict(session_meta or {})
    settings = {k: v for k, (v, _) in DEFAULTS.items()}
    settings.update(result.get("settings") or {})
    title = session_meta.pop("title", None) or session_meta.get("name") or "Session report"
    sets = result.get("sets", [])
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             f"<title>{_esc(title)} – hip &amp; pelvis report</title><style>{CSS}</style></head><body><main>"]
    parts.append(f"<h1>{_esc(title)}</h1><p class=\"lead\">Hip and pelvis movement report: did the hips do the "
                 f"work, and did the pelvis stay level?</p>")
    # -- summary
    parts.append("<h2>Session summary</h2>")
    parts.append(_overview(result))
    parts.append('<div class="card"><ul class="summary">' + "".join(
        f"<li>{_esc(line)}</li>" for line in L.session_summary_lines(result)) + "</ul></div>")
    if session_meta:
        parts.append(_kv_table(session_meta))
    # -- calibration
    parts.append("<h2>Calibration quality</h2>")
    if calibration_quality:
        cq = dict(calibration_quality)
        verdict = cq.pop("verdict", None) or cq.pop("status", None)
        msg = cq.pop("message", None)
        if verdict is not None:
            ok = str(verdict).lower() in ("ok", "pass", "passed", "good", "true")
            parts.append(f"<p>{_pill(str(verdict), 'green' if ok else 'red')} {_esc(msg or '')}</p>")
        elif msg:
            parts.append(f"<p>{_esc(msg)}</p>")
        problems = cq.pop("problems", [])
        parts.append(_calibration_table(cq, problems))
    else:
        parts.append('<p class="note">No calibration quality figures were available for this session; angles '
                     'are relative to the session\'s own standing pose.</p>')
    # -- sets
    for k, s in enumerate(sets, 1):
        parts.append(f'<h2 id="set{k}">Set {k}: {_esc(L.exercise_title(s))} '
                     f'<span class="note">({s["start_s"]:.1f}–{s["end_s"]:.1f} s)</span></h2>')
        parts.append(f"<p>{_esc(L.set_sentence(s))}</p>")
        if s.get("side_inferred"):
            parts.append(f'<p class="note">The stance side ({_esc(s.get("side"))}) was inferred from the '
                         f"thigh angles; pass --side to set it.</p>")
        if s.get("inferred"):
            parts.append(f'<p class="note">No set was recorded here: the exercise was recognised '
                         f'from the angles (confidence {s.get("confidence", 0):.2f}).</p>')
        if s.get("label_mismatch"):
            parts.append(f'<p class="warn">⚠ {_esc(L.capitalise(s.get("warning", "")))}</p>')
        parts.append(f'<div class="card">{_set_chart(s, angles, settings)}</div>')
        parts.append(_items_table(s))
        if s["exercise"] == "single_leg_stance":
            for h in s.get("holds", []):
                dur = h["end_s"] - h["start_s"]
                parts.append(f"<h3>Hold {h['index']} · {dur:.0f} s on the {_esc(h.get('side'))} leg · "
                             f"{_pill(h.get('grade') or '–', h.get('grade') or 'grey')}</h3>")
                parts.append(f'<div class="card">{_hold_chart(s, h, angles, settings)}</div>')
    for x in result.get("sets_not_analysed", []):
        parts.append(f'<p class="note">Not analysed: {_esc(x.get("exercise"))} '
                     f'({x["start_s"] or 0:.1f}–{x["end_s"] or 0:.1f} s): {_esc(x.get("reason"))}</p>')
    # -- trends
    parts.append("<h2>Trends across sets</h2>")
    parts.append(_trends(sets))
    # -- footer
    changed = result.get("settings") or {}
    parts.append("<h2>How to read this</h2><div class=\"card note\"><p>Angles are in degrees and zero in the "
                 "calibration pose. Pelvis tilt is positive when the top of the pelvis moves forward; pelvic "
                 "drop is positive when the pelvis drops on the side of the lifted leg (green below "
                 f"{settings['single_leg.green_deg']:g}°, amber below {settings['single_leg.amber_deg']:g}°, "
                 "red above). Pelvis share near 1 means the hinge came from the hips with steady thighs. "
                 "Hinge score: 100 minus 30 for a squat pattern, 25 for lumbar flexion, 15 each for a pelvic "
                 "twist or lateral shift, up to 20 for a pelvis share below 0.8 and 10 for a descent "
                 "faster than 0.6 s. The single-leg and internal-rotation hinges score the same way with "
                 "their own faults: 15 each for the pelvis opening toward the free leg or dropping on its "
                 "side, 30 for a squat pattern, 25 for lumbar flexion; 30 for no internal rotation, 15 for "
                 "a lateral shift, 25 for a lumbar twist. A rep's standing is the quiet stretch before it; "
                 "a rep marked 'standing from the calibration' had none and is measured from the "
                 "calibration pose.</p>"
                 + (f"<p>Settings changed from the defaults: {_esc(', '.join(f'{k}={v:g}' for k, v in changed.items()))}"
                    "</p>" if changed else "<p>All thresholds at their defaults.</p>") + "</div>")
    parts.append(f"<footer>Generated by imu on {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC} · "
                 f"schema {_esc(result.get('schema', ''))}</footer></main></body></html>")
    return "".join(parts)


def write_report(path, result: dict, angles: AngleTable, session_meta: dict | None = None,
                 calibration_quality: dict | None = None, force: bool = False) -> Path:
    """Write the self-contained HTML report (under the output rule, :mod:`imu.output`).

    Parameters
    ----------
    path : str or Path
        Output file (written exactly as named).
    result : dict
        Analysis JSON (:func:`imu.analysis.analyze_angles`).
    angles : AngleTable
        The angles the analysis ran on (for the charts).
    session_meta : dict, optional
        Shown as the session table (e.g. ``name``, ``recorded``, ``duration_s``, ``sensors``).
    calibration_quality : dict, optional
        Quality figures of the calibration used (may hold ``verdict`` and ``message``).
    """
    from imu.output import check_output, write_file

    check_output(path, what="report", force=force)
    html = render_report(result, angles, session_meta, calibration_quality)
    return write_file(path, html, what="report", force=force)
