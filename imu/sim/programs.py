"""Exercise programs: the movements the simulated person performs.

Each builder draws its random parameters (amplitudes, tempos, which reps show which fault) from
the given generator once and returns a :class:`~imu.sim.motion.Block` whose ``evaluate`` maps
local time to body channels. Blocks start and end in quiet standing so they chain smoothly.

Conventions (docs/angles.md, :mod:`imu.kinematics.frames`): pelvis ``R_WP = pelvis_matrix(tilt, obl,
rot)``; a femur "planted" (foot on the ground) is given in the world frame as
``hip_matrix(inclination, adduction, rotation, side)`` relative to W; a free (swinging or lifted)
femur is given relative to the pelvis (without sway) as ``R_WP @ hip_matrix(...)``.
"""

from __future__ import annotations

import numpy as np

from imu.sim.rot import hip_matrix, pelvis_matrix
from imu.sim.motion import (FEMUR_M, SHANK_M, Block, Channels, bump, hip_centre_p, quintic)

#: Program names accepted by :func:`imu.sim.simulate`.
PROGRAMS = ("calibration", "hinge", "single_leg_stance", "hip_airplane", "single_leg_hinge",
            "ir_hinge", "squat", "split_squat", "posture", "walking", "demo")

LEAD_S = 1.5   # standing inside a set before the first rep (the set's baseline second)
TAIL_S = 1.5   # standing inside a set after the last rep


def _other(side: str) -> str:
    return "left" if side == "right" else "right"


def _sgn(side: str) -> float:
    return 1.0 if side == "right" else -1.0


def _chain_disp(inc_deg: np.ndarray, shank_deg: np.ndarray) -> np.ndarray:
    """Mid-hip displacement (n, 3) for both feet planted: shank inclined forward by
    ``shank_deg``, femur knee-forward by ``inc_deg`` (hips go back and down)."""
    b = np.radians(shank_deg)
    a = np.radians(inc_deg)
    x = SHANK_M * np.sin(b) - FEMUR_M * np.sin(a)
    y = SHANK_M * np.cos(b) + FEMUR_M * np.cos(a) - (SHANK_M + FEMUR_M)
    return np.stack([x, y, np.zeros_like(x)], axis=-1)


def _stance_disp(R_WP: np.ndarray, stance: str) -> np.ndarray:
    """Mid-hip displacement that keeps the stance hip joint centre fixed while the pelvis
    rotates (n, 3)."""
    h = hip_centre_p(stance)
    return h[None, :] - R_WP @ h


def _free_femur(R_WP: np.ndarray, flex, add, rot, side: str) -> np.ndarray:
    return R_WP @ hip_matrix(flex, add, rot, side)


# ---------------------------------------------------------------------------------------------
# Standing


def standing(duration_s: float) -> Block:
    """Quiet neutral standing."""
    return Block("standing", float(duration_s), lambda t: Channels.standing(len(t)))


# ---------------------------------------------------------------------------------------------
# Double-stance reps (hinge, squat, calibration hinges)


def _double_stance_eval(reps: list[dict]):
    """Channels for reps with both feet planted; each rep dict holds t0, down, hold, up and peak
    values (tilt, inc, shank, obl, rot, shift_m, lumbar, add_r/l, ir_r/l, inc_asym)."""

    def ev(t: np.ndarray) -> Channels:
        n = len(t)
        tilt = np.zeros(n); obl = np.zeros(n); rot = np.zeros(n); inc = np.zeros(n)
        shank = np.zeros(n); shift = np.zeros(n); lumbar = np.zeros(n)
        add = {"right": np.zeros(n), "left": np.zeros(n)}
        ir = {"right": np.zeros(n), "left": np.zeros(n)}
        asym = np.zeros(n)
        for r in reps:
            b = bump(t, r["t0"], r["down"], r["hold"], r["up"])
            tilt += r["tilt"] * b
            inc += r["inc"] * b
            shank += r["shank"] * b
            lumbar += r["lumbar"] * b
            asym += r.get("inc_asym", 0.0) * b
            # twist and shift build up during the descent and return on the way up
            rot += r["rot"] * b
            obl += r["obl"] * b
            shift += r["shift_m"] * b
            for s in ("right", "left"):
                add[s] += r.get(f"add_{s[0]}", 0.0) * b
                ir[s] += r.get(f"ir_{s[0]}", 0.0) * b
        femur = {
            "right": hip_matrix(inc + asym, add["right"], ir["right"], "right"),
            "left": hip_matrix(inc - asym, add["left"], ir["left"], "left"),
        }
        disp = _chain_disp(inc, shank)
        disp[:, 2] += shift
        return Channels(np.stack([tilt, obl, rot], -1), disp, femur, lumbar)

    return ev


def _schedule(rng, n: int, start: float, down=(1.2, 2.2), hold=(0.2, 0.8), up=(1.2, 2.2),
              pause=(1.4, 2.4)) -> tuple[list[dict], float]:
    reps = []
    t = start
    for _ in range(n):
        r = {"t0": t, "down": rng.uniform(*down), "hold": rng.uniform(*hold),
             "up": rng.uniform(*up)}
        r["t1"] = t + r["down"] + r["hold"] + r["up"]
        reps.append(r)
        t = r["t1"] + rng.uniform(*pause)
    return reps, t


