"""Posture / pelvic tilt reset: set-level static pelvis measures (docs/metrics.md).

Over the whole set (angles are zero in the calibration pose, so these are "against
calibration"): ``static_tilt_deg`` (median pelvis tilt), ``static_obliquity_deg`` (median
obliquity), ``tilt_range_deg`` (max - min), ``return_error_deg`` (|median tilt over the set's
last ``posture.return_window_s``|, how far from neutral the person came back) and
``time_in_zone_pct`` (share of samples with |tilt| < ``posture.zone_deg``).

There are no reps (the set's ``reps`` list is empty); the detector accumulates and reports the
five measures as fields of the set at :meth:`set_fields`. Its live state is
the current tilt and whether it lies in the zone.
"""

from __future__ import annotations

import numpy as np

from imu.analysis.base import Detector, nanmax, nanmedian, nanmin, num


class PostureDetector(Detector):
    """Accumulates pelvis tilt and obliquity over a set."""

    exercise = "posture"
    kind = "none"
    stored = ["pelvis_tilt", "pelvis_obliquity"]

    def __init__(self, settings, side, columns, set_start_s):
        super().__init__(settings, side, columns, set_start_s)
        self.s = settings.section("posture")

    def _derive(self, row, confidence):
        return [self._get(row, "pelvis_tilt"), self._get(row, "pelvis_obliquity")]

    def keep_from(self) -> int:
        return self.buf.offset  # the whole set is needed

    def live_state(self) -> dict:
        st = {"in_rep": False, "count": 0}
        if len(self.buf):
            tilt = float(self.buf.value("pelvis_tilt", self.buf.n_total - 1))
            st["pelvis_tilt_deg"] = tilt
            st["in_zone"] = bool(np.isfinite(tilt) and abs(tilt) < self.s["zone_deg"])
        return st

    def _measure(self, seg):  # no segments
        return None

    def set_fields(self) -> dict:
        t = self.buf.t()
        tilt = self.buf.col("pelvis_tilt")
        obl = self.buf.col("pelvis_obliquity")
        ok = np.isfinite(tilt)
        if not ok.any():
            return {}
        last = t >= t[-1] - self.s["return_window_s"] + 1e-9
        return {
            "static_tilt_deg": num(nanmedian(tilt)),
            "static_obliquity_deg": num(nanmedian(obl)),
            "tilt_range_deg": num(nanmax(tilt) - nanmin(tilt)),
            "return_error_deg": num(abs(nanmedian(tilt[last]))),
            "time_in_zone_pct": num(100.0 * float(np.mean(np.abs(tilt[ok]) < self.s["zone_deg"]))),
        }
