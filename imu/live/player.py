"""The replay player: a recorded session analysed once, then played, paused, seeked and sped up.

``imu replay`` drives the same dashboard as live use. Seeking must be instant, so the player
computes the session's angles (batch path, :func:`imu.kinematics.pipeline.compute_angles`) and
its analysis (:func:`imu.analysis.analyze_angles`, the same detectors as live) up front; at any
playback time it hands out what a live run would have shown at that moment: the trace window
ending there, the reps and holds completed by then, the set under way, and each sensor's status
(rate over the last second, drops so far, connection state).
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np

from imu.analysis.pelvic_drop import pelvic_drop_deg
from imu.live.snapshot import CalibrationState, Snapshot
from imu.sources.base import SensorStatus
from imu.types import AngleTable, Session


def _pelvic_drop(angles: AngleTable, sets: list[dict]) -> np.ndarray:
    """docs/metrics.md pelvic drop (degrees) inside single-leg sets, NaN elsewhere: ``+obliquity`` with
    the right leg lifted (left stance), ``-obliquity`` with the left leg lifted."""
    t = angles.time_s
    out = np.full(len(t), np.nan)
    obl = angles.columns.get("pelvis_obliquity")
    if obl is None:
        return out
    for s in sets:
        if s.get("exercise") != "single_leg_stance" or s.get("side") not in ("left", "right"):
            continue
        m = (t >= s["start_s"]) & (t <= s["end_s"])
        out[m] = pelvic_drop_deg(obl[m], s["side"])
    return out


class ReplayPlayer:
    """Seekable playback of an analysed session (a :class:`~imu.live.snapshot.DashboardModel`).

    Parameters
    ----------
    session : Session
    angles : AngleTable
        The session's angles (session clock), e.g. from ``compute_angles``.
    analysis : dict
        The session's Analysis JSON (``analyze_angles``).
    calibration : CalibrationState, optional
        How the session was calibrated (shown in the header).
    window_s : float
        Trace window, seconds.
    speed : float
        Initial playback speed.
    """

    def __init__(self, session: Session, angles: AngleTable | None, analysis: dict | None,
                 calibration: CalibrationState | None = None, window_s: float = 20.0,
                 speed: float = 1.0, message: str = ""):
        self.session = session
        starts = [t for t in (d.host_span_s()[0] for d in session.sensors.values() if len(d))
                  if math.isfinite(t)]
        self.t0_s = min(starts) if starts else 0.0
        self.duration_s = session.duration_s
        self.window_s = float(window_s)
        self.calibration = calibration or CalibrationState()
        self.message = message
        from imu.analysis import Settings
        from imu.analysis.pelvic_drop import drop_limits_deg
        #: the analysis's single-leg grade bands (its settings: the changed ones over defaults)
        self.drop_limits_deg = drop_limits_deg(Settings((analysis or {}).get("settings") or {}))
        self._lock = threading.Lock()
        self._pos_s = 0.0
        self._wall_s = time.monotonic()
        self._playing = False
        self.speed = float(speed)
        # angles on the player's clock (seconds since the first sample)
        self.sets: list[dict] = []
        self.reps: list[dict] = []
        self.holds: list[dict] = []
        self.strides: list[dict] = []
        for k, s in enumerate((analysis or {}).get("sets", []), 1):
            s = {**s, "start_s": s["start_s"] - self.t0_s, "end_s": s["end_s"] - self.t0_s}
            self.sets.append({k2: v for k2, v in s.items()
                              if k2 not in ("reps", "holds", "strides")})
            for r in s.get("reps", []) or []:
                self.reps.append(self._shift({**r, "exercise": s["exercise"], "set_index": k,
                                              "side": r.get("side", s.get("side"))}))
            for h in s.get("holds", []) or []:
                self.holds.append(self._shift({**h, "exercise": s["exercise"], "set_index": k}))
            for st in s.get("strides", []) or []:
                self.strides.append(self._shift({**st, "exercise": s["exercise"],
                                                 "set_index": k}))
        if analysis is None:                  # no angles: the sets still come from the events
            self.sets = self._sets_from_events(session)
        self.reps.sort(key=lambda r: r.get("end_s") or 0.0)
        self.holds.sort(key=lambda r: r.get("end_s") or 0.0)
        self.strides.sort(key=lambda r: r.get("end_s") or 0.0)
        if angles is not None and len(angles.time_s):
            self.t = np.asarray(angles.time_s, dtype=float) - self.t0_s
            self.columns = {c: np.asarray(v, dtype=float) for c, v in angles.columns.items()}
            rel = AngleTable(self.t, self.columns)
            drop = _pelvic_drop(rel, self.sets)
            if np.isfinite(drop).any():
                self.columns["pelvic_drop_deg"] = drop
        else:
            self.t, self.columns = np.zeros(0), {}
        # raw-data bookkeeping for the status strip
        self._raw = {}
        for role, d in session.sensors.items():
            th = np.asarray(d.t_host_s, dtype=float) - self.t0_s
            ts = np.asarray(d.t_sensor_s, dtype=float)
            if not np.isfinite(ts).all():
                ts = th
            seq = np.asarray(d.seq, dtype=np.int64)
            steps = np.diff(seq, prepend=seq[:1]) if len(seq) else seq
            lost = np.cumsum(np.clip(steps - 1, 0, None))
            self._raw[role] = (th, ts, lost, d.info)

    def _sets_from_events(self, session: Session) -> list[dict]:
        sets, open_ = [], None
        for e in sorted(session.events, key=lambda e: e.t_s):
            if e.kind == "set_start" and e.exercise:
                if open_ is not None:
                    open_["end_s"] = e.t_s - self.t0_s
                    sets.append(open_)
                open_ = {"exercise": e.exercise, "side": e.side, "start_s": e.t_s - self.t0_s}
            elif e.kind == "set_end" and open_ is not None:
                open_["end_s"] = e.t_s - self.t0_s
                sets.append(open_)
                open_ = None
        if open_ is not None:
            open_["end_s"] = self.duration_s
            sets.append(open_)
        return sets

    def _shift(self, item: dict) -> dict:
        for k in ("start_s", "end_s"):
            if item.get(k) is not None:
                item[k] = float(item[k]) - self.t0_s
        return item

    # ----------------------------------------------------------------------- transport -----
    @property
    def position_s(self) -> float:
        with self._lock:
            return self._position()

    def _position(self) -> float:
        if self._playing:
            now = time.monotonic()
            self._pos_s = min(self.duration_s, self._pos_s + (now - self._wall_s) * self.speed)
            self._wall_s = now
            if self._pos_s >= self.duration_s:
                self._playing = False
        return self._pos_s

    @property
    def playing(self) -> bool:
        with self._lock:
            self._position()
            return self._playing

    def play(self) -> None:
        with self._lock:
            if self._pos_s >= self.duration_s:
                self._pos_s = 0.0
            self._wall_s = time.monotonic()
            self._playing = True

    def pause(self) -> None:
        with self._lock:
            self._position()
            self._playing = False

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def seek(self, t_s: float) -> None:
        """Jump to ``t_s`` seconds from the start of the recording (clamped)."""
        with self._lock:
            self._pos_s = float(min(max(t_s, 0.0), self.duration_s))
            self._wall_s = time.monotonic()

    def set_speed(self, speed: float) -> None:
        if not speed > 0:
            raise ValueError("speed must be > 0")
        with self._lock:
            self._position()
            self.speed = float(speed)

    # The live-only controls are no-ops in replay (the recording is not changed).
    def start_set(self, exercise: str, side: str | None = None) -> None:
        self.message = "replay: sets come from the recording"

    def end_set(self) -> None:
        self.message = "replay: sets come from the recording"

    # ------------------------------------------------------------------------ snapshot -----
    def status_at(self, t_s: float) -> dict[str, SensorStatus]:
        """Each sensor's status as it was ``t_s`` seconds into the recording."""
        out = {}
        for role, (th, ts, lost, info) in self._raw.items():
            i = int(np.searchsorted(th, t_s, side="right"))
            j = int(np.searchsorted(th, t_s - 2.0, side="right"))
            if i == 0:
                state = "connecting"
            elif t_s - th[i - 1] > 0.5 and i < len(th):
                state = "disconnected"
            elif i >= len(th):
                state = "stopped"
            else:
                state = "streaming"
            rate = 0.0
            if i - j > 1:       # samples received in the last 2 s over their sensor-clock span
                span = ts[i - 1] - ts[j]
                rate = (i - j - 1) / span if span > 0 else 0.0
            out[role] = SensorStatus(info.sensor_id, role, state=state,
                                     battery_pct=info.extra.get("battery_pct"), rate_hz=rate,
                                     samples=i, dropped=int(lost[i - 1]) if i else 0)
        return out

    def snapshot_at(self, t_s: float) -> Snapshot:
        """What the dashboard shows ``t_s`` seconds into the recording."""
        lo = int(np.searchsorted(self.t, t_s - self.window_s, side="right"))
        hi = int(np.searchsorted(self.t, t_s, side="right"))
        angles = {c: v[lo:hi] for c, v in self.columns.items()}
        if "pelvic_drop_deg" in angles and not np.isfinite(angles["pelvic_drop_deg"]).any():
            del angles["pelvic_drop_deg"]
        current = {c: float(v[hi - 1]) for c, v in self.columns.items()
                   if hi > 0 and np.isfinite(v[hi - 1])}
        cur_set = None
        for s in self.sets:
            if s["start_s"] <= t_s < s["end_s"]:
                cur_set = s
        done_sets = [s for s in self.sets if s["end_s"] <= t_s]
        return Snapshot(
            mode="replay", t_now_s=t_s, window_s=self.window_s, angles_t=self.t[lo:hi],
            angles=angles, current=current, status=self.status_at(t_s),
            reps=[r for r in self.reps if (r.get("end_s") or 0.0) <= t_s],
            holds=[h for h in self.holds if (h.get("end_s") or 0.0) <= t_s],
            strides=[x for x in self.strides if (x.get("end_s") or 0.0) <= t_s],
            current_set=cur_set, sets=done_sets,
            calibration=self.calibration, recording_path=self.session.source or None,
            duration_s=self.duration_s, playing=self._playing, speed=self.speed,
            message=self.message, drop_limits_deg=self.drop_limits_deg)

    def snapshot(self) -> Snapshot:
        with self._lock:
            t = self._position()
        return self.snapshot_at(t)


