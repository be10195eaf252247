"""The body and sensor simulator: :func:`simulate` → :class:`SimResult`.

A seeded person performs a program (docs/calibration.md calibration, exercise sets, walking) while wearing
sensors at arbitrary mounting rotations; the result holds the raw session exactly as a recording
would (sensor timestamps, host receive times, sequence numbers, events) and the exact truth
(segment orientations, docs/angles.md angles, docs/metrics.md per-rep values).
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from imu.errors import BadInputError
from imu.log import get_logger
from imu.kinematics.frames import angle_columns, segment_angles
from imu.sim import programs as P
from imu.sim.body import Placed, body_motion
from imu.sim.error_model import ErrorModel, as_error_model
from imu.sim.sensors import (corrupt, draw_errors, host_times, ideal_imu, interp_rows,
                             sample_times, wobble)
from imu.sim.truth import truth_sets as _truth_sets
from imu.types import ROLES, Event, SensorData, SensorInfo, Session

log = get_logger(__name__)

#: Fine-grid rate target (Hz); the grid is an integer multiple of the output rate.
FINE_RATE_HZ = 400.0
PAD_S = 1.0
GAP_S = (3.0, 5.0)
LEAD_S = 2.0
TAIL_S = 2.0


@dataclass
class SimResult:
    """A simulated session and its exact truth.

    Attributes
    ----------
    session : Session
        Raw samples per role, sensor infos, events, ``meta["simulated"]``.
    truth_time_s : ndarray, shape (M,)
        Uniform grid at ``rate_hz`` on the session clock (= true time).
    truth_angles : dict
        SPEC angle column → (M,) degrees.
    truth_segments : dict
        Role → ``R_WB`` (M, 3, 3), segment → ISB world.
    truth_sets : list of dict
        docs/formats.md analysis-JSON sets with true per-rep / per-hold values.
    mounts : dict
        Role → ``R_BS`` (3, 3): sensor frame → segment frame.
    clock : dict
        Role → ``{"offset_s", "drift_ppm"}``: ``t_sensor = offset_s + (1 + drift_ppm·1e-6)·t``.
    sensor_errors : dict
        Role → realised error constants (gyro bias rad/s, accel offset m/s², accel scale,
        clock, dropped and taken sample counts).
    heading_deg : float
        Direction the person faces in an earth frame (z up); 6D signals do not depend on it,
        :meth:`sensor_orientation` does.
    timeline : list of dict
        Placed blocks: name, start_s, end_s, exercise, side.
    """

    session: Session
    truth_time_s: np.ndarray
    truth_angles: dict
    truth_segments: dict
    truth_sets: list
    mounts: dict
    clock: dict
    sensor_errors: dict
    seed: int
    program: object
    rate_hz: float
    error_model: ErrorModel
    timeline: list = field(default_factory=list)
    heading_deg: float = 0.0

    def sensor_orientation(self, role: str) -> np.ndarray:
        """True sensor orientation (M, 4), ``w, x, y, z``: rotates sensor-frame vectors into an
        earth frame with z up in which the person faces ``heading_deg`` (counter-clockwise from
        earth x, seen from above) — the frame of a docs/formats.md orientation CSV. Soft-tissue wobble
        is not included (it is a sensor error)."""
        from imu.kinematics.frames import R_WE
        from imu.quat import from_matrix

        psi = np.radians(self.heading_deg)
        c, s = np.cos(psi), np.sin(psi)
        Rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        R_ES = (Rz @ R_WE.T) @ self.truth_segments[role] @ self.mounts[role]
        return from_matrix(R_ES)

    def sample_true_times(self, role: str) -> np.ndarray:
        """True (session-clock) times of ``role``'s samples, from its sensor timestamps."""
        d = self.session.sensors[role]
        c = self.clock[role]
        return (d.t_sensor_s - c["offset_s"]) / (1.0 + c["drift_ppm"] * 1e-6)

    def truth_json(self) -> dict:
        return {"schema": "imu.sim.truth/1", "seed": self.seed, "program": self.program,
                "rate_hz": self.rate_hz, "sets": self.truth_sets,
                "mounts": {r: np.asarray(m).tolist() for r, m in self.mounts.items()},
                "clock": self.clock, "sensor_errors": self.sensor_errors,
                "error_model": self.error_model.to_dict(), "timeline": self.timeline,
                "heading_deg": self.heading_deg}

    def write_truth(self, directory) -> None:
        """Write ``truth.csv`` (time_s + SPEC angle columns) and ``truth.json``."""
        from imu.output import private_dir

        d = private_dir(directory)
        cols = list(self.truth_angles)
        data = np.column_stack([self.truth_time_s] + [self.truth_angles[c] for c in cols])
        with open(d / "truth.csv", "w", newline="") as fh:
            fh.write(",".join(["time_s"] + cols) + "\n")
            np.savetxt(fh, data, fmt="%.6f", delimiter=",")
        with open(d / "truth.json", "w") as fh:
            json.dump(self.truth_json(), fh, indent=1)


