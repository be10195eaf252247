"""Writing simulated sessions: a docs/formats.md CSV folder (plus truth) or a recording file.

The CSV folder's ``time_s`` is each sample's true time (the sensor timestamps converted with the
sensor's true clock), so all files share the session clock exactly; dropped samples are simply
absent. Writing goes through the project's own CSV folder writer and recording store.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from imu.sim.simulator import SimResult
from imu.types import ROLES, SampleBlock, SensorData, Session


def true_time_session(res: SimResult) -> Session:
    """``res.session`` with ``t_sensor_s = t_host_s =`` the true sample times."""
    sensors = {}
    for role, d in res.session.sensors.items():
        t = res.sample_true_times(role)
        sensors[role] = SensorData(d.info, d.seq, t, t.copy(), d.acc, d.gyr)
    meta = dict(res.session.meta)
    meta["time_base"] = "true sample times (sensor clocks corrected exactly)"
    return Session(meta=meta, sensors=sensors, events=list(res.session.events),
                   calibration=res.session.calibration, source=res.session.source)


def write_sim_csv_folder(res: SimResult, folder: str | os.PathLike, *, progress: bool = False,
                         force: bool = False) -> list[Path]:
    """Write the docs/formats.md CSV folder (``<role>.csv`` + ``session.json``) and ``truth.csv`` /
    ``truth.json`` into ``folder``. Returns the files written."""
    from imu.output import FolderOutput
    from imu.session.csvfolder import SESSION_JSON, write_csv_files

    names = [f"{r}.csv" for r in ROLES] + [SESSION_JSON, "truth.csv", "truth.json"]
    out = FolderOutput(folder, what="simulated session", force=force, names=names, stale=True)
    try:
        stage = out.stage()
        written = write_csv_files(true_time_session(res), stage, progress=progress)
        res.write_truth(stage)
        out.commit()
    except BaseException:
        out.discard()
        raise
    return [out.path / p.name for p in written] + [out.path / "truth.csv",
                                                    out.path / "truth.json"]


def write_sim_recording(res: SimResult, path: str | os.PathLike, *, overwrite: bool = False,
                        block_s: float = 1.0) -> Path:
    """Write ``res.session`` as a recording file (raw samples with sensor timestamps, host
    receive times and sequence numbers, as a live recording would hold them). The truth sets go
    into the metadata (``meta["simulated"]["truth_sets"]``)."""
    from imu.output import Output
    from imu.session.store import RecordingWriter

    out = Output(path, what="recording", force=overwrite, recording=True)
    try:
        _write_recording(res, RecordingWriter, out.temp_path(), block_s)
        out.commit()
    except BaseException:
        out.discard()
        raise
    return Path(path)


def _write_recording(res: SimResult, RecordingWriter, path, block_s: float) -> None:
    s = res.session
    meta = dict(s.meta)
    meta["simulated"] = dict(meta.get("simulated", {}), truth_sets=res.truth_sets,
                             mounts={r: np.asarray(m).tolist() for r, m in res.mounts.items()},
                             clock=res.clock)
    infos = [d.info for d in s.sensors.values()]
    with RecordingWriter(path, meta, infos, overwrite=True) as w:
        for role, d in s.sensors.items():
            n = max(1, int(round(block_s * d.info.rate_hz)))
            for k in range(0, len(d), n):
                sl = slice(k, k + n)
                w.add_block(role, SampleBlock(d.info.sensor_id, d.seq[sl], d.t_sensor_s[sl],
                                              d.t_host_s[sl], d.acc[sl], d.gyr[sl]))
        for e in s.events:
            w.add_event(e)
