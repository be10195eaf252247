"""``imu info SESSION``: sensors, roles, models, duration, measured rates, gaps and events."""

from __future__ import annotations

import json
import sys

NAME = "info"
HELP = "summarise a session: sensors, roles, duration, measured rates, gaps and drops, events"


def add_arguments(parser) -> None:
    parser.add_argument("session", metavar="SESSION",
                        help="recording file, CSV folder or Movella DOT export")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as JSON (with the raw calibration profile)")
    from imu.session.load import add_session_arguments

    add_session_arguments(parser)


def sensor_summary(d) -> dict:
    """Counts and rates of one :class:`~imu.types.SensorData`.

    Gaps and missing samples come from the sequence numbers; when those show none (a CSV
    folder numbers its rows 0, 1, 2, ...), from the sensor timestamps and the nominal rate
    (``gap_source`` says which). ``rate_measured_hz`` counts samples per second of sensor
    clock, dropped ones included; ``rate_received_hz`` counts what arrived per host second.
    """
    import numpy as np

    from imu import timing

    n = len(d)
    out = {"role": d.info.role, "sensor_id": d.info.sensor_id, "model": d.info.model,
           "data": d.kind,
           "firmware": d.info.firmware, "rate_set_hz": d.info.rate_hz, "samples": n,
           "start_s": None, "end_s": None, "duration_s": 0.0, "rate_measured_hz": None,
           "rate_received_hz": None, "gaps": 0, "missing": 0, "longest_gap_s": 0.0,
           "duplicates": 0, "seq_resets": 0, "nonfinite": 0, "out_of_range": 0,
           "duplicate_times": 0}
    if n == 0:
        return out
    from imu.session.validate import replayed_samples, sample_health

    out.update(sample_health(d))  # NaN/inf, out-of-range samples, repeated timestamps: kept
    # out of fusion
    th = d.t_host_s
    t0, t1 = d.host_span_s()  # a NaN time (counted above) is no start or end
    if not np.isfinite(t0):
        return out
    out.update(start_s=t0, end_s=t1, duration_s=t1 - t0)
    if n < 2:
        return out
    seq = np.asarray(d.seq, dtype=np.int64)
    ds = np.diff(seq)
    ts = np.asarray(d.t_sensor_s, dtype=float)
    ts = timing.unwrap_sensor_time(ts) if np.all(np.isfinite(ts)) else None
    out["gap_source"] = "seq"
    if ts is not None and np.all(ds == 1):
        # no drops in the sequence numbers: either none happened, or the source has no real
        # sequence numbers (CSV folders number their rows): count missing samples from time
        dt = np.diff(ts)
        pos = dt[dt > 0]
        rate = d.info.rate_hz or (1.0 / float(np.median(pos)) if len(pos) else 0.0)
        if rate > 0:
            steps = np.maximum(np.rint(dt * rate).astype(np.int64), 1)
            if np.any(steps > 1):
                ds = steps
                out["gap_source"] = "time"
    gaps = ds > 1
    out["gaps"] = int(gaps.sum())
    out["missing"] = int((ds[gaps] - 1).sum())
    back = ds < 0
    replayed = replayed_samples(seq, d.t_sensor_s) if back.any() else None
    if replayed is None:
        out["duplicates"] = int((ds == 0).sum())
        out["seq_resets"] = int(back.sum())
    else:  # packets sent again (a FIFO resent): duplicates, not a counter that restarted
        out["duplicates"] = int(((ds == 0) | replayed[1:]).sum())
        out["seq_resets"] = int((back & ~replayed[1:]).sum())
    if out["gaps"]:
        out["longest_gap_s"] = float(np.max(np.diff(th)[gaps]))
    span_h = t1 - t0
    if span_h > 0:
        out["rate_received_hz"] = (n - 1) / span_h
    if ts is not None:
        ok = ds > 0
        dt = np.diff(ts)[ok]
        if np.all(dt > 0) and dt.sum() > 0:  # samples per second of sensor clock, drops counted
            out["rate_measured_hz"] = float(ds[ok].sum() / dt.sum())
    if out["rate_measured_hz"] is None:
        out["rate_measured_hz"] = out["rate_received_hz"]
    return out


