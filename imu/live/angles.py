"""Streaming angles for the live pipeline, computed in batches.

:class:`LiveAngles` is :class:`imu.kinematics.pipeline.AnglePipeline` (same fusion, same
interpolation rules, same heading hold, same numbers) fed in two steps: :meth:`push` fuses and
buffers a block (every BLE notification), :meth:`flush` computes the rows completed so far (once
the rows can move on: the sensor the rows wait for delivered). The rotation algebra of a row batch costs about the same for 1 row as for
20, so batching keeps the live path far below real time for 3 sensors at 100-200 Hz.
"""

from __future__ import annotations

import numpy as np

from imu.kinematics.pipeline import AnglePipeline
from imu.live.phase import NotificationPhase
from imu.types import AngleTable


#: a row is complete once every other sensor has a sample no more than this before it, s (the
#: other sensors' orientations there: their sample turned on by its angular rate; see
#: :class:`AnglePipeline`; at most half a sample interval): sensors sampling at the same
#: instants as the sacrum (the simulator's, hardware-synchronised ones) complete its rows with
#: the same sample, whatever the clock models' disagreements (about a millisecond: each model
#: follows its own sensor's quickest arrivals), rather than with the next one (a sample
#: interval later)
COMPLETE_TOL_S = 0.0025


class LiveAngles(AnglePipeline):
    """:class:`AnglePipeline` with buffered feeding (:meth:`push`) and batched rows (:meth:`flush`)."""

    _quiet = False

    def push(self, role: str, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
        """Fuse and buffer a block of one role without emitting rows."""
        self._quiet = True
        try:
            self.update(role, t_s, acc, gyr)
        finally:
            self._quiet = False

    @property
    def waiting(self) -> int:
        """Rows (the sacrum's samples) not handed out yet."""
        return len(self._buf["sacrum"])

    def flush(self) -> AngleTable:
        """The rows completed by the blocks pushed so far."""
        return self._emit(self._ready_rows())

    def _ready_rows(self):
        return [] if self._quiet else super()._ready_rows()

    def _emit(self, rows):
        # pushing: no rows, and no empty table either (~0.1 ms of a block's processing)
        return None if self._quiet else super()._emit(rows)


class LiveAngleStage:
    """The live path's streaming angle stage: raw blocks in, angle rows out in batches.

    Each role's sensor timestamps go through its own streaming clock model
    (:class:`imu.live.clock.StreamingClock`) onto the session clock, the block is fused at once
    (:meth:`LiveAngles.push`), and the rows completed so far are handed out (:meth:`push` returns
    them; :meth:`flush` forces it) as soon as every role has delivered a block since the last
    batch, or as soon as the sensor the rows were waiting for delivers (the one whose newest
    sample is the oldest: only its blocks complete rows), or at the latest every ``flush_s``
    seconds of data (a silent sensor does not hold the rows back).

    A sensor's blocks wait here until its clock model has settled
    (:attr:`imu.live.clock.StreamingClock.settled`: a sensor that starts or comes back late
    delivers a burst of held-up samples first) and are then fused with the settled model's
    times, so a late sensor's samples line up with the others' as when all start together.

    Parameters
    ----------
    alignment : SegmentAlignment
    rates_hz : dict
        Role → sample rate, Hz.
    intrinsics : dict, optional
        Role → correction with ``apply(acc, gyr)``.
    filter : str, optional
        Fusion filter (default: the default).
    flush_s : float
        Longest time between batches of rows, seconds of data (0: after every block).
    """

    def __init__(self, alignment, rates_hz: dict, *, intrinsics=None, filter: str | None = None,
                 flush_s: float = 0.1):
        kwargs = {"filter": filter} if filter else {}
        # rows as soon as they are complete (no minimum batch span): the BLE notifications
        # already come in batches of a few samples
        self.angles = LiveAngles(alignment, rates_hz, intrinsics=intrinsics, min_emit_s=0.0,
                                 complete_tol_s=COMPLETE_TOL_S, **kwargs)
        self.columns = list(self.angles.columns)
        self.flush_s = float(flush_s)
        self._clocks: dict = {}
        self._next_flush_s = -np.inf
        self._roles = set(self.angles.roles)
        self._since: set = set()                  # roles that delivered since the last batch
        self._latest: dict = {}                   # role -> its newest sample time, s
        self._held: dict = {}                     # role -> blocks waiting for its clock
        self._fused: dict = {}                    # role -> (sensor, session) time fused last
        self._owed = False                        # a deferred block completed rows
        #: picks each sensor's closing samples (the pipeline sends them: ``set_phase``)
        self.phase = NotificationPhase(reference="sacrum", tol_s=self.angles.complete_tol_s)
        #: every sensor sends on the plan: rows when all the sacrum's rows are complete (one
        #: batch a cycle), not when the sensor the rows wait for delivers
        self.in_phase = False

    def times(self, role: str, blk) -> np.ndarray:
        """Sample times (s, session clock) of a raw block of ``role``."""
        return self._clock(role).update(blk.t_sensor_s, blk.t_host_s)

    def _clock(self, role: str):
        from imu.live.clock import StreamingClock

        clock = self._clocks.get(role)
        if clock is None:
            clock = self._clocks[role] = StreamingClock()
            clock.defer_refits = True             # refitted in catch_up, after the rows
        return clock

    def catch_up(self) -> None:
        """The clock models' refits that came due (:attr:`StreamingClock.defer_refits`): the
        caller's, once the rows are out."""
        for clock in self._clocks.values():
            clock.catch_up()

    def push(self, role: str, blk, defer: bool = False) -> AngleTable | None:
        """Fuse a raw block (:class:`~imu.types.SampleBlock`); returns the completed rows when
        the block can complete rows (it came from the sensor the others were waiting for, or
        every sensor delivered since the last batch) or ``flush_s`` of data passed since the
        last batch, else None. Blocks of a sensor whose clock has not settled wait (None).

        ``defer``: more blocks are already waiting (the caller fell behind): the rows this
        block completes are handed out with the next block pushed without ``defer`` (one
        batch of rows for a backlog instead of one per block; the same rows and numbers)."""
        t_s = self.times(role, blk)
        held = self._held.get(role)
        if held is not None or not self._clocks[role].settled:
            if held is None:
                held = self._held[role] = []
            held.append(blk)
            if not self._clocks[role].settled:
                return None
            self._release(role)
            t_s = np.zeros(0)
        else:
            t_s = self._fuse(role, blk, t_s)
            self.phase.observe(role, blk.seq, t_s)
        self._since.add(role)
        # a row is complete once every sensor has a sample at or after it: the rows can move
        # on only when the sensor with the oldest newest sample delivers (the others' later
        # blocks alone complete nothing; waiting for every sensor would hold finished rows
        # back by up to a notification interval)
        prev = self._latest.get(role)
        limiting = (prev is not None and len(self._latest) == len(self._roles)
                    and prev <= min(self._latest.values()))
        if len(t_s):
            self._latest[role] = float(t_s[-1]) if prev is None else max(prev, float(t_s[-1]))
        if self.in_phase:
            # the sensors send together once a cycle (imu.live.phase): the rows go out when
            # the reference sensor sent rows that are all complete now (one batch a cycle,
            # with the cycle's last notification, whatever order the notifications come in;
            # a thigh's notification before the sacrum's completes nothing new), or, should
            # the plan be off (the clock models moved), once every sensor delivered since the
            # last batch (what is complete goes; the rest waits one cycle, not flush_s)
            ref = self._latest.get(self.phase.reference)
            go = (ref is not None and self.angles.waiting > 0
                  and len(self._latest) == len(self._roles)
                  and min(self._latest.values()) >= ref - self.angles.complete_tol_s) \
                or self._since >= self._roles
        else:
            go = limiting or self._since >= self._roles
        t = float(blk.t_host_s[-1])
        if t < self._next_flush_s and not go and not self._owed:
            return None
        if defer:
            self._owed = True
            return None
        self._owed = False
        self._next_flush_s = t + self.flush_s
        self._since.clear()
        out = self.flush()
        if self.in_phase and self.angles.waiting:
            # every sensor sent, yet rows still wait: the plan is off (a clock model moved);
            # picked again with the next block rather than within RESYNC_S
            self.phase.missed()
        return out

    def _release(self, role: str) -> None:
        """Fuse the blocks of ``role`` that waited for its clock, with its newest model."""
        clock = self._clocks[role]
        for b in self._held.pop(role, []):
            t = self._fuse(role, b, clock.to_session(b.t_sensor_s, b.t_host_s))
            if len(t):
                self._latest[role] = max(self._latest.get(role, -np.inf), float(t[-1]))

    def _fuse(self, role: str, blk, t_s: np.ndarray) -> np.ndarray:
        """Fuse a block of ``role`` at session times ``t_s`` (never stepping back from the
        samples fused before: :func:`imu.live.clock.increasing`); returns the times used."""
        from imu.live.clock import increasing

        t_s = increasing(blk.t_sensor_s, t_s, self._fused.get(role))
        if len(t_s):
            self._fused[role] = (float(blk.t_sensor_s[-1]), float(t_s[-1]))
        self.angles.push(role, t_s, blk.acc, blk.gyr)
        return t_s

    def flush(self, final: bool = False) -> AngleTable:
        """The rows completed by the blocks pushed so far (possibly none); ``final``: the
        source ended, blocks still waiting for their sensor's clock are fused too."""
        if final:
            for role in list(self._held):
                self._release(role)
        self._owed = False
        return self.angles.flush()
