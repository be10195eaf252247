"""Exercise analytics (docs/metrics.md): rep/hold detection, per-rep metrics, faults, scores, reports.

Public API::

    from imu.analysis import analyze_angles, Settings, LiveAnalyzer, make_detector
    result = analyze_angles(angles, events, settings=Settings(), exercise=None, side=None,
                            calibration_end_s=None)      # docs/formats.md Analysis JSON (a dict)

    det = make_detector("hinge", Settings(), side=None, columns=table.names(), set_start_s=t0)
    det.update(t_s, row) -> list of newly completed reps/holds;  det.finish()

    from imu.analysis.report import write_report
"""

#: public name -> defining module, imported on first use (``imu analyze --help`` needs only
#: the settings, not the detectors)
_LAZY = {**{n: "imu.analysis.analyzer" for n in ("SCHEMA", "LiveAnalyzer", "analyze_angles",
                                                 "make_detector", "run_detector")},
         **{n: "imu.analysis.settings" for n in ("DEFAULTS", "Settings")}}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'imu.analysis' has no attribute {name!r}")


__all__ = ["SCHEMA", "LiveAnalyzer", "analyze_angles", "make_detector", "run_detector", "Settings",
           "DEFAULTS"]
