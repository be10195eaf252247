"""Shared test setup: nothing a test runs may write into the real user config directory.

Commands such as ``imu calibrate``, ``imu angles`` and ``imu analyze`` store each sensor's
intrinsic correction under ``$IMU_CONFIG_DIR`` (:mod:`imu.intrinsics`); every test gets a fresh,
empty one (subprocesses inherit it through the environment).
"""

import os
import tempfile

import pytest

# for module-scoped fixtures and anything that runs before the per-test fixture below
os.environ["IMU_CONFIG_DIR"] = tempfile.mkdtemp(prefix="imu-test-config-")


@pytest.fixture(autouse=True)
def _private_config_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("IMU_CONFIG_DIR", str(tmp_path_factory.mktemp("imu_config")))