def build_player(session, calibration_path: str | None = None, window_s: float = 20.0,
                 speed: float = 1.0, progress: bool = True, remember_intrinsics: bool = False,
                 causal: bool = False, exercise: str | None = None, side: str | None = None):
    """Analyse ``session`` through the chain (:class:`imu.chain.Chain`: the same calibration,
    intrinsics, angles and analysis as ``imu analyze``) into a
    :class:`~imu.live.player.ReplayPlayer`. A session that cannot be calibrated still plays:
    the status strip and the refusal message are shown, without angles."""
    from imu.chain import Chain
    from imu.errors import ImuError

    chain = Chain(calibration_path, remember_intrinsics=remember_intrinsics, progress=progress,
                  causal=causal, exercise=exercise, side=side)
    try:
        cal = chain.calibrate(session)
    except ImuError as exc:
        if calibration_path:
            raise
        state = CalibrationState(state="refused", message=exc.message)
        return ReplayPlayer(session, None, None, state, window_s=window_s, speed=speed,
                            message=f"no angles: {exc.message}")
    state = CalibrationState(state="ok", message="calibrated from " + "; ".join(
                                 c.name for c in cal.calibrations_ if c.accepted),
                             quality=dict(getattr(cal.profile_, "quality", {}) or {}),
                             profile=cal.profile_.to_dict())
    chain.run(session)
    return ReplayPlayer(session, chain.angles_, chain.result_, state, window_s=window_s,
                        speed=speed)
