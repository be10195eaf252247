"""Which role a foreign sensor file had: ``--role KEY=ROLE`` mappings and common names.

KEY is whatever names a sensor in the file it came from: a Movella DOT device tag or address,
an Xsens device id (the ``00B49D7B`` in ``MT_…_00B49D7B.txt``), a file name or stem, or an
OpenSense ``.sto`` column. Without a mapping, common segment names map by themselves
(``pelvis``/``sacrum``, ``femur_r``/``RFemur``/``RightUpperLeg``/``thigh_r``…,
``torso``/``trunk``/``back``…); anything else has no role and is skipped by the importers.
"""

from __future__ import annotations

import re

from imu.errors import BadInputError
from imu.types import ROLES

#: normalised name (lower case, letters and digits only) → role
_NAMES = {
    "sacrum": "sacrum", "pelvis": "sacrum", "pelvisimu": "sacrum", "hips": "sacrum",
    "waist": "sacrum", "lowerback": "sacrum",
    "trunk": "trunk", "torso": "trunk", "torsoimu": "trunk", "back": "trunk", "chest": "trunk",
    "lumbar": "trunk", "sternum": "trunk", "thorax": "trunk", "upperback": "trunk",
}
for _side, _s, _full in (("right", "r", "right"), ("left", "l", "left")):
    for _seg in ("thigh", "femur", "upperleg"):
        for _n in (f"{_full}{_seg}", f"{_seg}{_full}", f"{_s}{_seg}", f"{_seg}{_s}",
                   f"{_seg}{_s}imu", f"{_full}{_seg}imu"):
            _NAMES[_n] = f"{_side}_thigh"
    _NAMES[f"{_side}_thigh"] = f"{_side}_thigh"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _tokens(name: str) -> list[str]:
    """Candidate names inside ``name``: the whole, and runs of words split at ``_ - . space``
    and camel case (``RFemur_2021`` → ``rfemur``, ``RightUpperLeg`` → ``rightupperleg``)."""
    parts = [p for p in re.split(r"[\s_\-.]+", name) if p]
    out = [name]
    for k in range(len(parts)):
        for j in range(k + 1, min(len(parts), k + 3) + 1):
            out.append("".join(parts[k:j]))
    return out


def guess_role(*names: str) -> str | None:
    """The role a common segment name inside any of ``names`` stands for, or None."""
    for name in names:
        if not name:
            continue
        for tok in _tokens(name):
            role = _NAMES.get(_norm(tok))
            if role:
                return role
    return None


def parse_role_args(items) -> dict[str, str]:
    """``["KEY=ROLE", ...]`` → ``{KEY: ROLE}``; a malformed item is a one-line BadInputError.

    ROLE may also be a common name (``pelvis``, ``femur_r``…) or ``none``/``skip`` to leave a
    sensor out.
    """
    out = {}
    for item in items or []:
        key, sep, role = item.rpartition("=")
        role = role.strip()
        mapped = role if role in ROLES else ("skip" if role.lower() in ("none", "skip")
                                             else guess_role(role))
        if not sep or not key or mapped is None:
            raise BadInputError(f"--role {item}: expected KEY=ROLE with ROLE one of "
                                f"{', '.join(ROLES)} (or skip)")
        out[key.strip()] = mapped
    return out


def lookup_role(roles: dict[str, str] | None, *keys: str) -> str | None:
    """The mapped role of the first of ``keys`` found in ``roles`` (case-insensitive), or None."""
    if not roles:
        return None
    low = {k.lower(): v for k, v in roles.items()}
    for k in keys:
        if k and k.lower() in low:
            return low[k.lower()]
    return None


def role_for(roles: dict[str, str] | None, keys, names) -> str | None:
    """Role from the ``--role`` mapping (any of ``keys``), else a common name in ``names``;
    ``None`` when neither names one, ``"skip"`` when the mapping says to leave it out."""
    r = lookup_role(roles, *keys)
    if r is not None:
        return r
    return guess_role(*names)


def note_unmatched_roles(roles: dict[str, str] | None, keys, shown, on_note=None,
                         label: str = "keys") -> None:
    """Note each ``--role KEY=ROLE`` whose key is none of ``keys`` (lower case): one line
    listing ``shown`` (the keys to tell the user), to ``on_note`` (the CLI shows it as a note)
    or else the log. A mistyped key would otherwise go unnoticed."""
    for key, role in (roles or {}).items():
        if key.lower() not in keys:
            note = (f"--role {key}={role} matches no sensor here ({label}: "
                    f"{', '.join(sorted(set(shown)))})")
            if on_note is not None:
                on_note(note)
            else:
                from imu.log import get_logger

                get_logger(__name__).info(note)