HINGE_DESIGNS = ("good", "squat_pattern", "pelvic_twist", "lateral_shift", "lumbar_flexion")


def _hinge_values(rng, design: str, trunk: bool) -> dict:
    v = {"tilt": rng.uniform(35, 60), "inc": rng.uniform(3, 12), "shank": rng.uniform(2, 6),
         "rot": rng.choice([-1, 1]) * rng.uniform(0.5, 2.0),
         "obl": rng.choice([-1, 1]) * rng.uniform(0.3, 1.5), "shift_m": 0.0,
         "lumbar": rng.uniform(2, 10) if trunk else 0.0, "inc_asym": rng.uniform(-1.5, 1.5)}
    if design == "squat_pattern":
        v.update(tilt=rng.uniform(18, 32), inc=rng.uniform(32, 50), shank=rng.uniform(10, 20))
    elif design == "pelvic_twist":
        v["rot"] = rng.choice([-1, 1]) * rng.uniform(9, 16)
    elif design == "lateral_shift":
        sgn = rng.choice([-1, 1])
        v["obl"] = sgn * rng.uniform(6.5, 10)
        v["shift_m"] = sgn * rng.uniform(0.03, 0.06)
    elif design == "lumbar_flexion":
        v.update(tilt=rng.uniform(22, 38), lumbar=rng.uniform(28, 42))
    return v


