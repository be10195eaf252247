"""``imu export --format mot``: the angles as an OpenSim motion file, checked with OpenSim itself.

OpenSim's own reader reads the file; an OpenSim model with the pelvis and hip joints of
Rajagopal2015 / gait2392 (``CustomJoint`` axes as in those models) turns the written coordinates
back into segment orientations, which must be the simulator's true ones.
"""

import numpy as np
import pytest

from imu.kinematics.opensim import opensim_coordinates, opensim_pelvis
from imu.sim import simulate

opensim = pytest.importorskip("opensim")

MOT_COLUMNS = ["pelvis_tilt", "pelvis_list", "pelvis_rotation",
               "hip_flexion_r", "hip_adduction_r", "hip_rotation_r",
               "hip_flexion_l", "hip_adduction_l", "hip_rotation_l"]

#: joint → (coordinate, axis) in the order of the model's SpatialTransform (Rajagopal2015)
JOINTS = {
    "ground_pelvis": ("ground", "pelvis", [("pelvis_tilt", (0, 0, 1)), ("pelvis_list", (1, 0, 0)),
                                           ("pelvis_rotation", (0, 1, 0))]),
    "hip_r": ("pelvis", "femur_r", [("hip_flexion_r", (0, 0, 1)), ("hip_adduction_r", (1, 0, 0)),
                                    ("hip_rotation_r", (0, 1, 0))]),
    "hip_l": ("pelvis", "femur_l", [("hip_flexion_l", (0, 0, 1)), ("hip_adduction_l", (-1, 0, 0)),
                                    ("hip_rotation_l", (0, -1, 0))]),
}
BODY_ROLE = {"pelvis": "sacrum", "femur_r": "right_thigh", "femur_l": "left_thigh"}


class GaitModel:
    """The pelvis and both hips of OpenSim's gait models, built through OpenSim's API."""

    def __init__(self):
        self.model = opensim.Model()
        self.bodies = {}
        for name in BODY_ROLE:
            self.bodies[name] = opensim.Body(name, 5.0, opensim.Vec3(0), opensim.Inertia(0.1))
            self.model.addBody(self.bodies[name])
        for jname, (parent, child, rotations) in JOINTS.items():
            st = opensim.SpatialTransform()
            for i, (coord, axis) in enumerate(rotations):
                ax = st.updTransformAxis(i)
                ax.setCoordinateNames(opensim.ArrayStr(coord, 1))
                ax.setAxis(opensim.Vec3(*axis))
                ax.set_function(opensim.LinearFunction())
            for i, axis in enumerate([(1, 0, 0), (0, 1, 0), (0, 0, 1)]):
                ax = st.updTransformAxis(3 + i)
                ax.setAxis(opensim.Vec3(*axis))
                ax.set_function(opensim.Constant(0.0))
            p = self.model.getGround() if parent == "ground" else self.bodies[parent]
            self.model.addJoint(opensim.CustomJoint(jname, p, opensim.Vec3(0), opensim.Vec3(0),
                                                    self.bodies[child], opensim.Vec3(0),
                                                    opensim.Vec3(0), st))
        self.state = self.model.initSystem()
        self.coords = self.model.getCoordinateSet()

    def orientations(self, values_deg: dict) -> dict:
        """Body name → rotation in ground (3, 3) for coordinate values in degrees."""
        for name, v in values_deg.items():
            self.coords.get(name).setValue(self.state, float(np.radians(v)), False)
        self.model.assemble(self.state)
        self.model.realizePosition(self.state)
        out = {}
        for name, body in self.bodies.items():
            R = body.getTransformInGround(self.state).R()
            out[name] = np.array([[R.get(i, j) for j in range(3)] for i in range(3)])
        return out


