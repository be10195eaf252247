"""docs/formats.md plain CSV folders: one CSV per sensor, named by role.

A folder holds ``sacrum.csv``, ``right_thigh.csv``, ``left_thigh.csv`` and/or ``trunk.csv`` with
the header ``time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z`` (seconds on one clock shared by all
files, m/s², rad/s, sensor frame). Other files in the folder (``truth.csv`` from the simulator,
notes) are ignored.

An optional ``session.json`` beside them carries what the CSVs cannot: session metadata, sensor
ids/models/firmware, events and the calibration profile. :func:`write_csv_folder` writes it so a
recording exported and imported again keeps its events; :func:`read_csv_folder` uses it when
present and never needs it.

Values are printed with Python's shortest round-trip representation, so CSV → recording → CSV
reproduces every number exactly.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from imu.errors import BadInputError, shown
from imu.session.vendor import csv_rows
from imu.session.validate import (MAX_RATE_HZ, check_event, check_json_object, check_role,
                                  check_sensor_info, check_session)
from imu.types import ROLES, Event, SensorData, SensorInfo, Session
from imu.log import get_logger, progress as _log_progress

log = get_logger(__name__)

COLUMNS = ("time_s", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
SESSION_JSON = "session.json"
SESSION_JSON_SCHEMA = "imu.session/1"
#: session.json holds details, not data: larger files are refused before parsing.
MAX_SESSION_JSON_BYTES = 16 * 1024 * 1024


def role_files(folder: str | os.PathLike) -> dict[str, Path]:
    """Role → CSV path for the role-named entries present in ``folder`` (SPEC role order): files,
    and whatever else bears the name (a folder, a dangling link), which
    :func:`read_csv_folder` refuses by name rather than leave a sensor out silently."""
    d = Path(folder)
    out = {}
    for role in ROLES:
        p = d / f"{role}.csv"
        if p.is_file() or os.path.lexists(p):
            out[role] = p
    return out


def _locate_bad_cell(path: Path, header_row: int, names: list[str], want: list[int]) -> str:
    """Find the first cell that is not a number; return 'row R, column NAME: 'text''."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for lineno, row in csv_rows(fh, path):
            if lineno <= header_row or not row or (len(row) == 1 and not row[0].strip()):
                continue
            if row[0].lstrip().startswith("#"):
                continue
            for j in want:
                if j >= len(row):
                    return f"row {lineno}: only {len(row)} columns, column {names[j]} is missing"
                try:
                    float(row[j])
                except ValueError:
                    return f"row {lineno}, column {names[j]}: {shown(row[j].strip())} is not a number"
    return "unreadable numbers"


