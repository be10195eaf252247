"""Reps, holds and strides during which a sensor was missing: one rule for live and batch.

A sensor missing for a while (not connected yet, its link down, a gap in a recording) leaves
its angle columns empty (NaN); a missing sacrum leaves the pelvis columns empty (a recording's
uniform time base) or no rows at all (the live rows follow its samples). A rep, hold or stride
during which a sensor was missing for at least :data:`MISSING_MIN_S` is *incomplete*: its
numbers rest on part of the movement. It is marked with ``incomplete`` (why, in words) and
``missing_sensors`` (role → seconds), its set's ``summary`` counts it
(``incomplete_reps`` / ``incomplete_holds`` / ``incomplete_strides``) and its means leave it
out (``left_out_of_means``, :func:`summary_fields`), in the live view, ``imu analyze`` (JSON,
text, HTML report), batch and the API alike.
"""

from __future__ import annotations

import numpy as np

#: a sensor missing at least this long inside a rep or hold makes it incomplete, seconds (a
#: few dropped notifications, bridged by the fusion, do not)
MISSING_MIN_S = 0.25


def column_role(column: str) -> str | None:
    """The sensor whose samples an angle column needs besides the sacrum's (the sacrum for the
    pelvis columns; None for a column of no sensor)."""
    if column.startswith("pelvis_"):
        return "sacrum"
    if column.startswith("lumbar_"):
        return "trunk"
    side = column.split("_", 1)[0]
    return f"{side}_thigh" if side in ("right", "left") else None


def role_columns(columns) -> dict[str, list[str]]:
    """Role → the angle columns that need it (:func:`column_role`)."""
    out: dict[str, list[str]] = {}
    for c in columns:
        r = column_role(c)
        if r is not None:
            out.setdefault(r, []).append(c)
    return out


def sensor_words(role: str) -> str:
    return role.replace("_", " ") + " sensor"


def missing_spans(time_s: np.ndarray, columns: dict[str, np.ndarray],
                  min_s: float = MISSING_MIN_S) -> list[tuple[str, float, float]]:
    """``(role, t0_s, t1_s)`` stretches of a whole angle table when a sensor was missing, at
    least ``min_s`` long: the same stretches :class:`imu.live.analysis.LiveAnalysis` finds row
    by row. The live rows follow the sacrum's samples, so only the rows with pelvis angles
    count: the sacrum was missing between two such rows ``min_s`` or more apart; another sensor
    from the first such row with all its columns NaN up to the next with a value (the last
    row if none).
    """
    t = np.asarray(time_s, dtype=float)
    roles = role_columns(columns)

    def absent(cols):
        return ~np.isfinite(np.column_stack([np.asarray(columns[c], float) for c in cols])
                            ).any(axis=1)

    rows = ~absent(roles.pop("sacrum")) if "sacrum" in roles else np.ones(len(t), bool)
    t = t[rows]
    out: list[tuple[str, float, float]] = []
    if len(t) == 0:
        return out
    for role, cols in roles.items():
        gone = absent(cols)[rows]
        if not gone.any():
            continue
        edges = np.diff(np.concatenate([[0], gone.view(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            t1 = float(t[b]) if b < len(t) else float(t[-1])
            if t1 - float(t[a]) >= min_s:
                out.append((role, float(t[a]), t1))
    for i in np.flatnonzero(np.diff(t) >= min_s):
        out.append(("sacrum", float(t[i]), float(t[i + 1])))
    return out


def missing_in(spans, t0_s: float, t1_s: float, min_s: float = MISSING_MIN_S) -> dict[str, float]:
    """Role → seconds it was missing (at least ``min_s``) from ``t0_s`` to ``t1_s`` (seconds,
    session clock), of the ``(role, a, b)`` stretches ``spans``."""
    out: dict[str, float] = {}
    for r, a, b in spans:
        d = min(b, t1_s) - max(a, t0_s)
        if d > 0:
            out[r] = out.get(r, 0.0) + d
    return {r: round(d, 2) for r, d in out.items() if d >= min_s}


def mark(item: dict, gone: dict[str, float]) -> dict:
    """Mark ``item`` (a rep, hold or stride) incomplete when ``gone`` (role → seconds missing)
    names a sensor; returns ``item``."""
    if gone:
        item["missing_sensors"] = gone
        item["incomplete"] = "; ".join(f"{sensor_words(r)} missing for {d:.1f} s of it"
                                       for r, d in gone.items())
    return item


def mark_items(items: list[dict], gone) -> None:
    """Mark each of ``items`` (reps, holds or strides) incomplete where ``gone(t0_s, t1_s)``
    (role → seconds missing, e.g. :func:`missing_in` over a table's spans) names a sensor."""
    for item in items:
        if item.get("start_s") is not None and item.get("end_s") is not None:
            mark(item, gone(float(item["start_s"]), float(item["end_s"])))


def summary_fields(det, items: list[dict]) -> dict:
    """The set-level fields of detector ``det`` (:meth:`~imu.analysis.base.Detector.set_fields`)
    whose means leave the incomplete ``items`` out: the one rule for every set summary (the
    analysis JSON, its text and HTML report, the live view, the headless summary, batch).

    A mean over a rep that rests on part of the movement is biased; counts, totals and
    extremes stay over every item. Every ``summary`` key ``mean_*`` is taken from the complete
    items only (None when none is complete) and ``summary["left_out_of_means"]`` says how many
    were left out (only when some were). ``items`` are ``det``'s results, already marked
    (:func:`mark_items`)."""
    fields = det.set_fields()
    summ = fields.get("summary")
    n_out = sum(1 for it in items if it.get("incomplete"))
    if not n_out or not isinstance(summ, dict) or not any(k.startswith("mean_") for k in summ):
        return fields
    kept = det.results
    det.results = [it for it in kept if not it.get("incomplete")]
    try:
        part = det.set_fields().get("summary") or {}
    finally:
        det.results = kept
    for k in summ:
        if k.startswith("mean_"):
            summ[k] = part.get(k)
    summ["left_out_of_means"] = n_out
    return fields


def count_incomplete(res: dict) -> dict:
    """``summary["incomplete_<kind>"]`` of a set result: how many of its reps/holds/strides are
    incomplete (only when some are); returns ``res``."""
    for kind in ("reps", "holds", "strides"):
        items = res.get(kind)
        if items is None:
            continue
        n = sum(1 for it in items if it.get("incomplete"))
        if n:
            res.setdefault("summary", {})[f"incomplete_{kind}"] = n
    return res
