"""Library code logs, the command line shows it: progress bars on a terminal, plain lines
otherwise, and lines never run together."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from imu.console import ConsoleHandler
from imu.log import get_logger, progress

ROOT = Path(__file__).resolve().parents[1]


def _logger(handler):
    log = get_logger("imu.test_console")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


def test_progress_is_a_bar_on_a_terminal_and_a_line_before_the_next_message():
    out = io.StringIO()
    log = _logger(ConsoleHandler(out, tty=True, width=10))
    progress(log, "fusing", 5, 10)
    log.info("a message")
    progress(log, "writing", 10, 10)
    text = out.getvalue()
    assert "\rfusing [#####.....]  50%\n" in text      # ended before the message: no run-on
    assert "a message\n" in text
    assert text.endswith("\rwriting [##########] 100%\n")
    assert all(line.count("%") <= 1 for line in text.split("\n"))


def test_progress_is_plain_lines_without_a_terminal():
    out = io.StringIO()
    log = _logger(ConsoleHandler(out, tty=False))
    for k in range(0, 101):
        progress(log, "export", k, 100)
    lines = out.getvalue().splitlines()
    assert lines == ["export: 0%", "export: 25%", "export: 50%", "export: 75%", "export: 100%"]
    assert "\r" not in out.getvalue()


def test_library_modules_never_print():
    offenders = []
    for p in (ROOT / "imu").rglob("*.py"):
        if "commands" in p.parts or p.name in ("cli.py", "console.py", "__main__.py"):
            continue
        if "print(" in p.read_text():
            offenders.append(str(p.relative_to(ROOT)))
    assert offenders == []


def test_the_imu_logger_is_silent_unless_the_application_asks():
    import imu  # noqa: F401

    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("imu").handlers)
