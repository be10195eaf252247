"""Analysis settings: every threshold of docs/metrics.md with its default, overridable.

Settings are flat dotted keys (``"hinge.squat_inclination_deg"``) grouped by exercise. They come
from the defaults below, optionally a TOML file::

    [hinge]
    squat_inclination_deg = 30

    [single_leg]
    green_deg = 3.5

and command-line overrides (``--set hinge.squat_inclination_deg=30``). Unknown keys and values
of the wrong type are refused with a one-line :class:`~imu.errors.BadInputError`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from imu.errors import BadInputError, shown

#: key -> (default, one-line description). Units are in the key names.
DEFAULTS: dict[str, tuple[float, str]] = {
    # common
    "common.baseline_window_s": (1.0, "standing baseline = median over a quiet window this long before a rep"),
    "common.quiet_range_deg": (2.5, "a baseline window is quiet when the rep signal moves at most this in it"),
    "common.baseline_lookback_s": (8.0, "the quiet window is searched this far before a rep (before the set's "
                                        "start too); none found: the calibration's neutral"),
    # hinge
    "hinge.rep_threshold_deg": (15.0, "a rep is a hip-flexion excursion above standing larger than this"),
    "hinge.return_band_deg": (5.0, "a rep is bounded where flexion is back within this of standing"),
    "hinge.squat_inclination_deg": (25.0, "fault squat_pattern: thigh inclination peak above this"),
    "hinge.twist_range_deg": (6.0, "fault pelvic_twist: pelvis rotation range above this"),
    "hinge.shift_range_deg": (4.0, "fault lateral_shift: pelvis obliquity range above this"),
    "hinge.lumbar_flexion_deg": (20.0, "fault lumbar_flexion: lumbar flexion above standing beyond this"),
    "hinge.min_rep_s": (0.4, "excursions shorter than this are not reps (sensor glitches)"),
    "hinge.score_squat_penalty": (30.0, "score points lost for squat_pattern"),
    "hinge.score_twist_penalty": (15.0, "score points lost for pelvic_twist"),
    "hinge.score_shift_penalty": (15.0, "score points lost for lateral_shift"),
    "hinge.score_lumbar_penalty": (25.0, "score points lost for lumbar_flexion"),
    "hinge.score_share_target": (0.8, "pelvis_share at or above this costs nothing"),
    "hinge.score_share_penalty": (20.0, "points lost at pelvis_share 0 (linear from the target)"),
    "hinge.score_min_tempo_s": (0.6, "descents faster than this lose points"),
    "hinge.score_tempo_penalty": (10.0, "points lost for a descent faster than score_min_tempo_s"),
    # single-leg hinge (stance leg)
    "single_leg_hinge.rep_threshold_deg": (15.0, "a rep is a stance-hip flexion excursion above standing larger than this"),
    "single_leg_hinge.return_band_deg": (5.0, "a rep is bounded where stance-hip flexion is back within this of standing"),
    "single_leg_hinge.min_rep_s": (0.4, "excursions shorter than this are not reps"),
    "single_leg_hinge.opening_deg": (8.0, "fault pelvis_opening: pelvis rotation toward the free leg above this"),
    "single_leg_hinge.drop_deg": (5.0, "fault pelvic_drop: pelvic drop on the free-leg side above this"),
    "single_leg_hinge.squat_inclination_deg": (25.0, "fault squat_pattern: stance thigh inclination above this"),
    "single_leg_hinge.lumbar_flexion_deg": (20.0, "fault lumbar_flexion: lumbar flexion above standing beyond this"),
    "single_leg_hinge.score_opening_penalty": (15.0, "score points lost for pelvis_opening"),
    "single_leg_hinge.score_drop_penalty": (15.0, "score points lost for pelvic_drop"),
    "single_leg_hinge.score_squat_penalty": (30.0, "score points lost for squat_pattern"),
    "single_leg_hinge.score_lumbar_penalty": (25.0, "score points lost for lumbar_flexion"),
    "single_leg_hinge.score_share_target": (0.8, "pelvis_share at or above this costs nothing"),
    "single_leg_hinge.score_share_penalty": (20.0, "points lost at pelvis_share 0 (linear from the target)"),
    "single_leg_hinge.score_min_tempo_s": (0.6, "descents faster than this lose points"),
    "single_leg_hinge.score_tempo_penalty": (10.0, "points lost for a descent faster than score_min_tempo_s"),
    # internal-rotation hinge (stance leg)
    "ir_hinge.rep_threshold_deg": (15.0, "a rep is a stance-hip flexion excursion above standing larger than this"),
    "ir_hinge.return_band_deg": (5.0, "a rep is bounded where stance-hip flexion is back within this of standing"),
    "ir_hinge.min_rep_s": (0.4, "excursions shorter than this are not reps"),
    "ir_hinge.min_internal_rotation_deg": (5.0, "fault no_internal_rotation: stance-hip IR peak below this"),
    "ir_hinge.shift_range_deg": (4.0, "fault lateral_shift: pelvis obliquity range above this"),
    "ir_hinge.lumbar_twist_deg": (10.0, "fault lumbar_twist: trunk rotation relative to the pelvis above this"),
    "ir_hinge.score_no_rotation_penalty": (30.0, "score points lost for no_internal_rotation"),
    "ir_hinge.score_shift_penalty": (15.0, "score points lost for lateral_shift"),
    "ir_hinge.score_twist_penalty": (25.0, "score points lost for lumbar_twist"),
    "ir_hinge.score_share_target": (0.8, "pelvis_share at or above this costs nothing"),
    "ir_hinge.score_share_penalty": (20.0, "points lost at pelvis_share 0 (linear from the target)"),
    "ir_hinge.score_min_tempo_s": (0.6, "descents faster than this lose points"),
    "ir_hinge.score_tempo_penalty": (10.0, "points lost for a descent faster than score_min_tempo_s"),
    # single-leg stance
    "single_leg.lift_threshold_deg": (20.0, "a hold starts when the lifted hip flexes past this"),
    "single_leg.min_hold_s": (0.5, "holds shorter than this are ignored"),
    "single_leg.merge_gap_s": (0.3, "a lift dropping below threshold for less than this continues the hold"),
    "single_leg.final_window_s": (1.0, "pelvic_drop_final_deg: mean over the hold's last window"),
    "single_leg.initial_window_s": (0.5, "drift reference: mean pelvic drop over the hold's first window"),
    "single_leg.reference_standing": (0.0, "1: pelvic drop relative to the pelvis just before the lift; "
                                           "0: against the calibration pose"),
    "single_leg.band_deg": (3.0, "time_in_band_pct counts |change| below this"),
    "single_leg.green_deg": (4.0, "grade green when pelvic_drop_max_deg is below this"),
    "single_leg.amber_deg": (8.0, "grade amber when pelvic_drop_max_deg is below this, else red"),
    # hip airplane
    "airplane.rep_threshold_deg": (10.0, "a rep is a stance-hip rotation excursion larger than this"),
    "airplane.return_band_deg": (3.0, "a rep is bounded where rotation is back within this of standing"),
    "airplane.min_excursion_deg": (5.0, "a rotation stretch beyond the band is an excursion once it reaches this"),
    "airplane.pause_s": (1.0, "a pause at neutral longer than this ends a rep after its first excursion"),
    "airplane.low_confidence": (0.5, "heading-hold confidence below this is flagged in the report"),
    # squat / split squat
    "squat.rep_threshold_deg": (15.0, "a rep is a hip-flexion excursion above standing larger than this"),
    "squat.return_band_deg": (5.0, "a rep is bounded where flexion is back within this of standing"),
    "squat.min_rep_s": (0.4, "excursions shorter than this are not reps"),
    "squat.collapse_threshold_deg": (8.0, "fault knee_collapse: collapse_index above this"),
    "squat.rotation_weight": (0.5, "collapse_index = adduction + weight * internal rotation"),
    # walking
    "walking.peak_hysteresis_deg": (8.0, "a hip-flexion peak is confirmed once flexion falls this far below it"),
    "walking.min_range_deg": (15.0, "strides with a smaller hip-flexion range are not counted"),
    "walking.min_stride_s": (0.6, "strides shorter than this are not counted"),
    "walking.max_stride_s": (2.5, "strides longer than this are not counted"),
    "walking.stance_fraction": (0.6, "the leg's stance: this first part of its stride after the heel strike"),
    "walking.min_strides": (3, "a walking bout holds at least this many strides (both legs)"),
    "walking.max_pause_s": (2.0, "a pause longer than this between strides ends a walking bout"),
    # posture
    "posture.zone_deg": (5.0, "time_in_zone_pct counts |pelvis_tilt| below this"),
    "posture.return_window_s": (1.0, "return_error_deg: median |tilt| over the set's last window"),
}

#: TOML section -> key prefix (both spellings accepted).
_SECTION_ALIASES = {"single_leg_stance": "single_leg", "hip_airplane": "airplane",
                    "split_squat": "squat", "internal_rotation_hinge": "ir_hinge"}


@dataclass(frozen=True)
class Settings:
    """Analysis thresholds (docs/metrics.md defaults unless overridden).

    Parameters
    ----------
    values : mapping of dotted key -> float
        Overrides; missing keys take :data:`DEFAULTS`.
    source : str
        Where the overrides came from (shown in the report).
    """

    values: Mapping[str, float] = field(default_factory=dict)
    source: str = "defaults"

    def __post_init__(self):
        merged = {k: v for k, (v, _) in DEFAULTS.items()}
        merged.update(_validated(self.values, self.source))
        _check_coherent(merged, self.source)
        object.__setattr__(self, "values", merged)

    def __getitem__(self, key: str) -> float:
        try:
            return self.values[key]
        except KeyError:
            raise KeyError(f"unknown analysis setting {key!r}") from None

    def section(self, prefix: str) -> dict[str, float]:
        """Settings of one section without the prefix: ``section("hinge")["rep_threshold_deg"]``."""
        p = prefix + "."
        out = {k[len(p):]: v for k, v in self.values.items() if k.startswith(p)}
        out.update({k[len("common."):]: v for k, v in self.values.items()
                    if k.startswith("common.")})
        return out

    def changed(self) -> dict[str, float]:
        """Keys whose value differs from the SPEC default."""
        return {k: v for k, v in self.values.items() if v != DEFAULTS[k][0]}

    def as_dict(self) -> dict[str, float]:
        return dict(self.values)

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> "Settings":
        """Settings from a TOML file with one table per section (``[hinge]``, ``[single_leg]``…)."""
        path = Path(path)
        try:
            if path.stat().st_size > 1 << 20:
                raise BadInputError(f"settings file {path} is larger than 1 MB")
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise BadInputError(f"settings file not found: {path}") from None
        except IsADirectoryError:
            raise BadInputError(f"settings file {path} is a folder, not a TOML file") from None
        except tomllib.TOMLDecodeError as exc:
            raise BadInputError(f"settings file {path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise BadInputError(f"settings file {path} is not UTF-8 text") from None
        except RecursionError:
            raise BadInputError(f"settings file {path} is nested too deeply") from None
        flat: dict[str, Any] = {}
        for section, table in data.items():
            if not isinstance(table, dict):
                raise BadInputError(f"settings file {path}: {shown(section)} must be a table like [hinge]")
            section = _SECTION_ALIASES.get(section, section)
            for key, value in table.items():
                flat[f"{section}.{key}"] = value
        return cls(flat, source=str(path))

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "command line") -> "Settings":
        """A copy with ``overrides`` (dotted keys; values numbers or numeric strings) applied."""
        merged = dict(self.values)
        merged.update(_validated(overrides, source))
        src = self.source if not overrides else (
            source if self.source == "defaults" else f"{self.source} + {source}")
        return Settings(merged, source=src)

    @staticmethod
    def parse_assignments(items: list[str]) -> dict[str, str]:
        """``["hinge.squat_inclination_deg=30"]`` -> ``{"hinge.squat_inclination_deg": "30"}``."""
        out = {}
        for item in items or []:
            if "=" not in item:
                raise BadInputError(f"--set {item!r}: expected KEY=VALUE, e.g. hinge.squat_inclination_deg=30")
            k, v = item.split("=", 1)
            out[k.strip()] = v.strip()
        return out


def _validated(values: Mapping[str, Any], source: str) -> dict[str, float]:
    out = {}
    for key, value in dict(values).items():
        prefix = key.split(".", 1)[0]
        if prefix in _SECTION_ALIASES:
            key = _SECTION_ALIASES[prefix] + key[len(prefix):]
        if key not in DEFAULTS:
            raise BadInputError(f"unknown analysis setting {shown(key)} (from {source}); "
                                f"known: {', '.join(sorted(DEFAULTS))}")
        if key in FLAGS:
            flag = {True: 1.0, False: 0.0, 1: 1.0, 0: 0.0, "1": 1.0, "0": 0.0, "true": 1.0,
                    "false": 0.0}.get(value if not isinstance(value, str) else value.lower())
            if flag is None or isinstance(value, float) and value not in (0.0, 1.0):
                raise BadInputError(f"analysis setting {key} (from {source}) is a flag: "
                                    f"true/false or 1/0, got {shown(value)}")
            out[key] = flag
            continue
        if isinstance(value, bool):
            raise BadInputError(f"analysis setting {key} (from {source}) must be a number, got {shown(value)}")
        try:
            f = float(value)
        except (TypeError, ValueError, OverflowError):
            raise BadInputError(f"analysis setting {key} (from {source}) must be a number, "
                                f"got {shown(value)}") from None
        lo, hi, lo_open = _range(key)
        if not (math.isfinite(f) and (f > lo if lo_open else f >= lo) and f <= hi):
            raise BadInputError(f"analysis setting {key} (from {source}) must be a finite number "
                                f"{'above' if lo_open else 'from'} {lo:g} to {hi:g}, "
                                f"got {shown(value)}")
        out[key] = f
    return out


#: Settings that are on/off switches (stored as 1.0 / 0.0).
FLAGS = ("single_leg.reference_standing",)
#: (smaller, larger): the first must stay below the second.
ORDERED = (("single_leg.green_deg", "single_leg.amber_deg"),
           ("hinge.return_band_deg", "hinge.rep_threshold_deg"),
           ("airplane.return_band_deg", "airplane.rep_threshold_deg"),
           ("squat.return_band_deg", "squat.rep_threshold_deg"))


def _range(key: str) -> tuple[float, float, bool]:
    """(low, high, low excluded) of a setting, from its name."""
    name = key.split(".", 1)[1]
    if "penalty" in name:
        return 0.0, 100.0, False
    if name in ("score_share_target", "low_confidence"):
        return 0.0, 1.0, False
    if name == "rotation_weight":
        return 0.0, 10.0, False
    if name.endswith("_deg"):
        return 0.0, 180.0, True
    if name.endswith("_s"):  # windows must hold something; minimum durations may be 0
        return 0.0, 3600.0, "window" in name
    return 0.0, 1e6, False


def _check_coherent(values: Mapping[str, float], source: str) -> None:
    """Bands ordered (green below amber, return bands below rep thresholds)."""
    for small, large in ORDERED:
        if not values[small] < values[large]:
            raise BadInputError(f"analysis settings (from {source}): {small} = {values[small]:g} "
                                f"must be below {large} = {values[large]:g}")
