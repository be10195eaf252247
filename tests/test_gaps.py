"""Gaps are explicit: the .sto export fills short gaps by slerp and leaves longer ones as
OpenSim's NaN, on a uniform time column."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imu import quat as Q
from imu.cli import main

DEMO = Path(__file__).parents[1] / "recordings" / "demo.imu"


def turning(t):
    """A steady turn about a tilted axis: slerp between two of its samples is exact."""
    axis = np.array([0.3, 0.2, 0.93]) / np.linalg.norm([0.3, 0.2, 0.93])
    return Q.from_rotvec(np.outer(0.8 * t, axis))


def test_short_gaps_are_slerped_long_ones_stay_nan():
    t = np.arange(0, 10, 0.01)
    truth = turning(t)
    q = truth.copy()
    short = (t > 2.0) & (t < 2.3)
    long = (t > 5.0) & (t < 7.0)
    lead = t < 0.2
    q[short | long | lead] = np.nan
    filled, n = Q.fill_short_gaps(t, q, 0.5)
    assert n == short.sum() + lead.sum()
    assert np.all(Q.angle_deg(filled[short], truth[short]) < 1e-6)
    assert np.all(np.isnan(filled[long]))
    assert np.allclose(filled[lead], truth[np.flatnonzero(~lead)[0]])
    assert Q.fill_short_gaps(t, q, 0.0)[1] == 0


def read_sto(p: Path):
    lines = p.read_text().splitlines()
    body = lines[lines.index("endheader") + 2:]
    t = np.array([float(r.split("\t")[0]) for r in body])
    nan_rows = sum("nan" in r for r in body)
    return t, nan_rows


def test_sto_export_fills_packet_gaps_and_keeps_a_uniform_time_column(tmp_path, capsys):
    a, b = tmp_path / "a.sto", tmp_path / "b.sto"
    assert main(["export", str(DEMO), "-o", str(a)]) == 0
    assert main(["export", str(DEMO), "-o", str(b), "--max-gap-s", "0"]) == 0
    ta, nan_a = read_sto(a)
    tb, nan_b = read_sto(b)
    assert nan_a == 0 and nan_b > 100          # the demo's dropped packets
    assert len(ta) == len(tb)
    dt = np.diff(ta)
    assert np.ptp(dt) < 2e-6                     # uniform at DataRate (6 decimals)
    assert "gap samples filled by slerp" in capsys.readouterr().err
