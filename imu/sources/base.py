"""The one interface every sample source implements (BLE, simulated-over-virtual-BLE, replay).

Lifecycle (like a brainflow board): ``await start()`` → iterate ``blocks()`` → ``await stop()``.
``status()`` is cheap and safe to call from a UI timer.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from imu.types import Event, SampleBlock, SensorInfo


@dataclass
class SensorStatus:
    """Live state of one sensor, shown in status lines and the dashboard.

    ``state`` is one of ``"connecting"``, ``"streaming"``, ``"reconnecting"``,
    ``"disconnected"``, ``"stopped"``.
    """

    sensor_id: str
    role: str
    state: str = "connecting"
    battery_pct: float | None = None
    rate_hz: float = 0.0
    samples: int = 0
    dropped: int = 0
    duplicates: int = 0
    malformed: int = 0
    reconnects: int = 0
    rssi_dbm: float | None = None
    extra: dict = field(default_factory=dict)


class Source(abc.ABC):
    """Abstract sample source.

    Attributes
    ----------
    sensors : dict[str, SensorInfo]
        Role → info, known after :meth:`start`.
    """

    sensors: dict[str, SensorInfo]

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and begin streaming."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop streaming and disconnect; idempotent."""

    @abc.abstractmethod
    def blocks(self) -> AsyncIterator[SampleBlock]:
        """Sample blocks as they arrive, from all sensors interleaved, until stopped."""

    @abc.abstractmethod
    def status(self) -> dict[str, SensorStatus]:
        """Role → current :class:`SensorStatus`."""

    def events(self) -> list[Event]:
        """Events the source itself produced since the last call (disconnects, gaps)."""
        return []

    async def set_batch_phase(self, role: str, seq: int | None) -> bool:
        """Have ``role``'s sensor send a notification after its sample ``seq`` (wrapped u32) and
        after every maximum batch age of samples from it (:mod:`imu.live.phase`: the sensors'
        notifications then leave together); ``None``: by age again. False when the source or
        sensor cannot (the default)."""
        return False
