import os

from live_helpers import recording, sim, truth_reps, write_recording


def test_headless_demo_replays_a_session_through_the_pipeline_and_prints_its_summary(tmp_path, capsys):
    from imu.cli import main

    rec = recording(tmp_path)
    hinge_end = next(e.t_s for e in sim().session.events if e.kind == "set_end")
    assert main(["demo", "--headless", "--session", rec, "--seconds", f"{hinge_end + 2:.0f}"]) == 0
    out = capsys.readouterr().out
    reps, _ = truth_reps()
    assert "3 sensors" in out and "sacrum" in out and "right_thigh" in out
    assert "calibration: calibrated from the protocol at 0–" in out
    assert f"set 1: hip hinge" in out and f"{len(reps)} reps" in out
    assert out.count("Rep ") == len(reps) and "score" in out


def test_demo_without_a_display_says_so_in_one_line_and_falls_back(tmp_path, capsys, monkeypatch):
    from imu.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert main(["demo", "--session", recording(tmp_path), "--seconds", "10"]) == 0
    captured = capsys.readouterr()
    first = captured.err.strip().splitlines()[0]
    assert first.startswith("imu demo: no display") and "headless" in first
    assert "no exercise sets" in captured.out


def test_demo_rejects_bad_numbers_with_one_line(capsys):
    from imu.cli import main

    assert main(["demo", "--headless", "--seconds", "-3"]) == 2
    assert main(["demo", "--speed", "0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(l.startswith("imu demo: error:") for l in lines)


def test_user_data_dir_follows_the_environment(tmp_path, monkeypatch):
    from imu.live.paths import new_session_path, user_data_dir

    monkeypatch.setenv("IMU_DATA_DIR", str(tmp_path / "d"))
    assert user_data_dir() == tmp_path / "d"
    p = new_session_path("demo")
    assert p.parent == tmp_path / "d" / "sessions" and p.name.startswith("demo-")
    monkeypatch.delenv("IMU_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "x"))
    assert user_data_dir() == tmp_path / "x" / "imu"


def test_demo_with_a_display_runs_the_dashboard_on_simulated_sensors_and_records(tmp_path, capsys,
                                                                                monkeypatch):
    from imu.cli import main
    from imu.session.store import read_recording

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("IMU_DATA_DIR", str(tmp_path))
    assert main(["demo", "--seconds", "12", "--speed", "3"]) == 0
    err = capsys.readouterr().err
    files = list((tmp_path / "sessions").glob("demo-*.imu"))
    assert len(files) == 1 and f"recording to {files[0]}" in err
    rec = read_recording(files[0])
    assert set(rec.sensors) == {"sacrum", "right_thigh", "left_thigh"}
    assert all(len(d) > 10 * 104 for d in rec.sensors.values())     # ~12 s at 104 Hz each
    # calibration skipped: the hinge set begins at once, scored reps within the first 12 s, and
    # the simulator's mounting is embedded so the recording replays with angles
    assert rec.events and rec.events[0].kind == "set_start" and rec.events[0].exercise == "hinge"
    reps = int(err.rsplit(" reps,", 1)[0].rsplit(", ", 1)[-1])
    assert reps >= 1
    assert rec.calibration["source"].startswith("calibration skipped")


def test_demo_can_run_the_calibration_protocol_first(tmp_path, capsys, monkeypatch):
    from imu.cli import main
    from imu.session.store import read_recording

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("IMU_DATA_DIR", str(tmp_path))
    assert main(["demo", "--calibrate", "--seconds", "6", "--speed", "3"]) == 0
    rec = read_recording(next((tmp_path / "sessions").glob("demo-*.imu")))
    assert rec.events and rec.events[0].kind == "calibration_start"  # the program began at once


def test_live_command_refuses_bad_role_maps_and_a_missing_display(capsys, monkeypatch):
    from imu.cli import main

    assert main(["live", "--right-thigh", "AA:BB"]) == 2                    # no sacrum
    assert main(["live", "--sacrum", "AA:BB"]) == 2                         # no thigh
    assert main(["live", "--sacrum", "A", "--left-thigh", "B", "--simulate"]) == 2
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert main(["live", "--simulate"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(l.startswith("imu live: error:") for l in lines)
    assert "imu record" in lines[-1]


def test_the_imu_package_and_its_commands_never_import_qt_or_the_gui():
    import subprocess
    import sys

    code = ("import sys, imu.cli, imu.live.pipeline, imu.live.player, imu.sources.replay;"
            "imu.cli.build_parser();"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph') or m.startswith('imu.gui')];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_demo_pipeline_scores_the_first_rep_when_a_sensor_streams_late():
    """The demo's live path (simulated sensors over the virtual BLE link, the simulator's
    mounting as calibration): the left thigh's first notifications are held up 2 s and then
    come in a burst (as on a busy machine). The first hinge rep is still found, with the
    simulator's peak hip flexion (its clock must not put the late sensor's samples late)."""
    import asyncio

    from imu.chain import simulator_profile
    from imu.live.pipeline import LivePipeline
    from imu.sources.simulated import SimulatedSource

    class LateLeftThigh(SimulatedSource):
        async def start(self):
            await super().start()
            vs = self.virtual["left_thigh"]
            vs.paused = True                  # its samples wait in the sensor's FIFO

            async def resume():
                await asyncio.sleep(2.0 / self.speed)
                vs.paused = False
            self._resume = asyncio.ensure_future(resume())

    src = LateLeftThigh("demo", rate_hz=104, seed=0, speed=3.0, calibration=False)
    pipe = LivePipeline(src, profile=simulator_profile(src))
    pipe.run_blocking(9.0)
    first = src.simulate().truth_sets[0]["reps"][0]
    assert len(pipe.reps) == 1
    rep = pipe.reps[0]
    assert abs(rep["start_s"] - pipe.t_first_s - first["start_s"]) < 0.5
    assert abs(rep["hip_flexion_peak_deg"] - first["hip_flexion_peak_deg"]) < 2.0


def test_demo_headless_with_an_output_says_it_records_nothing(tmp_path, capsys):
    """``imu demo --headless -o X`` replayed the bundled session with exit 0, X never written."""
    from imu.cli import main

    assert main(["demo", "--headless", "-o", str(tmp_path / "x.imu")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--headless records nothing" in err[0]
    assert not (tmp_path / "x.imu").exists()


def test_headless_demo_of_a_session_whose_calibration_is_lost_fails_as_imu_analyze_does(
        tmp_path, capsys):
    """Nothing can be scored without a calibration: the headless replay ends with the one-line
    error of ``imu analyze`` and exit status 2 (it ended with 0 and "0 reps")."""
    from imu.cli import main

    # the simulated session's first 15 s: its calibration protocol (41.6 s) cut short
    rec = write_recording(sim().session, str(tmp_path / "cut.imu"), until_s=15.0)
    assert main(["analyze", rec]) == 2
    analyze_err = capsys.readouterr().err.strip().splitlines()[-1]
    assert main(["demo", "--headless", "--session", rec]) == 2
    captured = capsys.readouterr()
    assert "3 sensors" in captured.out                    # the summary still comes first
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("imu demo: error: ") and "Traceback" not in captured.err
    reason = analyze_err.removeprefix("imu analyze: error: ").split("; pass --calibration")[0]
    assert "no calibration phase could be used" in reason and reason in last
    # stopped by --seconds before the protocol could end: nothing refused, no error
    assert main(["demo", "--headless", "--session", rec, "--seconds", "10"]) == 0


def test_headless_demo_of_a_recording_with_a_stored_calibration_scores_its_reps(tmp_path, capsys):
    """A recording without a calibration phase whose calibration is stored in it (what `imu demo`
    records: the simulator's mounting) is replayed with that calibration, as `imu analyze`
    does: every true rep is scored (it gave "not calibrated" and 0 reps)."""
    from imu.cli import main
    from live_helpers import hinge_sim, sim_profile

    res = hinge_sim()
    path = write_recording(res.session, str(tmp_path / "stored.imu"),
                           calibration=sim_profile(res).to_dict())
    assert main(["demo", "--headless", "--session", path]) == 0
    out = capsys.readouterr().out
    n = sum(len(t["reps"]) for t in res.truth_sets)
    assert n == 4 and "calibration: calibration skipped (imu demo)" in out
    assert f"set 1: hip hinge" in out and f"{n} reps" in out and out.count("Rep ") == n