def read_sensor_csv(path: str | os.PathLike) -> np.ndarray:
    """Read one docs/formats.md sensor CSV.

    Returns
    -------
    ndarray, shape (N, 7)
        Columns in :data:`COLUMNS` order (time_s, acc xyz m/s², gyr xyz rad/s).

    Raises
    ------
    BadInputError
        Missing column, a value that is not a number (row and column named), no rows, or
        time that goes backwards.
    """
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            header = next((row for _, row in csv_rows(fh, p)), None)
    except UnicodeDecodeError:
        raise BadInputError(f"{p}: not a text CSV file (bytes that are not UTF-8)") from None
    if not header:
        raise BadInputError(f"{p}: empty file (expected header {','.join(COLUMNS)})")
    names = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        sep = next((c for c in ";\t|" if len(names) == 1 and c in names[0]), None)
        if sep is not None:  # a spreadsheet's export in another locale
            raise BadInputError(f"{p}: columns separated by {sep!r}, not commas (header must be "
                                f"{','.join(COLUMNS)}; numbers with a decimal point)")
        raise BadInputError(f"{p}: missing column {', '.join(missing)} "
                            f"(header must be {','.join(COLUMNS)})")
    idx = [names.index(c) for c in COLUMNS]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            data = np.loadtxt(p, delimiter=",", skiprows=1, usecols=idx, ndmin=2,
                              dtype=np.float64, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BadInputError(f"{p}: not a text CSV file (bytes that are not UTF-8)") from None
    except ValueError:
        raise BadInputError(f"{p}: {_locate_bad_cell(p, 1, names, idx)}") from None
    if len(data) == 0:
        raise BadInputError(f"{p}: no samples below the header")
    t = data[:, 0]
    bad = np.flatnonzero(~np.isfinite(t))
    if len(bad):
        raise BadInputError(f"{p}: row {bad[0] + 2}, column time_s: {t[bad[0]]} is not a time")
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        i = back[0] + 1
        raise BadInputError(f"{p}: row {i + 2}, column time_s: time goes backwards "
                            f"({float(t[i - 1])!r} then {float(t[i])!r})")
    return data


def _measured_rate_hz(t: np.ndarray) -> float:
    if len(t) < 2:
        return 0.0
    d = np.diff(t)
    d = d[d > 0]
    return float(1.0 / np.median(d)) if len(d) else 0.0


def _read_session_json(folder: Path) -> dict:
    p = folder / SESSION_JSON
    if not p.is_file():
        return {}
    if p.stat().st_size > MAX_SESSION_JSON_BYTES:
        raise BadInputError(f"{p}: {p.stat().st_size} bytes is too large for session details "
                            f"(at most {MAX_SESSION_JSON_BYTES})")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # JSON syntax, UTF-8, nesting
        raise BadInputError(f"{p}: not valid JSON ({type(exc).__name__}: "
                            f"{str(exc)[:80]})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SESSION_JSON_SCHEMA:
        return {}  # someone else's session.json: ignore rather than refuse the CSVs
    check_json_object(doc, "content", str(p))
    for key, kind in (("meta", dict), ("sensors", dict), ("events", list),
                      ("calibration", dict)):
        if doc.get(key) is not None and not isinstance(doc[key], kind):
            raise BadInputError(f"{p}: {key} must be {'an object' if kind is dict else 'a list'}"
                                f", not {type(doc[key]).__name__}")
    for role, given in (doc.get("sensors") or {}).items():
        check_role(role, f"{p}: sensors")
        if not isinstance(given, dict):
            raise BadInputError(f"{p}: sensors.{role} must be an object")
    return doc


def read_csv_folder(folder: str | os.PathLike) -> Session:
    """Load a docs/formats.md CSV folder as a :class:`~imu.types.Session`.

    ``t_sensor_s = t_host_s = time_s`` and ``seq = 0, 1, 2, ...`` for every sensor; metadata,
    sensor details, events and calibration come from ``session.json`` when it is there.

    Raises
    ------
    BadInputError
        No role-named CSV in the folder, or a bad CSV (file, row and column named).
    """
    d = Path(folder)
    if not d.is_dir():
        raise BadInputError(f"{d}: not a folder")
    files = role_files(d)
    if not files:
        raise BadInputError(f"{d}: no sensor CSV files (expected "
                            f"{', '.join(r + '.csv' for r in ROLES)})")
    for p in files.values():
        if not p.is_file():
            what = ("a folder" if p.is_dir() else "a link to nothing" if p.is_symlink()
                    else "not a regular file")
            raise BadInputError(f"{p}: {what}, not a sensor CSV (a file named after its role)")
    doc = _read_session_json(d)
    infos = doc.get("sensors") or {}
    sensors = {}
    where = str(d / SESSION_JSON)
    for role, p in files.items():
        data = read_sensor_csv(p)
        t = np.ascontiguousarray(data[:, 0])
        given = infos.get(role) or {}
        rate = given.get("rate_hz")
        if rate is None:  # measured from the times; 0 (unknown) when they make no sense
            rate = round(_measured_rate_hz(t), 3)
            rate = rate if 0 < rate <= MAX_RATE_HZ else 0.0
        info = check_sensor_info(SensorInfo(
            sensor_id=given.get("sensor_id") or f"csv-{role}", role=role,
            model=given.get("model") or "csv", rate_hz=rate,
            firmware=given.get("firmware") or "", extra=given.get("extra") or {}), where)
        sensors[role] = SensorData(info, np.arange(len(t), dtype=np.int64), t, t.copy(),
                                   np.ascontiguousarray(data[:, 1:4]),
                                   np.ascontiguousarray(data[:, 4:7]))
    _refuse_copies(sensors, files)
    events = []
    for i, e in enumerate(doc.get("events", []) or []):
        if not isinstance(e, dict) or "t_s" not in e or "kind" not in e:
            raise BadInputError(f"{where}: event {i + 1} needs t_s and kind")
        events.append(check_event(Event(e["t_s"], e["kind"], e.get("exercise"), e.get("side"),
                                        e.get("note"), e.get("data") or {}), i + 1, where))
    _refuse_events_off_clock(events, sensors, where)
    meta = dict(doc.get("meta") or {})
    meta.setdefault("imported_from", str(d))
    return check_session(Session(meta=meta, sensors=sensors, events=events,
                                 calibration=doc.get("calibration"), source=str(d)))


def _refuse_events_off_clock(events: list[Event], sensors: dict[str, SensorData],
                             where: str) -> None:
    """session.json's events must be on the CSVs' clock: when none of them falls within a
    minute of the samples (time_s shifted, say to epoch seconds, and the events not), every set
    and the calibration protocol would be looked for where there are no samples."""
    ts = [float(np.nanmin(x.t_host_s)) for x in sensors.values() if len(x)]
    te = [float(np.nanmax(x.t_host_s)) for x in sensors.values() if len(x)]
    if not events or not ts:
        return
    lo, hi = min(ts), max(te)
    if all(not lo - 60.0 <= e.t_s <= hi + 60.0 for e in events):
        t = [e.t_s for e in events]
        raise BadInputError(f"{where}: its events ({min(t):.1f}–{max(t):.1f} s) lie outside "
                            f"the samples' times ({lo:.1f}–{hi:.1f} s): the CSVs' time_s and "
                            "the events are not on one clock")


def _refuse_copies(sensors: dict[str, SensorData], files: dict[str, Path]) -> None:
    """Two sensors never measure the same samples: a role CSV that holds another's (a file
    copied under the wrong name) would give one leg the other's angles without a word."""
    roles = list(sensors)
    for i, a in enumerate(roles):
        for b in roles[i + 1:]:
            x, y = sensors[a], sensors[b]
            if len(x) > 1 and len(x) == len(y) and np.array_equal(x.gyr, y.gyr) \
                    and np.array_equal(x.acc, y.acc):
                raise BadInputError(f"{files[b]}: the same samples as {files[a].name} (a copy "
                                    f"under another role's name?)")


def export_times(data: SensorData) -> np.ndarray:
    """One shared-clock time per sample for export (seconds).

    Host times that are the sensor times themselves or shifted by a constant (CSV imports,
    simulator output, DOT exports) are kept exactly; otherwise the sensor timestamps are mapped
    onto the session (host) clock by the per-sensor clock model of :mod:`imu.timing` (offset and
    drift, latency removed).
    """
    ts, th = data.t_sensor_s, data.t_host_s
    if len(ts) == 0 or np.array_equal(ts, th):
        return np.asarray(th, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        shift = np.asarray(th, dtype=float) - np.asarray(ts, dtype=float)
    if np.all(np.isfinite(shift)) and np.ptp(shift) < 1e-9:  # host time is sensor time shifted
        return np.asarray(th, dtype=np.float64)
    from imu import timing
    return np.asarray(timing.session_times(data), dtype=np.float64)


def _increasing(table: np.ndarray, seq: np.ndarray, ts: np.ndarray, role: str) -> np.ndarray:
    """``table`` (time first) without the samples sent twice (sequence number and sensor
    time repeating an earlier sample's: a Movella DOT's resent FIFO), which step its time back;
    a CSV folder's times must not go backwards (its reader refuses them), so any other step
    back is a one-line error (the recording keeps every sample)."""
    from imu.session.validate import replayed_samples

    keep = ~replayed_samples(seq, ts)
    out = table[keep]
    back = np.flatnonzero(np.diff(out[:, 0]) < 0)
    if len(back):
        i = int(np.flatnonzero(keep)[back[0] + 1])
        raise BadInputError(f"{role}'s sample {i + 1} goes back in time "
                            f"({float(table[i - 1, 0])!r} then {float(table[i, 0])!r} s), and "
                            f"a CSV folder's times must not (the session keeps it)")
    log.info("export: %s: %d samples sent twice written once", role, len(table) - len(out))
    return out


def _format_rows(block: np.ndarray) -> str:
    """CSV text of a 2-D float block, every value in Python's shortest exact form.

    ``repr`` of a list of lists formats the floats in C; the brackets and separators are then
    rewritten into CSV (float reprs never contain brackets or ", ").
    """
    if len(block) == 0:
        return ""
    text = repr(np.asarray(block, dtype=np.float64).tolist())
    return text[2:-2].replace("], [", "\n").replace(", ", ",") + "\n"


def write_csv_folder(session: Session, folder: str | os.PathLike, *, progress: bool = False,
                     force: bool = False) -> list[Path]:
    """Write ``session`` as a docs/formats.md CSV folder (plus ``session.json``) under the output rule
    (:mod:`imu.output`): role CSVs already in the folder are replaced only with ``force``
    (and those of roles this session lacks are then removed, so the folder is this session);
    everything is written into a private staging folder first and moved in at the end, so a
    failure leaves nothing partial. Numbers are printed exactly (shortest round-trip form).
    Returns the files written.
    """
    from imu.output import FolderOutput

    from imu.types import ROLES

    names = [f"{r}.csv" for r in ROLES] + [SESSION_JSON]
    out = FolderOutput(folder, what="CSV folder", force=force, names=names, stale=True)
    try:
        written = write_csv_files(session, out.stage(), progress=progress)
        out.commit()
    except BadInputError as exc:
        out.discard()
        raise BadInputError(f"{out.path}: {exc.message}") from None
    except BaseException:
        out.discard()
        raise
    return [out.path / p.name for p in written]


def write_csv_files(session: Session, folder: str | os.PathLike, *, progress: bool = False
                    ) -> list[Path]:
    """Write the role CSVs and ``session.json`` of ``session`` into the existing folder
    ``folder`` (no output checks: :func:`write_csv_folder` is the public writer)."""
    d = Path(folder)
    written = []
    total = sum(len(x) for x in session.sensors.values())
    done = 0
    for role in session.roles:
        check_role(role, str(d))  # a role names a file: never anything but the known names
        data = session.sensors[role]
        if len(data) == 0:
            continue  # a sensor that never sent a sample has no CSV (its details stay below)
        t = export_times(data)
        table = np.column_stack([t, data.acc, data.gyr])
        fin = np.isfinite(t)
        seq, ts = data.seq, data.t_sensor_s
        if not fin.all():  # a CSV row needs a time: the recording keeps them
            table, seq, ts = table[fin], seq[fin], ts[fin]
            log.info("export: %s: %d samples without a time left out", role,
                     int((~fin).sum()))
        if len(table) > 1 and np.any(np.diff(table[:, 0]) < 0):
            table = _increasing(table, seq, ts, role)
        p = d / f"{role}.csv"
        with open(p, "w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(COLUMNS) + "\n")
            step = 50_000
            for k in range(0, len(table), step):
                fh.write(_format_rows(table[k:k + step]))
                done += min(step, len(table) - k)
                if progress and total > 200_000:
                    _log_progress(log, f"export: {total} samples", done, total)
        written.append(p)
    doc = {
        "schema": SESSION_JSON_SCHEMA,
        "meta": session.meta,
        "sensors": {r: {"sensor_id": s.info.sensor_id, "model": s.info.model,
                        "rate_hz": s.info.rate_hz, "firmware": s.info.firmware,
                        "extra": s.info.extra} for r, s in session.sensors.items()},
        "events": [{"t_s": e.t_s, "kind": e.kind, "exercise": e.exercise, "side": e.side,
                    "note": e.note, "data": e.data} for e in session.events],
        "calibration": session.calibration,
    }
    from imu.session.store import _json_default
    sj = d / SESSION_JSON
    sj.write_text(json.dumps(doc, indent=1, default=_json_default) + "\n", encoding="utf-8")
    written.append(sj)
    return written
