"""Many sessions at once on Dask: one Analysis per session, one table of every rep, hold and stride.

::

    from imu.batch import batch_analyze
    b = batch_analyze(["cohort/"], settings={"hinge.squat_inclination_deg": 30})
    b.results            # session → Analysis JSON (dict)
    b.failures           # session → one-line error
    b.rows               # every rep / hold / stride of every session, one dict each
    b.write("out/")      # <name>.analysis.json per session, items.csv, items.parquet, failures.csv

Each session goes through the same chain as ``imu analyze`` (:func:`imu.analyze`) in a
``dask.distributed`` worker: by default a local cluster of one single-threaded worker process
per core, bound to 127.0.0.1 with no dashboard (nothing listens on the network); or a running
scheduler at ``scheduler="tcp://host:8786"`` (its workers need ``imu`` installed and must see the
session paths). ``engine="loop"`` runs the same function in a plain loop in this process (the
reference the benchmark compares with). A session that fails is reported with its error and the
others go on. Results come back to this process, which writes every file, so workers need no
access to the output folder.

pandas and pyarrow are optional (``pip install imu[tables]``): they are only needed for
:meth:`BatchResult.to_pandas` and the Parquet table.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from imu.errors import BadInputError, ImuError
from imu.output import valid_text

log = logging.getLogger(__name__)

#: item kinds of an Analysis JSON set, as they appear in the table's ``kind`` column
ITEM_KEYS = {"reps": "rep", "holds": "hold", "strides": "stride"}
#: leading columns of the table (then every item field, in order of first appearance)
LEAD_COLUMNS = ["session", "analysis_json", "set", "exercise", "inferred", "kind", "index", "side"]
TABLE_CSV = "items.csv"
TABLE_PARQUET = "items.parquet"
FAILURES_CSV = "failures.csv"
JSON_SUFFIX = ".analysis.json"


# ------------------------------------------------------------------------------ sessions --
def find_sessions(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Sessions named by ``paths``, in order, without duplicates.

    A path that is a session (a recording or any other file, a CSV folder, a folder of
    Movella DOT or Xsens MT files: one file per sensor) is taken as it is; a folder that is none
    of these (or a folder of Xsens files that also holds recordings) is searched (sorted, at any
    depth) for recording files (``.imu`` or an imu recording by content), OpenSense ``.sto``
    files (each one a whole session, e.g. exported next to its recording) and session folders.
    Files given directly are always taken, so a damaged one is reported, not skipped.

    Raises
    ------
    BadInputError
        A path that does not exist, a folder named in ``paths`` holding no session, or no
        session found at all.
    """
    from imu.session.load import describe_source
    from imu.session.store import is_recording

    out: list[str] = []

    hits = [0]  # sessions met (repeats included)

    def add(p: Path):
        hits[0] += 1
        s = os.path.abspath(p)
        if s not in out:
            out.append(s)

    def recording_file(f: Path) -> bool:
        return f.is_file() and (f.suffix.lower() == ".imu" or is_recording(f))

    def is_session_folder(d: Path) -> bool:
        kind = describe_source(d)
        if kind in ("csv_folder", "dot"):
            return True
        # Xsens MT: one file per sensor; .sto files are each a session (searched for)
        return kind == "xsens" and not any(recording_file(f) for f in d.iterdir())

    def search(d: Path):
        for child in sorted(d.iterdir()):
            if child.is_dir():
                if is_session_folder(child):
                    add(child)
                else:
                    search(child)
            elif recording_file(child) or (child.is_file() and
                                           child.suffix.lower() == ".sto" and
                                           describe_source(child) == "sto"):
                add(child)

    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise BadInputError(f"{p}: no such file or folder")
        if p.is_file() or is_session_folder(p):
            add(p)
        else:
            before = hits[0]
            search(p)
            if hits[0] == before:  # named, yet nothing in it: never skipped silently
                raise BadInputError(f"{p}: no sessions found (recordings, CSV folders or "
                                    "Movella DOT, Xsens MT or .sto exports)")
    if not out:
        raise BadInputError(f"{', '.join(map(str, paths))}: no sessions found (recordings, CSV "
                            "folders or Movella DOT exports)")
    return out


