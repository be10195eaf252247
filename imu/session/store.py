"""Crash-safe session recordings: one SQLite file per session (docs/formats.md "Recordings").

Container
---------
A recording is a SQLite database in WAL mode (``application_id`` ``IMU1``):

- ``info(key, value)``: JSON values: ``format`` (``imu.recording/1``), ``meta``, ``calibration``;
- ``sensors``: one row per sensor (id, role, model, rate, firmware, extra JSON);
- ``chunks``: raw samples in compressed, bit-exact blocks (see :mod:`imu.session.codec`), one row
  per sensor per commit, with the first/last sequence number and the host-time range of the
  block (indexed, for reading a time window);
- ``events``: set start/end, exercise, side, notes (docs/formats.md);
- ``orientations``: the sensor's own orientation (vendor sensor fusion) where the source had
  one: ``n`` quaternions ``w, x, y, z`` (float64, deflated) from sample index ``first`` on.
  Recordings written before this table existed open as before (no orientations).

Crash safety
------------
:meth:`RecordingWriter.add_block` only appends to an in-memory buffer. A background thread commits
the buffer at least every ``commit_interval_s`` (0.25 s) in one SQLite transaction, so a process
killed at any moment (SIGKILL, crash) leaves a database that opens with every sample committed up
to at most ~0.3 s before the kill (SQLite's WAL replays or discards the last transaction
atomically); every commit is fsynced, so a power cut or OS crash loses no more. The file is
created under a temporary name and linked into place with its schema complete, so even a kill during creation never leaves a half-made recording. On :meth:`close`
the WAL is checkpointed and the file switched back to a single self-contained file.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
import threading
import time
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from imu.errors import BadInputError, shown
from imu.output import _APPLICATION_ID as APPLICATION_ID  # "IMU1"
from imu.output import _SQLITE_MAGIC, FILE_MODE, check_output
from imu.output import is_recording  # noqa: F401  (public here too)
from imu.log import get_logger, progress as _log_progress
from imu.session import codec
from imu.session.validate import check_role, check_sensor_info, check_session
from imu.types import Event, SampleBlock, SensorData, SensorInfo, Session
from imu.workers import can_fork, fork_map, pool_map, shared_empty

log = get_logger(__name__)

FORMAT = "imu.recording/1"

_SCHEMA = """
CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sensors (
    id INTEGER PRIMARY KEY,
    sensor_id TEXT NOT NULL,
    role TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    rate_hz REAL NOT NULL,
    firmware TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    sensor INTEGER NOT NULL REFERENCES sensors(id),
    n INTEGER NOT NULL,
    codec INTEGER NOT NULL,
    seq_first INTEGER NOT NULL,
    seq_last INTEGER NOT NULL,
    t_host_min_s REAL NOT NULL,
    t_host_max_s REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX chunks_by_sensor_time ON chunks (sensor, t_host_min_s);
CREATE TABLE orientations (
    id INTEGER PRIMARY KEY,
    sensor INTEGER NOT NULL REFERENCES sensors(id),
    first INTEGER NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    t_s REAL NOT NULL,
    kind TEXT NOT NULL,
    exercise TEXT,
    side TEXT,
    note TEXT,
    data TEXT NOT NULL
);
"""


def _json_default(obj: Any):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (Path, _dt.datetime, _dt.date)):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a recording")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=_json_default, sort_keys=True)


def _sensor_row(info: SensorInfo) -> tuple:
    return (info.sensor_id, info.role, info.model, float(info.rate_hz), info.firmware,
            _dumps(info.extra or {}))


def _fsync_dir(folder: Path) -> None:
    """Make a new directory entry durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _lock(path: Path) -> int:
    """An open descriptor of ``path`` holding an exclusive ``flock`` (BlockingIOError if another
    process holds it). SQLite's own locks are POSIX record locks: independent of this one."""
    import fcntl

    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _aux_paths(path: Path) -> list[Path]:
    return [path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
            path.with_name(path.name + "-journal")]


class RecordingWriter:
    """Write one session to a crash-safe recording file.

    Parameters
    ----------
    path : path-like
        The recording file to create (exactly this path, whatever its name).
    meta : dict
        Session metadata (subject, exercise plan, software, ...); JSON-serialisable.
    sensors : list of SensorInfo
        Sensors known at the start (more can be added with :meth:`add_sensor`).
    overwrite : bool
        Replace an existing file at ``path``. Without it an existing file is refused
        (:class:`~imu.errors.BadInputError`): nothing recorded is ever lost.
    commit_interval_s : float
        Buffered samples are committed at least this often (seconds), by a background thread.
    compress_level : int
        zlib level for sample chunks (1 is fast and nearly as small as 6 on sensor data).
    durable : bool
        fsync every commit (SQLite ``synchronous=FULL``) so that even a power cut or an OS
        crash loses at most the last commit interval. ``False`` (bulk imports whose source
        still exists) survives process kills only.

    Examples
    --------
    >>> with RecordingWriter("s.imu", {"subject": "A"}, [SensorInfo("s1", "sacrum")]) as w:
    ...     w.add_block("sacrum", block)
    """

    def __init__(self, path: str | os.PathLike, meta: dict | None = None,
                 sensors: list[SensorInfo] | None = None, *, overwrite: bool = False,
                 commit_interval_s: float = 0.25, compress_level: int = 1,
                 durable: bool = True):
        self.path = Path(path)
        self.commit_interval_s = float(commit_interval_s)
        self.compress_level = int(compress_level)
        self._overwrite = bool(overwrite)
        check_output(self.path, what="recording", force=overwrite, recording=True)

        self._meta: dict[str, Any] = {
            "format": FORMAT,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        try:
            from imu import __version__
            self._meta["software"] = f"imu {__version__}"
        except Exception:  # pragma: no cover - version is always there when installed
            pass
        self._meta.update(meta or {})
        self._sensors: dict[str, tuple[int, SensorInfo]] = {}  # role -> (row id, info)

        try:
            self._create(sensors or [])
            self._db = sqlite3.connect(str(self.path), check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: every commit is fsynced, so a power cut or OS crash loses no more than a
            # process kill does (≈ 6 ms per commit here, in the background thread)
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        except (sqlite3.Error, OSError) as exc:
            self._unlock()
            raise BadInputError(f"{self.path}: cannot create the recording ({exc})") from None
        except BaseException:
            self._unlock()
            raise

        self._db_lock = threading.Lock()
        self._buf_lock = threading.Lock()
        self._pending: dict[str, list[np.ndarray]] = {}
        self._pending_q: list[tuple[str, int, np.ndarray]] = []  # (role, first, quats)
        self._n_added: dict[str, int] = {}  # role -> samples added (orientation indices)
        self._pending_since: float | None = None
        self._unsealed: dict[str, list[tuple[int, np.ndarray]]] = {}  # role -> small chunks
        self._hints: dict[str, dict] = {}  # role -> codec scale hints
        self._closed = False
        self._error: BaseException | None = None
        self.samples_written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flusher, name="imu-recording-flush",
                                        daemon=True)
        self._thread.start()

    # -- creation -------------------------------------------------------------------------
    _lock_fd: int | None = None

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _create(self, sensors: list[SensorInfo]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.creating-{os.getpid()}")
        for p in [tmp, *_aux_paths(tmp)]:
            if p.exists():
                p.unlink()
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            os.chmod(tmp, FILE_MODE)  # private whatever the umask (SQLite's side files follow)
            db = sqlite3.connect(str(tmp), isolation_level=None)
            try:
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute("PRAGMA user_version=1")
                db.execute("BEGIN")
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        db.execute(stmt)
                db.execute("INSERT INTO info VALUES ('format', ?)", (_dumps(FORMAT),))
                db.execute("INSERT INTO info VALUES ('meta', ?)", (_dumps(self._meta),))
                db.execute("INSERT INTO info VALUES ('calibration', 'null')")
                for s in sensors:
                    self._insert_sensor(db, s)
                db.execute("COMMIT")
            finally:
                db.close()
            # the new file is locked before it gets its name: no second writer replaces it
            # while this one records (see _lock)
            self._lock_fd = _lock(tmp)
            if self._overwrite:  # atomic replacement: the old file stays until the new is whole
                old_fd = None
                if self.path.exists():
                    try:
                        old_fd = _lock(self.path)
                    except BlockingIOError:
                        raise BadInputError(
                            f"{self.path}: is being recorded by another process right now; "
                            "refusing to replace it (choose another name)") from None
                try:
                    for aux in _aux_paths(self.path):
                        if aux.exists():
                            aux.unlink()
                    os.replace(tmp, self.path)
                    _fsync_dir(self.path.parent)
                finally:
                    if old_fd is not None:
                        os.close(old_fd)
                return
            try:
                os.link(tmp, self.path)  # fails if the path appeared meanwhile: never clobber
                _fsync_dir(self.path.parent)
            except FileExistsError:
                raise BadInputError(f"{self.path}: already exists; refusing to overwrite it"
                                    ) from None
            except OSError:  # no hard links here (some network/FAT file systems)
                if self.path.exists():
                    raise BadInputError(f"{self.path}: already exists; refusing to overwrite "
                                        "it") from None
                os.replace(tmp, self.path)
        finally:
            for p in [tmp, *_aux_paths(tmp)]:
                if p.exists():
                    p.unlink()

    def _insert_sensor(self, db: sqlite3.Connection, info: SensorInfo) -> None:
        if info.role in self._sensors:
            old = self._sensors[info.role][1]
            if old.sensor_id != info.sensor_id:
                raise BadInputError(f"{self.path}: role {info.role} already has sensor "
                                    f"{old.sensor_id}; cannot add {info.sensor_id}")
            return
        cur = db.execute("INSERT INTO sensors (sensor_id, role, model, rate_hz, firmware, extra) "
                         "VALUES (?, ?, ?, ?, ?, ?)", _sensor_row(info))
        self._sensors[info.role] = (int(cur.lastrowid), info)

    # -- live path ------------------------------------------------------------------------
    def add_block(self, role: str, block: SampleBlock) -> None:
        """Buffer one block of raw samples of the sensor in ``role`` (cheap; no disk I/O).

        A role not announced yet is registered from the block's ``sensor_id`` (model
        ``unknown``) so no sample is ever dropped. A block carrying the sensor's own
        orientation (``block.quat``) has it stored with its samples, in the same commit.
        """
        self._check_open()
        n = len(block.seq)
        if n == 0:
            return
        if not (len(block.t_sensor_s) == len(block.t_host_s) == n
                and np.shape(block.acc) == (n, 3) and np.shape(block.gyr) == (n, 3)):
            raise ValueError(f"sample block of {role} has inconsistent lengths")
        m = codec.pack_columns(block.seq, block.t_sensor_s, block.t_host_s, block.acc, block.gyr)
        if role not in self._sensors:
            self.add_sensor(SensorInfo(block.sensor_id, role, model="unknown"))
        quat = getattr(block, "quat", None)
        if quat is not None and np.shape(quat) != (n, 4):
            raise ValueError(f"sample block of {role} has {np.shape(quat)} orientations for "
                             f"{n} samples")
        with self._buf_lock:
            self._pending.setdefault(role, []).append(m)
            first = self._n_added.get(role, 0)
            self._n_added[role] = first + n
            if quat is not None:
                self._pending_q.append((role, first, np.array(quat, dtype="<f8")))
            if self._pending_since is None:
                self._pending_since = time.monotonic()

    def add_event(self, event: Event) -> None:
        """Store an event (committed at once)."""
        self._check_open()
        with self._db_lock:
            self._db.execute(
                "INSERT INTO events (t_s, kind, exercise, side, note, data) VALUES (?,?,?,?,?,?)",
                (float(event.t_s), event.kind, event.exercise, event.side, event.note,
                 _dumps(event.data or {})))

    def add_orientation(self, role: str, first: int, quat: np.ndarray) -> None:
        """Store the sensor's own orientations ``quat`` (n, 4) ``w, x, y, z`` of samples
        ``first .. first + n - 1`` of ``role`` (committed at once)."""
        self._check_open()
        q = np.ascontiguousarray(quat, dtype="<f8").reshape(-1, 4)
        if role not in self._sensors:
            raise ValueError(f"no sensor {role} in {self.path}")
        with self._db_lock:
            self._db.execute("INSERT INTO orientations (sensor, first, n, data) VALUES (?,?,?,?)",
                             (self._sensors[role][0], int(first), int(len(q)),
                              zlib.compress(q.tobytes(), 6)))

    def set_calibration(self, profile: dict | None) -> None:
        """Embed a calibration profile (a JSON-serialisable dict), replacing any earlier one."""
        self._check_open()
        with self._db_lock:
            self._db.execute("UPDATE info SET value=? WHERE key='calibration'", (_dumps(profile),))

    def update_meta(self, meta: dict) -> None:
        """Merge ``meta`` into the session metadata (committed at once)."""
        self._check_open()
        self._meta.update(meta)
        with self._db_lock:
            self._db.execute("UPDATE info SET value=? WHERE key='meta'", (_dumps(self._meta),))

    def add_sensor(self, info: SensorInfo) -> None:
        """Announce a sensor (committed at once). Re-announcing the same sensor is a no-op."""
        self._check_open()
        with self._db_lock:
            self._insert_sensor(self._db, info)

    # -- committing -----------------------------------------------------------------------
    def flush(self) -> None:
        """Commit every buffered sample now, in one transaction.

        Each commit stores the new samples of a sensor as a small chunk; once a sensor's small
        chunks hold :data:`~imu.session.codec.SEAL_SAMPLES` samples, the same transaction
        replaces them by one sealed chunk (better compression, faster reading).
        """
        with self._db_lock:
            self._commit(seal_all=False)

    def _commit(self, seal_all: bool) -> None:
        with self._buf_lock:
            pending, self._pending = self._pending, {}
            pending_q, self._pending_q = self._pending_q, []
            self._pending_since = None
        if not pending and not seal_all:
            return
        try:
            self._write_chunks(pending, seal_all, pending_q)
        except BaseException:
            with self._buf_lock:  # keep the samples for the next attempt: nothing is dropped
                self._pending_q = pending_q + self._pending_q
                for role, mats in pending.items():
                    self._pending[role] = mats + self._pending.get(role, [])
                if self._pending and self._pending_since is None:
                    self._pending_since = time.monotonic()
            raise
        self.samples_written += sum(len(x) for xs in pending.values() for x in xs)

    def _write_chunks(self, pending: dict[str, list[np.ndarray]], seal_all: bool,
                      pending_q: list | None = None) -> None:
        inserts: list[tuple[str, np.ndarray, bool]] = []  # (role, matrix, stays unsealed)
        deletes: list[int] = []
        sealed_roles: list[str] = []
        seal = codec.SEAL_SAMPLES
        for role in set(pending) | (set(self._unsealed) if seal_all else set()):
            mats = pending.get(role, [])
            small = self._unsealed.get(role, [])
            n_new = sum(len(x) for x in mats)
            n_small = sum(len(x) for _, x in small)
            if n_small + n_new < seal and not seal_all:
                if mats:
                    inserts.append((role, mats[0] if len(mats) == 1 else np.concatenate(mats),
                                    True))
                continue
            if not mats and len(small) <= 1:
                continue  # nothing to merge
            data = np.concatenate([x for _, x in small] + mats)
            deletes.extend(cid for cid, _ in small)
            sealed_roles.append(role)
            for k in range(0, len(data), seal):  # sealed chunks of SEAL_SAMPLES, rest unsealed
                piece = data[k:k + seal]
                inserts.append((role, piece, len(piece) < seal and not seal_all))
        if not inserts and not deletes and not pending_q:
            return
        rows = []
        for role, m, _ in inserts:
            seq = m[:, 0].view(np.int64)
            th = m[:, 2].view(np.float64)
            blob = codec.encode(m, self.compress_level, self._hints.setdefault(role, {}))
            rows.append((self._sensors[role][0], len(m), codec.CODEC_COLUMNS_ZLIB, int(seq[0]),
                         int(seq[-1]), _range_end(np.min, th, -np.inf),
                         _range_end(np.max, th, np.inf), blob))
        self._db.execute("BEGIN")
        try:
            if deletes:
                self._db.executemany("DELETE FROM chunks WHERE id=?", [(c,) for c in deletes])
            ids = []
            for row in rows:
                cur = self._db.execute(
                    "INSERT INTO chunks (sensor, n, codec, seq_first, seq_last, t_host_min_s, "
                    "t_host_max_s, data) VALUES (?,?,?,?,?,?,?,?)", row)
                ids.append(int(cur.lastrowid))
            for role, first, q in _merge_runs(pending_q or []):  # with their samples, never
                # one without
                self._db.execute(
                    "INSERT INTO orientations (sensor, first, n, data) VALUES (?,?,?,?)",
                    (self._sensors[role][0], int(first), int(len(q)),
                     zlib.compress(q.tobytes(), 6)))
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        for role in sealed_roles:
            self._unsealed[role] = []
        for (role, m, unsealed), cid in zip(inserts, ids):
            if unsealed:
                self._unsealed.setdefault(role, []).append((cid, m))

    def _flusher(self) -> None:
        tick = max(0.02, self.commit_interval_s / 5)
        while not self._stop.wait(tick):
            since = self._pending_since
            if since is not None and time.monotonic() - since >= self.commit_interval_s:
                try:
                    self.flush()
                except Exception as exc:  # kept pending; surfaced on the next call, retried
                    self._error = exc
                    self._stop.wait(1.0)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"recording {self.path} is closed")
        if self._error is not None:
            err, self._error = self._error, None
            raise BadInputError(f"{self.path}: cannot write the recording ({err}); it holds "
                                f"the {self.samples_written} samples written before")

    def close(self) -> None:
        """Commit what is buffered, checkpoint the WAL and leave one self-contained file.

        Raises
        ------
        BadInputError
            The last samples could not be written (disk full, I/O error): one line; the file
            still holds every sample committed before (:attr:`samples_written`).
        """
        if self._closed:
            return
        self._stop.set()
        self._thread.join()
        failed = None
        try:
            with self._db_lock:
                self._commit(seal_all=True)
        except (sqlite3.Error, OSError) as exc:
            failed = exc
        finally:
            self._closed = True
            with self._db_lock:
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    self._db.execute("PRAGMA journal_mode=DELETE")
                except (sqlite3.Error, OSError):
                    pass  # a reader holds the file open, or no room: the WAL stays valid
                self._db.close()
            self._unlock()
        if failed is not None:
            raise BadInputError(f"{self.path}: cannot write the last samples ({failed}); the "
                                f"recording holds the {self.samples_written} written before")

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- reading ------------------------------------------------------------------------------

def _range_end(fn, x: np.ndarray, default: float) -> float:
    """``fn`` of the non-NaN values of ``x`` (SQLite stores NaN as NULL), else ``default``."""
    ok = x[~np.isnan(x)]
    return float(fn(ok)) if len(ok) else default


def _open_for_reading(path: Path) -> tuple[sqlite3.Connection, str | None]:
    """The recording opened for reading, and why it is damaged (``None``: not known to be):
    a file cut short (a copy cut at some byte, a disk that filled) is opened read-only and read
    up to the damage (:func:`read_recording`)."""
    if not path.exists():
        raise BadInputError(f"{path}: no such file")
    if path.is_dir():
        raise BadInputError(f"{path}: is a folder, not a recording file")
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or head[:16] != _SQLITE_MAGIC:
        if len(head) == 0:
            raise BadInputError(f"{path}: empty file, not a recording")
        if len(head) < 100 and head[:16] == _SQLITE_MAGIC[:len(head[:16])]:
            raise BadInputError(f"{path}: truncated recording (cut inside its header, at byte "
                                f"{len(head)}): no sensor data can be read")
        raise BadInputError(f"{path}: not a recording (not an imu SQLite recording file)")
    if int.from_bytes(head[68:72], "big") != APPLICATION_ID:
        raise BadInputError(f"{path}: SQLite database but not an imu recording")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    n_pages = int.from_bytes(head[28:32], "big")
    wal = path.with_name(path.name + "-wal")
    size = path.stat().st_size
    damage = None
    if (not wal.exists() or wal.stat().st_size == 0) and n_pages and size < n_pages * page_size:
        damage = f"truncated recording ({size} of {n_pages * page_size} bytes)"
    uri = f"{path.resolve().as_uri()}?mode=ro"
    # as it is (recovering a WAL left by a killed writer); read-only (a read-only folder);
    # read-only past what SQLite's own checks refuse whole (a file shorter than its header
    # says, pages that do not add up): then it is read up to the damage. A damaged file is
    # only ever opened read-only: nothing is written into it.
    tries = ([(uri, True, True)] if damage else
             [(str(path), False, False), (uri, True, False), (uri, True, True)])
    first = None
    for target, as_uri, past_checks in tries:
        db = None
        try:
            db = sqlite3.connect(target, uri=as_uri, isolation_level=None)
            if past_checks:
                db.execute("PRAGMA writable_schema=ON")  # (read-only: nothing is written)
            db.execute("SELECT count(*) FROM sensors").fetchone()
        except (sqlite3.DatabaseError, ValueError) as exc:  # ValueError: schema not UTF-8
            if db is not None:
                db.close()
            first = first or exc
            continue
        if past_checks and not damage:
            damage = f"damaged recording ({first})"
        return db, damage
    what = damage or "corrupt recording"
    raise BadInputError(f"{path}: {what} ({first}): no sensor data can be read")


def _rows(db: sqlite3.Connection, query: str, params: tuple, damage: list[str]):
    """The rows of ``query`` up to the first damaged page: a damaged page ends them (said in
    ``damage``) instead of losing the rows read before it."""
    try:
        cur = db.execute(query, params)
        while True:
            row = cur.fetchone()
            if row is None:
                return
            yield row
    except sqlite3.DatabaseError as exc:
        damage.append(f"damaged recording ({exc})")


def _chunk_rows(db: sqlite3.Connection, window: tuple[float, float] | None,
                damage: list[str]) -> list[tuple]:
    """Chunk rows ``(id, sensor, n, codec, data)`` in id (recording) order, of the chunks that
    overlap ``window`` (``(lo, hi)`` seconds, session clock; None: all).

    A damaged file (``damage`` says why, or the first damaged page found here) is read in two
    steps, each of which a damaged page cannot stop: the chunks' small fields in id order
    without the time index (it may be among what is lost), resuming past a damaged page at the
    next ids it can reach; then each wanted chunk's data on its own (``None`` where its pages
    are lost). A damaged page in the middle of a file loses only the chunks stored in it."""
    if not damage:
        query, params = "SELECT id, sensor, n, codec, data FROM chunks", ()
        if window is not None:
            query += " WHERE t_host_max_s >= ? AND t_host_min_s <= ?"
            params = window
        bad: list[str] = []
        rows = list(_rows(db, query + " ORDER BY id", params, bad))
        if not bad:
            return rows
        damage.append(bad[0])  # read again, the damaged file's way
    heads: list[tuple] = []
    after, tries, base = -(2 ** 63), 0, 0
    while True:
        bad = []
        got = list(_rows(db, "SELECT id, sensor, n, codec, t_host_min_s, t_host_max_s FROM "
                             "chunks NOT INDEXED WHERE id > ? ORDER BY id", (after,), bad))
        keep, prev = [], after  # a page read as zeros past the end of a cut file shows
        for r in got:           # phantom rows: ids only go up
            if isinstance(r[0], int) and r[0] > prev:
                keep.append(r)
                prev = r[0]
        heads += keep
        if not bad:
            break
        if keep:
            base, tries = keep[-1][0], 0
        elif tries == 0:
            base = max(after, 0)
        tries += 1
        if tries > 40:  # nothing more can be reached
            break
        # skip the ids stored in the damaged page: one by one, then in doubling steps
        after = base + (tries if tries <= 8 else 2 ** (tries - 5))
    if window is not None:
        def overlaps(t0, t1) -> bool:
            try:
                return t1 >= window[0] and t0 <= window[1]
            except TypeError:  # a damaged field: the chunk's samples say where they are
                return True
        heads = [h for h in heads if overlaps(h[4], h[5])]
    rows = []
    for cid, rid, n, cod, _, _ in heads:
        bad = []
        data = next(iter(_rows(db, "SELECT data FROM chunks WHERE id = ?", (cid,), bad)),
                    (None,))[0]
        rows.append((cid, rid, n, cod, None if bad else data))
    return rows


def read_recording(path: str | os.PathLike, roles: list[str] | None = None, *,
                   start_s: float | None = None, end_s: float | None = None,
                   meanwhile=None) -> Session:
    """Load a recording into numpy arrays per sensor.

    Parameters
    ----------
    path : path-like
        A file written by :class:`RecordingWriter` (complete, or left by a killed writer).
    roles : list of str, optional
        Load only these roles (default: all).
    start_s, end_s : float, optional
        Load only samples with ``start_s <= t_host_s <= end_s`` (session clock, seconds); only
        the chunks that overlap the window are read and decoded.
    meanwhile : callable, optional
        Work for this process while forked workers decode a long recording (see
        :func:`imu.workers.fork_map`'s ``then``); it may not run at all.

    Returns
    -------
    Session
        ``sensors`` maps role → :class:`~imu.types.SensorData` (samples in the order received),
        plus ``events`` (sorted by time), ``calibration`` (dict or None) and ``meta``.

    Raises
    ------
    BadInputError
        The file is missing, not a recording, truncated or corrupt (one line naming it).
    """
    p = Path(path)
    db, cut = _open_for_reading(p)
    damage = [cut] if cut else []  # what is damaged, when reading goes on past it
    try:
        try:
            info = {k: json.loads(v) for k, v in _rows(db, "SELECT key, value FROM info", (),
                                                         damage)}
            if info.get("format") != FORMAT:
                if damage and "format" not in info:
                    raise BadInputError(f"{p}: {damage[0]}: its format is lost, no sensor data "
                                        f"can be read")
                raise BadInputError(f"{p}: unsupported recording format {shown(info.get('format'))} "
                                    f"(this version reads {FORMAT})")
            sensors: dict[int, SensorInfo] = {}
            all_rids = set()
            for rid, sid, role, model, rate, fw, extra in _rows(
                    db, "SELECT id, sensor_id, role, model, rate_hz, firmware, extra FROM sensors "
                    "ORDER BY id", (), damage):
                check_role(role, f"{p}: sensor {rid}")
                all_rids.add(rid)
                if roles is None or role in roles:
                    if not isinstance(rid, int) or not isinstance(extra, str):
                        raise BadInputError(f"{p}: corrupt sensor row {shown(rid)}")
                    sensors[rid] = check_sensor_info(
                        SensorInfo(sid, role, model, rate, fw, json.loads(extra)), str(p))
            lo = -np.inf if start_s is None else float(start_s)
            hi = np.inf if end_s is None else float(end_s)
            window = (lo, hi) if start_s is not None or end_s is not None else None
            chunks = []
            orphans = []
            for cid, rid, n, cod, data in _chunk_rows(db, window, damage):
                if rid not in all_rids:
                    orphans.append(cid)
                elif rid in sensors:
                    chunks.append((cid, rid, n, cod, data))
            has_q = any(True for _ in _rows(db, "SELECT 1 FROM sqlite_master WHERE type='table' "
                                             "AND name='orientations'", (), damage))
            orients = ([(rid, first, n, data) for rid, first, n, data in _rows(
                db, "SELECT sensor, first, n, data FROM orientations ORDER BY id", (), damage)
                if rid in sensors] if has_q else [])
            events = [
                Event(t, kind, ex, side, note, json.loads(data))
                for t, kind, ex, side, note, data in _rows(
                    db, "SELECT t_s, kind, exercise, side, note, data FROM events ORDER BY t_s, id",
                    (), damage)]
        except sqlite3.DatabaseError as exc:
            raise BadInputError(f"{p}: corrupt recording ({exc})") from None
        except (ValueError, TypeError, RecursionError) as exc:  # JSON, UTF-8, types
            raise BadInputError(f"{p}: corrupt recording metadata "
                                f"({type(exc).__name__}: {str(exc)[:80]})") from None
    finally:
        db.close()

    out, bad_chunks = _decode_chunks(p, sensors, chunks, meanwhile)
    # a sensor with chunks of unknown size left out: its orientations' sample indices no
    # longer hold
    lost_q = _attach_orientations(p, sensors, out, orients, {r for _, r in bad_chunks})
    bad_chunks += [(cid, None) for cid in orphans]
    lost = _drop_unreadable(out)
    if start_s is not None or end_s is not None:
        for role, d in out.items():
            keep = (d.t_host_s >= lo) & (d.t_host_s <= hi)
            if not keep.all():
                out[role] = SensorData(d.info, d.seq[keep], d.t_sensor_s[keep], d.t_host_s[keep],
                                       d.acc[keep], d.gyr[keep],
                                       None if d.quat is None else d.quat[keep])
        events = [e for e in events if lo <= e.t_s <= hi]
    meta = info.get("meta") or {}
    if lost:
        meta = {**meta, "unreadable_samples": lost}
    if (damage or lost or bad_chunks) and not any(len(d) for d in out.values()):
        why = damage[0] if damage else "every sample chunk is damaged"
        raise BadInputError(f"{p}: {why}: no sensor data can be read")
    if damage or lost or bad_chunks or lost_q:
        log.warning("%s", _damage_line(p, damage, lost, bad_chunks, lost_q, out, events))
    return check_session(Session(meta=meta, sensors=out, events=events,
                                 calibration=info.get("calibration"), source=str(p)))


def _damage_line(p: Path, damage: list[str], lost: dict[str, int], bad_chunks: list,
                 lost_q: list[str], out: dict[str, SensorData], events: list) -> str:
    """The one warning line that says what of a damaged recording could not be read."""
    parts = []
    if damage:
        ends = [d.host_span_s()[1] for d in out.values() if len(d)]
        ends = [e for e in ends if np.isfinite(e)]
        upto = f" (up to {max(ends):.2f} s)" if ends else ""
        parts.append(f"{damage[0]}: read {sum(len(d) for d in out.values())} samples{upto} and "
                     f"{len(events)} event{'s' if len(events) != 1 else ''}; whatever was "
                     f"stored in the damaged part is lost")
    if lost:
        parts.append("damaged sample chunks: " + ", ".join(f"{n} samples of {r}"
                                                            for r, n in lost.items())
                     + " could not be read")
    if bad_chunks:
        cid, role = bad_chunks[0]
        more = ", ..." if len(bad_chunks) > 1 else ""
        parts.append(f"{len(bad_chunks)} sample chunk{'s' if len(bad_chunks) > 1 else ''} could "
                     f"not be read (damaged or of impossible structure: chunk {cid} of "
                     f"{role or 'no listed sensor'}{more})")
    if lost_q:
        parts.append("the vendor orientations of " + ", ".join(lost_q) + " could not be read")
    tail = " (taken as a gap; the rest of the recording is read)" if lost or bad_chunks else ""
    return f"{p}: " + "; ".join(parts) + tail


#: recordings of more chunks than this are decoded by forked children (:func:`_decode_chunks`)
FORK_MIN_CHUNKS = 64
#: the sequence number that marks the samples of a damaged chunk while decoding
UNREADABLE_SEQ = np.iinfo(np.int64).min


def _drop_unreadable(out: dict[str, SensorData]) -> dict[str, int]:
    """Take the samples of damaged chunks (:data:`UNREADABLE_SEQ`) out of ``out`` (in place):
    the rest of the recording is read and they look like any other gap. Returns role → samples
    lost (said once as a warning by :func:`read_recording`)."""
    lost = {}
    for role, d in out.items():
        # (the smallest int64: the smallest sequence number only where a chunk was damaged)
        if not len(d.seq) or np.minimum.reduce(d.seq) != UNREADABLE_SEQ:
            continue
        bad = d.seq == UNREADABLE_SEQ
        keep = ~bad
        lost[role] = int(bad.sum())
        out[role] = SensorData(d.info, d.seq[keep], d.t_sensor_s[keep], d.t_host_s[keep],
                               d.acc[keep], d.gyr[keep], None if d.quat is None else d.quat[keep])
    return lost


def _decode_chunks(p: Path, sensors: dict[int, SensorInfo], chunks: list[tuple],
                   meanwhile=None) -> dict[str, SensorData]:
    """Decode chunk rows ``(id, sensor row id, n, codec, blob)`` into SensorData per role;
    also the chunks of impossible structure, skipped: ``(id, role)`` (an unknown codec, data
    that is no blob, a count of samples its bytes cannot carry)."""
    totals = {rid: 0 for rid in sensors}
    jobs = []
    skipped = []
    for cid, rid, n, cod, data in chunks:
        if rid not in sensors:
            continue
        # memory is bounded by what the chunk can hold: counts its bytes cannot carry are
        # never allocated
        if not isinstance(data, bytes) or not isinstance(n, int) \
                or not 0 < n <= codec.max_samples(len(data)):
            skipped.append((cid, sensors[rid].role))  # of unknown size: left out
            continue
        # an unknown codec: its samples are a gap (their places kept for the orientations)
        jobs.append((cid, rid, totals[rid], int(n), data if cod == codec.CODEC_COLUMNS_ZLIB
                     else None))
        totals[rid] += int(n)
    # a long recording is decoded by forked children straight into shared memory (zlib
    # releases the GIL, the numpy steps between hold it); else on the thread pool
    forked = len(jobs) > FORK_MIN_CHUNKS and can_fork()
    alloc = shared_empty if forked else np.empty
    arrays = {rid: (alloc(k, np.int64), alloc(k), alloc(k), alloc((k, 3)), alloc((k, 3)))
              for rid, k in totals.items()}

    def work(job):
        cid, rid, start, n, data = job
        seq, ts, th, acc, gyr = arrays[rid]
        sl = slice(start, start + n)
        try:
            if data is None:
                raise ValueError("unknown codec")
            codec.decode_into(data, n, seq[sl], ts[sl], th[sl], acc[sl], gyr[sl])
        except ValueError:  # a damaged chunk: its samples are marked, the rest are read
            seq[sl] = UNREADABLE_SEQ
            for a in (ts, th, acc, gyr):
                a[sl] = np.nan

    if forked:
        n_proc = min(os.cpu_count() or 2, 4)
        # the chunks in groups, handed out through a pipe: each worker (the children, and
        # this process once the caller's other work is done) takes the next group's number
        # until none is left, so they all end together however the work and the CPUs fall
        size = max(1, len(jobs) // (32 * (n_proc + 1)))
        groups = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        queue_r, queue_w = os.pipe()
        try:
            _write_all(queue_w, np.arange(len(groups), dtype="<u4").tobytes())
        finally:
            os.close(queue_w)

        def work_queue(_):  # results go to the shared arrays, nothing back
            while True:
                b = os.read(queue_r, 4)  # one group's number (reads of a pipe are atomic)
                if len(b) < 4:
                    return
                for job in groups[int.from_bytes(b, "little")]:
                    work(job)

        try:
            fork_map(work_queue, range(n_proc + (meanwhile is not None)), last_here=True,
                     then=meanwhile)
        finally:
            os.close(queue_r)
    elif len(jobs) > 8 and (os.cpu_count() or 1) > 1:
        pool_map(work, jobs)
    else:
        for job in jobs:
            work(job)
    return ({sensors[rid].role: SensorData(sensors[rid], *arrays[rid]) for rid in sensors},
            skipped)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``."""
    view = memoryview(data)
    while len(view):
        view = view[os.write(fd, view):]


def _attach_orientations(p: Path, sensors: dict[int, SensorInfo], out: dict[str, SensorData],
                         rows: list[tuple], unaligned: set[str] = frozenset()) -> list[str]:
    """Put the stored vendor orientations on their sensors (whole sessions only). A damaged
    part (data that does not inflate, or does not fit the samples read) leaves its samples
    without an orientation (NaN); returns the roles that lost some."""
    by: dict[int, list] = {}
    for rid, first, n, data in rows:
        by.setdefault(rid, []).append((first, n, data))
    lost = []
    for rid, parts in by.items():
        d = out[sensors[rid].role]
        q = np.full((len(d), 4), np.nan)
        for first, n, data in parts:
            try:
                if (not isinstance(first, int) or not isinstance(n, int) or n < 0
                        or d.info.role in unaligned):
                    raise ValueError("not counts")
                raw = zlib.decompressobj().decompress(data, n * 32 + 1)  # never beyond n
                if len(raw) != n * 32 or first < 0 or first + n > len(d):
                    raise ValueError("does not fit")
            except (zlib.error, TypeError, ValueError):
                if d.info.role not in lost:
                    lost.append(d.info.role)
                continue
            q[first:first + n] = np.frombuffer(raw, dtype="<f8").reshape(n, 4)
        d.quat = q
    return lost


def _merge_runs(parts: list[tuple[str, int, np.ndarray]]) -> list[tuple[str, int, np.ndarray]]:
    """Orientation pieces ``(role, first, quats)`` with consecutive samples joined."""
    runs: dict[str, list] = {}
    for role, first, q in parts:
        r = runs.setdefault(role, [])
        if r and r[-1][0] + sum(len(x) for x in r[-1][1]) == first:
            r[-1][1].append(q)
        else:
            r.append((first, [q]))
    return [(role, first, np.concatenate(qs)) for role, r in runs.items() for first, qs in r]


def sensor_info_to_dict(info: SensorInfo) -> dict:
    """SensorInfo as a plain JSON-serialisable dict."""
    return asdict(info)


def write_session(session: Session, path: str | os.PathLike, *, overwrite: bool = False,
                  progress: bool = False) -> Path:
    """Write a whole in-memory :class:`~imu.types.Session` as a recording file (import path).

    Samples go in sealed chunks straight away; events, calibration and metadata are copied.
    Returns the path written.
    """
    meta = dict(session.meta)
    meta.pop("format", None)
    infos = [d.info for d in session.sensors.values()]
    total = sum(len(d) for d in session.sensors.values())
    from imu.output import Output

    out = Output(path, what="recording", force=overwrite, recording=True)
    try:
        _write_session_to(session, out.temp_path(), meta, infos, total, path, progress)
        out.commit()  # whole or not at all: nothing partial is left on failure
    except BaseException:
        out.discard()
        raise
    return Path(path)


def _write_session_to(session, tmp, meta, infos, total, path, progress) -> None:
    done = 0
    with RecordingWriter(tmp, meta, infos, overwrite=True, commit_interval_s=3600.0,
                         durable=False) as w:
        for role, d in session.sensors.items():
            step = codec.SEAL_SAMPLES
            for k in range(0, len(d), step):
                sl = slice(k, k + step)
                w.add_block(role, SampleBlock(d.info.sensor_id, d.seq[sl], d.t_sensor_s[sl],
                                              d.t_host_s[sl], d.acc[sl], d.gyr[sl]))
                w.flush()
                done += len(d.seq[sl])
                if progress and total > 200_000:
                    _log_progress(log, f"writing {path}", done, total)
            if d.quat is not None:
                w.add_orientation(role, 0, d.quat)
        for e in session.events:
            w.add_event(e)
        if session.calibration is not None:
            w.set_calibration(session.calibration)
