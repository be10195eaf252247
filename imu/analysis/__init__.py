"""Exercise analytics (SPEC §5): rep/hold detection, per-rep metrics, faults, scores, reports.

Public API::

    from imu.analysis import analyze_angles, Settings, LiveAnalyzer, make_detector
    result = analyze_angles(angles, events, settings=Settings(), exercise=None, side=None,
                            calibration_end_s=None)      # SPEC §6 Analysis JSON (a dict)

    det = make_detector("hinge", Settings(), side=None, columns=table.names(), set_start_s=t0)
    det.update(t_s, row) -> list of newly completed reps/holds;  det.finish()

    from imu.analysis.report import write_report
"""

from imu.analysis.analyzer import SCHEMA, LiveAnalyzer, analyze_angles, make_detector, run_detector
from imu.analysis.settings import DEFAULTS, Settings

__all__ = ["SCHEMA", "LiveAnalyzer", "analyze_angles", "make_detector", "run_detector", "Settings",
           "DEFAULTS"]