def json_names(sessions: list[str]) -> dict[str, str]:
    """Session → Analysis JSON file name, unique within the batch (``<stem>.analysis.json``,
    then the parent folder's name, then a number, for sessions with the same name)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for s in sessions:
        p = Path(s)
        stem = p.stem if p.is_file() else p.name
        candidates = [stem, f"{p.parent.name}_{stem}"] + [f"{stem}_{k}" for k in range(2, 10**6)]
        for c in candidates:
            name = c + JSON_SUFFIX
            if name not in used:
                used.add(name)
                names[s] = name
                break
    return names


# -------------------------------------------------------------------------- one session --
def analyze_one(path: str, settings=None, calibration=None, filter: str | None = None,
                reading: dict | None = None) -> dict:
    """Analyse one session where it runs (a Dask worker, or this process).

    Returns
    -------
    dict
        ``{"session": path, "result": Analysis JSON}`` or ``{"session": path, "error": "one
        line"}``: every error is caught here so one session never stops the others.
    """
    try:
        return {"session": path, "result": _analysis(path, settings, calibration, filter,
                                                      reading)}
    except ImuError as exc:
        return {"session": path, "error": str(getattr(exc, "message", exc))}
    except MemoryError:
        return {"session": path, "error": "out of memory"}
    except Exception as exc:  # noqa: BLE001 - reported per session, never a traceback
        return {"session": path, "error": f"{type(exc).__name__}: {exc}"}


def _analysis(path: str, settings, calibration, filter, reading=None) -> dict:
    """The Analysis JSON of one session through the public API (the chain ``imu analyze`` uses);
    ``reading``: :func:`imu.load`'s options (roles, align, use_vendor_orientation)."""
    from imu.api import analyze, load

    session = load(path, **reading) if reading else path
    return analyze(session, calibration=calibration, settings=settings, filter=filter).result


# -------------------------------------------------------------------------------- table --
def _cell(v):
    if isinstance(v, (list, tuple)):
        return ";".join(map(str, v))
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    return v


def item_rows(session: str, json_name: str, result: dict) -> list[dict]:
    """One row per rep, hold and stride of an Analysis JSON (lists joined with ``;``)."""
    rows = []
    for k, s in enumerate(result.get("sets", []), 1):
        for key, kind in ITEM_KEYS.items():
            for item in s.get(key) or []:
                row = {"session": valid_text(session), "analysis_json": valid_text(json_name),
                       "set": k,
                       "exercise": s.get("exercise"), "inferred": bool(s.get("inferred", False)),
                       "kind": kind, "index": None, "side": s.get("side")}
                for f, v in item.items():
                    row[f] = _cell(v)
                rows.append(row)
    return rows


def table_columns(rows: list[dict]) -> list[str]:
    cols = list(LEAD_COLUMNS)
    for r in rows:
        for c in r:
            if c not in cols:
                cols.append(c)
    return cols


def _csv_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def rows_csv(rows: list[dict]) -> str:
    """The table as CSV text: a header row, then one row per item (empty cell = missing)."""
    cols = table_columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_csv_text(r.get(c)) for c in cols])
    return buf.getvalue()


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BadInputError(f"{module} is not installed; the table needs it: "
                            "pip install 'imu[tables]'") from None


def rows_arrow(rows: list[dict]):
    """The table as a ``pyarrow.Table`` (numbers as float64 or int64, text, booleans)."""
    pa = _require("pyarrow")
    cols = table_columns(rows)
    arrays = {}
    for c in cols:
        vals = [r.get(c) for r in rows]
        present = [v for v in vals if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            arrays[c] = pa.array(vals, type=pa.bool_())
        elif present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            arrays[c] = pa.array(vals, type=pa.int64())
        elif present and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                             for v in present):
            arrays[c] = pa.array([None if v is None else float(v) for v in vals],
                                 type=pa.float64())
        else:
            arrays[c] = pa.array([None if v is None else _csv_text(v) for v in vals],
                                 type=pa.string())
    return pa.table(arrays)