def _validate(program, rate_hz, roles, reps, duration_s) -> list[str]:
    names = [program] if isinstance(program, str) else list(program)
    if not names:
        raise BadInputError("simulate: empty program list")
    for n in names:
        if n not in P.PROGRAMS:
            raise BadInputError(f"unknown program {n!r}; choose from {', '.join(P.PROGRAMS)}")
    if not (isinstance(rate_hz, numbers.Real) and 10.0 <= rate_hz <= 1000.0):
        raise BadInputError(f"rate {rate_hz!r} Hz out of range (10..1000)")
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise BadInputError(f"unknown role {bad[0]!r}; roles are {', '.join(ROLES)}")
    if "sacrum" not in roles:
        raise BadInputError("roles must include 'sacrum'")
    if not any(r.endswith("_thigh") for r in roles):
        raise BadInputError("roles need at least one thigh (right_thigh or left_thigh)")
    if len(set(roles)) != len(roles):
        raise BadInputError("roles listed twice")
    if reps is not None and (not isinstance(reps, numbers.Real) or int(reps) != reps
                             or reps < 1 or reps > 200):
        raise BadInputError(f"reps {reps!r} must be an integer 1..200")
    if duration_s is not None and not (isinstance(duration_s, numbers.Real)
                                       and 0 < duration_s <= 6 * 3600):
        raise BadInputError(f"duration {duration_s!r} s must be in (0, 21600]")
    return names


def build_timeline(names, rng, *, sides, trunk, reps, calibration, duration_s,
                   gap_s: tuple = GAP_S) -> tuple:
    """Place program blocks on the session clock; returns ``(placed, end_s)``.

    Quiet standing fills the gaps (``gap_s``: 3–5 s between blocks by default). With
    ``duration_s`` the exercise sets
    repeat (new random draws) while they fit, walking stretches to the remaining time, and the
    session lasts exactly ``duration_s``.
    """
    kw = dict(sides=sides, trunk=trunk, reps=reps)
    placed: list[Placed] = []
    t = 0.0

    def place(block) -> bool:
        nonlocal t
        start = t + (float(rng.uniform(*gap_s)) if placed else 0.0)
        if duration_s is not None and start + block.duration_s + TAIL_S > duration_s + 1e-9:
            return False
        placed.append(Placed(block, start))
        t = start + block.duration_s
        return True

    seq = list(names)
    if calibration and seq[0] != "calibration":
        seq.insert(0, "calibration")
    if seq[0] != "calibration":
        t = LEAD_S
    exercises = [n for n in seq if n != "calibration"]
    ok = True
    for n in seq:
        if n == "walking":
            wd = None
            if duration_s is not None:
                wd = duration_s - t - TAIL_S - (gap_s[1] if placed else 0.0)
                if wd < 8.0:
                    ok = False
                    break
            ok = place(P.walking(rng, duration_s=wd))
        else:
            ok = all(place(b) for b in P.program_blocks(n, rng, **kw))
        if not ok:
            break
    if duration_s is None:
        return placed, t + TAIL_S
    if exercises and not any(not p.block.calibration for p in placed):
        raise BadInputError(f"duration {duration_s:g} s is too short for {'+'.join(names)}")
    repeat = [n for n in exercises if n != "walking"]
    while ok and repeat:
        for n in repeat:
            ok = all(place(b) for b in P.program_blocks(n, rng, **kw))
            if not ok:
                break
    return placed, float(duration_s)


RESTRAP_S = (2.5, 0.5)  # the sensors move from 2.5 s to 0.5 s before a later calibration


