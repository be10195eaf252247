"""The same with pandas (``pip install 'imu[pandas]'``): angles and reps as DataFrames.

    python examples/pandas_tables.py [SESSION]       (default: recordings/demo.imu)
"""

import sys
from pathlib import Path

import imu

path = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "recordings" / "demo.imu"
session = imu.load(path)
angles = imu.angles(session).to_pandas()     # index time_s (s), one column per angle (deg)
print(angles.describe().loc[["min", "max"]].round(1).T.to_string())

result = imu.analyze(session)
hinges = result.reps[result.reps["exercise"] == "hinge"]
print(hinges[["set", "index", "hip_flexion_peak_deg", "pelvis_tilt_peak_deg",
              "score"]].round(1).to_string(index=False))
print(result.holds[["set", "side", "index", "pelvic_drop_max_deg", "grade"]].round(1)
      .to_string(index=False))
