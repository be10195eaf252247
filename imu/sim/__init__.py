"""Body and sensor simulator: a seeded person performing the docs/calibration.md calibration and the
exercises while wearing IMUs, with the exact ground truth.

>>> from imu.sim import simulate, ErrorModel
>>> res = simulate("demo", rate_hz=104.0, seed=0, errors=True)
>>> res.session            # raw samples per role, sensor infos, events (imu.types.Session)
>>> res.truth_angles       # docs/angles.md angle columns on res.truth_time_s (degrees)
>>> res.truth_sets         # docs/formats.md analysis-JSON sets with the true per-rep / per-hold values

Modules: :mod:`~imu.sim.programs` (exercise programs), :mod:`~imu.sim.motion` (smooth
primitives, body dimensions), :mod:`~imu.sim.body` (segment orientations, sensor sites),
:mod:`~imu.sim.sensors` (IMU signals and errors), :mod:`~imu.sim.error_model` (the switchable
error model and its datasheet values), :mod:`~imu.sim.truth` (per-rep truth, docs/metrics.md),
:mod:`~imu.sim.simulator` (:func:`simulate`), :mod:`~imu.sim.output` (CSV folder, recording).
"""

__all__ = ["simulate", "SimResult", "ErrorModel", "PROGRAMS"]

#: public name -> defining module; imported on first use, so ``imu.sim.programs`` (the program
#: names every ``--help`` lists) does not pull in the whole simulator
_LAZY = {"simulate": "imu.sim.simulator", "SimResult": "imu.sim.simulator",
         "ErrorModel": "imu.sim.error_model", "PROGRAMS": "imu.sim.programs"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'imu.sim' has no attribute {name!r}")
