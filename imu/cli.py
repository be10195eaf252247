"""The ``imu`` console command: the application shell.

Each subcommand lives in its own module under :mod:`imu.commands` and exposes

- ``NAME`` (str) and ``HELP`` (one line),
- ``add_arguments(parser)`` and
- ``run(args) -> int``.

Modules are imported when the command line is parsed; the GUI is imported lazily inside the
commands that need it. Any :class:`~imu.errors.ImuError` (and other expected input errors) is
printed as one line ``imu <command>: error: ...`` and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from imu.errors import ImuError

# A command's numerical work runs one forked process per sensor (imu.workers.fork_map) and
# numpy's own small products; OpenBLAS thread pools spinning beside those only take CPU from
# them (on the 1 h angles bench: ~1 CPU-s of 7). One BLAS thread per process unless the user
# chose otherwise; set before numpy is first imported (it is not imported above).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

#: Subcommand modules, in the order ``imu --help`` lists them.
COMMAND_MODULES = [
    "demo", "scan", "live", "record", "replay", "calibrate", "fuse", "angles", "analyze", "batch",
    "simulate", "import_", "export", "info",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's usage errors exit 2 already; keep them one line
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def one_line(text) -> str:
    """An error message kept on one line: line breaks in it (a file name may hold one)
    escaped as ``\\n``."""
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


def _command_name(mod_name: str) -> str:
    return mod_name.rstrip("_")


def build_parser(only: str | None = None) -> tuple[argparse.ArgumentParser, dict]:
    """The argument parser and the handlers of the subcommands.

    With ``only`` (a subcommand name), just that command's module is imported: every command
    starts without paying for the others' imports.
    """
    from imu import __version__

    parser = _Parser(prog="imu", description="Wearable hip and pelvis motion monitor.")
    parser.add_argument("--version", action="version", version=f"imu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    handlers = {}
    for mod_name in COMMAND_MODULES:
        if only is not None and _command_name(mod_name) != only:
            continue
        try:
            mod = importlib.import_module(f"imu.commands.{mod_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"imu.commands.{mod_name}":
                continue  # command not built yet
            raise
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        handlers[mod.NAME] = mod.run
    return parser, handlers


def _tolerant_stdout() -> None:
    """A file name that is not UTF-8 (surrogates in a str) printed to a strict UTF-8 stdout (a
    UTF-8 locale other than C.UTF-8) raised UnicodeEncodeError: escape such characters instead."""
    out = sys.stdout
    if getattr(out, "errors", None) == "strict" and hasattr(out, "reconfigure"):
        try:
            out.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # pragma: no cover - a stream that cannot change
            pass


def _refuse_output_onto_input(args) -> None:
    """An output given the path of the command's own input file would replace what the
    command reads (``imu fuse raw.csv -o raw.csv --force``): one line, even with --force."""
    import os

    from imu.errors import BadInputError

    inputs = []
    for name in ("session", "csv", "source"):
        v = getattr(args, name, None)
        inputs += v if isinstance(v, list) else [v]
    files = {os.path.realpath(p) for p in inputs if isinstance(p, str) and os.path.isfile(p)}
    for name in ("output", "json", "report", "screenshot"):
        v = getattr(args, name, None)
        if isinstance(v, str) and files and os.path.realpath(v) in files:
            raise BadInputError(f"{v}: is this command's input; write the output to another path")


#: commands that read their inputs and write their outputs whole (closed before they return):
#: the console command may end the process at once after them (:func:`entry`)
QUICK_EXIT = frozenset({"angles", "analyze", "export", "fuse", "info"})
#: the command :func:`main` ran last (None: none)
_ran: str | None = None


def entry() -> None:
    """The console command (``imu``, ``python -m imu``): :func:`main`, then the process ends.

    After a command of :data:`QUICK_EXIT` the process ends without Python's tear-down, which
    frees every module and array one by one (~0.05–0.1 s after an hour of angles; the
    operating system frees the memory at once): the exit handlers run, the log and the
    standard streams are flushed, and nothing else is running (any thread besides idle worker
    pools means the usual exit)."""
    code = main()
    if _ran in QUICK_EXIT:
        import threading

        others = [t for t in threading.enumerate() if t is not threading.main_thread()
                  and not t.daemon and not t.name.startswith("ThreadPoolExecutor")]
        if not others:
            import atexit
            import logging

            logging.shutdown()
            atexit._run_exitfuncs()
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    code = code or 1  # a lost write is an error, as at a normal exit
            os._exit(code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    global _ran
    _ran = None
    argv = sys.argv[1:] if argv is None else list(argv)
    _tolerant_stdout()
    if argv == ["--version"]:  # answered without importing any command (start-up < 0.1 s)
        from imu import __version__

        print(f"imu {__version__}")
        return 0
    first = next((a for a in argv if not a.startswith("-")), None)
    known = {_command_name(m) for m in COMMAND_MODULES}
    try:  # a missing output folder fails at once, before the command's imports
        from imu.output import early_check
        early_check(first, argv)
    except ImuError as exc:
        print(f"imu {first}: error: {one_line(exc.message)}", file=sys.stderr)
        return exc.exit_status
    parser, handlers = build_parser(first if first in known else None)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from imu import console

    console.install()  # library log records and progress → stderr lines / a bar on a terminal
    try:
        _refuse_output_onto_input(args)
        code = int(handlers[args.command](args) or 0)
        _ran = args.command
        return code
    except ImuError as exc:
        console.end_line()
        print(f"imu {args.command}: error: {one_line(exc.message)}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print(f"imu {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # missing file, no permission, disk full, I/O error: one line
        # a failed write names no file: name the command's output (what could not be written)
        where = exc.filename or getattr(args, "output", None) or getattr(args, "json", None)
        print(one_line(f"imu {args.command}: error: {exc.strerror or exc}"
                       + (f": {where}" if where else "")), file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - only sqlite3's OperationalError is handled here
        sq = sys.modules.get("sqlite3")  # (imported only by the commands that use it)
        if sq is None or not isinstance(exc, sq.OperationalError):
            raise
        # e.g. "database or disk is full" while writing
        print(f"imu {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    entry()
