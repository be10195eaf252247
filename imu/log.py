"""Logging and progress for library code.

Library modules never print: they log through ``logging.getLogger(__name__)`` (the ``imu``
logger has a :class:`logging.NullHandler`, so nothing shows unless the application configures
logging), and report progress on long work with :func:`progress`, a log record at INFO level
carrying ``imu_progress = (done, total)``. The command line (:mod:`imu.console`) renders those
records as a progress bar on a terminal and as plain lines otherwise.
"""

from __future__ import annotations

import logging

logging.getLogger("imu").addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """The logger of a library module (``get_logger(__name__)``)."""
    return logging.getLogger(name)


def progress(logger: logging.Logger, label: str, done: float, total: float) -> None:
    """Report that ``done`` of ``total`` units of the work called ``label`` are finished.

    Parameters
    ----------
    logger : logging.Logger
    label : str
        What is being done, e.g. ``"fusing sacrum: 24398 samples at 104 Hz"``.
    done, total : float
        Units finished and units in all (``done == total`` ends the bar).
    """
    if logger.isEnabledFor(logging.INFO):
        logger.info(label, extra={"imu_progress": (float(done), float(total))})
