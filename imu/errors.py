"""The user-facing error type.

Every bad input ends as an :class:`ImuError`: the CLI prints its one-line message to stderr and
exits with status 2 (never a traceback).
"""

from __future__ import annotations


class ImuError(Exception):
    """A problem the user can fix: one line that says what is wrong and where.

    Parameters
    ----------
    message : str
        One line, naming the file/sensor/column and what to do.
    """

    exit_status = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class BadInputError(ImuError):
    """A file or argument that cannot be used (missing column, truncated file, not a recording)."""


class SensorError(ImuError):
    """A sensor that does not answer, cannot be found or drops the link for good."""


class CalibrationError(ImuError):
    """A calibration that is refused; the message says which phase to repeat."""



def shown(value, limit: int = 40) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters: a text longer
    than that is cut and its length said (a cell of a damaged file can be megabytes of one
    character), any other long repr (a list from a TOML file) is cut with an ellipsis."""
    if isinstance(value, str):
        k = min(len(value), limit)
        while k > 1 and len(repr(value[:k])) > limit + 2:  # escapes (\x00) take 4 characters
            k -= 1
        return repr(value) if k == len(value) else f"{value[:k]!r}… ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= 2 * limit else text[:2 * limit] + "…"
