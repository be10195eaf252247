"""OpenSense ``.sto`` quaternion export, read back with OpenSim's own reader."""

import numpy as np
import pytest

from imu.calibration import calibrate_session
from imu import quat as Q
from imu.kinematics.alignment import segment_matrix
from imu.kinematics.frames import R_WE, heading_deg
from imu.session.sto import STO_COLUMNS, write_sto
from imu.sim import simulate

opensim = pytest.importorskip("opensim")


@pytest.fixture(scope="module")
def sim():
    res = simulate("hinge", rate_hz=60.0, seed=9301, errors=True, reps=1)
    return res, calibrate_session(res.session)


def read_sto(path):
    table = opensim.TimeSeriesTableQuaternion(str(path))
    labels = list(table.getColumnLabels())
    t = np.array(table.getIndependentColumn())
    flat = table.flatten()  # columns <name>_1 .. <name>_4 = w, x, y, z
    cols = {name: np.column_stack([flat.getDependentColumn(f"{name}_{j}").to_numpy()
                                   for j in (1, 2, 3, 4)]) for name in labels}
    return table, t, cols


def test_opensim_reads_header_columns_and_quaternions(tmp_path, sim):
    res, prof = sim
    path = tmp_path / "out.sto"
    rows = write_sto(res.session, path, prof.alignment())
    head = path.read_text().splitlines()[:6]
    assert head[0].startswith("DataRate=60")
    assert head[1:4] == ["DataType=Quaternion", "version=3", head[3]]
    assert head[3].startswith("OpenSimVersion=") and head[4] == "endheader"
    table, t, cols = read_sto(path)
    assert list(cols) == ["pelvis_imu", "femur_r_imu", "femur_l_imu"]
    assert table.getNumRows() == rows and rows > 60 * 20
    assert float(table.getTableMetaDataAsString("DataRate")) == pytest.approx(60.0)
    for name, q in cols.items():
        ok = np.all(np.isfinite(q), axis=1)
        assert ok.mean() > 0.99
        assert np.allclose(np.linalg.norm(q[ok], axis=1), 1.0, atol=1e-5), name
    assert np.all(np.diff(t) > 0)


def test_sensors_share_one_heading_when_aligned(tmp_path, sim):
    """With the calibration, every segment faces the pelvis's way in the standing pose, so the
    sensors' orientations through their mountings have the same heading there."""
    res, prof = sim
    path = tmp_path / "a.sto"
    write_sto(res.session, path, prof.alignment())
    _, t, cols = read_sto(path)
    stand = (t > 1.0) & (t < 4.0)
    heads = {}
    for role, name in STO_COLUMNS.items():
        if name in cols:
            R_WB = segment_matrix(cols[name][stand], prof.mounts[role], 0.0)
            heads[role] = np.median(heading_deg(R_WB))
    assert abs(heads["right_thigh"] - heads["sacrum"]) < 2.0
    assert abs(heads["left_thigh"] - heads["sacrum"]) < 2.0


def test_sensor_orientation_tilt_matches_truth(tmp_path, sim):
    """The written quaternion is the sensor's orientation (z up): its inclination equals the
    true sensor's (heading aside)."""
    res, prof = sim
    path = tmp_path / "b.sto"
    write_sto(res.session, path, prof.alignment())
    _, t, cols = read_sto(path)
    R_WS_true = res.truth_segments["sacrum"] @ res.mounts["sacrum"]
    up_true = np.einsum("nji,j->ni", R_WS_true, [0.0, 1.0, 0.0])  # world up in sensor frame
    q = cols["pelvis_imu"]
    up_est = Q.rotate(Q.conj(q), np.array([0.0, 0.0, 1.0]))      # earth up in sensor frame
    k = np.clip(np.searchsorted(res.truth_time_s, t), 0, len(res.truth_time_s) - 1)
    ok = np.all(np.isfinite(up_est), axis=1)
    ang = np.degrees(np.arccos(np.clip(np.sum(up_est[ok] * up_true[k][ok], axis=1), -1, 1)))
    assert np.sqrt(np.mean(ang ** 2)) < 1.5
    assert R_WE.shape == (3, 3)


def test_export_command_writes_sto(tmp_path, sim):
    from imu.cli import main
    from imu.session.csvfolder import write_csv_folder

    res, prof = sim
    folder = tmp_path / "sess"
    write_csv_folder(res.session, folder)
    prof_path = tmp_path / "p.json"
    prof.save(prof_path)
    out = tmp_path / "x.sto"
    assert main(["export", str(folder), "--format", "sto", "--calibration", str(prof_path),
                 "-o", str(out)]) == 0
    table, _, cols = read_sto(out)
    assert set(cols) == {"pelvis_imu", "femur_r_imu", "femur_l_imu"}


def _segment_headings(cols, mounts, stand):
    """Role → median heading (degrees) of the segment carrying each sensor, through the true
    mounting rotations, over the ``stand`` rows."""
    out = {}
    for role, name in STO_COLUMNS.items():
        if name in cols:
            R_WB = segment_matrix(cols[name][stand], mounts[role], 0.0)
            out[role] = np.median(heading_deg(R_WB))
    return out


def _wrap(d):
    return (d + 180.0) % 360.0 - 180.0


def test_export_without_calibration_puts_every_segment_on_one_heading(tmp_path, sim):
    """Without --calibration the export calibrates from the session as `imu angles` does, so
    OpenSense's single heading correction fits every sensor; written without any calibration
    the sensors' own headings are far apart in the same standing."""
    from imu.cli import main
    from imu.session.csvfolder import write_csv_folder

    res, _ = sim
    folder = tmp_path / "sess"
    write_csv_folder(res.session, folder)
    out = tmp_path / "default.sto"
    assert main(["export", str(folder), "-o", str(out)]) == 0
    _, t, cols = read_sto(out)
    stand = (t > 1.0) & (t < 4.0)
    heads = _segment_headings(cols, res.mounts, stand)
    for role in ("right_thigh", "left_thigh"):
        assert abs(_wrap(heads[role] - heads["sacrum"])) < 3.0, heads

    raw = tmp_path / "raw.sto"
    write_sto(res.session, raw, None)
    _, t, cols = read_sto(raw)
    heads = _segment_headings(cols, res.mounts, (t > 1.0) & (t < 4.0))
    assert max(abs(_wrap(heads[r] - heads["sacrum"])) for r in ("right_thigh", "left_thigh")) > 30