def hinge(rng, reps: int | None, trunk: bool, **_) -> Block:
    """Hip-hinge set: good reps mixed with squat-pattern, twisting, shifting and (with a trunk
    sensor) lumbar-flexion reps; the mix is drawn from ``rng``."""
    n = int(reps or 8)
    pool = ["good", "good", "squat_pattern", "pelvic_twist", "lateral_shift"]
    if trunk:
        pool.append("lumbar_flexion")
    designs = (pool * (n // len(pool) + 1))[:n]
    rng.shuffle(designs)
    sched, t_end = _schedule(rng, n, LEAD_S)
    for r, d in zip(sched, designs):
        r.update(_hinge_values(rng, d, trunk))
        r["design"] = d
    dur = t_end - 1.4 + TAIL_S
    return Block("hinge", dur, _double_stance_eval(sched), exercise="hinge",
                 set_window=(0.0, dur), reps=sched)


def squat(rng, reps: int | None, **_) -> Block:
    """Squat set; some reps show knee collapse (hip adduction + internal rotation at depth)."""
    n = int(reps or 6)
    sched, t_end = _schedule(rng, n, LEAD_S, down=(1.3, 2.0), hold=(0.2, 0.6), up=(1.2, 1.8))
    collapse = np.zeros(n, bool)
    k = max(1, n // 3)
    collapse[rng.choice(n, size=k, replace=False)] = True
    for r, c in zip(sched, collapse):
        r.update(tilt=rng.uniform(15, 30), inc=rng.uniform(55, 80), shank=rng.uniform(20, 35),
                 rot=rng.uniform(-2, 2), obl=rng.uniform(-1.5, 1.5), shift_m=0.0,
                 lumbar=rng.uniform(5, 15), inc_asym=rng.uniform(-2, 2))
        sides = ["right", "left"]
        which = rng.choice(["right", "left", "both"]) if c else None
        for s in sides:
            if c and which in (s, "both"):
                r[f"add_{s[0]}"] = rng.uniform(8, 12)
                r[f"ir_{s[0]}"] = rng.uniform(6, 12)
            else:
                r[f"add_{s[0]}"] = rng.uniform(-4, 1)
                r[f"ir_{s[0]}"] = rng.uniform(-4, 3)
        r["design"] = "knee_collapse" if c else "good"
    dur = t_end - 1.4 + TAIL_S
    return Block("squat", dur, _double_stance_eval(sched), exercise="squat",
                 set_window=(0.0, dur), reps=sched)


def split_squat(rng, reps: int | None, side: str, **_) -> Block:
    """Split squat with the ``side`` leg in front: step into a stagger, lower and rise (front hip
    to ≈ 90–110° flexion, back hip from extension towards neutral), step back. Some reps show
    front-knee collapse. Exercise ``squat``; the set's side is the front leg."""
    n = int(reps or 6)
    back = _other(side)
    step_s = rng.uniform(0.9, 1.2)
    stag = rng.uniform(15, 22)                     # thigh inclination of each leg in the stagger
    sched, t_end = _schedule(rng, n, LEAD_S + step_s + 1.2, down=(1.3, 2.0), hold=(0.2, 0.6),
                             up=(1.2, 1.8))
    collapse = np.zeros(n, bool)
    collapse[rng.choice(n, size=max(1, n // 3), replace=False)] = True
    for r, c in zip(sched, collapse):
        r.update(tilt=rng.uniform(5, 15), inc=rng.uniform(60, 78), back_inc=rng.uniform(8, 15),
                 shank=rng.uniform(10, 20), rot=rng.uniform(-2, 2), obl=rng.uniform(-1.5, 1.5),
                 add=rng.uniform(8, 12) if c else rng.uniform(-4, 1),
                 ir=rng.uniform(6, 12) if c else rng.uniform(-4, 3),
                 design="knee_collapse" if c else "good")
    step_out = t_end - 1.4 + 0.3
    dur = step_out + step_s + TAIL_S

    def ev(t: np.ndarray) -> Channels:
        n_ = len(t)
        env = bump(t, LEAD_S, step_s, step_out - LEAD_S - step_s, step_s)
        tilt = np.zeros(n_); obl = np.zeros(n_); rot = np.zeros(n_)
        inc_f = stag * env
        inc_b = -stag * env
        shank = np.zeros(n_); add = np.zeros(n_); ir = np.zeros(n_)
        for r in sched:
            b = bump(t, r["t0"], r["down"], r["hold"], r["up"])
            tilt += r["tilt"] * b
            obl += r["obl"] * b
            rot += r["rot"] * b
            inc_f += r["inc"] * b
            inc_b += r["back_inc"] * b
            shank += r["shank"] * b
            add += r["add"] * b
            ir += r["ir"] * b
        femur = {side: hip_matrix(inc_f, add, ir, side),
                 back: hip_matrix(inc_b, np.zeros(n_), np.zeros(n_), back)}
        disp = _chain_disp(inc_f, shank)
        return Channels(np.stack([tilt, obl, rot], -1), disp, femur, 0.3 * tilt)

    return Block("split_squat", dur, ev, exercise="squat", side=side, set_window=(0.0, dur),
                 reps=sched)


# ---------------------------------------------------------------------------------------------
# Single-leg stance


def single_leg_stance(rng, reps: int | None, side: str, **_) -> Block:
    """Holds on the ``side`` leg: the other hip flexes to 45–70°, the pelvis drops on the lifted
    side and drifts during the hold; drops are spread over the green/amber/red grades."""
    n = int(reps or 3)
    lifted = _other(side)
    grades = (["green", "amber", "red"] * n)[:n]
    rng.shuffle(grades)
    holds = []
    t = LEAD_S
    for g in grades:
        hold_s = rng.uniform(7, 12)
        dmax = {"green": rng.uniform(1.0, 2.2), "amber": rng.uniform(5.5, 6.5),
                "red": rng.uniform(9.5, 12.0)}[g]
        h = {"t0": t, "shift_s": 0.7, "lift_at": t + 0.5, "lift_s": rng.uniform(0.8, 1.1),
             "hold_s": hold_s, "lower_s": rng.uniform(0.8, 1.1), "flex": rng.uniform(45, 70),
             "d0": dmax * rng.uniform(0.3, 0.6), "dmax": dmax, "grade": g,
             "tilt": rng.uniform(-2, 3), "rot": rng.uniform(-3, 3),
             "shift_m": rng.uniform(0.03, 0.06),
             "wob_f": rng.uniform(0.2, 0.5, 2), "wob_a": rng.uniform(0.1, 0.2, 2),
             "wob_p": rng.uniform(0, 2 * np.pi, 2)}
        h["t1"] = h["lift_at"] + h["lift_s"] + hold_s + h["lower_s"] + 0.5
        h["design"] = g
        holds.append(h)
        t = h["t1"] + rng.uniform(2.0, 3.0)
    dur = t - 2.0 + TAIL_S

    def ev(tt: np.ndarray) -> Channels:
        n_ = len(tt)
        pel = np.zeros((n_, 3)); flex = np.zeros(n_); shift = np.zeros(n_)
        for h in holds:
            lift = bump(tt, h["lift_at"], h["lift_s"], h["hold_s"], h["lower_s"])
            flex += h["flex"] * lift
            shift += h["shift_m"] * bump(tt, h["t0"], h["shift_s"],
                                         h["t1"] - h["t0"] - 2 * h["shift_s"], h["shift_s"])
            prog = quintic((tt - h["lift_at"] - h["lift_s"]) / h["hold_s"])
            wob = sum(a * np.sin(2 * np.pi * f * (tt - h["lift_at"]) + p)
                      for f, a, p in zip(h["wob_f"], h["wob_a"], h["wob_p"]))
            drop = lift * (h["d0"] + (h["dmax"] - h["d0"]) * prog + wob)
            pel[:, 1] += _sgn(lifted) * drop   # + obliquity = right side lower
            pel[:, 0] += h["tilt"] * lift
            pel[:, 2] += h["rot"] * lift
        R_WP = pelvis_matrix(pel[:, 0], pel[:, 1], pel[:, 2])
        disp = _stance_disp(R_WP, side)
        disp[:, 2] += _sgn(side) * shift
        eye = np.broadcast_to(np.eye(3), (n_, 3, 3))
        femur = {side: eye, lifted: _free_femur(R_WP, flex, 0.0, 0.0, lifted)}
        return Channels(pel, disp, femur, np.zeros(n_))

    return Block("single_leg_stance", dur, ev, exercise="single_leg_stance", side=side,
                 set_window=(0.0, dur), reps=holds)


# ---------------------------------------------------------------------------------------------
# Hip airplane


#: hip-airplane rep designs: the order of the two excursions, and what happens at neutral
#: between them (a crossing at speed, a short pause, or a pause over 1 s that ends the rep
#: early, docs/metrics.md: it then counts as two one-excursion reps)
AIRPLANE_ORDERS = ("open_close", "close_open")
AIRPLANE_MIDDLES = ("cross", "pause", "split")


def _airplane_tail(amplitude_deg: float, band_deg: float = 3.5) -> float:
    """Fraction of a ramp of a ``bump`` of this amplitude spent within ``band_deg`` of zero."""
    u = np.linspace(0.0, 1.0, 2001)
    return float(np.interp(band_deg / amplitude_deg, quintic(u), u))


def hip_airplane(rng, reps: int | None, side: str, **_) -> Block:
    """Hip airplane on the ``side`` leg: hinge forward on one leg, then per rep an opening
    (pelvis turns toward the lifted side: stance hip external rotation) and a closing (internal
    rotation) in either order, passing through neutral between them: at speed, after a short
    pause, or (one rep in six or so) after a pause at neutral over 1 s, which ends the rep
    early (docs/metrics.md). Between reps the person either pauses at neutral (1.6–2.4 s) or goes
    straight on (back to back; not after a rep ended early). Each rep's ``design`` is ``"<order>/<middle>/<next>"``.
    """
    n = int(reps or 4)
    lifted = _other(side)
    open_sgn = 1.0 if side == "right" else -1.0  # lifted left: pelvis turns left (+rotation)
    entry_t0, entry_s = LEAD_S, rng.uniform(1.3, 1.8)
    tilt = rng.uniform(35, 55)
    leg_flex = rng.uniform(0, 10)
    t = entry_t0 + entry_s + 1.2
    reps_ = []
    for k in range(n):
        order = AIRPLANE_ORDERS[int(rng.integers(2))]
        middle = AIRPLANE_MIDDLES[int(rng.choice(3, p=[0.45, 0.4, 0.15]))]
        r = {"t0": t, "open": rng.uniform(18, 35), "close": rng.uniform(12, 22),
             "d1": rng.uniform(1.0, 1.6), "h1": rng.uniform(0.2, 0.6),
             "d2": rng.uniform(0.9, 1.4), "h2": rng.uniform(0.2, 0.6),
             "d3": rng.uniform(0.9, 1.4), "leak": rng.choice([-1, 1]) * rng.uniform(1, 5),
             "order": order, "middle": middle}
        if middle == "cross":  # the second bump starts when the first is half way back
            r["tc"] = t + r["d1"] + r["h1"] + 0.5 * r["d2"]
        else:
            # time at neutral (within ~3° of it) between the two excursions: the slow ends of
            # both movements plus the pause; well under 1 s ("pause") or well over ("split")
            a1, a2 = (r["open"], r["close"]) if order == "open_close" else (r["close"], r["open"])
            u = _airplane_tail(a1) + _airplane_tail(a2)  # fraction of the d2 ramps in the band
            r["d2"] = min(r["d2"], 0.75 / u)
            neutral = rng.uniform(0.3, 0.75) if middle == "pause" else rng.uniform(1.4, 2.0)
            r["tc"] = t + r["d1"] + r["h1"] + r["d2"] + max(0.0, neutral - u * r["d2"])
        r["t1"] = r["tc"] + r["d2"] + r["h2"] + r["d3"]
        # straight on into the next rep (not after a split one: its lone second excursion
        # would pair with the next rep's first, and the design would no longer say the reps)
        back_to_back = k < n - 1 and rng.uniform() < 0.4 and middle != "split"
        r["design"] = f"{order}/{middle}/{'next' if back_to_back else 'rest'}"
        reps_.append(r)
        t = r["t1"] + (rng.uniform(0.0, 0.1) if back_to_back else rng.uniform(1.6, 2.4))
    exit_t0 = t - 0.6
    exit_s = rng.uniform(1.3, 1.8)
    dur = exit_t0 + exit_s + TAIL_S

    def ev(tt: np.ndarray) -> Channels:
        n_ = len(tt)
        env = bump(tt, entry_t0, entry_s, exit_t0 - entry_t0 - entry_s, exit_s)
        pel = np.zeros((n_, 3))
        pel[:, 0] = tilt * env
        for r in reps_:
            b1 = bump(tt, r["t0"], r["d1"], r["h1"], r["d2"])
            b2 = bump(tt, r["tc"], r["d2"], r["h2"], r["d3"])
            b_open, b_close = (b1, b2) if r["order"] == "open_close" else (b2, b1)
            pel[:, 2] += open_sgn * (r["open"] * b_open - r["close"] * b_close)
            pel[:, 1] += r["leak"] * (b_open - 0.5 * b_close)
        R_WP = pelvis_matrix(pel[:, 0], pel[:, 1], pel[:, 2])
        disp = _stance_disp(R_WP, side)
        disp[:, 2] += _sgn(side) * 0.05 * env
        eye = np.broadcast_to(np.eye(3), (n_, 3, 3))
        femur = {side: eye, lifted: _free_femur(R_WP, leg_flex * env, 0.0, 0.0, lifted)}
        return Channels(pel, disp, femur, 3.0 * env)

    return Block("hip_airplane", dur, ev, exercise="hip_airplane", side=side,
                 set_window=(0.0, dur), reps=reps_, info={"tilt_deg": tilt})


# ---------------------------------------------------------------------------------------------
# Single-leg hinge and internal-rotation hinge (stance leg ``side``)


def _one_leg_eval(reps: list[dict], side: str, set_s: tuple[float, float]):
    """Channels of single-leg hinge work on the ``side`` leg: the weight shifts onto it for the
    set; per rep the pelvis tilts forward over the planted stance femur (which may incline forward:
    a squat pattern), the free femur follows the pelvis (relative flexion ``free_flex``), the pelvis
    may rotate (``rot``, SPEC sign), drop (``obl``, SPEC sign) and shift sideways, and the trunk
    may flex and twist relative to the pelvis. Rotation and the lumbar twist follow their own bump
    (``rot_lag``: the turn starts after the hinge has begun)."""
    free = _other(side)

    def ev(t: np.ndarray) -> Channels:
        n = len(t)
        tilt = np.zeros(n); obl = np.zeros(n); rot = np.zeros(n); inc = np.zeros(n)
        shank = np.zeros(n); lumbar = np.zeros(n); lrot = np.zeros(n); shift = np.zeros(n)
        fflex = np.zeros(n); fadd = np.zeros(n); fir = np.zeros(n)
        for r in reps:
            b = bump(t, r["t0"], r["down"], r["hold"], r["up"])
            lag = r.get("rot_lag", 0.0)
            br = bump(t, r["t0"] + lag * r["down"], (1.0 - lag) * r["down"], r["hold"],
                      (1.0 - lag) * r["up"]) if lag else b
            tilt += r["tilt"] * b
            inc += r["inc"] * b
            shank += r["shank"] * b
            obl += r["obl"] * b
            shift += r["shift_m"] * b
            lumbar += r["lumbar"] * b
            rot += r["rot"] * br
            lrot += r["lumbar_rot"] * br
            fflex += r["free_flex"] * b
            fadd += r["free_add"] * b
            fir += r["free_ir"] * b
        R_WP = pelvis_matrix(tilt, obl, rot)
        disp = _stance_disp(R_WP, side) + _chain_disp(inc, shank)
        weight = bump(t, 0.2, 0.8, set_s[1] - set_s[0] - 2.0, 0.8)
        disp[:, 2] += _sgn(side) * 0.05 * weight + shift
        femur = {side: hip_matrix(inc, 0.0, 0.0, side),
                 free: _free_femur(R_WP, fflex, fadd, fir, free)}
        return Channels(np.stack([tilt, obl, rot], -1), disp, femur, lumbar, lrot)

    return ev


def _one_leg_designs(rng, n: int, pool: list[str]) -> list[str]:
    """``n`` designs from ``pool`` (each as often as it fits; a short set draws which ones)."""
    designs = [str(d) for d in rng.permutation(pool)] * (n // len(pool) + 1)
    designs = designs[:n]
    rng.shuffle(designs)
    return designs


SLH_DESIGNS = ("good", "pelvis_opening", "pelvic_drop", "squat_pattern", "lumbar_flexion")


def single_leg_hinge(rng, reps: int | None, side: str, trunk: bool, **_) -> Block:
    """Single-leg hinge on the ``side`` leg: the pelvis tilts forward over a nearly vertical
    stance femur while the free leg reaches back in line with the trunk (free thigh inclination
    ≈ −tilt). Faulty reps: the pelvis opens toward the free leg (``pelvis_opening``), drops on the
    free-leg side (``pelvic_drop``), the stance knee travels forward (``squat_pattern``) or, with
    a trunk sensor, the lower back rounds (``lumbar_flexion``)."""
    free = _other(side)
    designs, sched, t_end = _one_leg_reps(
        rng, reps, ["good", "good", "pelvis_opening", "pelvic_drop", "squat_pattern"],
        "lumbar_flexion" if trunk else None, down=(1.4, 2.2), hold=(0.3, 0.8), up=(1.4, 2.2))
    for r, d in zip(sched, designs):
        r.update(tilt=rng.uniform(40, 65), inc=rng.uniform(2, 10), shank=rng.uniform(2, 6),
                 opening=rng.uniform(-3, 4), drop=rng.uniform(-1.5, 2.5), shift_m=0.0,
                 lumbar=rng.uniform(2, 10) if trunk else 0.0, lumbar_rot=0.0,
                 free_flex=rng.uniform(-8, 4), free_add=rng.uniform(-3, 3),
                 free_ir=rng.uniform(-5, 5))
        if d == "pelvis_opening":
            r["opening"] = rng.uniform(11, 18)
        elif d == "pelvic_drop":
            r["drop"] = rng.uniform(7, 10)
        elif d == "squat_pattern":
            r.update(tilt=rng.uniform(25, 40), inc=rng.uniform(32, 45), shank=rng.uniform(10, 18))
        elif d == "lumbar_flexion":
            r.update(tilt=rng.uniform(25, 40), lumbar=rng.uniform(28, 42))
        # opening: the pelvis turns toward the free leg (stance right: to the left, + rotation);
        # drop: the free-leg side goes down (free right: right side lower, + obliquity)
        r["rot"] = _sgn(side) * r["opening"]
        r["obl"] = _sgn(free) * r["drop"]
        r["design"] = d
    return _one_leg_block("single_leg_hinge", sched, side, t_end)


def _one_leg_reps(rng, reps: int | None, pool: list[str], trunk_fault: str | None, *, down,
                  hold, up):
    """A one-leg drill's rep designs (drawn from ``pool``, plus ``trunk_fault`` with a trunk
    sensor) and schedule: ``(designs, schedule, t_end)``."""
    n = int(reps or 6)
    if trunk_fault:
        pool = [*pool, trunk_fault]
    designs = _one_leg_designs(rng, n, pool)
    sched, t_end = _schedule(rng, n, LEAD_S, down=down, hold=hold, up=up, pause=(1.6, 2.6))
    return designs, sched, t_end


def _one_leg_block(name: str, sched: list[dict], side: str, t_end: float) -> Block:
    """The block of a one-leg drill's set (the whole block is the set)."""
    dur = t_end - 1.6 + TAIL_S
    return Block(name, dur, _one_leg_eval(sched, side, (0.0, dur)), exercise=name, side=side,
                 set_window=(0.0, dur), reps=sched)


IRH_DESIGNS = ("good", "no_internal_rotation", "lateral_shift", "lumbar_twist")


def ir_hinge(rng, reps: int | None, side: str, trunk: bool, **_) -> Block:
    """Internal-rotation hinge on the ``side`` leg: a partial hinge, then the pelvis turns over
    the planted stance femur toward the stance side (stance hip internal rotation), the free leg
    back like a kickstand. Faulty reps: hardly any rotation (``no_internal_rotation``), the
    pelvis tipping and shifting sideways (``lateral_shift``) or, with a trunk sensor, the turn
    made in the lower back instead of the hip (``lumbar_twist``, little hip rotation)."""
    designs, sched, t_end = _one_leg_reps(
        rng, reps, ["good", "good", "no_internal_rotation", "lateral_shift"],
        "lumbar_twist" if trunk else None, down=(1.4, 2.0), hold=(0.4, 1.0), up=(1.4, 2.0))
    for r, d in zip(sched, designs):
        r.update(tilt=rng.uniform(22, 38), inc=rng.uniform(2, 8), shank=rng.uniform(3, 8),
                 ir=rng.uniform(12, 22), obl=rng.choice([-1, 1]) * rng.uniform(0.3, 1.5),
                 shift_m=0.0, lumbar=rng.uniform(2, 8) if trunk else 0.0,
                 twist=rng.uniform(-3, 3) if trunk else 0.0, rot_lag=rng.uniform(0.25, 0.45),
                 free_flex=rng.uniform(-6, 6), free_add=rng.uniform(-3, 3),
                 free_ir=rng.uniform(-4, 4))
        if d == "no_internal_rotation":
            r["ir"] = rng.uniform(-1.5, 2.5)
        elif d == "lateral_shift":
            sgn = rng.choice([-1, 1])
            r["obl"] = sgn * rng.uniform(6.5, 10)
            r["shift_m"] = sgn * rng.uniform(0.03, 0.06)
        elif d == "lumbar_twist":
            r["ir"] = rng.uniform(0.0, 8.0)
            r["twist"] = rng.uniform(14, 22)
        # internal rotation of the planted stance hip: the pelvis turns toward the stance side
        # (stance right: to the right, − rotation); the lumbar twist turns the trunk the same way
        r["rot"] = -_sgn(side) * r["ir"]
        r["lumbar_rot"] = -_sgn(side) * r["twist"]
        r["design"] = d
    return _one_leg_block("ir_hinge", sched, side, t_end)


# ---------------------------------------------------------------------------------------------
# Posture / pelvic tilt reset


def posture(rng, reps: int | None, **_) -> Block:
    """Pelvic tilt reset: anterior and posterior tilt holds, back to neutral each time; the final
    neutral has a small return error; the set ends before the pelvis settles back to zero."""
    n = int(reps or 3)
    t = LEAD_S
    cyc = []
    for _ in range(n):
        a = {"t0": t, "ant": rng.uniform(8, 15), "post": rng.uniform(6, 12),
             "d": rng.uniform(1.0, 1.6), "h": rng.uniform(2.0, 3.5)}
        a["t_post"] = t + 2 * a["d"] + a["h"] + rng.uniform(1.0, 2.0)
        a["t1"] = a["t_post"] + 2 * a["d"] + a["h"]
        a["design"] = "tilt_cycle"
        cyc.append(a)
        t = a["t1"] + rng.uniform(1.0, 2.0)
    ret = rng.uniform(-2.5, 2.5)
    ret_t0 = t - 0.8
    set_end = ret_t0 + 1.0 + 2.0
    dur = set_end + 1.0 + 1.0 + 0.5

    def ev(tt: np.ndarray) -> Channels:
        n_ = len(tt)
        tilt = np.zeros(n_)
        for a in cyc:
            tilt += a["ant"] * bump(tt, a["t0"], a["d"], a["h"], a["d"])
            tilt -= a["post"] * bump(tt, a["t_post"], a["d"], a["h"], a["d"])
        tilt += ret * bump(tt, ret_t0, 1.0, set_end - ret_t0 - 1.0, 1.0)
        eye = np.broadcast_to(np.eye(3), (n_, 3, 3))
        pel = np.stack([tilt, np.zeros(n_), np.zeros(n_)], -1)
        return Channels(pel, np.zeros((n_, 3)), {"right": eye, "left": eye}, -0.3 * tilt)

    return Block("posture", dur, ev, exercise="posture", set_window=(0.0, set_end), reps=cyc,
                 info={"return_offset_deg": ret})


# ---------------------------------------------------------------------------------------------
# Walking


def walking(rng, duration_s: float | None = None, **_) -> Block:
    """Level walking in a straight line: alternating hip flexion/extension, pelvic rotation,
    obliquity and tilt oscillations, vertical and lateral bounce, heel-strike impacts, forward
    progression."""
    dur = float(duration_s or 40.0)
    f = rng.uniform(0.85, 0.95)              # stride frequency, Hz
    v = rng.uniform(1.1, 1.4)                # walking speed, m/s
    ramp_s = 1.5
    ph0 = rng.uniform(0, 2 * np.pi)
    amp = {"flex": rng.uniform(18, 24), "flex0": rng.uniform(8, 12), "rot": rng.uniform(3, 6),
           "obl": rng.uniform(3, 5), "tilt": rng.uniform(1, 2.5), "bob": rng.uniform(0.015, 0.03),
           "sway": rng.uniform(0.015, 0.03), "add": rng.uniform(2, 5),
           "impact": rng.uniform(6.0, 10.0)}

    def env(tt):
        return bump(tt, 0.5, ramp_s, dur - 1.0 - 2 * ramp_s, ramp_s)

    # forward distance: integral of v * env, on a fine grid (env is smooth)
    g = np.linspace(0.0, dur, int(dur * 400) + 1)
    eg = env(g)
    xg = np.concatenate([[0.0], np.cumsum(0.5 * (eg[1:] + eg[:-1]) * np.diff(g))]) * v

    def ev(tt: np.ndarray) -> Channels:
        e = env(tt)
        ph = 2 * np.pi * f * tt + ph0
        # mean pelvis offsets ramp in with the envelope so standing is reached exactly
        fr = e * (amp["flex0"] + amp["flex"] * np.sin(ph))
        fl = e * (amp["flex0"] + amp["flex"] * np.sin(ph + np.pi))
        pel = np.stack([e * amp["tilt"] * np.sin(2 * ph),
                        e * amp["obl"] * np.sin(ph + 0.5 * np.pi),
                        e * amp["rot"] * np.sin(ph)], -1)
        R_WP = pelvis_matrix(pel[:, 0], pel[:, 1], pel[:, 2])
        femur = {"right": _free_femur(R_WP, fr, e * amp["add"] * np.sin(ph + 1.2), 0.0, "right"),
                 "left": _free_femur(R_WP, fl, e * amp["add"] * np.sin(ph + np.pi + 1.2), 0.0,
                                     "left")}
        # tt may be any grid: interpolate the forward distance (xg is smooth on a 2.5 ms grid)
        x = np.interp(tt, g, xg)
        # heel strikes (one per step, near peak hip flexion of the leading leg): a short
        # downward dip of the pelvis whose acceleration is an upward spike of ≈ impact_ms2
        tau = (np.mod(ph, np.pi) - 0.5 * np.pi) / (2 * np.pi * f)   # time to nearest strike
        sig = 0.02
        dip = -amp["impact"] * sig * sig * np.exp(-0.5 * (tau / sig) ** 2)
        disp = np.stack([x + 0.3 * dip, e * (amp["bob"] * (np.cos(2 * ph) - 1.0) + dip),
                         e * amp["sway"] * np.sin(ph)], -1)
        return Channels(pel, disp, femur, e * 2.0 * np.sin(2 * ph))

    return Block("walking", dur, ev, reps=[], info={"speed_m_s": v, "stride_hz": f})


# ---------------------------------------------------------------------------------------------
# Calibration (docs/calibration.md)


def calibration(rng, sides: list[str], **_) -> Block:
    """docs/calibration.md: 5 s quiet standing, 3 slow hip hinges, 2 s still, 3 forward/back swings per
    instrumented leg standing on the other, 2 s still."""
    hinges, t = _schedule(rng, 3, 5.0, down=(1.8, 2.4), hold=(0.4, 0.8), up=(1.8, 2.4),
                          pause=(1.0, 1.4))
    for r in hinges:
        r.update(tilt=rng.uniform(35, 45), inc=rng.uniform(2, 6), shank=rng.uniform(2, 4),
                 rot=rng.uniform(-1, 1), obl=rng.uniform(-0.7, 0.7), shift_m=0.0,
                 lumbar=rng.uniform(2, 8), inc_asym=rng.uniform(-1, 1))
        r["design"] = "calibration_hinge"
    phases = [{"phase": "standing", "t0": 0.0, "t1": 5.0},
              {"phase": "hinges", "t0": hinges[0]["t0"], "t1": hinges[-1]["t1"]}]
    t = hinges[-1]["t1"] + 2.0
    phases.append({"phase": "still", "t0": hinges[-1]["t1"], "t1": t})
    swings = []
    for k, side in enumerate(sides):
        f = rng.uniform(0.6, 0.8)
        sw = {"side": side, "t0": t, "shift_s": 0.7, "f": f, "fwd": rng.uniform(25, 35),
              "back": rng.uniform(12, 20), "win_s": 0.45, "dur": 3.0 / f + 0.9,
              "shift_m": rng.uniform(0.03, 0.05)}
        sw["swing_t0"] = t + 0.8
        sw["t1"] = sw["swing_t0"] + sw["dur"] + 0.8
        swings.append(sw)
        phases.append({"phase": f"swings_{side}", "t0": sw["t0"], "t1": sw["t1"]})
        t = sw["t1"] + 2.0
        phases.append({"phase": "still", "t0": sw["t1"], "t1": t})
    dur = t
    hinge_ev = _double_stance_eval(hinges)

    def ev(tt: np.ndarray) -> Channels:
        ch = hinge_ev(tt)
        pel = ch.pelvis_deg
        n_ = len(tt)
        flex = {"right": np.zeros(n_), "left": np.zeros(n_)}
        shift = np.zeros(n_)
        for sw in swings:
            stance = _other(sw["side"])
            s_rel = tt - sw["swing_t0"]
            w = bump(tt, sw["swing_t0"], sw["win_s"], sw["dur"] - 2 * sw["win_s"], sw["win_s"])
            sn = np.sin(2 * np.pi * sw["f"] * (s_rel - 0.15))
            # forward peak fwd, backward peak −back, smooth (sin and sin² terms)
            fl = w * (0.5 * (sw["fwd"] + sw["back"]) * sn
                      + 0.5 * (sw["fwd"] - sw["back"]) * sn * sn)
            flex[sw["side"]] += fl
            pel[:, 0] += 0.08 * fl
            shift += _sgn(stance) * sw["shift_m"] * bump(tt, sw["t0"], sw["shift_s"],
                                                         sw["t1"] - sw["t0"] - 2 * sw["shift_s"],
                                                         sw["shift_s"])
        R_WP = pelvis_matrix(pel[:, 0], pel[:, 1], pel[:, 2])
        disp = ch.disp_m
        femur = dict(ch.femur)
        for sw in swings:
            side = sw["side"]
            m = (tt >= sw["t0"]) & (tt <= sw["t1"])
            if m.any():
                disp[m] += _stance_disp(R_WP[m], _other(side))
                fem = np.array(femur[side])
                fem[m] = _free_femur(R_WP[m], flex[side][m], 0.0, 0.0, side)
                femur[side] = fem
        disp[:, 2] += shift
        return Channels(pel, disp, femur, ch.lumbar_deg)

    return Block("calibration", dur, ev, calibration=True, reps=hinges,
                 info={"phases": phases, "swings": [s["side"] for s in swings]})


BUILDERS = {"hinge": hinge, "squat": squat, "split_squat": split_squat,
            "single_leg_stance": single_leg_stance,
            "hip_airplane": hip_airplane, "single_leg_hinge": single_leg_hinge,
            "ir_hinge": ir_hinge, "posture": posture, "walking": walking}


def program_blocks(name: str, rng, *, sides: list[str], trunk: bool, reps: int | None,
                   duration_s: float | None = None) -> list[Block]:
    """Blocks of one named program (without the calibration prefix, except ``calibration``)."""
    kw = dict(reps=reps, trunk=trunk, sides=sides, duration_s=duration_s)
    if name == "calibration":
        return [calibration(rng, **kw)]
    if name == "demo":
        out = [hinge(rng, **kw)]
        for s in ("right", "left"):
            out.append(single_leg_stance(rng, side=s, **kw))
        out.append(hip_airplane(rng, side=sides[0], **kw))
        # the article's other two drills, shorter sets to keep the bundled recording small; drawn
        # from a child generator so the blocks above (and the gaps) stay as they were
        kw4 = dict(kw, reps=reps or 4)
        seq = getattr(rng.bit_generator, "seed_seq", None)
        sub = np.random.default_rng(seq.spawn(1)[0]) if seq is not None else rng
        out.append(single_leg_hinge(sub, side=sides[0], **kw4))
        out.append(ir_hinge(sub, side=sides[0], **kw4))
        return out
    if name in ("single_leg_stance", "hip_airplane", "split_squat", "single_leg_hinge", "ir_hinge"):
        stance_sides = (list(sides) if name in ("hip_airplane", "single_leg_hinge", "ir_hinge")
                        else ["right", "left"])
        return [BUILDERS[name](rng, side=s, **kw) for s in stance_sides]
    if name in BUILDERS:
        return [BUILDERS[name](rng, **kw)]
    raise ValueError(name)
