"""The headless live pipeline and what the dashboard reads from it.

Source → recording (everything) → streaming fusion → alignment → angles → streaming detectors →
ring buffers. Runs in a worker thread; the GUI only draws :class:`Snapshot` objects.
"""

from imu.live.ringbuffer import RingBuffer
from imu.live.snapshot import CalibrationState, DashboardModel, Snapshot, drop_grade

__all__ = ["RingBuffer", "Snapshot", "CalibrationState", "DashboardModel", "drop_grade"]