# ------------------------------------------------------------------------------ results --
@dataclass
class BatchResult:
    """Results of :func:`batch_analyze`.

    Attributes
    ----------
    sessions : list of str
        Every session, in input order (absolute paths).
    results : dict
        Session → Analysis JSON (dict) of the sessions that worked.
    failures : dict
        Session → one-line error of the sessions that failed.
    json_names : dict
        Session → its Analysis JSON file name in an output folder.
    """

    sessions: list[str]
    results: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)
    json_names: dict = field(default_factory=dict)

    @property
    def rows(self) -> list[dict]:
        """Every rep, hold and stride of every analysed session, in session order."""
        out = []
        for s in self.sessions:
            if s in self.results:
                out += item_rows(s, self.json_names[s], self.results[s])
        return out

    def to_pandas(self):
        """The table as a ``pandas.DataFrame`` (needs pandas)."""
        pd = _require("pandas")
        rows = self.rows
        return pd.DataFrame(rows, columns=table_columns(rows))

    def output_names(self) -> list[str]:
        """File names :meth:`write` puts into the output folder."""
        return ([self.json_names[s] for s in self.sessions]
                + [TABLE_CSV, TABLE_PARQUET, FAILURES_CSV])

    def write(self, out_dir, *, force: bool = False, parquet: bool = True) -> list[Path]:
        """Write every Analysis JSON, the table (CSV, and Parquet unless ``parquet=False``) and
        the failures (``failures.csv``: ``session,error``; the header only when none failed)
        into ``out_dir`` under the output rule (:mod:`imu.output`: created 0700, files 0600,
        staged and moved in together; an existing result file is replaced only with ``force``;
        other files in the folder are left alone). Returns the files written."""
        from imu.output import FolderOutput

        out = FolderOutput(out_dir, what="batch results folder", force=force,
                           names=self.output_names())
        try:
            names = []
            for s in self.sessions:
                if s in self.results:
                    text = json.dumps(self.results[s], indent=2, allow_nan=False) + "\n"
                    out.file(self.json_names[s]).write_text(text, encoding="utf-8")
                    names.append(self.json_names[s])
            rows = self.rows
            out.file(TABLE_CSV).write_text(rows_csv(rows), encoding="utf-8")
            names.append(TABLE_CSV)
            if parquet:
                pq = _require("pyarrow.parquet")
                pq.write_table(rows_arrow(rows), out.file(TABLE_PARQUET))
                names.append(TABLE_PARQUET)
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["session", "error"])
            for s in self.sessions:
                if s in self.failures:
                    w.writerow([valid_text(s), valid_text(self.failures[s])])
            out.file(FAILURES_CSV).write_text(buf.getvalue(), encoding="utf-8")
            names.append(FAILURES_CSV)
            folder = out.commit()
        except BaseException:
            out.discard()
            raise
        return [folder / n for n in names]


# --------------------------------------------------------------------------------- dask --
def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def local_cluster(workers: int | None = None, processes: bool = True):
    """A ``dask.distributed.LocalCluster`` of ``workers`` single-threaded workers (default one
    per core), listening on 127.0.0.1 only, without dashboards."""
    import dask
    from distributed import LocalCluster

    n = workers or default_workers()
    # no "event loop was unresponsive" warnings when other work holds the CPU; workers keep
    # one BLAS/OpenMP thread each but not the nanny's MALLOC_TRIM_THRESHOLD_, which makes
    # glibc hand memory back after every numpy temporary (measured: up to ~1.5x the CPU time
    # per session)
    environ = {k: v for k, v in
               dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.admin.tick.limit": "1h",
                          "distributed.nanny.pre-spawn-environ": environ}):
        # the scheduler's HTTP endpoint (no dashboard) on a free port of 127.0.0.1, not 8787
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                            protocol="tcp://", host="127.0.0.1", scheduler_port=0,
                            dashboard_address=None,
                            worker_dashboard_address=None, silence_logs=40,
                            scheduler_kwargs={"dashboard": False,
                                              "dashboard_address": "127.0.0.1:0"})


