"""The public Python API: the same chain and the same numbers as the ``imu`` commands.

::

    import imu
    s = imu.load("recordings/demo.imu")       # a recording, a CSV folder, a DOT export
    a = imu.angles(s)                         # AngleTable, degrees; a.to_pandas(), a.to_numpy()
    r = imu.analyze(s)                        # Analysis: r.reps / r.holds (DataFrames), r.to_json()

Errors are the project's own: :class:`imu.errors.BadInputError` (bad input, with what and where),
:class:`imu.errors.CalibrationError` (a calibration refused, naming the phase to repeat), both
:class:`imu.errors.ImuError`. pandas is optional (``pip install imu[pandas]``); everything
also works on numpy arrays and plain lists of dicts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from imu.types import AngleTable, Session

__all__ = ["load", "angles", "analyze", "Analysis"]


def load(path: str | os.PathLike, roles: Mapping[str, str] | None = None, *,
         align: str | None = None, use_vendor_orientation: bool = False) -> Session:
    """Read a session.

    Parameters
    ----------
    path : str or path-like
        A recording (``.imu``), a CSV folder, or a Movella DOT / Xsens MT / ``.sto`` export.
    roles : mapping, optional
        Vendor exports: file name / device tag / address → role (``sacrum``, ``right_thigh``…),
        as ``--role``.
    align : {None, "start"}
        Sensors whose clocks never met: line up their first samples (``--align start``).
    use_vendor_orientation : bool
        Use the sensors' own orientation where raw samples exist too
        (``--use-vendor-orientation``).

    Returns
    -------
    imu.types.Session
        Raw samples per role: ``acc`` (N, 3) m/s², ``gyr`` (N, 3) rad/s, times in seconds.
    """
    from imu.session.load import load_session

    return load_session(os.fspath(path), dict(roles) if roles else None, align=align,
                        use_vendor_orientation=use_vendor_orientation)


def _session(s) -> Session:
    return s if isinstance(s, Session) else load(s)


def _settings(settings):
    from imu.analysis import Settings

    if settings is None or isinstance(settings, Settings):
        return settings
    if isinstance(settings, Mapping):
        return Settings(dict(settings), source="API")
    return Settings.from_toml(settings)


def angles(session, *, calibration=None, filter: str | None = None,
           rate_hz: float | None = None, causal: bool = False,
           method: str | None = None) -> AngleTable:
    """Pelvis, hip, thigh (and lumbar) angles of a session, calibrated as ``imu angles`` does.

    Parameters
    ----------
    session : Session, str or path-like
        A session (:func:`load`) or its path.
    calibration : str, path-like or Profile, optional
        A calibration profile; default: the session's embedded one, else one solved from the
        session's own calibration protocol.
    filter : str, optional
        Fusion filter (``vqf`` by default; see :data:`imu.fusion.FILTERS`).
    rate_hz : float, optional
        Rate of the output time base, Hz (default: the sacrum sensor's).
    causal : bool
        The causal filter the live view runs instead of a recording's non-causal estimate.
    method : {"protocol", "auto"}, optional
        How a session without a profile calibrates itself (default: the protocol when found,
        else auto), as ``--method``.

    Returns
    -------
    imu.types.AngleTable
        ``time_s`` (N,) seconds on the session clock; ``columns`` name → (N,) degrees, zero in
        the calibration pose, NaN in gaps; ``.to_numpy()``, ``.to_pandas()``.
    """
    from imu.chain import Chain

    from imu.chain import check_filter

    check_filter(filter)
    return Chain(calibration, filter=filter, rate_hz=rate_hz, causal=causal,
                 method=method).angles(_session(session))


@dataclass
class Analysis:
    """Result of :func:`analyze`.

    Attributes
    ----------
    result : dict
        The Analysis JSON (``schema``, ``settings``, ``sets``, ``provenance``).
    angles : AngleTable
        The angles it was computed from.
    """

    result: dict
    angles: AngleTable = field(repr=False)

    @property
    def sets(self) -> list[dict]:
        """One dict per set (exercise, side, ``start_s``, ``end_s``, set-level figures)."""
        return [{k: v for k, v in s.items() if k not in ("reps", "holds")}
                for s in self.result.get("sets", [])]

    def _items(self, kind: str) -> list[dict]:
        out = []
        for k, s in enumerate(self.result.get("sets", []), 1):
            for item in s.get(kind, []) or []:
                out.append({"set": k, "exercise": s.get("exercise"), "side": s.get("side"),
                            **item})
        return out

    @property
    def rep_records(self) -> list[dict]:
        """Every rep of every set as a plain dict (numbers in degrees and seconds)."""
        return self._items("reps")

    @property
    def hold_records(self) -> list[dict]:
        """Every hold of every set as a plain dict."""
        return self._items("holds")

    @property
    def reps(self):
        """Every rep as a ``pandas.DataFrame``, one row per rep (needs pandas)."""
        return _frame(self.rep_records)

    @property
    def holds(self):
        """Every hold as a ``pandas.DataFrame``, one row per hold (needs pandas)."""
        return _frame(self.hold_records)

    def to_dict(self) -> dict:
        return self.result

    def to_json(self, path: str | os.PathLike | None = None, indent: int = 2) -> str:
        """The Analysis JSON as text (what ``imu analyze --json`` writes); with ``path``, also
        written there."""
        text = json.dumps(self.result, indent=indent, allow_nan=False) + "\n"
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text


def _frame(records: list[dict]):
    from imu.types import require_pandas

    pd = require_pandas()
    flat = []
    for r in records:
        row: dict[str, Any] = {}
        for k, v in r.items():
            row[k] = ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
        flat.append(row)
    return pd.DataFrame(flat)


def analyze(session, *, calibration=None, settings=None, exercise: str | None = None,
            side: str | None = None, filter: str | None = None, causal: bool = False,
            method: str | None = None) -> Analysis:
    """Reps, holds, faults and scores of a session, as ``imu analyze`` computes them.

    Parameters
    ----------
    session : Session, str or path-like
    calibration : str, path-like or Profile, optional
        As for :func:`angles`.
    settings : Settings, mapping or TOML path, optional
        Analysis thresholds; a mapping of dotted keys (``{"hinge.squat_inclination_deg": 30}``)
        overrides the defaults.
    exercise, side : str, optional
        For a session without set events (``hinge``, ``single_leg_stance`` …; side = the
        stance leg).
    filter : str, optional
    causal, method
        As for :func:`angles`.

    Returns
    -------
    Analysis
    """
    from imu.analysis.sets import normalize_exercise
    from imu.chain import Chain

    normalize_exercise(exercise, "exercise")
    s = _session(session)
    from imu.chain import check_filter

    check_filter(filter)
    chain = Chain(calibration, filter=filter, settings=_settings(settings), exercise=exercise,
                  side=side, causal=causal, method=method).run(s)
    return Analysis(chain.result_, chain.angles_)
