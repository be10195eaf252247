"""The one output rule every writer of the product follows.

Every file or folder the product writes (``-o``, ``--json``, ``--report``, ``--screenshot``,
``--truth``, recordings, profiles, intrinsics, the data and config folders) goes through this
module:

- an existing file or folder is never replaced without ``force`` (the ``--force`` flag, with
  ``--overwrite`` kept as its alias);
- a recording (recognised by content: the SQLite header and the imu application id, whatever
  its name) is never replaced by anything that is not a recording, even with ``force``;
- the output's folder is checked before any work (:func:`check_output`): a missing folder, a
  folder in the place of a file or the other way round, or an existing output end with one line;
- content is written to a private temporary file in the same folder and renamed into place,
  so a failure leaves nothing partial (:class:`Outputs` commits several outputs together, e.g.
  ``--json`` and ``--report``, after all of them were written);
- files are created owner-only (0600), folders 0700, whatever the umask (health data).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

from imu.errors import BadInputError

FILE_MODE = 0o600
DIR_MODE = 0o700

FORCE_HELP = ("replace an existing output (a recording is never replaced by anything that is "
              "not a recording); --overwrite is the same")

_SQLITE_MAGIC = b"SQLite format 3\x00"
_APPLICATION_ID = 0x494D5531  # "IMU1", as in imu.session.store


def _a(what: str) -> str:
    """``what`` with its indefinite article ("an angles CSV", "a report")."""
    return ("an " if what[:1].lower() in "aeio" else "a ") + what


def add_force_argument(parser) -> None:
    """The one flag that allows replacing an existing output: ``--force`` (alias ``--overwrite``)."""
    parser.add_argument("--force", "--overwrite", dest="force", action="store_true",
                        help=FORCE_HELP)


def is_recording(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file whose content is an imu recording (SQLite header + the imu
    application id), whatever its name."""
    p = Path(path)
    try:
        if not p.is_file():
            return False
        with open(p, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return False
    return (len(head) == 100 and head[:16] == _SQLITE_MAGIC
            and int.from_bytes(head[68:72], "big") == _APPLICATION_ID)


def private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and missing parents) owner-only (0700) whatever the umask; an existing
    folder is left as it is. Returns the path."""
    p = Path(path)
    missing = []
    q = p
    while not q.exists():
        missing.append(q)
        if q.parent == q:
            break
        q = q.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)
    if p.exists() and not p.is_dir():
        raise BadInputError(f"{p}: exists and is not a folder")
    return p


def check_folder(path: str | os.PathLike, what: str = "output") -> None:
    """The folder an output goes into exists and is writable (one-line BadInputError)."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        if parent.exists():
            raise BadInputError(f"{parent}: is not a folder (writing the {what} {p})")
        raise BadInputError(f"{parent}: folder does not exist (writing the {what} {p})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInputError(f"{parent}: folder is not writable (writing the {what} {p})")


#: Command-line options that name an output, and what they write (for :func:`early_check`).
OUTPUT_OPTIONS = {"-o": "output", "--output": "output", "--json": "analysis JSON",
                  "--report": "report", "--screenshot": "screenshot", "--truth": "truth folder"}
#: Commands whose OUTPUT_OPTIONS take a value (``imu info --json`` is a switch).
WRITING_COMMANDS = ("live", "record", "demo", "replay", "calibrate", "fuse", "angles", "analyze",
                    "simulate", "import", "export")


def early_check(command: str | None, argv: list[str]) -> None:
    """Check the folders of a command line's outputs before the command is even imported, so
    a missing folder fails at once (the command checks everything again before its work)."""
    if command not in WRITING_COMMANDS or "-h" in argv or "--help" in argv:
        return
    for i, a in enumerate(argv):
        opt, eq, val = a.partition("=")
        if opt in OUTPUT_OPTIONS and (eq or i + 1 < len(argv)):
            val = val if eq else argv[i + 1]
            if val and not val.startswith("-"):
                check_folder(val, OUTPUT_OPTIONS[opt])


def check_output(path: str | os.PathLike, *, what: str = "output", force: bool = False,
                 folder: bool = False, recording: bool = False, names=None) -> Path:
    """Check an output before any work is done; one-line :class:`~imu.errors.BadInputError`.

    Parameters
    ----------
    path : path-like
        The output, written exactly there.
    what : str
        What is written (for messages), e.g. ``"angles CSV"``.
    force : bool
        Allow replacing an existing output (never a recording by a non-recording).
    folder : bool
        The output is a folder (its parent must exist; the folder may exist).
    recording : bool
        The output is itself a recording (it may replace a recording with ``force``).
    names : iterable of str, optional
        For a folder output: the file names that will be written into it. An existing folder is
        fine without ``force`` when it holds none of them.
    """
    p = Path(path)
    flag = "--force"
    check_folder(p, what)
    if folder:
        if p.exists() and not p.is_dir():
            if is_recording(p):
                raise BadInputError(f"{p}: is a recording; it is never replaced by {_a(what)}")
            raise BadInputError(f"{p}: exists and is not a folder (the {what} is a folder)")
        if p.is_dir():
            if not os.access(p, os.W_OK | os.X_OK):
                raise BadInputError(f"{p}: folder is not writable (writing the {what})")
            for n in names or ():
                check_output(p / n, what=what, force=force)
        return p
    if p.is_dir():
        raise BadInputError(f"{p}: is a folder; the {what} is a file (give a file name)")
    if p.exists() and not p.is_file():  # the rename into place would replace the node itself
        raise BadInputError(f"{p}: is not a regular file (a device, a pipe or a socket); it is "
                            f"never replaced by {_a(what)}, not even with {flag}")
    if p.exists() or p.is_symlink():
        if is_recording(p) and not recording:
            raise BadInputError(f"{p}: is a recording; it is never replaced by {_a(what)}, "
                                f"not even with {flag}")
        if not force:
            raise BadInputError(f"{p}: already exists; refusing to overwrite it (use {flag})")
    return p


def _temp_name(p: Path, tag: str = "part") -> str:
    return f".{p.name}.{tag}-"


def open_temp(path: str | os.PathLike, mode: str = "wb", **kw) -> IO:
    """``open(path, mode)`` for an output's temp file (created empty, :meth:`Output.temp_path`):
    a ``"w"`` mode opens it without ``O_TRUNC`` (emptied only if something is in it), which
    would make ext4 flush the whole output to disk when it is closed (tens of ms for an hour
    of angles or a large export: the temp file is renamed into place, not rewritten)."""
    if not mode.startswith("w"):
        return open(path, mode, **kw)
    fd = temp_fd(path)
    try:
        return os.fdopen(fd, mode, **kw)
    except BaseException:
        os.close(fd)
        raise


def temp_fd(path: str | os.PathLike) -> int:
    """A write-only descriptor of an output's temp file, emptied (see :func:`open_temp`)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        if os.fstat(fd).st_size:  # written before: start again
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


class Output:
    """One output file, checked at construction, written to a private temp file in the same
    folder and renamed into place by :meth:`commit` (or removed by :meth:`discard`).

    Use :meth:`open` for text/binary content, or :meth:`temp_path` for writers that need a path
    (SQLite, Qt); the temp path keeps the output's suffix.
    """

    def __init__(self, path: str | os.PathLike, *, what: str = "output", force: bool = False,
                 recording: bool = False):
        self.path = check_output(path, what=what, force=force, recording=recording)
        self.what = what
        self.force = bool(force)
        self.recording = bool(recording)
        self._tmp: Path | None = None

    def temp_path(self) -> Path:
        """A fresh private (0600) temp file next to the output (created empty)."""
        if self._tmp is None:
            parent = self.path.parent if str(self.path.parent) else Path(".")
            fd, name = tempfile.mkstemp(dir=parent, prefix=_temp_name(self.path),
                                        suffix=self.path.suffix)
            os.fchmod(fd, FILE_MODE)
            os.close(fd)
            self._tmp = Path(name)
        return self._tmp

    @contextlib.contextmanager
    def open(self, mode: str = "w", **kw) -> Iterator[IO]:
        """The temp file opened for writing (``"w"`` text, ``"wb"`` binary)."""
        if "b" not in mode:
            kw.setdefault("encoding", "utf-8")
        with open_temp(self.temp_path(), mode, **kw) as fh:
            yield fh

    def commit(self) -> Path:
        """Rename the temp file into place (the rule is checked again at this moment)."""
        if self._tmp is None:
            raise RuntimeError("nothing written")
        tmp, self._tmp = self._tmp, None
        try:
            os.chmod(tmp, FILE_MODE)
            _place(tmp, self.path, what=self.what, force=self.force, recording=self.recording)
        except BaseException:
            _unlink(tmp)
            raise
        return self.path

    def discard(self) -> None:
        """Remove the temp file (and SQLite side files), if any."""
        if self._tmp is not None:
            _unlink(self._tmp)
            self._tmp = None


def _unlink(p: Path) -> None:
    for q in (p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm"),
              p.with_name(p.name + "-journal")):
        try:
            q.unlink()
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            shutil.rmtree(q, ignore_errors=True)


def recording_in_progress(path: str | os.PathLike) -> bool:
    """Whether a writer (:class:`imu.session.store.RecordingWriter`, in any process) holds
    ``path`` open right now: it keeps an exclusive ``flock`` on its file while it records."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also drops the lock taken just now
    return False


def _place(tmp: Path, path: Path, *, what: str, force: bool, recording: bool) -> None:
    if path.exists() or path.is_symlink():
        if is_recording(path) and not recording:
            raise BadInputError(f"{path}: is a recording; it is never replaced by {_a(what)}")
        if not force:
            raise BadInputError(f"{path}: already exists; refusing to overwrite it (use --force)")
        if is_recording(path) and recording_in_progress(path):
            raise BadInputError(f"{path}: is being recorded by another process right now; "
                                "refusing to replace it (choose another name)")
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # never clobbers a file that appeared meanwhile
    except FileExistsError:
        raise BadInputError(f"{path}: already exists; refusing to overwrite it (use --force)"
                            ) from None
    except OSError:  # no hard links on this file system
        os.replace(tmp, path)
        return
    _unlink(tmp)


class FolderOutput:
    """A folder output (CSV export, simulated session): files are staged in a private temp
    folder next to it and moved in by :meth:`commit`; a new folder is created 0700.

    An existing folder is used when it holds none of ``names`` (else ``force``); other files
    already in it are left alone, except that with ``stale=True`` those of ``names`` that are
    not written this time are removed by :meth:`commit` (a CSV folder is one session: another
    session's ``trunk.csv`` left next to the new files would be read as part of it).
    """

    def __init__(self, path: str | os.PathLike, *, what: str = "folder", force: bool = False,
                 names=None, stale: bool = False):
        self.path = check_output(path, what=what, force=force, folder=True, names=names)
        self.what = what
        self.force = bool(force)
        self._stale_names = list(names or ()) if stale else []
        self._stage: Path | None = None

    def stage(self) -> Path:
        """The private staging folder (write the files into it)."""
        if self._stage is None:
            parent = self.path.parent if str(self.path.parent) else Path(".")
            self._stage = Path(tempfile.mkdtemp(dir=parent, prefix=_temp_name(self.path)))
            os.chmod(self._stage, DIR_MODE)
        return self._stage

    def file(self, name: str) -> Path:
        return self.stage() / name

    def commit(self) -> Path:
        stage, self._stage = self.stage(), None
        try:
            for f in stage.iterdir():
                os.chmod(f, FILE_MODE)
            if not self.path.exists():
                os.rename(stage, self.path)
                return self.path
            written = {f.name for f in stage.iterdir()}
            stale = [self.path / n for n in self._stale_names if n not in written
                     and (os.path.lexists(self.path / n))]
            for f in [*sorted(stage.iterdir()), *stale]:
                check_output(self.path / f.name, what=self.what, force=self.force)
            for f in sorted(stage.iterdir()):
                _place(f, self.path / f.name, what=self.what, force=self.force, recording=False)
            for f in stale:  # checked above: --force given, not a recording, not a folder
                f.unlink()
        finally:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)
        return self.path

    def discard(self) -> None:
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None


