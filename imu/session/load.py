"""Open any session source: a recording file, a SPEC §6 CSV folder or Movella DOT exports.

Every command that takes a session calls :func:`load_session`.
"""

from __future__ import annotations

import os
from pathlib import Path

from imu.errors import BadInputError
from imu.session import csvfolder, movella
from imu.session.store import is_recording, read_recording
from imu.session.validate import check_session
from imu.types import ROLES, SensorData, SensorInfo, Session


def describe_source(path: str | os.PathLike) -> str:
    """What kind of session source ``path`` is: ``recording``, ``csv_folder``, ``dot`` or ``""``."""
    p = Path(path)
    if p.is_file():
        if is_recording(p):
            return "recording"
        if movella.is_dot_csv(p):
            return "dot"
        if p.suffix.lower() == ".csv" and p.stem in ROLES:
            return "csv_file"
        return ""
    if p.is_dir():
        if csvfolder.role_files(p):
            return "csv_folder"
        if movella.dot_files(p):
            return "dot"
    return ""


def load_session(path: str | os.PathLike, roles: dict[str, str] | None = None) -> Session:
    """Load a session from a recording, a CSV folder, or Movella DOT CSV exports.

    Parameters
    ----------
    path : path-like
        A recording file (:mod:`imu.session.store`), a folder of role-named CSVs (SPEC §6), a
        single role-named CSV (``sacrum.csv``), a Movella DOT export CSV, or a folder of them.
    roles : dict, optional
        For DOT exports: role per file name / device tag / address (see
        :func:`imu.session.movella.read_dot`).

    Raises
    ------
    BadInputError
        Anything else, or a bad file: one line naming the path and what is wrong.
    """
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"{p}: no such file or folder")
    return check_session(_load(p, roles))


def _load(p: Path, roles: dict[str, str] | None) -> Session:
    kind = describe_source(p)
    if kind == "recording":
        return read_recording(p)
    if kind == "csv_folder":
        return csvfolder.read_csv_folder(p)
    if kind == "dot":
        return movella.read_dot(p, roles)
    if kind == "csv_file":
        data = csvfolder.read_sensor_csv(p)
        t = data[:, 0].copy()
        import numpy as np
        info = SensorInfo(f"csv-{p.stem}", p.stem, "csv",
                          float(round(csvfolder._measured_rate_hz(t), 3)))
        sd = SensorData(info, np.arange(len(t), dtype=np.int64), t, t.copy(),
                        np.ascontiguousarray(data[:, 1:4]), np.ascontiguousarray(data[:, 4:7]))
        return Session(meta={"imported_from": str(p)}, sensors={p.stem: sd}, source=str(p))
    if p.is_dir():
        raise BadInputError(f"{p}: folder holds no session (expected "
                            f"{', '.join(r + '.csv' for r in ROLES)} or Movella DOT CSV exports)")
    if p.suffix.lower() == ".csv":
        raise BadInputError(f"{p}: CSV is neither a sensor file named after its role "
                            f"({', '.join(r + '.csv' for r in ROLES)}) nor a Movella DOT export")
    # Let the store explain what is wrong with the file (empty, truncated, not SQLite, ...).
    read_recording(p)
    raise BadInputError(f"{p}: not a session")  # pragma: no cover - read_recording raised
