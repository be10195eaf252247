"""Live traces over a sliding window: pelvis angles, hip flexion and thigh inclination per side."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from imu.gui import theme
from imu.gui.views.exercises import view_for
from imu.analysis.language import item_grade
from imu.live.snapshot import DROP_AMBER_DEG, DROP_GREEN_DEG, Snapshot

#: a step larger than this between two neighbouring samples is a re-zeroing of the heading hold
#: (or a gap), not a movement: the line is broken there instead of drawn as a vertical wall
JUMP_DEG = 6.0
JUMPY = {"pelvis_rotation", "right_hip_rotation", "left_hip_rotation"}


def line_breaks(y: np.ndarray) -> np.ndarray:
    """pyqtgraph ``connect`` array: join a sample to the next unless either is NaN or the step
    between them exceeds :data:`JUMP_DEG`."""
    y = np.asarray(y, dtype=float)
    c = np.ones(len(y), dtype=bool)
    if len(y) > 1:
        with np.errstate(invalid="ignore"):
            c[:-1] = np.abs(np.diff(y)) <= JUMP_DEG      # False where NaN too
    c[-1:] = False
    return c

def peak_decimate(t: np.ndarray, ys: np.ndarray, bin_s: float):
    """Peak-preserving decimation of several traces sharing one time axis, for drawing.

    Samples are grouped in bins of ``bin_s`` seconds aligned to absolute time (so a sliding
    window does not make the picture shimmer); each bin keeps two samples of each trace, its
    minimum and its maximum, in time order and at their own times (NaNs ignored; an all-NaN
    bin stays NaN: a gap). Short traces (at most two samples per bin) are returned as they are.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Sample times, s (increasing).
    ys : ndarray, shape (C, N)
        The traces.
    bin_s : float
        Bin width, s (about two pixels of the plot).

    Returns
    -------
    ts_out : ndarray, shape (C, M) or (N,)
        Each trace's times (the input ``t`` when nothing was decimated).
    ys_out : ndarray, shape (C, M) or (C, N)
    """
    t = np.asarray(t, dtype=float)
    ys = np.asarray(ys, dtype=float)
    if len(t) < 3 or not bin_s > 0:
        return t, ys
    idx = np.floor(t / bin_s)
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    nb, n = len(starts), len(t)
    if 2 * nb >= n:
        return t, ys
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.fmin.reduceat(ys, starts, axis=1)
        hi = np.fmax.reduceat(ys, starts, axis=1)
    which = np.repeat(np.arange(nb), np.diff(np.r_[starts, n]))     # bin of each sample
    k = np.arange(n)
    # the first sample of each bin that is its minimum / maximum (the bin's start if all NaN)
    i_lo = np.minimum.reduceat(np.where(ys == lo[:, which], k, n), starts, axis=1)
    i_hi = np.minimum.reduceat(np.where(ys == hi[:, which], k, n), starts, axis=1)
    i_lo = np.where(i_lo < n, i_lo, starts)
    i_hi = np.where(i_hi < n, i_hi, starts)
    first, second = np.minimum(i_lo, i_hi), np.maximum(i_lo, i_hi)
    lo_first = i_lo <= i_hi
    ts_out = np.empty((ys.shape[0], 2 * nb))
    ys_out = np.empty((ys.shape[0], 2 * nb))
    ts_out[:, 0::2], ts_out[:, 1::2] = t[first], t[second]
    ys_out[:, 0::2] = np.where(lo_first, lo, hi)
    ys_out[:, 1::2] = np.where(lo_first, hi, lo)
    return ts_out, ys_out


PELVIS_COLUMNS = [("pelvis_tilt", "tilt"), ("pelvis_obliquity", "obliquity"),
                  ("pelvis_rotation", "rotation"), ("pelvic_drop_deg", "pelvic drop")]
HIP_COLUMNS = [("right_hip_flexion", "R hip flexion"), ("left_hip_flexion", "L hip flexion"),
               ("right_thigh_inclination", "R thigh"), ("left_thigh_inclination", "L thigh"),
               ("right_hip_rotation", "R hip rotation"), ("left_hip_rotation", "L hip rotation"),
               ("lumbar_flexion", "lumbar")]
#: every trace is drawn 1 px wide, without antialiasing or dashes: a 2 px line goes through
#: Qt's stroker segment by segment and cost about 3 ms per curve and frame (4000 points)
#: the y axes move in steps of this many degrees (fewer axis redraws)
Y_STEP_DEG = 5.0
#: pixels per decimation bin (:func:`peak_decimate`: a minimum and a maximum per bin, so about
#: one point per pixel; 20 s at 200 Hz on a 1100 px plot: 4000 samples -> 1100 points)
BIN_PX = 2.0


class TracePanel(pg.GraphicsLayoutWidget):
    """Two stacked plots sharing the time axis; completed reps/holds shaded, set starts marked."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground(theme.BG)
        self.pelvis = self._plot("Pelvis (°)", row=1)
        self.hip = self._plot("Hip & thigh (°)", row=3)
        self.hip.setXLink(self.pelvis)
        self.pelvis.hideAxis("bottom")      # the hip plot below shows the (shared) time axis
        self.hip.setLabel("bottom", "time", units="s", color=theme.MUTED)
        self.curves: dict[str, pg.PlotCurveItem] = {}
        for col, name in PELVIS_COLUMNS:
            self.curves[col] = self._curve(self.pelvis, col, name)
        for col, name in HIP_COLUMNS:
            self.curves[col] = self._curve(self.hip, col, name)
        self._regions: dict[int, list[pg.LinearRegionItem]] = {}
        # single-leg grade limits (docs/metrics.md: green < 4°, amber < 8°), shown with the drop trace
        self._bands = []
        for y, colour in ((DROP_GREEN_DEG, theme.AMBER), (DROP_AMBER_DEG, theme.RED)):
            ln = pg.InfiniteLine(pos=y, angle=0, movable=False,
                                 pen=pg.mkPen(colour, width=1, style=QtCore.Qt.PenStyle.DashLine))
            ln.setVisible(False)
            self.pelvis.addItem(ln, ignoreBounds=True)
            self._bands.append(ln)
        self._lines: list[pg.InfiniteLine] = []
        self._empty = pg.TextItem("waiting for calibration…", color=theme.TEXT, anchor=(0.5, 0.5))
        font = QtGui.QFont()
        font.setPointSize(14)
        self._empty.setFont(font)
        self.pelvis.addItem(self._empty, ignoreBounds=True)
        self.window_s = 20.0
        self._yrange: dict[int, tuple[float, float]] = {}

    def _plot(self, title: str, row: int) -> pg.PlotItem:
        p = self.addPlot(row=row, col=0)
        p.setTitle(title, color=theme.TEXT, size="11pt", justify="left")
        p.showGrid(x=False, y=True, alpha=0.15)
        p.setMenuEnabled(False)
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        for ax in ("left", "bottom"):
            p.getAxis(ax).setPen(pg.mkPen(theme.GREY))
            p.getAxis(ax).setTextPen(pg.mkPen(theme.MUTED))
            # drawn once into a pixmap, redrawn only when its range changes (replaying the
            # axis picture, labels and grid, costs several ms a frame)
            p.getAxis(ax).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # the legend sits in its own row above the plot: it never hides a trace or a shading
        legend = pg.LegendItem(labelTextColor=theme.TEXT, colCount=6, horSpacing=14,
                               verSpacing=-6)
        self.addItem(legend, row=row - 1, col=0)
        legend.setMaximumHeight(24)
        p.legend = legend
        p.addLine(y=0, pen=pg.mkPen(theme.GREY, width=1, style=QtCore.Qt.PenStyle.DotLine))
        return p

    def _curve(self, plot: pg.PlotItem, col: str, name: str) -> pg.PlotCurveItem:
        pen = pg.mkPen(theme.TRACE_COLOURS.get(col, theme.TEXT), width=1)
        # the panel decimates every trace at once (peak_decimate) before handing it over: a
        # bare curve item, without PlotDataItem's per-frame bounds, display dataset,
        # downsampling and clipping passes
        c = pg.PlotCurveItem([], [], pen=pen, connect="finite", skipFiniteCheck=True,
                             antialias=False)
        plot.addItem(c)
        c.setVisible(False)
        c._legend_name = name
        c._plot = plot
        return c

    def update_snapshot(self, snap: Snapshot) -> None:
        t = snap.angles_t
        self.window_s = snap.window_s
        have_any = False
        cs = snap.current_set
        view = view_for(cs.get("exercise") if cs else None)
        wanted = {f"{s}_{k}" for s in ("right", "left") for k in view.hip_traces}
        shown = []
        for col, curve in self.curves.items():
            y = snap.angles.get(col)
            if curve._plot is self.hip and col != "lumbar_flexion" and col not in wanted:
                y = None
            if y is None or len(y) == 0 or len(y) != len(t):
                if curve.isVisible():            # emptied once, not every frame
                    curve.setVisible(False)
                    curve.setData([], [])
                continue
            shown.append((col, curve, y))
        have_any = bool(shown)
        drawn: dict[str, np.ndarray] = {}
        if shown:
            px = max(float(self.pelvis.vb.width()), 100.0)
            td, ys = peak_decimate(t, np.vstack([y for _, _, y in shown]),
                                   BIN_PX * snap.window_s / px)
            if td.ndim == 1:
                td = np.broadcast_to(td, ys.shape)
            for (col, curve, _), x, y in zip(shown, td, ys):
                drawn[col] = y
                if not curve.isVisible():
                    curve.setVisible(True)
                if col in JUMPY:  # NaNs must not reach a connect-array path: zero and unjoin them
                    curve.setData(x, np.nan_to_num(y), connect=line_breaks(y))
                else:
                    curve.setData(x, y, connect="finite")
        self._sync_legend()
        drop_on = self.curves["pelvic_drop_deg"].isVisible() and view.drop_lines
        limits = getattr(snap, "drop_limits_deg", None) or (DROP_GREEN_DEG, DROP_AMBER_DEG)
        for ln, y in zip(self._bands, limits):
            if ln.value() != y:
                ln.setPos(y)
            if ln.isVisible() != drop_on:
                ln.setVisible(drop_on)
        t1 = max(snap.t_now_s, snap.window_s)
        t0 = t1 - snap.window_s
        self.pelvis.setXRange(t0, t1, padding=0)
        self._empty.setVisible(not have_any)
        if not have_any:
            msg = {"ok": "waiting for data…",
                   "refused": ("no usable calibration in this recording: replay it with "
                               "--calibration PROFILE" if snap.mode == "replay" else
                               "calibration refused: press Calibrate… and repeat the protocol"),
                   "recording": "calibrating: follow the calibration window's instructions",
                   "solving": "solving the calibration…"}.get(
                       snap.calibration.state,
                       "not calibrated: press Calibrate… (bottom right)" if snap.mode == "live"
                       else "no angles in this recording")
            if snap.activity and snap.calibration.state == "recording":
                msg = "calibrating from the simulated person's protocol (it follows its own script)"
            if snap.motion.label != "no data" and snap.mode == "live":
                msg += f"\nsensors see: {snap.motion.label}"
            if snap.activity:
                msg += f"\nthe simulated person is doing: {snap.activity}"
            self._empty.setText(msg)
            self._empty.setPos((t0 + t1) / 2, 0)
            self.pelvis.setYRange(-10, 10)
            self.hip.setYRange(-10, 30)
            self._yrange.clear()
        else:
            self._autorange(self.pelvis, [drawn.get(c) for c, _ in PELVIS_COLUMNS], 10)
            self._autorange(self.hip, [drawn.get(c) for c, _ in HIP_COLUMNS], 30)
        self._draw_shading(snap, t0, t1)

    def _autorange(self, plot: pg.PlotItem, ys, minimum: float) -> None:
        """Fit the y range to the data, in steps and with hysteresis: the range (and so the
        axis, which is costly to redraw) changes only when the data leave it or fill less than
        half of it."""
        vals = [np.asarray(y) for y in ys if y is not None and len(y)]
        if not vals:
            return
        v = np.concatenate(vals)
        v = v[np.isfinite(v)]
        if not len(v):
            return
        lo, hi = min(float(v.min()), -minimum / 3), max(float(v.max()), minimum)
        span = hi - lo
        lo, hi = lo - 0.06 * span, hi + 0.08 * span
        cur = self._yrange.get(id(plot))
        if cur is not None and cur[0] <= lo and cur[1] >= hi \
                and (hi - lo) >= 0.5 * (cur[1] - cur[0]):
            return
        step = Y_STEP_DEG if hi - lo <= 60 else 2 * Y_STEP_DEG
        lo, hi = step * math.floor(lo / step), step * math.ceil(hi / step)
        self._yrange[id(plot)] = (lo, hi)
        plot.setYRange(lo, hi, padding=0)

    def _sync_legend(self) -> None:
        """Legend entries only for the curves that have data (SPEC column order kept)."""
        for plot in (self.pelvis, self.hip):
            legend = plot.legend
            want = [c for c in self.curves.values() if c._plot is plot and c.isVisible()]
            have = [sample.item for sample, _ in legend.items]
            if have == want:
                continue
            legend.clear()
            for c in want:
                legend.addItem(c, c._legend_name)

    def _draw_shading(self, snap: Snapshot, t0: float, t1: float) -> None:
        spans = [(r.get("start_s"), r.get("end_s"), r) for r in snap.reps]
        spans += [(h.get("start_s"), h.get("end_s"), h) for h in snap.holds]
        spans = [(a, b, r) for a, b, r in spans
                 if a is not None and b is not None and b >= t0 and a <= t1]
        for plot in (self.pelvis, self.hip):
            pool = self._regions.setdefault(id(plot), [])
            while len(pool) < len(spans):
                reg = pg.LinearRegionItem(movable=False)
                for line in reg.lines:
                    line.setPen(pg.mkPen(None))
                reg.setZValue(-10)
                plot.addItem(reg, ignoreBounds=True)
                pool.append(reg)
            for reg, (a, b, r) in zip(pool, spans):
                key = (a, b, item_grade(r))          # re-set only what changed
                if getattr(reg, "_key", None) != key:
                    reg._key = key
                    reg.setBrush(pg.mkBrush(_span_colour(r)))
                    reg.setRegion((a, b))
                if not reg.isVisible():
                    reg.setVisible(True)
            for reg in pool[len(spans):]:
                if reg.isVisible():
                    reg.setVisible(False)
        marks = [s["start_s"] for s in snap.sets if s.get("start_s") is not None]
        if snap.current_set and snap.current_set.get("start_s") is not None:
            marks.append(snap.current_set["start_s"])
        marks = [m for m in marks if t0 <= m <= t1]
        while len(self._lines) < len(marks):
            ln = pg.InfiniteLine(angle=90, movable=False,
                                 pen=pg.mkPen(theme.ACCENT, width=1,
                                              style=QtCore.Qt.PenStyle.DashLine))
            self.hip.addItem(ln, ignoreBounds=True)
            self._lines.append(ln)
        for ln, m in zip(self._lines, marks):
            if ln.value() != m:
                ln.setPos(m)
            if not ln.isVisible():
                ln.setVisible(True)
        for ln in self._lines[len(marks):]:
            if ln.isVisible():
                ln.setVisible(False)


#: opacity of a rep/hold shading over the plot background
SHADE_ALPHA = 45 / 255


def _span_colour(item: dict) -> QtGui.QColor:
    """The grade colour at :data:`SHADE_ALPHA` over the plot background, as an opaque colour:
    the shading lies under everything else on a plain background, and an opaque fill is several
    times cheaper to paint than a blended one (a full-height translucent rectangle cost ~0.3 ms
    per rep and frame)."""
    c = QtGui.QColor(theme.GRADE_COLOURS.get(item_grade(item), theme.GREY))
    bg = QtGui.QColor(theme.BG)
    mix = lambda a, b: round(b + SHADE_ALPHA * (a - b))      # noqa: E731
    return QtGui.QColor(mix(c.red(), bg.red()), mix(c.green(), bg.green()),
                        mix(c.blue(), bg.blue()))