def _restraps(placed, roles, first, t_f, ss) -> tuple[dict, list]:
    """Mounting rotation of every role over the fine grid (N, 3, 3), new ones before each
    calibration protocol after the first; and the list of changes (time, new mountings)."""
    from scipy.spatial.transform import Slerp

    cal_starts = [p.start_s for p in placed if p.block.calibration][1:]
    rng = np.random.default_rng(ss.spawn(1)[0])
    keys_t, keys = [t_f[0]], [first]
    changes = []
    for t0 in cal_starts:
        new = Rotation.random(len(roles), random_state=rng)
        a, b = t0 - RESTRAP_S[0], t0 - RESTRAP_S[1]
        keys_t += [a, b]
        keys += [keys[-1], new]
        changes.append({"t_s": float(b), "mounts": {r: new[i].as_matrix().tolist()
                                                    for i, r in enumerate(roles)}})
    keys_t.append(t_f[-1])
    keys.append(keys[-1])
    out = {}
    kt = np.asarray(keys_t)
    for i, r in enumerate(roles):
        rots = Rotation.concatenate([k[i] for k in keys])
        # smooth in time: slerp over a smoothstep of the time within each key interval
        j = np.clip(np.searchsorted(kt, t_f, side="right") - 1, 0, len(kt) - 2)
        u = np.clip((t_f - kt[j]) / np.maximum(kt[j + 1] - kt[j], 1e-9), 0.0, 1.0)
        u = u * u * (3.0 - 2.0 * u)
        slerp = Slerp(np.arange(len(kt)), rots)
        out[r] = slerp(j + u).as_matrix()
    return out, changes


def _progress(msg: str, enabled: bool) -> None:
    if enabled:
        log.info("simulate: %s", msg)


