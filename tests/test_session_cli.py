"""``imu import`` / ``imu export`` / ``imu info`` end to end, and a simulator round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imu.cli import main
from imu.commands.info import sensor_summary
from imu.session.csvfolder import read_csv_folder, write_csv_folder
from imu.session.load import load_session
from imu.session.store import RecordingWriter, read_recording, write_session
from imu.types import Event, SampleBlock, SensorData, SensorInfo

DOT = Path(__file__).parent / "data" / "movella_dot"


@pytest.fixture(scope="module")
def sim():
    from imu.sim import simulate
    return simulate("hinge", reps=1, rate_hz=104, seed=11, calibration=False)


def test_simulated_session_round_trips_through_recording_and_csv(sim, tmp_path):
    s = sim.session
    rec = write_session(s, tmp_path / "sim.imu")
    back = read_recording(rec)
    assert back.roles == s.roles
    for r in s.roles:
        a, b = s.sensors[r], back.sensors[r]
        for f in ("seq", "t_sensor_s", "t_host_s", "acc", "gyr"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), (r, f)
        assert b.info.rate_hz == a.info.rate_hz and b.info.sensor_id == a.info.sensor_id
    assert [(e.t_s, e.kind, e.exercise) for e in back.events] == \
           [(e.t_s, e.kind, e.exercise) for e in s.events]
    # CSV export puts every sensor on the session clock (clock model), acc/gyr exact
    out = tmp_path / "csv"
    write_csv_folder(back, out)
    c = read_csv_folder(out)
    for r in s.roles:
        assert np.array_equal(c.sensors[r].acc, s.sensors[r].acc)
        t = c.sensors[r].t_host_s
        assert np.all(np.diff(t) > 0)
        # the exported time is the true sample time within the clock model's accuracy
        assert abs(t[0] - s.sensors[r].t_host_s[0]) < 0.1


def test_import_export_info_commands(tmp_path, capsys):
    rec = tmp_path / "dot.imu"
    assert main(["import", str(DOT), "--role", "3=left_thigh", "-o", str(rec)]) == 0
    assert main(["info", str(rec), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [x["role"] for x in info["sensors"]] == ["sacrum", "right_thigh", "left_thigh"]
    assert [x["samples"] for x in info["sensors"]] == [120, 120, 60]
    assert all(x["rate_measured_hz"] == pytest.approx(60.0, abs=0.01) for x in info["sensors"])
    out = tmp_path / "exported"
    assert main(["export", str(rec), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["left_thigh.csv", "right_thigh.csv",
                                                     "sacrum.csv", "session.json"]
    again = load_session(out)
    assert np.array_equal(again.sensors["sacrum"].gyr, read_recording(rec).sensors["sacrum"].gyr)


def test_output_path_is_written_exactly_whatever_its_name(tmp_path):
    rec = tmp_path / "my session.data"
    assert main(["import", str(DOT / "DOT_sacrum_20240312_101502.csv"), "-o", str(rec)]) == 0
    assert rec.is_file() and read_recording(rec).roles == ["sacrum"]


def test_info_counts_gaps_drops_duplicates_and_events(tmp_path, capsys):
    n = 400
    seq = np.arange(n)
    keep = np.ones(n, bool)
    keep[100:110] = False  # a gap of 10 samples
    keep[300:301] = False  # and one of 1
    seq = np.concatenate([seq[keep], [seq[keep][-1]]])  # one duplicate at the end
    t = seq / 200.0
    d = SensorData(SensorInfo("a", "sacrum", "sim", 200.0), seq, t + 7.0, t + 0.01,
                   np.zeros((len(seq), 3)), np.zeros((len(seq), 3)))
    x = sensor_summary(d)
    assert (x["gaps"], x["missing"], x["duplicates"]) == (2, 11, 1)
    assert x["rate_measured_hz"] == pytest.approx(200.0)
    assert x["longest_gap_s"] == pytest.approx(11 / 200.0)
    p = tmp_path / "s.imu"
    with RecordingWriter(p, {"subject": "P1"}, [d.info]) as w:
        w.add_block("sacrum", SampleBlock("a", d.seq, d.t_sensor_s, d.t_host_s, d.acc, d.gyr))
        w.add_event(Event(0.5, "set_start", exercise="single_leg_stance", side="left"))
        w.add_event(Event(1.5, "set_end", exercise="single_leg_stance", side="left",
                          note="wobbly"))
    assert main(["info", str(p)]) == 0
    text = capsys.readouterr().out
    assert "subject: P1" in text and "single_leg_stance left" in text and '"wobbly"' in text
    row = next(ln for ln in text.splitlines() if ln.strip().startswith("sacrum"))
    cells = row.split()
    assert cells[3:7] == ["raw", "200", "200.00", str(len(seq))]
    assert float(cells[7]) == pytest.approx(t[-1] - t[0], abs=0.006)
    assert cells[8:13] == ["2", "11", "0.055", "1", "0"]


def test_export_dispatches_sto_by_format_or_suffix(sim, tmp_path):
    rec = write_session(sim.session, tmp_path / "sim.imu")
    out = tmp_path / "table.sto"
    # .sto suffix selects sto (the session has no calibration protocol)
    assert main(["export", str(rec), "--uncalibrated", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert "DataType=Quaternion" in lines and lines[5].split("\t")[0] == "time"
    assert main(["export", str(rec), "--format", "sto", "--uncalibrated",
                 "-o", str(tmp_path / "t.txt")]) == 0
    assert (tmp_path / "t.txt").read_text().splitlines()[:6] == lines[:6]


def test_info_finds_gaps_from_time_in_a_csv_folder(tmp_path):
    t = np.arange(300) / 100.0
    t = np.concatenate([t[:100], t[105:]])  # 5 samples dropped
    lines = ["time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"] + [f"{float(x)!r},0,0,9.8,0,0,0" for x in t]
    (tmp_path / "sacrum.csv").write_text("\n".join(lines) + "\n")
    x = sensor_summary(load_session(tmp_path).sensors["sacrum"])
    assert (x["gaps"], x["missing"], x["gap_source"]) == (1, 5, "time")
    assert x["rate_measured_hz"] == pytest.approx(100.0)


def test_info_counts_replayed_packets_as_duplicates_not_resets():
    # a DOT resends 11 packets it already sent (seq and sensor time repeat), later its counter
    # and clock restart (a real reset)
    seq = np.arange(400)
    idx = np.r_[0:211, 200:211, 211:400]
    ts = 5.0 + seq / 120.0
    seq2 = np.concatenate([seq[idx], np.arange(50)])
    ts2 = np.concatenate([ts[idx], 0.5 + np.arange(50) / 120.0])
    d = SensorData(SensorInfo("a", "sacrum", "Movella DOT", 120.0), seq2, ts2, ts2.copy(),
                   np.zeros((len(seq2), 3)), np.zeros((len(seq2), 3)))
    x = sensor_summary(d)
    assert (x["duplicates"], x["seq_resets"], x["gaps"]) == (11, 1, 0)
