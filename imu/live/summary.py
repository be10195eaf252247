"""A plain-text summary of a (live or replayed) session: sensors, duration, sets, reps, holds."""

from __future__ import annotations

from imu.analysis.language import item_sentence
from imu.sources.base import SensorStatus
from imu.types import SensorInfo

EXERCISE_NAMES = {"hinge": "hip hinge", "single_leg_stance": "single-leg stance",
                  "hip_airplane": "hip airplane", "squat": "squat", "posture": "posture",
                  "single_leg_hinge": "single-leg hinge", "ir_hinge": "internal-rotation hinge"}


def _f(v, fmt="{:.1f}", unit="°") -> str:
    try:
        return fmt.format(float(v)) + unit
    except (TypeError, ValueError):
        return "—"


def session_summary(title: str, sensors: dict[str, SensorInfo], duration_s: float,
                    status: dict[str, SensorStatus], sets: list[dict], reps: list[dict],
                    holds: list[dict], calibration: str = "") -> str:
    """Lines a user reads after a headless run.

    Parameters
    ----------
    title : str
        Where the session came from.
    sensors : dict
        Role → :class:`SensorInfo`.
    duration_s : float
    status : dict
        Role → final :class:`SensorStatus` (samples, drops).
    sets, reps, holds : list of dict
        Sets (``exercise``, ``side``, ``start_s``, ``end_s``) and the reps/holds with
        ``set_index`` (1-based).
    calibration : str
        One line on the calibration.
    """
    lines = [f"{title}: {len(sensors)} sensors, {duration_s:.1f} s"]
    for role, info in sensors.items():
        st = status.get(role)
        extra = ""
        if st is not None:
            extra = f"  {st.samples} samples, {st.dropped} dropped"
        rate = f"{info.rate_hz:g} Hz" if info.rate_hz else ""
        lines.append(f"  {role:<12} {info.sensor_id:<16} {info.model:<10} {rate:>8}{extra}")
    if calibration:
        lines.append(f"calibration: {calibration}")
    if not sets:
        lines.append("no exercise sets")
    for k, s in enumerate(sets, 1):
        name = EXERCISE_NAMES.get(s.get("exercise"), s.get("exercise"))
        side = f", {s['side']} side" if s.get("side") else ""
        set_reps = [r for r in reps if r.get("set_index") == k]
        set_holds = [h for h in holds if h.get("set_index") == k]
        count = (f"{len(set_holds)} holds" if s.get("exercise") == "single_leg_stance"
                 else f"{len(set_reps)} reps")
        n_bad = sum(1 for it in set_reps + set_holds if it.get("incomplete"))
        if n_bad:
            count += f" ({n_bad} incomplete: a sensor was missing)"
        lines.append(f"set {k}: {name}{side}, {s['start_s']:.1f}–{s['end_s']:.1f} s, {count}")
        for r in set_reps:
            line = f"  {item_sentence(s.get('exercise') or 'hinge', r)}"
            if s.get("exercise") in ("hinge", "single_leg_hinge", "ir_hinge"):
                thigh = r.get("thigh_inclination_peak_deg", r.get("stance_thigh_inclination_peak_deg"))
                line += (f"  [score {r.get('score', '—')}, hip "
                         f"{_f(r.get('hip_flexion_peak_deg'), '{:.0f}')}, tilt "
                         f"{_f(r.get('pelvis_tilt_peak_deg'), '{:.0f}')}"
                         + (f", thigh {_f(thigh, '{:.0f}')}]" if thigh is not None else "]"))
            lines.append(line)
        for h in set_holds:
            lines.append(f"  {item_sentence('single_leg_stance', h)}")
    return "\n".join(lines)
