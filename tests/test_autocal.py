"""Calibration without the protocol: standing + walking / hinges against simulator truth."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from imu.calibration import calibrate, calibrate_auto
from imu.cli import main
from imu.kinematics.pipeline import compute_angles
from imu.sim import simulate


@functools.lru_cache(maxsize=None)
def sim(program):
    kw = {"duration_s": 35.0} if program == "walking" else {"reps": 4}
    return simulate(program, rate_hz=60.0, seed=7321, errors=True, calibration=False, **kw)


def rmse_by_column(res, profile):
    table = compute_angles(res.session, profile.alignment())
    out = {}
    for c in table.names():
        est = np.interp(res.truth_time_s, table.time_s, table[c], left=np.nan, right=np.nan)
        out[c] = float(np.sqrt(np.nanmean((est - res.truth_angles[c]) ** 2)))
    return out


@pytest.mark.parametrize("program", ["walking", "hinge"])
def test_auto_calibration_angles_match_truth(program):
    res = sim(program)
    prof = calibrate(res.session)  # no protocol in the session: falls back to auto
    assert prof.method == "auto" and prof.quality["auto_verdict"] in ("good", "fair")
    err = rmse_by_column(res, prof)
    for c, v in err.items():
        limit = 4.0 if c.endswith(("rotation", "adduction", "obliquity")) else 2.5
        assert v < limit, (c, v)


def test_pelvis_axis_from_the_walking_direction_when_the_pelvis_barely_turns():
    prof = calibrate_auto(sim("walking").session)
    assert prof.quality["auto"]["sacrum"]["method"] == "travel direction"
    assert prof.quality["auto"]["right_thigh"]["method"] == "rotation axis"


def test_calibrate_command_reports_method_and_records_it(tmp_path, capsys):
    from imu.session.store import write_session

    rec = tmp_path / "h.imu"
    write_session(sim("hinge").session, rec)
    assert main(["calibrate", str(rec), "--method", "protocol", "-o", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "error:" in err[-1] and "protocol" in err[-1]
    assert main(["calibrate", str(rec), "-o", str(tmp_path / "a.json")]) == 0
    out = capsys.readouterr().out
    assert "method auto" in out and "quality" in out
    assert json.loads((tmp_path / "a.json").read_text())["method"] == "auto"
    assert main(["analyze", str(rec), "--exercise", "hinge", "--json",
                 str(tmp_path / "x.json")]) == 0
    res = json.loads((tmp_path / "x.json").read_text())
    assert res["session"]["calibration_method"] == "auto"
    assert res["session"]["calibration_quality"]["method"] == "auto"