def batch_analyze(paths: Iterable[str | os.PathLike], *, settings=None, calibration=None,
                  filter: str | None = None, scheduler=None, workers: int | None = None,
                  processes: bool = True, engine: str = "dask",
                  progress: Callable[[int, int, str, str | None], None] | None = None,
                  roles=None, align: str | None = None, use_vendor_orientation: bool = False
                  ) -> BatchResult:
    """Analyse many sessions as ``imu analyze`` would, on Dask.

    Parameters
    ----------
    paths : iterable of str or path-like
        Sessions, or folders searched for sessions (:func:`find_sessions`).
    settings : imu.analysis.Settings, mapping of dotted keys, or TOML path, optional
        Analysis settings for every session (:func:`imu.analyze`).
    calibration : str or path-like, optional
        One calibration profile for every session (default: each session's own).
    filter : str, optional
        Fusion filter.
    scheduler : str, distributed.Client or LocalCluster, optional
        A running ``dask.distributed`` scheduler's address (``tcp://host:8786``), a client or a
        cluster to use; default: a :func:`local_cluster` started and stopped here.
    workers : int, optional
        Workers of the local cluster (default: one per core).
    processes : bool
        Local cluster of worker processes (default) or threads in this process.
    engine : {"dask", "loop"}
        ``"loop"`` analyses the sessions one after the other in this process, without Dask.
    progress : callable, optional
        Called after each session as ``progress(done, total, session, error_or_None)``.
    roles, align, use_vendor_orientation : optional
        How vendor exports are read, for every session (:func:`imu.load`; ``--role``,
        ``--align``, ``--use-vendor-orientation``).

    Returns
    -------
    BatchResult
    """
    from imu.fusion import FILTERS

    if filter and filter not in FILTERS:
        raise BadInputError(f"unknown filter {filter!r}; choose one of {', '.join(FILTERS)}")
    settings = _settings(settings)
    reading = {k: v for k, v in (("roles", dict(roles) if roles else None), ("align", align),
                                 ("use_vendor_orientation", use_vendor_orientation)) if v}
    sessions = find_sessions(paths)
    calibration = os.path.abspath(calibration) if isinstance(calibration, (str, os.PathLike)) \
        else calibration
    res = BatchResult(sessions, json_names=json_names(sessions))
    total = len(sessions)

    def record(k: int, out: dict):
        s = out["session"]
        if "error" in out:
            res.failures[s] = out["error"]
            if progress is None:  # else the caller shows it
                log.warning("%s: %s", s, out["error"])
        else:
            res.results[s] = out["result"]
        if progress is not None:
            progress(k, total, s, out.get("error"))

    if engine == "loop":
        for k, s in enumerate(sessions, 1):
            record(k, analyze_one(s, settings, calibration, filter, reading))
        return res
    if engine != "dask":
        raise BadInputError(f"engine must be 'dask' or 'loop', not {engine!r}")
    from distributed import Client, as_completed

    own_cluster = None
    if scheduler is None:
        own_cluster = local_cluster(workers, processes)
        client = Client(own_cluster)
    elif isinstance(scheduler, Client):
        client = scheduler
    elif hasattr(scheduler, "scheduler_address"):  # a cluster object
        client = Client(scheduler)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise BadInputError(f"scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        futures = {client.submit(analyze_one, s, settings, calibration, filter, reading,
                                 pure=False): s
                   for s in sessions}
        for k, fut in enumerate(as_completed(futures), 1):
            s = futures[fut]
            try:
                out = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died, a lost connection
                out = {"session": s, "error": f"{type(exc).__name__}: {exc}"}
            record(k, out)
    finally:
        if client is not scheduler:
            client.close()
        if own_cluster is not None:
            own_cluster.close()
    return res


def _settings(settings):
    """Settings to ship to workers: an :class:`~imu.analysis.Settings` (or None)."""
    from imu.analysis import Settings

    if settings is None or isinstance(settings, Settings):
        return settings
    if isinstance(settings, dict):
        return Settings(dict(settings), source="API")
    return Settings.from_toml(os.fspath(settings))
