"""Orientation fusion per sensor (6D: accelerometer + gyroscope, no magnetometer).

Public API
----------
``FILTERS``
    dict name → one-line description of every offered filter.
``DEFAULT_FILTER``
    The name of the default filter (chosen by measurement, see ``bench/bench_broad.py`` and
    ``bench/bench_fusion.py``).
``make_filter(name=DEFAULT_FILTER, rate_hz=104.0, **settings)``
    A streaming :class:`~imu.fusion.base.OrientationFilter`: ``f.update(acc, gyr) -> q``,
    ``f.update_block(acc, gyr) -> (n, 4)``, ``f.gyr_bias_rad_s``.
``fuse(acc, gyr, rate_hz, name=DEFAULT_FILTER, t_s=None, heading_axes_S=None, **settings) -> (N, 4)``
    Batch fusion; same numbers as the streaming path on the same data.
``TimedFilter(name, rate_hz, max_bridge_s=0.25, heading_axes_S=None, **settings)``
    Streaming with timestamps: ``update(t_s, acc, gyr) -> q``, ``update_block(t_s, acc, gyr)``;
    same gap handling (and numbers) as ``fuse(..., t_s=...)``.

Gaps: dropouts up to ``max_bridge_s`` are bridged; a longer gap restarts the filter at the
accelerometer's inclination, carrying the heading across it — of ``heading_axes_S`` (sensor-frame
axes, the segment's mediolateral axis first, which flexion during the gap does not turn) when
given (:func:`imu.fusion.batch.restart_quat`).

Choice of the default (measured, see ``bench/``): VQF with body-motion settings. On five BROAD
trials (real IMU, optical truth) its mean inclination RMSE is the lowest of the offered
filters (0.62°; ahrs Madgwick at its default gain 1.02°); on the body simulator (acceptance
seeds 1–3, 60/104/200 Hz, every error on) its own inclination error is 0.26° RMSE with the
accelerometer errors removed (imufusion 0.58°, basic VQF 2.1°) and its heading drift the
smallest (4.7° over 4 min; imufusion 18°); and it runs compiled over a whole recording
(``updateBatch``), about 1/150 of the ahrs Madgwick per-sample loop's time.

Quaternions are ``q_ES`` (``w, x, y, z``): sensor-frame vectors → earth frame, z up, heading
arbitrary.
"""

from __future__ import annotations

from imu.fusion.registry import DEFAULT_FILTER, FILTERS, make_filter

#: public name -> defining module, imported on first use (the filter names every command's
#: ``--filter`` option lists come without numpy)
_LAZY = {"OrientationFilter": "imu.fusion.base", "fuse": "imu.fusion.batch",
         "initial_quat": "imu.fusion.batch", "split_at_gaps": "imu.fusion.batch",
         "TimedFilter": "imu.fusion.streaming"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'imu.fusion' has no attribute {name!r}")

__all__ = ["FILTERS", "DEFAULT_FILTER", "make_filter", "fuse", "OrientationFilter",
           "initial_quat", "split_at_gaps", "TimedFilter"]
