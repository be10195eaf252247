"""A :class:`~imu.sources.base.Source` that plays a recorded :class:`~imu.types.Session`.

Blocks from all sensors come out interleaved in host-time order, with the recording's timing
(scaled by ``speed``), and with the recorded timestamps, sequence numbers and values unchanged.
The session's events (sets, calibration, notes) are handed out through :meth:`events` once the
playback clock passes them, so a pipeline fed by a replay sees the same set boundaries as the
original live run.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import deque
from collections.abc import AsyncIterator

import numpy as np

from imu.sources.base import SensorStatus, Source
from imu.types import Event, SampleBlock, Session


class ReplaySource(Source):
    """Play a recorded session as if its sensors were streaming.

    Parameters
    ----------
    session : Session
        The recording to play.
    speed : float
        Playback speed (1.0 = real time, 2.0 = twice as fast); ``math.inf`` or ``0`` plays as fast
        as the consumer reads.
    block_s : float
        Samples are handed out in blocks of about this many seconds per sensor (a BLE
        notification carries ~20-50 ms of samples).
    start_s, end_s : float, optional
        Play only this part, in seconds from the start of the recording.
    """

    def __init__(self, session: Session, speed: float = 1.0, block_s: float = 0.04,
                 start_s: float = 0.0, end_s: float | None = None):
        if speed < 0 or (isinstance(speed, float) and math.isnan(speed)):
            raise ValueError("speed must be >= 0")
        self.session = session
        self.speed = math.inf if speed == 0 else float(speed)
        self.block_s = float(block_s)
        self.sensors = {role: d.info for role, d in session.sensors.items()}
        starts = [t for t in (d.host_span_s()[0] for d in session.sensors.values() if len(d))
                  if math.isfinite(t)]
        self.t0_s = min(starts) if starts else 0.0
        self.start_s = float(start_s)
        self.end_s = session.duration_s if end_s is None else float(end_s)
        self._status = {role: SensorStatus(info.sensor_id, role, state="connecting",
                                           battery_pct=info.extra.get("battery_pct"))
                        for role, info in self.sensors.items()}
        self._recent: dict[str, deque] = {role: deque() for role in self.sensors}
        self._last_seq: dict[str, int | None] = {role: None for role in self.sensors}
        self._pending_events = sorted(
            (e for e in session.events
             if self.start_s <= 0 or e.t_s - self.t0_s >= self.start_s - 1e-9),
            key=lambda e: e.t_s)
        self._out_events: list[Event] = []
        self._running = False
        self.position_s = self.start_s   # playback clock, seconds from the recording's start

    # -- Source API ------------------------------------------------------------------------
    async def start(self) -> None:
        self._running = True
        for st in self._status.values():
            st.state = "streaming"

    async def stop(self) -> None:
        self._running = False
        for st in self._status.values():
            st.state = "stopped"

    def status(self) -> dict[str, SensorStatus]:
        return self._status

    def events(self) -> list[Event]:
        out, self._out_events = self._out_events, []
        return out

    @property
    def finished(self) -> bool:
        return self.position_s >= self.end_s - 1e-9

    def _chunks(self):
        """Yield ``(t_end_rel_s, role, slice)`` over the play range, merged in time order."""
        heads = []
        for role, d in self.session.sensors.items():
            if not len(d):
                continue
            rel = d.t_host_s - self.t0_s
            i0 = int(np.searchsorted(rel, self.start_s, side="left"))
            i1 = int(np.searchsorted(rel, self.end_s, side="right"))
            edges = np.arange(self.start_s, self.end_s + self.block_s, self.block_s)
            cuts = np.unique(np.concatenate([
                [i0], np.clip(np.searchsorted(rel, edges, side="right"), i0, i1), [i1]]))
            bounds = list(zip(cuts[:-1], cuts[1:]))
            for a, b in bounds:
                if b > a:
                    heads.append((float(rel[b - 1]), role, slice(int(a), int(b))))
        heapq.heapify(heads)
        while heads:
            yield heapq.heappop(heads)

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        if not self._running:
            await self.start()
        wall0 = time.monotonic()
        for t_rel, role, sl in self._chunks():
            if not self._running:
                break
            if math.isfinite(self.speed):
                due = wall0 + (t_rel - self.start_s) / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            d = self.session.sensors[role]
            blk = SampleBlock(d.info.sensor_id, d.seq[sl], d.t_sensor_s[sl], d.t_host_s[sl],
                              d.acc[sl], d.gyr[sl])
            self.position_s = max(self.position_s, t_rel)
            self._release_events()
            self._account(role, blk, t_rel)
            yield blk
        self.position_s = max(self.position_s, self.end_s)
        self._release_events()
        if self._running and self.end_s >= self.session.duration_s - 1e-6:
            self._out_events += self._pending_events     # events after the last sample
            self._pending_events = []
        for st in self._status.values():
            st.state = "stopped"
        self._running = False

    # -- bookkeeping -----------------------------------------------------------------------
    def _release_events(self) -> None:
        while self._pending_events and self._pending_events[0].t_s - self.t0_s <= self.position_s + 1e-9:
            self._out_events.append(self._pending_events.pop(0))

    def _account(self, role: str, blk: SampleBlock, t_rel: float) -> None:
        st = self._status[role]
        st.samples += len(blk)
        last = self._last_seq[role]
        seq = blk.seq.astype(np.int64)
        steps = np.diff(seq) if last is None else np.diff(np.concatenate([[last], seq]))
        st.dropped += int(np.sum(np.clip(steps - 1, 0, None)))
        st.duplicates += int(np.sum(steps <= 0))
        self._last_seq[role] = int(seq[-1])
        rec = self._recent[role]
        rec.append((t_rel, len(blk)))
        while rec and rec[0][0] < t_rel - 2.0:
            rec.popleft()
        span = t_rel - rec[0][0]
        if span > 0.5 and len(rec) > 1:
            st.rate_hz = (sum(n for _, n in rec) - rec[0][1]) / span
