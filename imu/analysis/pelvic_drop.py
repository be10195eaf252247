"""Pelvic drop on one leg: the one definition of its sign and of its green/amber/red grade.

``pelvic_drop = +pelvis_obliquity`` when the right leg is lifted (left stance: the right side of
the pelvis is lower) and ``-pelvis_obliquity`` when the left leg is lifted, so it is positive
when the pelvis drops on the lifted side and negative when it hikes (docs/metrics.md). The grade
reads the signed value: below ``single_leg.green_deg`` green (a hike is green), below
``single_leg.amber_deg`` amber, else red. The analysis (per hold, from the hold's maximum),
the report and the dashboard (live value) all call these functions with the session's settings.
"""

from __future__ import annotations

import numpy as np

GRADES = ("green", "amber", "red")


def lifted_side(stance_side: str) -> str:
    """The lifted leg of a single-leg stance on ``stance_side`` (``left``/``right``)."""
    if stance_side not in ("left", "right"):
        raise ValueError(f"stance side must be 'left' or 'right', not {stance_side!r}")
    return "left" if stance_side == "right" else "right"


def drop_sign(stance_side: str) -> float:
    """+1 with the right leg lifted (left stance), -1 with the left leg lifted."""
    return 1.0 if lifted_side(stance_side) == "right" else -1.0


def pelvic_drop_deg(obliquity_deg, stance_side: str):
    """Pelvic drop (degrees, same shape as ``obliquity_deg``) of a stance on ``stance_side``."""
    return drop_sign(stance_side) * np.asarray(obliquity_deg, dtype=float) \
        if np.ndim(obliquity_deg) else drop_sign(stance_side) * float(obliquity_deg)


def drop_limits_deg(settings) -> tuple[float, float]:
    """``(green_deg, amber_deg)`` of :class:`imu.analysis.Settings` (``single_leg.*``)."""
    return float(settings["single_leg.green_deg"]), float(settings["single_leg.amber_deg"])


def drop_grade(drop_deg: float | None, green_deg: float, amber_deg: float) -> str | None:
    """``green`` / ``amber`` / ``red`` of a signed pelvic drop in degrees; None if unknown."""
    if drop_deg is None or not np.isfinite(drop_deg):
        return None
    return "green" if drop_deg < green_deg else ("amber" if drop_deg < amber_deg else "red")
