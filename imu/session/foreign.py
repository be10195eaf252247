"""Import what users bring: Movella DOT CSV, Xsens MT Manager ``.txt``, OpenSense ``.sto``.

:func:`read_foreign` reads any mix of such files (or folders of them), recognised by content,
gives each sensor its role (``--role KEY=ROLE`` or a common name, :mod:`imu.session.roles`),
skips sensors without one (a note each), and puts all of them on one session clock.

Clocks: files that share a clock (synchronised DOTs, the sensors of one MT Manager trial) keep
their relative timing. Sensors whose time spans do not overlap are refused with one line naming
each sensor and its span, unless ``align="start"`` lines their first samples up (recorded in the
session's ``meta["clock_alignment"]``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imu.errors import BadInputError
from imu.session import movella, sto, xsens
from imu.session.roles import note_unmatched_roles, role_for
from imu.session.vendor import rate_from_quat, specific_force
from imu.types import ROLES, SensorData, SensorInfo, Session

log = logging.getLogger(__name__)

#: folders are searched for files with these suffixes
_SUFFIXES = (".csv", ".txt", ".sto")
ALIGNMENTS = ("start",)


@dataclass
class SensorFile:
    """One sensor read from a foreign file, before it has a role."""

    path: Path
    keys: list[str]
    names: list[str]
    label: str
    model: str
    fmt: str
    seq: np.ndarray
    t_s: np.ndarray
    acc: np.ndarray | None
    gyr: np.ndarray | None
    quat: np.ndarray | None
    free_acc: np.ndarray | None = None
    rate_hz: float = 0.0
    firmware: str = ""
    extra: dict = field(default_factory=dict)


def file_format(path: str | os.PathLike) -> str:
    """``dot``, ``xsens``, ``sto`` or ``""`` for one file, by content."""
    p = Path(path)
    if not p.is_file():
        return ""
    if movella.is_dot_csv(p):
        return "dot"
    if xsens.is_xsens_txt(p):
        return "xsens"
    if sto.is_sto(p):
        return "sto"
    return ""


def foreign_files(folder: str | os.PathLike) -> list[Path]:
    """The DOT / Xsens / ``.sto`` files in a folder (sorted by name)."""
    d = Path(folder)
    return [p for p in sorted(d.iterdir()) if p.suffix.lower() in _SUFFIXES and file_format(p)]


def _nominal(t: np.ndarray, stated: float = 0.0) -> float:
    d = np.diff(t)
    d = d[d > 0]
    if not len(d):
        return float(stated)
    return movella._nominal_rate(1.0 / float(np.median(d))) if not stated else float(stated)


def _read_file(p: Path) -> list[SensorFile]:
    fmt = file_format(p)
    if fmt == "dot":
        pre, c = movella.read_dot_csv(p)
        keys, names = movella.role_keys(p, pre)
        tag = movella._pre_get(pre, "Device Tag", "DeviceTag", "Tag")
        addr = movella._pre_get(pre, "Address", "Device Address", "MAC")
        mode = movella._pre_get(pre, "Measurement Mode")
        extra = {"file": p.name, "device_tag": tag, "address": addr,
                 "sync_status": movella._pre_get(pre, "Sync Status", "SyncStatus"),
                 "filter_profile": movella._pre_get(pre, "Filter Profile"),
                 "app_version": movella._pre_get(pre, "App Version", "AppVersion"),
                 "measurement_mode": mode, "zero_rows_dropped": c["zero_rows"]}
        if c["gyr"] is not None:
            extra["gyr_units_in_file"] = "deg/s"
        stated = movella._pre_get(pre, "Output Rate", "OutputRate")
        try:
            stated_hz = float(stated.lower().replace("hz", "").strip()) if stated else 0.0
        except ValueError:
            stated_hz = 0.0
        return [SensorFile(p, keys, names, tag or p.stem, "Movella DOT", "Movella DOT CSV",
                           c["seq"], c["t_sensor_s"], c["acc"], c["gyr"], c["quat"],
                           c["free_acc"], _nominal(c["t_sensor_s"], stated_hz),
                           movella._pre_get(pre, "Firmware Version", "Firmware"),
                           {k: v for k, v in extra.items() if v not in ("", None)} |
                           {"zero_rows_dropped": c["zero_rows"]})]
    if fmt == "xsens":
        c = xsens.read_xsens_txt(p)
        dev = c["device_id"]
        return [SensorFile(p, [dev, p.name, p.stem, str(p)], [p.stem], dev, "Xsens MT",
                           "Xsens MT Manager txt", c["seq"], c["t_sensor_s"], c["acc"], c["gyr"],
                           c["quat"], None, _nominal(c["t_sensor_s"], c["rate_hz"]),
                           c["preamble"].get("Firmware Version", ""),
                           {"file": p.name, "device_id": dev})]
    if fmt == "sto":
        t, rate, quats = sto.read_sto(p)
        out = []
        for col, q in quats.items():
            out.append(SensorFile(p, [col, f"{p.name}:{col}"], [col], col, "OpenSense .sto",
                                  "OpenSense sto", np.arange(len(t), dtype=np.int64), t, None,
                                  None, q, None, _nominal(t, rate), "",
                                  {"file": p.name, "column": col}))
        return out
    raise BadInputError(f"{p}: not a sensor file this version reads (Movella DOT CSV, Xsens MT "
                        f"Manager .txt, OpenSense .sto, or a SPEC CSV named after its role)")


def expand_sources(sources) -> list[Path]:
    """Files named directly, and the recognised files of folders named (each file once, however
    often it is named)."""
    files: list[Path] = []
    for s in sources:
        p = Path(s)
        if not p.exists():
            raise BadInputError(f"{p}: no such file or folder")
        if p.is_dir():
            found = foreign_files(p)
            if not found:
                raise BadInputError(f"{p}: no Movella DOT, Xsens MT or .sto files in this folder")
            files.extend(found)
        else:
            files.append(p)
    once: dict[str, Path] = {}
    for f in files:
        once.setdefault(os.path.realpath(f), f)
    return list(once.values())


def _sensor_data(sf: SensorFile, role: str, t_host: np.ndarray) -> SensorData:
    extra = dict(sf.extra)
    acc, gyr, derived = sf.acc, sf.gyr, []
    if gyr is None or acc is None:
        if sf.quat is None:
            raise BadInputError(f"{sf.path}: no gyro and no orientation: nothing to compute "
                                f"angles from")
        if acc is None:
            acc = specific_force(sf.quat, sf.free_acc)
            derived.append("acc")
        if gyr is None:
            gyr = rate_from_quat(sf.t_s, sf.quat)
            derived.append("gyr")
    if derived:
        extra["derived"] = derived
    if sf.quat is not None:
        extra["orientation"] = "vendor"
    info = SensorInfo(sensor_id=str(extra.get("device_id") or extra.get("address") or sf.label),
                      role=role,
                      model=sf.model, rate_hz=float(sf.rate_hz), firmware=sf.firmware,
                      extra=extra)
    return SensorData(info, np.asarray(sf.seq, np.int64), np.asarray(sf.t_s, float),
                      np.asarray(t_host, float), np.ascontiguousarray(acc, dtype=float),
                      np.ascontiguousarray(gyr, dtype=float),
                      None if sf.quat is None else np.ascontiguousarray(sf.quat, dtype=float))


def _check_forward(sf: SensorFile) -> None:
    """Refuse a sensor whose time steps back other than by packets sent again (sequence
    number and time repeating earlier ones, kept: the recording holds what the file holds):
    rows out of order or a clock restarted within the file, whose samples cannot be placed on
    one clock (they were taken as sensors whose clocks never meet)."""
    from imu.session.validate import replayed_samples

    t = np.asarray(sf.t_s, dtype=float)
    if len(t) < 2 or not np.any(np.diff(t) < 0):
        return
    idx = np.flatnonzero(~replayed_samples(sf.seq, t))
    back = np.flatnonzero(np.diff(t[idx]) < 0)
    if len(back):
        i = int(idx[back[0] + 1])
        raise BadInputError(f"{sf.path}: sample {i + 1} ({sf.label}): its time goes back "
                            f"({float(t[idx[back[0]]]):.6f} then {float(t[i]):.6f} s), not "
                            f"by packets sent again: rows out of order or a clock that restarted")


def span_text(role: str, label: str, t0: float, t1: float) -> str:
    return f"{role} ({label}) {t0:.1f}–{t1:.1f} s"


ALIGN_HINT = "pass --align start to line up their first samples"


def check_overlap(spans: list[tuple[str, str, float, float]], where: str,
                  hint: str = ALIGN_HINT) -> None:
    """Refuse sensors whose spans ``(role, label, t0, t1)`` do not all overlap (one line
    ending with ``hint``)."""
    if len(spans) < 2:
        return
    if max(s[2] for s in spans) < min(s[3] for s in spans):
        return
    text = "; ".join(span_text(*s) for s in spans)
    raise BadInputError(f"{where}: the sensors' clocks do not overlap: {text}; {hint}")


def read_foreign(sources, roles: dict[str, str] | None = None, *, align: str | None = None,
                 on_note=None) -> Session:
    """Read DOT / Xsens MT / ``.sto`` files (or folders of them) as one session.

    Parameters
    ----------
    sources : path or list of paths
    roles : dict, optional
        ``KEY → role`` (or ``"skip"``), KEY a device tag/id/address, file name or stem, or a
        ``.sto`` column.
    align : {None, "start"}
        ``"start"``: put each sensor's first sample at time 0 (for sensors never synchronised).
    on_note : callable(str), optional
        Called with each note (a sensor skipped) as soon as it is known.

    Returns
    -------
    Session
        ``meta["import_notes"]`` lists one line per sensor skipped (no role).
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if align not in (None, *ALIGNMENTS):
        raise BadInputError(f"--align {align}: expected one of {', '.join(ALIGNMENTS)}")
    files = expand_sources(sources)
    where = str(sources[0]) if len(sources) == 1 else f"{len(files)} files"
    notes, chosen = [], []
    seen: dict[str, SensorFile] = {}
    keys_here: list[str] = []
    keys_here_low: set[str] = set()
    for f in files:
        for sf in _read_file(f):
            keys_here.append(sf.keys[0])
            keys_here_low.update(k.lower() for k in sf.keys if k)
            role = role_for(roles, sf.keys, sf.names)
            if role is None or role == "skip":
                why = "skipped by --role" if role == "skip" else "no role"
                notes.append(f"skipped {sf.path.name}" + (f" ({sf.label})" if sf.label != sf.path.stem
                                                         else "") +
                             f": {why} (map it with --role {sf.keys[0]}=ROLE)")
                if on_note is not None:  # the caller shows it (the CLI: one note line)
                    on_note(notes[-1])
                else:
                    log.info(notes[-1])
                continue
            if role not in ROLES:
                raise BadInputError(f"{sf.path}: role {role} is not one of {', '.join(ROLES)}")
            if role in seen:
                raise BadInputError(f"{sf.path}: role {role} is already taken by "
                                    f"{seen[role].path.name} ({seen[role].label}); use --role "
                                    f"KEY=ROLE to map each sensor")
            seen[role] = sf
            chosen.append((role, sf))
    note_unmatched_roles(roles, keys_here_low, keys_here, on_note)
    if not chosen:
        raise BadInputError(f"{where}: no sensor has a role (" + "; ".join(
            n.split(": ", 1)[0].replace("skipped ", "") for n in notes) +
            "); map them with --role KEY=ROLE")
    for _, sf in chosen:
        _check_forward(sf)
    spans = [(r, sf.label, float(sf.t_s[0]), float(sf.t_s[-1])) for r, sf in chosen]
    meta = {"imported_from": [str(s) for s in sources] if len(sources) > 1 else str(sources[0]),
            "source_format": ", ".join(sorted({sf.fmt for _, sf in chosen})),
            "import_notes": notes}
    sensors = {}
    if align == "start":
        meta["clock_alignment"] = "start"
        for role, sf in chosen:
            sensors[role] = _sensor_data(sf, role, sf.t_s - sf.t_s[0])
            sensors[role].info.extra["clock_offset_s"] = float(sf.t_s[0])
    else:
        check_overlap(spans, where)
        t0 = min(s[2] for s in spans)
        for role, sf in chosen:
            sensors[role] = _sensor_data(sf, role, sf.t_s - t0)
    ordered = {r: sensors[r] for r in ROLES if r in sensors}
    return Session(meta=meta, sensors=ordered, events=[], calibration=None, source=where)