class Outputs:
    """Several outputs of one command, committed together after all were written.

    >>> with Outputs(force=args.force) as out:
    ...     js = out.file(args.json, what="analysis JSON")
    ...     rep = out.file(args.report, what="report") if args.report else None
    ...     ...  # the work
    ...     with js.open() as fh: fh.write(text)
    ... # on leaving without an exception every output is renamed into place; with one,
    ... # every temp file is removed and nothing is left.
    """

    def __init__(self, force: bool = False):
        self.force = bool(force)
        self._items: list = []

    def file(self, path, *, what: str = "output", recording: bool = False) -> Output:
        self._distinct(path, what)
        o = Output(path, what=what, force=self.force, recording=recording)
        self._items.append(o)
        return o

    def folder(self, path, *, what: str = "folder", names=None) -> FolderOutput:
        self._distinct(path, what)
        o = FolderOutput(path, what=what, force=self.force, names=names)
        self._items.append(o)
        return o

    def _distinct(self, path, what: str) -> None:
        """One path for two outputs: the second commit would fail after the first was made
        (or replace it with --force): refused before any work."""
        here = os.path.realpath(path)
        for o in self._items:
            if os.path.realpath(o.path) == here:
                raise BadInputError(f"{path}: given for both the {o.what} and the {what}; give "
                                    "each output its own path")

    def commit(self) -> None:
        items, self._items = self._items, []
        try:
            for o in items:
                if isinstance(o, Output) and o._tmp is None:
                    continue  # not written (optional output)
                o.commit()
        except BaseException:
            for o in items:
                o.discard()
            raise

    def discard(self) -> None:
        for o in self._items:
            o.discard()
        self._items = []

    def __enter__(self) -> "Outputs":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def write_file(path: str | os.PathLike, data: str | bytes, *, what: str = "output",
               force: bool = False) -> Path:
    """Write ``data`` to exactly ``path`` under the output rule (temp + rename, 0600)."""
    o = Output(path, what=what, force=force)
    try:
        with o.open("wb" if isinstance(data, bytes) else "w") as fh:
            fh.write(data)
        return o.commit()
    except BaseException:
        o.discard()
        raise


def valid_text(text: str) -> str:
    """``text`` as valid Unicode for a UTF-8 file: the bytes of a file name that are not UTF-8
    (surrogates in Python's str) become ``\\udcff`` escapes instead of failing the write."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def make_private(path: str | os.PathLike) -> None:
    """Set owner-only mode on a file (0600) or folder (0700) the product created."""
    p = Path(path)
    os.chmod(p, DIR_MODE if stat.S_ISDIR(p.stat().st_mode) else FILE_MODE)
