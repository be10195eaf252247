"""Intrinsic corrections stored per sensor id by a calibration and applied the next time."""

import numpy as np

from imu.cli import main
from imu.intrinsics import IntrinsicCorrection, IntrinsicStore
from imu.sim import simulate
from imu.sim.output import write_sim_recording


def _true_correction(res, role, gyr_bias=None):
    """The correction that undoes the simulator's accelerometer errors of ``role``
    (measured = true · (1 + scale) + offset)."""
    e = res.sensor_errors[role]
    return IntrinsicCorrection(gyr_bias_rad_s=np.zeros(3) if gyr_bias is None else gyr_bias,
                               acc_offset_m_s2=e["acc_offset_m_s2"],
                               acc_scale=1.0 / (1.0 + np.asarray(e["acc_scale"])))


def _rmse(res, path):
    data = np.genfromtxt(path, delimiter=",", names=True)
    cal_end = next(e.t_s for e in res.session.events if e.kind == "calibration_end")
    m = res.truth_time_s > cal_end
    out = {}
    for c in res.truth_angles:
        est = np.interp(res.truth_time_s[m], data["time_s"], data[c])
        out[c] = float(np.sqrt(np.nanmean((est - res.truth_angles[c][m]) ** 2)))
    return out


def test_calibrate_stores_gyro_bias_per_sensor_id(tmp_path):
    res = simulate("hinge", rate_hz=60.0, seed=9301, errors=True, reps=1)
    rec = tmp_path / "a.imu"
    write_sim_recording(res, rec)
    assert main(["calibrate", str(rec), "-o", str(tmp_path / "a.json")]) == 0
    store = IntrinsicStore()
    for role, d in res.session.sensors.items():
        corr = store.get(d.info.sensor_id)
        assert corr is not None, role
        err_deg_s = np.degrees(np.abs(corr.gyr_bias_rad_s - res.sensor_errors[role]["gyro_bias_rad_s"]))
        assert err_deg_s.max() < 0.1, (role, err_deg_s)


def test_next_session_of_the_same_sensors_gets_the_stored_correction(tmp_path):
    # session B, same sensor ids; its accelerometer corrections are in the store (as a
    # multi-pose fit, `imu fuse --save-intrinsics`, would have put them)
    res = simulate("hinge", rate_hz=60.0, seed=9302, errors=True, reps=2)
    rec = tmp_path / "b.imu"
    write_sim_recording(res, rec)
    plain = tmp_path / "plain.csv"
    assert main(["angles", str(rec), "-o", str(plain)]) == 0  # empty store: raw data

    store = IntrinsicStore()
    ids = {r: d.info.sensor_id for r, d in res.session.sensors.items()}
    stale_bias = np.radians([0.3, -0.3, 0.3])  # from another day: a calibration replaces it
    for role, sid in ids.items():
        store.put(sid, _true_correction(res, role, stale_bias))
    corrected = tmp_path / "corrected.csv"
    assert main(["angles", str(rec), "-o", str(corrected)]) == 0

    # the calibration made on the way kept the stored accelerometer part and renewed the bias
    for role, sid in ids.items():
        corr = store.get(sid)
        want = _true_correction(res, role)
        np.testing.assert_allclose(corr.acc_offset_m_s2, want.acc_offset_m_s2, atol=1e-9)
        np.testing.assert_allclose(corr.acc_scale, want.acc_scale, atol=1e-9)
        bias_err = np.degrees(np.abs(corr.gyr_bias_rad_s - res.sensor_errors[role]["gyro_bias_rad_s"]))
        assert bias_err.max() < 0.1, (role, bias_err)
    # and the angles are computed on corrected data. Without a stored correction the offset is
    # estimated from the recording itself (imu.kinematics.acc_offset), so both are close to
    # the truth: the stored one is no worse anywhere, and every angle within 0.3° RMSE
    before, after = _rmse(res, plain), _rmse(res, corrected)
    assert all(after[c] <= before[c] + 0.05 for c in before), (before, after)
    assert max(after.values()) < 0.3, after
