"""imu: the headless core of the wearable hip/pelvis motion monitor.

Public API (:mod:`imu.api`)::

    import imu
    s = imu.load("recordings/demo.imu")     # Session: raw samples per sensor role
    a = imu.angles(s)                       # AngleTable (degrees); .to_pandas(), .to_numpy()
    r = imu.analyze(s)                      # Analysis: .reps / .holds DataFrames, .to_json()

Quaternions are ``w, x, y, z`` everywhere; angles in degrees unless a name says ``_rad``.
Library code logs through :mod:`logging` (the ``imu`` logger, a ``NullHandler`` by default).
"""

from __future__ import annotations

import logging as _logging

__version__ = "0.1.0"
__all__ = ["load", "angles", "analyze", "Analysis", "ImuError", "BadInputError",
           "CalibrationError", "__version__"]

_logging.getLogger("imu").addHandler(_logging.NullHandler())

from imu.errors import BadInputError, CalibrationError, ImuError  # noqa: E402


def __getattr__(name):  # the API's modules load on first use: `import imu` stays cheap
    if name in ("load", "angles", "analyze", "Analysis"):
        from imu import api
        return getattr(api, name)
    raise AttributeError(f"module 'imu' has no attribute {name!r}")
