"""The command line's side of logging: what library log records look like on stderr.

:func:`install` (called once by :func:`imu.cli.main`) routes the ``imu`` logger's INFO records
to stderr, one per line. Progress records (:func:`imu.log.progress`) become a bar redrawn in
place when stderr is a terminal, and plain lines (start, every 25 %, end) otherwise. A normal
line always starts on a line of its own: an unfinished bar is ended first, so lines never run
together.
"""

from __future__ import annotations

import logging
import sys


class ConsoleHandler(logging.Handler):
    """Log records → stderr lines; progress records → a bar (TTY) or plain lines."""

    def __init__(self, stream=None, tty: bool | None = None, width: int = 24):
        super().__init__(logging.INFO)
        self.stream = stream
        self._tty = tty
        self.width = int(width)
        self._bar_open = False
        self._last_step: dict[str, int] = {}

    @property
    def out(self):
        return self.stream if self.stream is not None else sys.stderr

    @property
    def tty(self) -> bool:
        if self._tty is not None:
            return self._tty
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty())

    def _end_bar(self) -> None:
        if self._bar_open:
            self.out.write("\n")
            self._bar_open = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
            if record.levelno >= logging.WARNING and not msg.startswith("warning"):
                msg = f"warning: {msg}"
            prog = getattr(record, "imu_progress", None)
            if prog is None:
                self._end_bar()
                self.out.write(msg + "\n")
            else:
                self._progress(msg, *prog)
            self.out.flush()
        except Exception:  # noqa: BLE001 - logging must never break the work
            self.handleError(record)

    def _progress(self, label: str, done: float, total: float) -> None:
        frac = 1.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
        if self.tty:
            n = int(round(frac * self.width))
            self.out.write(f"\r{label} [{'#' * n}{'.' * (self.width - n)}] {100 * frac:3.0f}%")
            self._bar_open = True
            if frac >= 1.0:
                self._end_bar()
            return
        step = int(frac * 4)  # 0, 25, 50, 75, 100 %
        if self._last_step.get(label) == step:
            return
        self._last_step[label] = step
        self.out.write(f"{label}: {100 * frac:.0f}%\n")
        if frac >= 1.0:
            self._last_step.pop(label, None)


_installed: ConsoleHandler | None = None


def install(stream=None) -> ConsoleHandler:
    """Show the ``imu`` logger's INFO records on stderr (once per process)."""
    global _installed
    log = logging.getLogger("imu")
    if _installed is None:
        _installed = ConsoleHandler(stream)
        log.addHandler(_installed)
    elif stream is not None:
        _installed.stream = stream
    log.setLevel(logging.INFO)
    log.propagate = False
    return _installed


def end_line() -> None:
    """End an unfinished progress bar before the caller prints a line of its own."""
    if _installed is not None:
        _installed._end_bar()
