"""Orientation-only sensors on the live path: the streaming angles fuse the samples derived
from the sensor's own orientation (a DOT in a quaternion mode streams no raw gyro) and follow
the truth as closely as for a raw sensor."""

import numpy as np

from imu.calibration import calibrate_session
from imu.kinematics.pipeline import compute_angles
from imu.session.vendor import rate_from_quat, specific_force
from imu.sim import simulate
from imu.timing import resample_quat
from imu.types import SensorData
from tests.live_helpers import stream_angles


def test_live_angles_follow_the_truth_with_an_orientation_only_trunk():
    res = simulate("demo", rate_hz=60.0, seed=9063, errors=True, reps=1,
                   roles=("sacrum", "right_thigh", "left_thigh", "trunk"))
    s = res.session
    d = s.sensors["trunk"]
    # the trunk is a DOT in a quaternion mode: its true orientation, acc/gyr derived from it
    # as the DOT driver derives them (imu.sources.ble.dot)
    q = resample_quat(res.truth_time_s, res.sensor_orientation("trunk"),
                      res.sample_true_times("trunk"))
    info = d.info
    info.extra = {**info.extra, "derived": ["acc", "gyr"], "orientation": "vendor"}
    s.sensors["trunk"] = SensorData(info, d.seq, d.t_sensor_s, d.t_host_s, specific_force(q),
                                    rate_from_quat(d.t_sensor_s, q), q)
    assert s.sensors["trunk"].kind == "orientation"
    prof = calibrate_session(s)
    batch = compute_angles(s, prof.alignment())  # takes the trunk's own orientation as is
    t, column = stream_angles(s, prof.alignment())
    cal_end = next(e.t_s for e in s.events if e.kind == "calibration_end")
    m = t > cal_end
    for c, tol in (("lumbar_flexion", 1.5), ("lumbar_rotation", 4.0),
                   ("pelvis_rotation", 4.0)):
        live = column(c)[m]
        truth = np.interp(t[m], res.truth_time_s, res.truth_angles[c])
        assert np.sqrt(np.nanmean((live - truth) ** 2)) < tol, c
        ref = np.interp(t[m], batch.time_s, batch[c])
        assert np.sqrt(np.nanmean((live - ref) ** 2)) < tol, c
