"""Intrinsic calibration: still detection, gyro bias, accelerometer offset/scale, store."""

import numpy as np
import pytest

from imu import quat as Q
from imu.intrinsics import (G_M_S2, IntrinsicCorrection, IntrinsicStore, detect_still,
                            estimate_intrinsics, fit_accelerometer)

RATE_HZ = 104.0
BIAS = np.array([0.012, -0.02, 0.007])
OFFSET = np.array([0.15, -0.08, 0.22])
SCALE_ERR = np.array([1.02, 0.985, 1.01])  # measured = true * SCALE_ERR + OFFSET


def poses_recording(rotvecs, still_s=3.0, move_s=2.0, seed=0):
    """Still poses joined by smooth turns; returns acc, gyr (measured) and the true still mask."""
    rng = np.random.default_rng(seed)
    qs = [Q.from_rotvec(np.asarray(r, float)) for r in rotvecs]
    n_still, n_move = int(still_s * RATE_HZ), int(move_s * RATE_HZ)
    q_list, w_list, still = [], [], []
    for k, q in enumerate(qs):
        q_list.append(np.tile(q, (n_still, 1)))
        w_list.append(np.zeros((n_still, 3)))
        still.append(np.ones(n_still, bool))
        if k + 1 < len(qs):  # constant-rate turn to the next pose
            d = Q.multiply(Q.conj(q), qs[k + 1])
            rv = Q.to_scipy(d).as_rotvec()
            u = (np.arange(1, n_move + 1) / n_move)[:, None]
            q_list.append(Q.multiply(q, Q.from_rotvec(u * rv)))
            w_list.append(np.tile(rv * RATE_HZ / n_move, (n_move, 1)))
            still.append(np.zeros(n_move, bool))
    q = np.concatenate(q_list)
    w = np.concatenate(w_list)
    acc_true = Q.rotate(Q.conj(q), np.array([0.0, 0.0, G_M_S2]))
    acc = acc_true * SCALE_ERR + OFFSET + rng.normal(0, 0.01, acc_true.shape)
    gyr = w + BIAS + rng.normal(0, 0.003, w.shape)
    return acc, gyr, np.concatenate(still)


SIX_POSES = [[0, 0, 0], [np.pi, 0, 0], [np.pi / 2, 0, 0], [-np.pi / 2, 0, 0],
             [0, np.pi / 2, 0], [0, -np.pi / 2, 0], [0.6, 0.5, 0.3], [2.0, -0.4, 0.9]]


def test_detect_still_finds_the_still_poses_and_not_the_turns():
    acc, gyr, still_true = poses_recording(SIX_POSES[:3])
    still = detect_still(acc, gyr, RATE_HZ)
    assert not np.any(still & ~still_true)
    assert still[still_true].mean() > 0.8


def test_gyro_bias_and_accelerometer_error_recovered_from_six_poses():
    acc, gyr, _ = poses_recording(SIX_POSES)
    corr = estimate_intrinsics(acc, gyr, RATE_HZ)
    np.testing.assert_allclose(corr.gyr_bias_rad_s, BIAS, atol=5e-4)
    assert corr.meta["acc"] == "estimated"
    np.testing.assert_allclose(corr.acc_offset_m_s2, OFFSET, atol=0.02)
    np.testing.assert_allclose(corr.acc_scale, 1 / SCALE_ERR, atol=0.003)
    acc_c, gyr_c = corr.apply(acc, gyr)
    still = detect_still(acc, gyr, RATE_HZ)
    assert abs(np.median(np.linalg.norm(acc_c[still], axis=1)) - G_M_S2) < 0.01


def test_accelerometer_fit_refused_with_too_few_distinct_poses():
    acc, gyr, _ = poses_recording(SIX_POSES[:2])
    prior = IntrinsicCorrection(acc_offset_m_s2=[0.1, 0.0, 0.0])
    corr = estimate_intrinsics(acc, gyr, RATE_HZ, prior=prior)
    assert corr.meta["acc"] == "kept"
    np.testing.assert_array_equal(corr.acc_offset_m_s2, [0.1, 0.0, 0.0])
    np.testing.assert_allclose(corr.gyr_bias_rad_s, BIAS, atol=5e-4)  # bias still estimated
    # poses all near one direction cannot determine six parameters
    near = np.array([[0, 0, 9.8], [0.5, 0, 9.79], [0, 0.5, 9.79], [0.4, 0.4, 9.78],
                     [-0.5, 0, 9.79], [0, -0.5, 9.79]])
    assert fit_accelerometer(near) is None


def test_store_round_trip_under_config_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("IMU_CONFIG_DIR", str(tmp_path))
    store = IntrinsicStore()
    corr = IntrinsicCorrection(BIAS, OFFSET, 1 / SCALE_ERR, {"date": "x"})
    p = store.put("AA:BB:CC:01", corr)
    assert p.parent == tmp_path / "intrinsics" and p.exists()
    back = IntrinsicStore().get("AA:BB:CC:01")
    np.testing.assert_array_equal(back.gyr_bias_rad_s, BIAS)
    np.testing.assert_array_equal(back.acc_scale, 1 / SCALE_ERR)
    assert store.get("other") is None
    acc, gyr = store.apply("AA:BB:CC:01", OFFSET + SCALE_ERR * [0, 0, G_M_S2], BIAS)
    np.testing.assert_allclose(acc, [0, 0, G_M_S2], atol=1e-12)
    np.testing.assert_allclose(gyr, 0, atol=1e-15)


def test_damaged_store_file_counts_as_none(tmp_path):
    store = IntrinsicStore(tmp_path)
    store.path("s1").parent.mkdir(parents=True, exist_ok=True)
    store.path("s1").write_text("{not json")
    assert store.get("s1") is None
    with pytest.raises(ValueError, match="acc_scale"):
        IntrinsicCorrection.from_dict({"acc_scale": [1, 2]})


def test_stored_corrections_lists_only_known_sensors(tmp_path):
    from imu.intrinsics import stored_corrections

    store = IntrinsicStore(tmp_path)
    store.put("a", IntrinsicCorrection(BIAS))
    got = stored_corrections(["a", "b"], store)
    assert list(got) == ["a"]
    np.testing.assert_array_equal(got["a"].gyr_bias_rad_s, BIAS)
