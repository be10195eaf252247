"""What the dashboard draws: one consistent, immutable view of the live (or replayed) state.

Both the live pipeline and the replay player produce :class:`Snapshot` objects; the dashboard
only draws them, it computes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from imu.live.motion import Motion
from imu.sources.base import SensorStatus

from imu.analysis.pelvic_drop import drop_grade as _grade
from imu.analysis.settings import DEFAULTS

#: default single-leg grade bands (pelvic drop, degrees; ``single_leg.green_deg/amber_deg``):
#: a snapshot carries the session's own in ``drop_limits_deg``
DROP_GREEN_DEG = DEFAULTS["single_leg.green_deg"][0]
DROP_AMBER_DEG = DEFAULTS["single_leg.amber_deg"][0]


def drop_grade(drop_deg: float, green_deg: float = DROP_GREEN_DEG,
               amber_deg: float = DROP_AMBER_DEG) -> str:
    """``"green"``, ``"amber"`` or ``"red"`` of a signed pelvic drop in degrees (``"none"`` if
    NaN): :func:`imu.analysis.pelvic_drop.drop_grade`, the analysis's rule."""
    return _grade(drop_deg, green_deg, amber_deg) or "none"


@dataclass
class CalibrationState:
    """Progress of the sensor-to-segment calibration.

    ``state``: ``"none"`` (not calibrated), ``"recording"`` (protocol running), ``"solving"``,
    ``"ok"``, ``"refused"``. ``quality`` maps a protocol phase to a dict of quality figures
    (as the calibration profile reports them); ``message`` is the refusal or success line.
    """

    state: str = "none"
    message: str = ""
    quality: dict[str, Any] = field(default_factory=dict)
    started_s: float | None = None
    profile: dict[str, Any] | None = None


@dataclass
class Snapshot:
    """Everything the dashboard shows at one moment.

    Attributes
    ----------
    mode : str
        ``"live"`` or ``"replay"``.
    t_now_s : float
        Session time of the newest data (the replay cursor in replay mode), seconds.
    window_s : float
        Length of the trace window, seconds.
    angles_t : ndarray, shape (M,)
        Times of the angle rows in the window, seconds.
    angles : dict of str → ndarray, shape (M,)
        docs/formats.md angle columns over the window, degrees (empty before calibration).
    current : dict of str → float
        Newest value of each angle column plus ``pelvic_drop_deg`` during single-leg work.
    status : dict of str → SensorStatus
        Role → sensor status.
    reps : list of dict
        Completed hinge (or squat/airplane) reps so far, docs/metrics.md fields plus ``set_index``,
        ``exercise``, ``side``.
    holds : list of dict
        Completed single-leg holds so far (docs/metrics.md fields plus ``set_index``).
    strides : list of dict
        Completed walking strides so far (docs/metrics.md fields plus ``set_index``, ``exercise``).
    current_set : dict or None
        The set in progress: ``exercise``, ``side``, ``start_s``.
    sets : list of dict
        Sets seen so far (``exercise``, ``side``, ``start_s``, ``end_s``).
    calibration : CalibrationState
    recording_path : str or None
        Where the live session is being recorded.
    duration_s : float or None
        Replay: the recording's length.
    playing : bool
    speed : float
    message : str
        One line for the status bar (errors, hints).
    motion : Motion
        What the raw gyroscopes show the person doing over the last second (live only).
    activity : str
        What a simulated person is doing by its script (demo), else empty.
    drop_limits_deg : (float, float)
        The session's single-leg grade bands ``(green_deg, amber_deg)`` (its analysis
        settings): grade a live pelvic drop with ``drop_grade(drop, *snap.drop_limits_deg)``.
    """

    mode: str = "live"
    t_now_s: float = 0.0
    window_s: float = 20.0
    angles_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    angles: dict[str, np.ndarray] = field(default_factory=dict)
    current: dict[str, float] = field(default_factory=dict)
    status: dict[str, SensorStatus] = field(default_factory=dict)
    reps: list[dict] = field(default_factory=list)
    holds: list[dict] = field(default_factory=list)
    strides: list[dict] = field(default_factory=list)
    current_set: dict | None = None
    sets: list[dict] = field(default_factory=list)
    calibration: CalibrationState = field(default_factory=CalibrationState)
    recording_path: str | None = None
    duration_s: float | None = None
    playing: bool = True
    speed: float = 1.0
    message: str = ""
    motion: Motion = field(default_factory=Motion)
    activity: str = ""
    drop_limits_deg: tuple[float, float] = (DROP_GREEN_DEG, DROP_AMBER_DEG)


class DashboardModel(Protocol):
    """What the dashboard talks to: the live pipeline or the replay player."""

    def snapshot(self) -> Snapshot:
        """The current state (cheap; called from the GUI timer)."""

    def start_set(self, exercise: str, side: str | None) -> None:
        """Mark a set start (written as an event into the recording in live mode)."""

    def end_set(self) -> None:
        """Mark the end of the set in progress."""
