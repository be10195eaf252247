"""Print the angles and the reps of a recording with the public API.

    python examples/angles_and_reps.py [SESSION]     (default: recordings/demo.imu)

Needs nothing beyond numpy (pandas is optional).
"""

import sys
from pathlib import Path

import numpy as np

import imu

path = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "recordings" / "demo.imu"
session = imu.load(path)
print(f"{path}: {', '.join(session.roles)}, {session.duration_s:.1f} s")

angles = imu.angles(session)                 # calibrated as `imu angles` would
t, values, names = angles.to_numpy()         # seconds, degrees (N, C), column names
print(f"angles: {len(t)} rows at {1 / np.median(np.diff(t)):.0f} Hz")
for name, col in zip(names, values.T):
    print(f"  {name:<26} min {np.nanmin(col):7.1f}°  max {np.nanmax(col):7.1f}°")

result = imu.analyze(session)                # the numbers of `imu analyze`
for s in result.sets:
    side = f" ({s['side']})" if s.get("side") else ""
    print(f"set: {s['exercise']}{side} {s['start_s']:.1f}-{s['end_s']:.1f} s")
for r in result.rep_records:
    print(f"  rep {r['index']}: hip flexion {r['hip_flexion_peak_deg']:.1f}°, "
          f"pelvis tilt {r['pelvis_tilt_peak_deg']:.1f}°, score {r.get('score')}"
          if r["exercise"] == "hinge" else f"  rep {r['index']} of {r['exercise']}")
for h in result.hold_records:
    print(f"  hold {h['index']} ({h['side']} stance): pelvic drop max "
          f"{h['pelvic_drop_max_deg']:.1f}°, grade {h.get('grade')}")