def angle_between_deg(A, B) -> float:
    c = (np.trace(A.T @ B) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


@pytest.fixture(scope="module")
def model():
    return GaitModel()


@pytest.fixture(scope="module")
def sim():
    return simulate(["hinge", "single_leg_stance", "hip_airplane"], rate_hz=50.0, seed=8801,
                    errors=True, reps=2)


@pytest.fixture(scope="module")
def exported(sim, tmp_path_factory):
    from imu.cli import main
    from imu.session.csvfolder import write_csv_folder

    d = tmp_path_factory.mktemp("mot")
    write_csv_folder(sim.session, d / "sess")
    out = d / "s.mot"
    assert main(["export", str(d / "sess"), "--format", "mot", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def exported_sto(exported):
    """The same session's OpenSense orientation table, exported with the default calibration."""
    from imu.cli import main

    out = exported.parent / "s.sto"
    assert main(["export", str(exported.parent / "sess"), "-o", str(out)]) == 0
    return out


def test_opensim_model_turns_converted_truth_into_true_orientations(sim, model):
    """Names, signs and Cardan orders: our true angles converted to OpenSim coordinates and
    posed on OpenSim's joints give the simulator's segment orientations exactly."""
    coords = opensim_coordinates(sim.truth_angles)
    assert list(coords) == MOT_COLUMNS
    idx = np.linspace(0, len(sim.truth_time_s) - 1, 60).astype(int)
    worst = 0.0
    for k in idx:
        R = model.orientations({c: v[k] for c, v in coords.items()})
        for body, role in BODY_ROLE.items():
            worst = max(worst, angle_between_deg(R[body], sim.truth_segments[role][k]))
    assert worst < 1e-4  # degrees (arccos resolution)


def test_pelvis_is_recomputed_not_sign_flipped():
    """With tilt, obliquity and rotation together, OpenSim's tilt → list → rotation angles are
    not our rotation → obliquity → tilt angles with signs changed."""
    tilt, lst, rot = opensim_pelvis([20.0], [10.0], [30.0])
    assert np.allclose([tilt[0], lst[0], rot[0]], [-22.207, -1.702, 31.434], atol=1e-3)
    # one angle alone: only the tilt changes sign
    t1, l1, r1 = opensim_pelvis([15.0, 0.0, 0.0], [0.0, 7.0, 0.0], [0.0, 0.0, -12.0])
    assert np.allclose([t1[0], l1[1], r1[2]], [-15.0, 7.0, -12.0])
    assert np.allclose([l1[0], r1[0], t1[1], r1[1], t1[2], l1[2]], 0.0, atol=1e-9)


def test_opensim_reads_mot_names_and_header(exported):
    table = opensim.TimeSeriesTable(str(exported))
    assert list(table.getColumnLabels()) == MOT_COLUMNS
    assert table.getTableMetaDataAsString("inDegrees") == "yes"
    t = np.array(table.getIndependentColumn())
    assert len(t) > 1000 and np.all(np.diff(t) > 0)
    storage = opensim.Storage(str(exported))
    assert storage.isInDegrees()
    labels = storage.getColumnLabels()
    assert [labels.get(i) for i in range(labels.getSize())] == ["time"] + MOT_COLUMNS
    assert storage.getSize() == len(t)
    assert storage.getLastTime() == pytest.approx(t[-1])
    head = exported.read_text().splitlines()[:7]
    assert head[:4] == ["Coordinates", "inDegrees=yes", "DataType=double", "version=3"]
    assert head[4].startswith("OpenSimVersion=") and head[5] == "endheader"


def read_mot(path):
    table = opensim.TimeSeriesTable(str(path))
    t = np.array(table.getIndependentColumn())
    return t, {c: table.getDependentColumn(c).to_numpy() for c in table.getColumnLabels()}


def test_mot_coordinates_follow_truth_with_opensim_signs(sim, exported):
    t, mot = read_mot(exported)
    truth = opensim_coordinates(sim.truth_angles)
    k = np.clip(np.searchsorted(sim.truth_time_s, t), 0, len(sim.truth_time_s) - 1)
    for name in MOT_COLUMNS:
        est, tru = mot[name], truth[name][k]
        ok = np.isfinite(est)
        assert ok.mean() > 0.98, name
        rms = np.sqrt(np.mean((est[ok] - tru[ok]) ** 2))
        assert rms < 2.0, (name, rms)
        if np.ptp(tru[ok]) > 15.0:  # the moving coordinates follow truth with the same sign
            assert np.corrcoef(est[ok], tru[ok])[0, 1] > 0.95, name
    # a hinge: the pelvis tilts anteriorly, which is a NEGATIVE pelvis_tilt in OpenSim
    ours = np.interp(t, sim.truth_time_s, sim.truth_angles["pelvis_tilt"])
    hinge = (ours > 15.0) & np.isfinite(mot["pelvis_tilt"])
    assert hinge.sum() > 50
    assert np.all(mot["pelvis_tilt"][hinge] < -5.0)
    for side, s in (("right", "r"), ("left", "l")):  # flexion + on both sides, as ours
        flexed = np.interp(t, sim.truth_time_s, sim.truth_angles[f"{side}_hip_flexion"]) > 15.0
        flexed &= np.isfinite(mot[f"hip_flexion_{s}"])  # not in a gap
        assert flexed.sum() > 50 and np.all(mot[f"hip_flexion_{s}"][flexed] > 5.0)
    # on one leg, the pelvis drops on the lifted side: list + when the right side is lower
    # (where the pelvis neither tilts nor turns much, so the two Cardan orders nearly agree)
    drop = np.interp(t, sim.truth_time_s, sim.truth_angles["pelvis_obliquity"])
    level = (np.abs(ours) < 8.0) & (np.abs(np.interp(t, sim.truth_time_s,
                                                     sim.truth_angles["pelvis_rotation"])) < 8.0)
    drop = np.where(level, drop, 0.0)
    assert np.all(mot["pelvis_list"][drop > 4.0] > 1.0) and (drop > 4.0).sum() > 20
    assert np.all(mot["pelvis_list"][drop < -4.0] < -1.0) and (drop < -4.0).sum() > 20


def test_mot_poses_opensim_model_like_truth(sim, exported, model):
    t, mot = read_mot(exported)
    k = np.clip(np.searchsorted(sim.truth_time_s, t), 0, len(sim.truth_time_s) - 1)
    errs = {b: [] for b in BODY_ROLE}
    for i in np.linspace(0, len(t) - 1, 80).astype(int):
        if not all(np.isfinite(mot[c][i]) for c in MOT_COLUMNS):
            continue
        R = model.orientations({c: mot[c][i] for c in MOT_COLUMNS})
        for body, role in BODY_ROLE.items():
            errs[body].append(angle_between_deg(R[body], sim.truth_segments[role][k[i]]))
    for body, e in errs.items():
        assert len(e) > 60 and np.median(e) < 4.0, (body, np.median(e))


def test_mot_export_refuses_existing_file_and_never_replaces_a_recording(sim, exported,
                                                                         tmp_path):
    from imu.cli import main
    from imu.session.csvfolder import write_csv_folder
    from imu.session.store import write_session

    folder = tmp_path / "sess"
    write_csv_folder(sim.session, folder)
    out = tmp_path / "x.mot"
    out.write_text("keep")
    assert main(["export", str(folder), "-o", str(out)]) == 2
    assert out.read_text() == "keep"
    rec = tmp_path / "r.imu"
    write_session(sim.session, rec)
    size = rec.stat().st_size
    assert main(["export", str(folder), "--format", "mot", "--force", "-o", str(rec)]) == 2
    assert rec.stat().st_size == size


def test_opensense_imu_ik_on_the_exported_sto_reproduces_the_exported_mot(exported,
                                                                           exported_sto,
                                                                           model, tmp_path):
    """OpenSense end to end: its IMU placer (on the first, standing frame) and IMU inverse
    kinematics on our default .sto, with the gait models' pelvis and hip joints, give the
    coordinates of our .mot: the two exports agree, and the .sto needs no heading correction."""
    import math

    opensim.Logger.setLevelString("error")
    model_file = tmp_path / "pelvis_hips.osim"
    model.model.setName("pelvis_hips")
    model.model.printToXML(str(model_file))
    to_opensim = opensim.Vec3(-math.pi / 2, 0, 0)  # z up (ours) → y up (OpenSim's default)
    placer = opensim.IMUPlacer()
    placer.set_model_file(str(model_file))
    placer.set_orientation_file_for_calibration(str(exported_sto))
    placer.set_sensor_to_opensim_rotations(to_opensim)
    assert placer.run(False)
    calibrated = tmp_path / "pelvis_hips_calibrated.osim"
    placer.getCalibratedModel().printToXML(str(calibrated))
    ik = opensim.IMUInverseKinematicsTool()
    ik.set_model_file(str(calibrated))
    ik.set_orientations_file(str(exported_sto))
    ik.set_sensor_to_opensim_rotations(to_opensim)
    ik.set_results_directory(str(tmp_path))
    ik.set_time_range(0, 0.0)
    ik.set_time_range(1, 60.0)  # calibration protocol and the hinge set
    assert ik.run(False)
    t_ik, solved = read_mot(tmp_path / f"ik_{exported_sto.stem}.mot")
    t, mot = read_mot(exported)
    common, i_ik, i_mot = np.intersect1d(np.round(t_ik, 6), np.round(t, 6), return_indices=True)
    assert len(common) > 2000
    for name in MOT_COLUMNS:
        a, b = solved[name][i_ik], mot[name][i_mot]
        ok = np.isfinite(b)
        assert ok.mean() > 0.97
        assert np.sqrt(np.mean((a[ok] - b[ok]) ** 2)) < 0.5, name
