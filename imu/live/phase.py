"""Lining the sensors' notifications up (the imu protocol's ``set_phase`` command).

Left alone, each sensor sends a notification when its oldest pending sample reaches the maximum
batch age (:data:`imu.sources.ble.protocol.MAX_BATCH_AGE_S`), so three sensors' notifications
leave at unrelated, drifting times. A row of angles (on the sacrum's sample times; complete once
every other sensor has a sample at or after it) then waits for whichever sensor sends last,
and the rows come out in two or three batches per batch age: more often than a 60 frames/s
screen shows, so most of them also wait for the next frame.

:class:`NotificationPhase` picks, for each sensor, a sample after which a notification leaves
(the sensor then sends one after every batch age's worth of samples from it): the sacrum's
newest sample, and each other sensor's first sample no more than ``tol_s - margin_s`` before
it (session clock; ``tol_s``: how far before a row another sensor's newest sample may be for
the row to be complete, :attr:`imu.kinematics.pipeline.AnglePipeline.complete_tol_s`;
``margin_s``: :data:`MARGIN_S`). Every notification of a thigh then completes every row of the
sacrum's notification of the same cycle, whatever the clock models' disagreements up to
``margin_s`` either way, so those rows complete together, with the cycle's last notification,
once per batch age; sensors whose samples coincide (the simulator's; hardware-synchronised
ones) close on the same sample rather than one later. The
picks are made again every :data:`RESYNC_S` seconds and sent when they changed: the clock
models' first fits are rough (they settle over the first seconds), and clock drift moves the
sensors' samples against each other slowly; and at once after a cycle whose notifications left
rows incomplete (:meth:`NotificationPhase.missed`: a clock model's refit moved a sensor's
samples by more than the margin).
"""

from __future__ import annotations

import math

import numpy as np

from imu.sources.ble.protocol import SEQ_WRAP

#: how often the closing samples are picked again (and sent if they changed), s of session time
RESYNC_S = 1.0
#: a thigh's closing sample comes no more than ``tol_s`` minus this before the sacrum's
#: (session clock), s: more than the clock models' disagreement, so no row waits for the next
#: notification
MARGIN_S = 0.001


class NotificationPhase:
    """Picks the sample after which each sensor of a live session sends its notifications.

    Parameters
    ----------
    reference : str
        The role whose sample times the rows are on (``"sacrum"``).
    resync_s : float
        Interval of the plans, s of session time.
    margin_s : float
        Another sensor's closing sample comes no more than ``tol_s - margin_s`` before the
        reference's, s.
    tol_s : float
        How long before a row another sensor's newest sample may be for the row to be complete,
        s (0: at or after it).

    Attributes
    ----------
    plans : int
        Plans handed out so far (the first, and those that changed a pick).
    misses : int
        Cycles whose notifications left rows incomplete (:meth:`missed`).
    """

    def __init__(self, reference: str = "sacrum", resync_s: float = RESYNC_S,
                 margin_s: float = MARGIN_S, tol_s: float = 0.0):
        self.reference = reference
        self.resync_s = float(resync_s)
        self.margin_s = float(margin_s)
        self.tol_s = float(tol_s)
        self.plans = 0
        self.misses = 0
        self._last: dict = {}     # role -> (seq, session time s, sample interval s)
        self._size: dict = {}     # role -> samples in its last block (a notification)
        self._sent: dict | None = None     # the picks handed out last (unwrapped)
        self._next_s = -math.inf

    def observe(self, role: str, seq: np.ndarray, t_s: np.ndarray) -> None:
        """A block of ``role`` was fused: its samples' sequence numbers ``seq`` (unwrapped) and
        session times ``t_s`` (s), shape (n,)."""
        n = len(t_s)
        if n == 0 or len(seq) != n:
            return
        prev = self._last.get(role)
        dseq = int(seq[-1]) - int(seq[0])
        if n >= 2 and dseq > 0:
            dt_s = float(t_s[-1] - t_s[0]) / dseq
        elif prev is not None:
            dt_s = prev[2]
        else:
            return
        if dt_s > 0:
            self._last[role] = (int(seq[-1]), float(t_s[-1]), dt_s)
            self._size[role] = n

    def missed(self) -> None:
        """A cycle's notifications left rows incomplete (the clock models moved under the
        plan): the next :meth:`plan` looks again at once."""
        self._next_s = -math.inf
        self.misses += 1

    def plan(self, roles, t_now_s: float) -> dict[str, int] | None:
        """Role → sequence number (wrapped u32) of its closing sample, when a plan is due (every
        role seen, ``resync_s`` since the last look) and differs from the last one handed out
        (a pick that moved by a whole notification is the same), else None."""
        if t_now_s < self._next_s or any(r not in self._last for r in roles) \
                or self.reference not in self._last:
            return None
        _, s_last, _ = self._last[self.reference]
        picks = {}
        for role in roles:
            seq, t_last, dt_s = self._last[role]
            k = 0 if role == self.reference else \
                math.ceil((s_last + self.margin_s - self.tol_s - t_last) / dt_s - 1e-9)
            picks[role] = seq + k
        self._next_s = t_now_s + self.resync_s
        sent = self._sent
        if sent is not None and set(sent) == set(picks) and all(
                (picks[r] - sent[r]) % max(self._size.get(r, 1), 1) == 0 for r in picks):
            return None
        self._sent = picks
        self.plans += 1
        return {r: v % SEQ_WRAP for r, v in picks.items()}
