"""The calibration's workers check each sensor's samples as usable_session does (NaN rows and
repeated times left out, samples in other units refused), fit its clock and estimate its
accelerometer: the same profile as checking the session first."""

import numpy as np
import pytest

from imu.calibration import calibrate_session
from imu.errors import BadInputError
from imu.session.validate import usable_session
from imu.sim import simulate
from imu.types import Session, SensorData


def _with(session, role, **arrays):
    d = session.sensors[role]
    new = SensorData(d.info, arrays.get("seq", d.seq), arrays.get("t_sensor_s", d.t_sensor_s),
                     d.t_host_s, arrays.get("acc", d.acc), arrays.get("gyr", d.gyr), d.quat)
    return Session(session.meta, {**session.sensors, role: new}, session.events,
                   session.calibration, session.source)


@pytest.fixture(scope="module")
def damaged():
    s = simulate("demo", rate_hz=100.0, seed=31, errors=True, reps=2).session
    d = s.sensors["left_thigh"]
    acc = d.acc.copy()
    acc[[900, 5000, 5001]] = np.nan  # after the standing: the calibration still holds
    ts = d.t_sensor_s.copy()
    ts[7001] = ts[7000]  # a repeated time
    return _with(s, "left_thigh", acc=acc, t_sensor_s=ts)


def test_a_sensor_with_unusable_samples_calibrates_as_its_usable_samples(damaged):
    assert usable_session(damaged) is not damaged  # (something to leave out)
    got = calibrate_session(damaged).to_dict()
    want = calibrate_session(usable_session(damaged)).to_dict()
    for k in ("created", "created_utc"):
        got.pop(k, None), want.pop(k, None)
    assert got == want


def test_samples_in_other_units_are_refused_naming_the_sensor(damaged):
    d = damaged.sensors["right_thigh"]
    s = _with(damaged, "right_thigh", gyr=np.degrees(d.gyr) * 40)  # °/s, and fast
    with pytest.raises(BadInputError, match=r"\(right_thigh\).*not in rad/s"):
        calibrate_session(s)