def simulate(program="demo", *, rate_hz: float = 104.0, seed: int = 0, errors=True,
             roles=("sacrum", "right_thigh", "left_thigh"), reps: int | None = None,
             calibration: bool = True, duration_s: float | None = None,
             sway: bool = True, restrap: bool = False, progress: bool = False,
             gap_s: tuple = GAP_S) -> SimResult:
    """Simulate a person wearing IMUs through a program.

    Parameters
    ----------
    program : str or list of str
        One of :data:`imu.sim.programs.PROGRAMS`, or a list to chain.
    rate_hz : float
        Output data rate of every sensor (nominal, on the sensor's clock), Hz.
    seed : int
        Seeds everything (motion, mounts, sensor errors, timing).
    errors : bool or ErrorModel
        ``True``: all sensor errors on; ``False``: exact signals, ideal clocks, no drops.
    roles : sequence of str
        Instrumented roles; ``sacrum`` and at least one thigh.
    reps : int, optional
        Reps (holds for single-leg stance) per set.
    calibration : bool
        Prepend the docs/calibration.md calibration protocol.
    duration_s : float, optional
        Total length: exercise sets repeat (walking stretches) to fill it.
    sway : bool
        Natural postural sway (small slow pelvis oscillations); ``False`` makes quiet standing
        perfectly still.
    restrap : bool
        The sensors are taken off and strapped on again (new random mounting rotations, moved
        smoothly during the 2 s before) ahead of every calibration protocol after the first:
        each set is then right only through the calibration done before it.
    progress : bool
        Progress lines on stderr.
    gap_s : (float, float)
        Range of the quiet standing between blocks (after the calibration too), seconds.
    """
    names = _validate(program, rate_hz, roles, reps, duration_s)
    em = as_error_model(errors)
    roles = [r for r in ROLES if r in roles]
    sides = [s for s in ("right", "left") if f"{s}_thigh" in roles]
    trunk = "trunk" in roles
    ss = np.random.SeedSequence(int(seed))
    s_motion, s_sway, s_mount, s_err, s_head = ss.spawn(5)
    heading_deg = float(np.random.default_rng(s_head).uniform(0.0, 360.0))
    rng = np.random.default_rng(s_motion)
    placed, end_s = build_timeline(names, rng, sides=sides, trunk=trunk, reps=reps,
                                   calibration=calibration, duration_s=duration_s,
                                   gap_s=tuple(float(g) for g in gap_s))
    m = max(1, math.ceil(FINE_RATE_HZ / rate_hz))
    fs = rate_hz * m
    h = 1.0 / fs
    pad = int(round(PAD_S * fs))
    n_in = int(math.ceil(end_s * fs)) + 1
    t_f = (np.arange(n_in + 2 * pad) - pad) / fs
    _progress(f"{end_s:.0f} s of motion, {len(t_f)} fine samples at {fs:g} Hz", progress)
    bm = body_motion(placed, t_f, np.random.default_rng(s_sway), with_sway=sway, roles=roles)

    M = int(math.floor(end_s * rate_hz + 1e-9)) + 1
    idx = pad + np.arange(M) * m
    truth_t = np.arange(M) / rate_hz
    truth_segments = {r: np.ascontiguousarray(bm.segments[r][idx]) for r in roles}
    truth_angles = segment_angles(truth_segments)
    truth_angles = {c: truth_angles[c] for c in angle_columns(sides, trunk)}

    mount_rots = Rotation.random(len(roles), random_state=np.random.default_rng(s_mount))
    mounts = {r: mount_rots[i].as_matrix() for i, r in enumerate(roles)}
    mount_series, mount_changes = _restraps(placed, roles, mount_rots, t_f, ss) if restrap \
        else ({r: mounts[r] for r in roles}, [])
    err_seeds = s_err.spawn(len(roles))
    sensors, clocks, errs = {}, {}, {}
    for i, role in enumerate(roles):
        _progress(f"sensor {role}", progress)
        R_WB, site = bm.segments[role], bm.sites[role]
        if em.wobble_on and role.endswith("_thigh"):
            R_WB, site = wobble(R_WB, site, h, em)
        gyr_f, acc_f = ideal_imu(R_WB @ mount_series[role], site, h)
        erng = np.random.default_rng(err_seeds[i])
        d = draw_errors(em, rate_hz, erng)
        t_true = sample_times(rate_hz, end_s, d.clock, d.phase_s)
        if not em.clock_on:
            t_true = np.arange(M) / rate_hz
            gyr, acc = gyr_f[idx], acc_f[idx]
        else:
            both = interp_rows(t_true, t_f, np.concatenate([gyr_f, acc_f], axis=1))
            gyr, acc = both[:, :3], both[:, 3:]
        gyr, acc = corrupt(gyr, acc, rate_hz, em, d, erng)
        n = len(t_true)
        seq = np.arange(n, dtype=np.int64)
        t_sensor = d.clock.offset_s + d.phase_s + seq / rate_hz if em.clock_on else t_true.copy()
        t_host, keep = host_times(t_true, em, erng)
        info = SensorInfo(sensor_id=f"sim-{role}", role=role, model="simulated",
                          rate_hz=float(rate_hz), firmware="imu.sim",
                          extra={"acc_range_g": 8.0, "gyr_range_dps": 1000.0})
        sensors[role] = SensorData(info, seq[keep], t_sensor[keep], t_host[keep], acc[keep],
                                   gyr[keep])
        clocks[role] = d.clock.to_dict()
        errs[role] = d.to_dict()
        errs[role]["dropped_samples"] = int((~keep).sum())
        errs[role]["samples_taken"] = int(n)

    events, timeline = [], []
    for p in placed:
        b = p.block
        timeline.append({"name": b.name, "start_s": p.start_s, "end_s": p.end_s,
                         "exercise": b.exercise, "side": b.side})
        if b.calibration:
            events.append(Event(p.start_s, "calibration_start", note="SPEC §4 protocol",
                                data={"phases": [{**ph, "t0": ph["t0"] + p.start_s,
                                                  "t1": ph["t1"] + p.start_s}
                                                 for ph in b.info.get("phases", [])]}))
            events.append(Event(p.end_s, "calibration_end"))
        elif b.exercise and b.set_window:
            events.append(Event(p.start_s + b.set_window[0], "set_start", b.exercise, b.side))
            events.append(Event(p.start_s + b.set_window[1], "set_end", b.exercise, b.side))
        elif b.name == "walking":
            events.append(Event(p.start_s, "note", note="walking start"))
            events.append(Event(p.end_s, "note", note="walking end"))

    meta = {"simulated": {"seed": int(seed), "program": program, "rate_hz": float(rate_hz),
                          "errors": em.any_on, "roles": roles, "duration_s": end_s,
                          "calibration": bool(calibration), "sway": bool(sway),
                          "heading_deg": heading_deg, "restraps": mount_changes,
                          "error_model": em.to_dict()},
            "source": "imu.sim"}
    session = Session(meta=meta, sensors=sensors, events=events, calibration=None,
                      source=f"simulate:{'+'.join(names)}")
    tsets = _truth_sets(placed, truth_t, truth_angles, sides, trunk)
    return SimResult(session, truth_t, truth_angles, truth_segments, tsets, mounts, clocks, errs,
                     int(seed), program, float(rate_hz), em, timeline, heading_deg)
