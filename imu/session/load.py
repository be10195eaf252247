"""Open any session source: a recording file, a docs/formats.md CSV folder, or foreign sensor files
(Movella DOT CSV, Xsens MT Manager ``.txt``, OpenSense ``.sto``; :mod:`imu.session.foreign`).

Every command that takes a session calls :func:`load_session`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from imu.errors import BadInputError
from imu.session.store import is_recording, read_recording
from imu.session.validate import check_session
from imu.types import ROLES, SensorData, SensorInfo, Session

#: ``--align`` choices of foreign files (:data:`imu.session.foreign.ALIGNMENTS`, checked by a
#: test; not imported here: the readers of other formats load only when a source needs them)
ALIGNMENTS = ("start",)


def describe_source(path: str | os.PathLike) -> str:
    """What kind of session source ``path`` is: ``recording``, ``csv_folder``, ``csv_file``,
    ``dot``, ``xsens``, ``sto``, ``foreign`` (a folder of vendor files) or ``""``."""
    p = Path(path)
    if p.is_file() and is_recording(p):
        return "recording"
    # the readers of other formats load only where a source needs them (not before a
    # recording is read)
    from imu.session import csvfolder, foreign, movella

    if p.is_file():
        fmt = foreign.file_format(p)
        if fmt:
            return fmt
        if p.suffix.lower() == ".csv" and p.stem in ROLES:
            return "csv_file"
        return ""
    if p.is_dir():
        files = csvfolder.role_files(p)
        if files and not any(movella.is_dot_csv(f) for f in files.values()):
            return "csv_folder"
        kinds = {foreign.file_format(f) for f in foreign.foreign_files(p)}
        if kinds:
            return kinds.pop() if len(kinds) == 1 else "foreign"
    return ""


def load_session(path, roles: dict[str, str] | None = None, *, align: str | None = None,
                 use_vendor_orientation: bool = False, on_note=None, meanwhile=None) -> Session:
    """Load a session from a recording, a CSV folder, or foreign sensor files.

    Parameters
    ----------
    path : path-like or list of path-likes
        A recording file (:mod:`imu.session.store`), a folder of role-named CSVs (docs/formats.md), a
        single role-named CSV (``sacrum.csv``), or Movella DOT / Xsens MT / ``.sto`` files and
        folders of them (several may be given).
    roles : dict, optional
        ``KEY → role`` for foreign files (:func:`imu.session.foreign.read_foreign`); for a
        recording, ``old role → new role`` renames its sensors.
    align : {None, "start"}
        Foreign files whose clocks never met: line up their first samples.
    use_vendor_orientation : bool
        Where a sensor has both raw samples and its own orientation, use the orientation
        (default: raw samples win and are fused). Recorded in ``meta``.
    on_note : callable(str), optional
        Told of each foreign sensor skipped for want of a role.
    meanwhile : callable, optional
        Work for this process while worker processes decode a long recording (a command
        imports the modules it needs next); it may not run at all.

    Raises
    ------
    BadInputError
        Anything else, or a bad file: one line naming the path and what is wrong.
    """
    paths = list(path) if isinstance(path, (list, tuple)) else [path]
    if not paths:
        raise BadInputError("no session given")
    if len(paths) == 1:
        session = _load_one(Path(paths[0]), roles, align, on_note, meanwhile)
    else:
        kinds = [describe_source(p) for p in paths]
        if any(k in ("recording", "csv_folder", "csv_file") for k in kinds):
            raise BadInputError("several sources: only Movella DOT, Xsens MT or .sto files and "
                                "folders can be combined into one session")
        from imu.session import foreign

        session = check_session(foreign.read_foreign(paths, roles, align=align,
                                                     on_note=on_note))
    if use_vendor_orientation:
        session.meta["use_vendor_orientation"] = True
    return session


def _rename_roles(session: Session, roles: dict[str, str] | None, on_note=None) -> Session:
    """``--role OLD=NEW`` on a recording or CSV folder: rename (or skip) sensors by role or id;
    a key that names no sensor is noted (``on_note``, else the log), as for vendor files."""
    if not roles:
        return session
    from imu.session import foreign
    from imu.session.roles import note_unmatched_roles

    keys = {k.lower() for r, d in session.sensors.items() for k in (r, d.info.sensor_id) if k}
    note_unmatched_roles(roles, keys, keys, on_note, label="roles and ids")
    out = {}
    for role, d in session.sensors.items():
        new = foreign.role_for(roles, [role, d.info.sensor_id], []) or role
        if new == "skip":
            continue
        if new in out:
            raise BadInputError(f"--role: two sensors would both be {new}")
        d.info.role = new
        out[new] = d
    session.sensors = {r: out[r] for r in ROLES if r in out}
    return session


def _load_one(p: Path, roles, align, on_note=None, meanwhile=None) -> Session:
    if not p.exists():
        raise BadInputError(f"{p}: no such file or folder")
    kind = describe_source(p)
    if kind == "recording" and not roles:  # checked as it was read (read_recording)
        return read_recording(p, meanwhile=meanwhile)
    return check_session(_load(p, roles, align, on_note, meanwhile, kind))


def _load(p: Path, roles: dict[str, str] | None, align=None, on_note=None,
          meanwhile=None, kind: str | None = None) -> Session:
    kind = describe_source(p) if kind is None else kind
    if kind == "recording":
        return _rename_roles(read_recording(p, meanwhile=meanwhile), roles, on_note)
    from imu.session import csvfolder, foreign  # the readers of other formats, on first use
    if kind == "csv_folder":
        return _rename_roles(csvfolder.read_csv_folder(p), roles, on_note)
    if kind in ("dot", "xsens", "sto", "foreign"):
        return foreign.read_foreign([p], roles, align=align, on_note=on_note)
    if kind == "csv_file":
        data = csvfolder.read_sensor_csv(p)
        t = data[:, 0].copy()
        info = SensorInfo(f"csv-{p.stem}", p.stem, "csv",
                          float(round(csvfolder._measured_rate_hz(t), 3)))
        sd = SensorData(info, np.arange(len(t), dtype=np.int64), t, t.copy(),
                        np.ascontiguousarray(data[:, 1:4]), np.ascontiguousarray(data[:, 4:7]))
        return Session(meta={"imported_from": str(p)}, sensors={p.stem: sd}, source=str(p))
    if p.is_dir():
        raise BadInputError(f"{p}: folder holds no session (expected "
                            f"{', '.join(r + '.csv' for r in ROLES)}, or Movella DOT, Xsens MT "
                            f"or .sto files)")
    if p.suffix.lower() in (".csv", ".txt", ".sto"):
        raise BadInputError(f"{p}: neither a sensor CSV named after its role "
                            f"({', '.join(r + '.csv' for r in ROLES)}) nor a Movella DOT, Xsens MT "
                            f"or OpenSense .sto file")
    # Let the store explain what is wrong with the file (empty, truncated, not SQLite, ...).
    read_recording(p)
    raise BadInputError(f"{p}: not a session")  # pragma: no cover - read_recording raised


def add_session_arguments(parser, *, many: bool = False) -> None:
    """The options every command that reads a session takes: ``--role``, ``--align``,
    ``--use-vendor-orientation``."""
    parser.add_argument("--role", action="append", default=[], metavar="KEY=ROLE",
                        help="role of a sensor: KEY is a DOT device tag or address, an Xsens "
                             "device id, a file name or stem, or a .sto column; ROLE one of "
                             f"{', '.join(ROLES)} or skip (repeatable; common names such as "
                             "pelvis, femur_r, RFemur map by themselves)")
    parser.add_argument("--align", choices=ALIGNMENTS, default=None,
                        help="sensors whose clocks never met: line up their first samples")
    parser.add_argument("--use-vendor-orientation", action="store_true",
                        help="use the sensors' own orientation where raw samples exist too "
                             "(default: raw samples are fused)")


def load_from_args(args, source=None, meanwhile=None) -> Session:
    """:func:`load_session` with the ``--role``/``--align``/``--use-vendor-orientation`` of
    ``args`` (see :func:`add_session_arguments`); ``meanwhile``: as :func:`load_session`'s."""
    from imu.session.roles import parse_role_args

    import logging

    src = args.session if source is None else source
    cmd = getattr(args, "command", None) or "imu"
    log = logging.getLogger(__name__)

    notes: list[str] = []  # shown once the session is read: a refusal is its one line alone
    session = load_session(src, parse_role_args(getattr(args, "role", None) or []),
                           align=getattr(args, "align", None),
                           use_vendor_orientation=getattr(args, "use_vendor_orientation", False),
                           on_note=notes.append, meanwhile=meanwhile)
    for text in notes:
        log.info("imu %s: note: %s", cmd, text)
    return session