def summarize(session, source: str) -> dict:
    """The whole ``imu info`` summary as a JSON-serialisable dict."""
    from imu.session.load import describe_source

    events = [{"t_s": e.t_s, "kind": e.kind, "exercise": e.exercise, "side": e.side,
               "note": e.note} for e in session.events]
    return {
        "source": str(source), "kind": describe_source(source) or "unknown",
        "meta": session.meta, "duration_s": session.duration_s,
        "sensors": [sensor_summary(session.sensors[r]) for r in session.roles],
        "events": events,
        "calibration": session.calibration or None,  # the raw profile (--json)
    }


def calibration_lines(profile: dict | None) -> list[str]:
    """The stored calibration in a few lines: method, date, sensors, verdict and per phase its
    key figures (the raw profile is ``imu info --json``)."""
    if not profile:
        return ["calibration: none stored (analysis calibrates from the session's own "
                "calibration phases)"]
    from imu.calibration import Profile, check_quality
    from imu.errors import BadInputError

    try:
        prof = Profile.from_dict(profile, where="stored calibration")
    except BadInputError as exc:
        return [f"calibration: stored but unreadable ({exc.message})"]
    phases = [p for p in prof.quality if isinstance(prof.quality[p], dict)]
    method = {"protocol": "calibration protocol",
              "auto": "auto (quiet standing + the session's own motion)"}.get(
        profile.get("method"), profile.get("method")) or ("calibration protocol" if any(
            p.startswith(("hinges", "swings")) for p in phases) else "quiet standing only")
    problems = check_quality(prof.quality) if prof.quality else []
    verdict = "ok" if not problems else "poor: " + "; ".join(f"{p}: {m}" for p, m in problems)
    lines = [f"calibration: {method}, {prof.created or 'date unknown'}, "
             f"{', '.join(prof.roles)}; quality {verdict}"]
    lines += ["  " + ln.strip() for ln in prof.summary().splitlines()[1:]]
    return lines


def _fmt_rate(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def format_summary(s: dict) -> str:
    """Human-readable text of :func:`summarize`."""
    kinds = {"recording": "recording", "csv_folder": "CSV folder", "csv_file": "sensor CSV",
             "dot": "Movella DOT export"}
    lines = [f"{s['source']}: {kinds.get(s['kind'], s['kind'])}, "
             f"{len(s['sensors'])} sensor(s), duration {s['duration_s']:.2f} s"]
    meta = {k: v for k, v in s["meta"].items() if not isinstance(v, (dict, list))}
    if meta:
        lines.append("  " + ", ".join(f"{k}: {v}" for k, v in sorted(meta.items())))
    head = ("role", "sensor", "model", "data", "set Hz", "measured Hz", "samples", "duration s",
            "gaps", "missing", "longest gap s", "dups", "resets", "NaN/inf", "huge", "same time")
    rows = [head]
    for x in s["sensors"]:
        rows.append((x["role"], x["sensor_id"], x["model"], x.get("data", "raw"),
                     f"{x['rate_set_hz']:g}" if x["rate_set_hz"] else "-",
                     _fmt_rate(x["rate_measured_hz"]), str(x["samples"]),
                     f"{x['duration_s']:.2f}", str(x["gaps"]), str(x["missing"]),
                     f"{x['longest_gap_s']:.3f}", str(x["duplicates"]), str(x["seq_resets"]),
                     str(x["nonfinite"]), str(x.get("out_of_range", 0)),
                     str(x["duplicate_times"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines.append("sensors:")
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    kinds = {x.get("data") for x in s["sensors"]}
    if "orientation" in kinds:
        lines.append("  orientation-only sensors carry the vendor's own orientation (no raw "
                     "gyro): angles use it as is, without fusion")
    if s["meta"].get("clock_alignment") == "start":
        lines.append("  clocks: the sensors were never synchronised; their first samples were "
                     "lined up (--align start)")
    lines += calibration_lines(s["calibration"])
    lines.append(f"events: {len(s['events'])}")
    for e in s["events"]:
        extra = " ".join(str(v) for v in (e["exercise"], e["side"]) if v)
        note = f" \"{e['note']}\"" if e["note"] else ""
        lines.append(f"  {e['t_s']:9.2f} s  {e['kind']}{(' ' + extra) if extra else ''}{note}")
    return "\n".join(lines)


def run(args) -> int:
    from imu.session.load import load_from_args

    session = load_from_args(args)
    s = summarize(session, args.session)
    try:
        if args.json:
            from imu.session.store import _json_default
            print(json.dumps(s, indent=1, default=_json_default))
        else:
            print(format_summary(s))
        sys.stdout.flush()
    except BrokenPipeError:  # `imu info S | head`: the reader left; that is fine
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
