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


class _Colours(dict):
    """QColor of a colour name, made once."""

    def get(self, name):  # noqa: D102
        c = dict.get(self, name)
        if c is None:
            c = self[name] = QtGui.QColor(name)
        return c


_AXIS_COLOURS = _Colours()


def _before(v, a: np.ndarray) -> np.ndarray:
    """``np.r_[v, a]`` without ``np.r_``'s ~30 µs of parsing (a frame made ~26 of them)."""
    a = np.asarray(a)
    out = np.empty(len(a) + 1, dtype=np.result_type(a, np.asarray(v)))
    out[0] = v
    out[1:] = a
    return out


def _after(a: np.ndarray, v) -> np.ndarray:
    """``np.r_[a, v]`` (see :func:`_before`)."""
    a = np.asarray(a)
    out = np.empty(len(a) + 1, dtype=np.result_type(a, np.asarray(v)))
    out[:-1] = a
    out[-1] = v
    return out


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
    starts = np.flatnonzero(_before(True, idx[1:] != idx[:-1]))
    nb, n = len(starts), len(t)
    if 2 * nb >= n:
        return t, ys
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.fmin.reduceat(ys, starts, axis=1)
        hi = np.fmax.reduceat(ys, starts, axis=1)
    which = np.repeat(np.arange(nb), np.diff(_after(starts, n)))     # bin of each sample
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
#: the y axes move in steps of this many degrees (fewer full redraws)
Y_STEP_DEG = 5.0
#: a y range the data left grows by this share of the data's span beyond them
Y_GROW = 0.3
#: pixels per decimation bin (:func:`peak_decimate`: a minimum and a maximum per bin, so about
#: one point per pixel; 20 s at 200 Hz on a 1100 px plot: 4000 samples -> 1100 points)
BIN_PX = 2
#: opacity of a rep/hold shading and of the grid lines over the plot background
SHADE_ALPHA = 45 / 255
GRID_ALPHA = 0.15
#: layout, px: the left axis's width, a plot's header (title and legend), the time axis's height
AXIS_W = 44
HEADER_H = 24
TIME_AXIS_H = 34
GAP_H = 8


def _rgb(colour, over=None, alpha: float = 1.0) -> int:
    """``colour`` at ``alpha`` over ``over`` as an opaque 0xffRRGGBB pixel (QImage RGB32)."""
    c = QtGui.QColor(colour)
    rgb = [c.red(), c.green(), c.blue()]
    if over is not None and alpha < 1.0:
        b = QtGui.QColor(over)
        rgb = [round(u + alpha * (v - u)) for v, u in zip(rgb, (b.red(), b.green(), b.blue()))]
    r, g, bl = rgb
    return 0xFF000000 | (r << 16) | (g << 8) | bl


def _span_pixel(item: dict) -> int:
    """A rep/hold's grade colour at :data:`SHADE_ALPHA` over the plot background, opaque: the
    shading lies under everything else on a plain background."""
    return _rgb(theme.GRADE_COLOURS.get(item_grade(item), theme.GREY), theme.BG, SHADE_ALPHA)


def _qcolor(pixel: int) -> QtGui.QColor:
    return QtGui.QColor((pixel >> 16) & 255, (pixel >> 8) & 255, pixel & 255)


def _ticks(lo: float, hi: float, px: float, min_px: float) -> np.ndarray:
    """Round tick values in ``[lo, hi]`` at least ``min_px`` apart on a ``px`` long axis."""
    span = hi - lo
    if not span > 0 or px <= 0:
        return np.zeros(0)
    for step in (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600):
        if step * px / span >= min_px:
            break
    return np.arange(math.ceil(lo / step), math.floor(hi / step) + 1) * step


class Curve:
    """One trace: its pen, legend name, whether it is drawn and the points drawn
    (:meth:`getData`: the peak-decimated samples of the trace window, s and degrees)."""

    def __init__(self, col: str, name: str, plot: "Plot"):
        self.col = col
        self._legend_name = name
        self._plot = plot
        self.colour = QtGui.QColor(theme.TRACE_COLOURS.get(col, theme.TEXT))
        self.pen = QtGui.QPen(self.colour, 1)
        self._visible = False
        self._t = np.zeros(0)
        self._y = np.zeros(0)
        self._bin_s = 0.0
        self.last = None            # (t, y) of the last point drawn into the plot's layer
        self.tail = None            # QPolygonF drawn over the layer: the newest, unfinished bin

    def isVisible(self) -> bool:  # noqa: N802 (Qt style, as the tests and views use it)
        return self._visible

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802
        t, y = peak_decimate(self._t, self._y[None, :], self._bin_s)
        return (t if t.ndim == 1 else t[0]), y[0]


class Line:
    """A horizontal line at ``value()`` (the single-leg grade limits)."""

    def __init__(self, value: float, colour: str):
        self._value = float(value)
        self.colour = colour
        self._visible = False

    def value(self) -> float:
        return self._value

    def isVisible(self) -> bool:  # noqa: N802
        return self._visible


class Plot:
    """One plot of the panel: its curves, y range and the picture of its plot area (a layer
    kept between frames; see :class:`TracePanel`)."""

    def __init__(self, title: str, minimum: float, empty_range: tuple[float, float]):
        self.title = title
        self.minimum = minimum
        self.empty_range = empty_range
        self.curves: list[Curve] = []
        self.rect = QtCore.QRect()
        self.yrange = empty_range
        self.t_range = (0.0, 20.0)
        self.layer: QtGui.QImage | None = None
        self.dpr, self.w, self.h = 1.0, 1, 1     # device pixels per pixel, picture size
        self.pixels: np.ndarray | None = None
        self.c_right = 0                # absolute pixel column at the layer's right edge
        self.key = None                 # what the layer's background was drawn for
        self.static_key = None          # what its title, legend and y axis were drawn for
        self.decor = (frozenset(), frozenset())   # the shadings and set marks in it
        self.done_t = None              # the last sample drawn into the layer
        self.templates: dict = {}

    def viewRange(self) -> list[list[float]]:  # noqa: N802
        """``[[t0, t1], [y0, y1]]`` shown (as pyqtgraph's ``viewRange``)."""
        return [list(self.t_range), list(self.yrange)]


class TracePanel(QtWidgets.QWidget):
    """Two stacked plots sharing the time axis (pelvis; hip and thigh); completed reps and holds
    shaded in their grade colour, set starts marked, the single-leg grade limits drawn.

    Drawn by hand with QPainter, frame by frame at a cost that does not grow with the window:
    each plot area is a picture kept between frames (an image in absolute pixel columns: the
    time axis maps to ``t * px_per_s``). A frame scrolls it by the pixels the window moved
    (background, grid, shading and set marks of the new columns filled in numpy), draws into it
    the peak-decimated bins completed since the last frame (:data:`BIN_PX` px each), and paints
    it with the newest, unfinished bin drawn over it, so every sample in is on screen. The whole
    picture is redrawn only when what lies under the traces changes: the y range (in steps of
    :data:`Y_STEP_DEG`, with hysteresis), the traces shown, a rep/hold shading or set mark
    appearing or leaving, the size, a seek. The titles, legends and y axes are a pixmap redrawn
    on the same occasions; a frame repaints only the plot areas and the time axis.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 260)
        self.pelvis = Plot("Pelvis (°)", 10.0, (-10.0, 10.0))
        self.hip = Plot("Hip & thigh (°)", 30.0, (-10.0, 30.0))
        self.plots = (self.pelvis, self.hip)
        self.curves: dict[str, Curve] = {}
        for plot, cols in ((self.pelvis, PELVIS_COLUMNS), (self.hip, HIP_COLUMNS)):
            for col, name in cols:
                c = self.curves[col] = Curve(col, name, plot)
                plot.curves.append(c)
        # single-leg grade limits (docs/metrics.md: green < 4°, amber < 8°), with the drop trace
        self._bands = [Line(DROP_GREEN_DEG, theme.AMBER), Line(DROP_AMBER_DEG, theme.RED)]
        self.window_s = 20.0
        self._message = "waiting for calibration…"
        self._snap: Snapshot | None = None
        self._static: QtGui.QPixmap | None = None
        self._static_key = None
        self._laid_out = None
        self._spans: list = []
        self._marks: list = []
        self._t1 = 20.0
        self._font = QtGui.QFont()
        self._small = QtGui.QFont()
        self._small.setPointSize(8)
        self._big = QtGui.QFont()
        self._big.setPointSize(14)
        self._labels: dict[str, QtGui.QStaticText] = {}
        #: how often a plot's whole picture was redrawn (benchmarks)
        self.full_redraws = 0

    # ------------------------------------------------------------------ geometry ----------
    def _layout(self) -> None:
        w, h, dpr = self.width(), self.height(), self.devicePixelRatioF()
        if self._laid_out == (w, h, dpr):
            return
        self._laid_out = (w, h, dpr)
        plot_h = max((h - 2 * HEADER_H - GAP_H - TIME_AXIS_H) // 2, 20)
        x, pw = AXIS_W, max(w - AXIS_W - 10, 20)
        self.pelvis.rect = QtCore.QRect(x, HEADER_H, pw, plot_h)
        self.hip.rect = QtCore.QRect(x, 2 * HEADER_H + GAP_H + plot_h, pw, plot_h)
        for p in self.plots:
            # the picture in device pixels (a high-density screen gets its own thin lines)
            p.dpr, p.w, p.h = dpr, max(round(pw * dpr), 1), max(round(plot_h * dpr), 1)
            p.layer = QtGui.QImage(p.w, p.h, QtGui.QImage.Format.Format_RGB32)
            p.pixels = np.frombuffer(p.layer.bits(), dtype=np.uint32).reshape(
                p.h, p.layer.bytesPerLine() // 4)[:, :p.w]
            p.key = None
        self._static_key = None

    def _time_axis_rect(self) -> QtCore.QRect:
        r = self.hip.rect
        return QtCore.QRect(0, r.bottom() + 1, self.width(), TIME_AXIS_H)

    def resizeEvent(self, ev):  # noqa: N802
        super().resizeEvent(ev)
        if self._snap is not None:
            self.update_snapshot(self._snap)

    # ------------------------------------------------------------------ a frame -----------
    def update_snapshot(self, snap: Snapshot) -> None:
        """Take in a snapshot: what changed is drawn into the plots' pictures and the plot
        areas and time axis are scheduled for repainting."""
        self._snap = snap
        self._layout()
        t = snap.angles_t
        self.window_s = float(snap.window_s)
        cs = snap.current_set
        view = view_for(cs.get("exercise") if cs else None)
        wanted = {f"{s}_{k}" for s in ("right", "left") for k in view.hip_traces}
        for col, curve in self.curves.items():
            y = snap.angles.get(col)
            if curve._plot is self.hip and col != "lumbar_flexion" and col not in wanted:
                y = None
            show = y is not None and len(y) > 0 and len(y) == len(t)
            curve._visible = show
            curve._t, curve._y = (t, np.asarray(y, dtype=float)) if show else (np.zeros(0),
                                                                               np.zeros(0))
        have_any = any(c._visible for c in self.curves.values())
        drop_on = self.curves["pelvic_drop_deg"]._visible and view.drop_lines
        limits = getattr(snap, "drop_limits_deg", None) or (DROP_GREEN_DEG, DROP_AMBER_DEG)
        for ln, y in zip(self._bands, limits):
            ln._value, ln._visible = float(y), drop_on
        t1 = max(snap.t_now_s, self.window_s)
        px_s = self.pelvis.w / self.window_s           # (device) pixels per second
        bin_s = BIN_PX / px_s
        c_right = math.ceil(t1 * px_s - 1e-9)
        self._t1 = c_right / px_s
        t0 = self._t1 - self.window_s
        spans = [(r.get("start_s"), r.get("end_s"), r) for r in snap.reps]
        spans += [(h.get("start_s"), h.get("end_s"), h) for h in snap.holds]
        self._spans = [(a, b, _span_pixel(r)) for a, b, r in spans
                       if a is not None and b is not None and b >= t0 and a <= self._t1]
        marks = [s["start_s"] for s in snap.sets if s.get("start_s") is not None]
        if cs and cs.get("start_s") is not None:
            marks.append(cs["start_s"])
        self._marks = sorted(m for m in marks if t0 <= m <= self._t1)
        if not have_any:
            self._message = self._empty_message(snap)
        for plot in self.plots:
            curves = [c for c in plot.curves if c._visible]
            for c in plot.curves:
                c._bin_s = bin_s
                if not c._visible:
                    c.last, c.tail = None, None
            plot.t_range = (t0, self._t1)
            # the range fits the rows inside the time window shown (not rows before it, e.g.
            # from before the session's first sample)
            i_vis = int(np.searchsorted(t, t0, side="left"))
            plot.yrange = self._autorange(plot, curves, i_vis) \
                if curves and i_vis < len(t) else plot.empty_range
            bands = tuple((ln._value, ln.colour) for ln in self._bands if ln._visible) \
                if plot is self.pelvis else ()
            key = (plot.yrange, tuple(c.col for c in curves), bands, px_s,
                   plot.rect.size().toTuple())
            decor = (frozenset(self._spans), frozenset(self._marks))
            shift = c_right - plot.c_right
            full = key != plot.key or shift < 0 or shift >= plot.w \
                or not self._continues(plot, curves, t)
            if full:
                self.full_redraws += 1
                plot.key, plot.decor = key, decor
                plot.c_right = c_right
                self._fill(plot, c_right - plot.w, c_right, bands, px_s)
                plot.done_t = None
                for c in curves:
                    c.last = None
            else:
                if shift:          # a ring of columns: nothing moves, the new ones are filled
                    plot.c_right = c_right
                    self._fill(plot, c_right - shift, c_right, bands, px_s)
                if decor != plot.decor:   # a shading or set mark came or changed: its columns
                    c0, c1 = self._changed_columns(plot, decor, px_s)
                    plot.decor = decor
                    if c1 > c0:
                        self._fill(plot, c0, c1, bands, px_s)
                        self._redraw_curves(plot, curves, t, c0, c1, px_s, bin_s)
            if curves:
                self._draw_bins(plot, curves, t, px_s, bin_s, full)
        region = QtGui.QRegion(self.pelvis.rect) + QtGui.QRegion(self.hip.rect) \
            + QtGui.QRegion(self._time_axis_rect())
        if self._static_key != self._laid_out:          # a new size: the whole pixmap
            self._static_key = self._laid_out
            self._static = None
            self.update()
            return
        for plot in self.plots:        # a plot's y axis or legend changed: its own band
            key = (plot.yrange, tuple(c.col for c in plot.curves if c._visible))
            if key != plot.static_key:
                plot.static_key = key
                if self._static is not None:
                    p = QtGui.QPainter(self._static)
                    self._draw_band(p, plot)
                    p.end()
                region += QtGui.QRegion(self._band_rect(plot))
        self.update(region)

    def _continues(self, plot: Plot, curves: list[Curve], t: np.ndarray) -> bool:
        """The snapshot still holds the last points drawn (no seek, no new data source)."""
        for c in curves:
            if c.last is None:
                continue
            i = int(np.searchsorted(t, c.last[0]))
            if i >= len(t) or t[i] != c.last[0]:
                return False
            y = c._y[i]
            if not (y == c.last[1] or (np.isnan(y) and np.isnan(c.last[1]))):
                return False
        return True

    def _autorange(self, plot: Plot, curves: list[Curve], i0: int = 0) -> tuple[float, float]:
        """Fit the y range to the data, in steps and with hysteresis: the range (and so the
        whole picture) changes only when the data leave it (it then grows with room to
        spare, :data:`Y_GROW`) or fill less than half of it."""
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = min(float(np.fmin.reduce(c._y[i0:])) for c in curves)
            hi = max(float(np.fmax.reduce(c._y[i0:])) for c in curves)
        cur = plot.yrange if plot.key is not None else None
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return cur or plot.empty_range
        lo, hi = min(lo, -plot.minimum / 3), max(hi, plot.minimum)
        span = hi - lo
        lo, hi = lo - 0.06 * span, hi + 0.08 * span
        if cur is not None and cur != plot.empty_range:
            if cur[0] <= lo and cur[1] >= hi and (hi - lo) >= 0.5 * (cur[1] - cur[0]):
                return cur
            # the data left the range: room for the movement to go on, so a rising trace
            # moves the range once or twice rather than every few degrees
            if hi > cur[1]:
                hi += Y_GROW * span
            if lo < cur[0]:
                lo -= Y_GROW * span
        step = Y_STEP_DEG if hi - lo <= 60 else 2 * Y_STEP_DEG
        return step * math.floor(lo / step), step * math.ceil(hi / step)

    def _y_px(self, plot: Plot, y):
        lo, hi = plot.yrange
        return (hi - y) * ((plot.h - 1) / (hi - lo))

    def _fill(self, plot: Plot, c0: int, c1: int, bands, px_s: float) -> None:
        """Background of the absolute pixel columns ``c0..c1-1``: grid, zero line, grade
        limits, rep/hold shading and set marks (numpy, into the layer)."""
        h, w = plot.pixels.shape
        c0 = max(c0, plot.c_right - w)
        if c1 <= c0:
            return
        bg = _rgb(theme.BG)
        key = (plot.yrange, h, bands)
        if plot.templates.get("key") != key:
            rows = {}
            for v in _ticks(*plot.yrange, h / plot.dpr, 28):
                rows[int(round(self._y_px(plot, v)))] = ("grid", None)
            zero = int(round(self._y_px(plot, 0.0)))
            if 0 <= zero < h:
                rows[zero] = ("dot", theme.GREY)
            for v, colour in bands:
                r = int(round(self._y_px(plot, v)))
                if 0 <= r < h:
                    rows[r] = ("dash", colour)
            plot.templates = {"key": key, "rows": {r: v for r, v in rows.items() if 0 <= r < h},
                              "cols": {}}
        tpl = plot.templates

        def column(base: int) -> np.ndarray:
            col = tpl["cols"].get(base)
            if col is None:
                col = np.full(h, base, dtype=np.uint32)
                over = _qcolor(base)
                for r, (kind, _) in tpl["rows"].items():
                    if kind == "grid":
                        col[r] = _rgb(theme.GREY, over, GRID_ALPHA)
                tpl["cols"][base] = col
            return col

        cols = np.arange(c0, c1)
        fill = np.full(len(cols), bg, dtype=np.uint32)
        for a, b, colour in self._spans:
            fill[(cols >= math.floor(a * px_s)) & (cols <= math.floor(b * px_s))] = colour
        block = np.empty((h, len(cols)), dtype=np.uint32)
        for base in np.unique(fill):
            sel = fill == base
            block[:, sel] = column(int(base))[:, None]
        for r, (kind, colour) in tpl["rows"].items():
            if kind == "dot":
                on = cols % 4 < 2
            elif kind == "dash":
                on = cols % 9 < 5
            else:
                continue
            block[r, on] = _rgb(colour)
        for m in self._marks:
            c = math.floor(m * px_s)
            if c0 <= c < c1:
                block[np.arange(h) % 9 < 5, c - c0] = _rgb(theme.ACCENT)
        p0 = c0 % w                # absolute column c lies at c mod w
        n = min(len(cols), w - p0)
        plot.pixels[:, p0:p0 + n] = block[:, :n]
        plot.pixels[:, :len(cols) - n] = block[:, n:]

    def _changed_columns(self, plot: Plot, decor, px_s: float) -> tuple[int, int]:
        """The absolute pixel columns (``c0..c1-1``, inside the window) whose shading or set
        marks differ between what the picture shows and ``decor``."""
        spans = plot.decor[0] ^ decor[0]
        marks = plot.decor[1] ^ decor[1]
        cols = [(math.floor(a * px_s), math.floor(b * px_s) + 1) for a, b, _ in spans]
        cols += [(math.floor(m * px_s), math.floor(m * px_s) + 1) for m in marks]
        if not cols:
            return 0, 0
        left = plot.c_right - plot.w
        return max(min(a for a, _ in cols), left), min(max(b for _, b in cols), plot.c_right)

    def _redraw_curves(self, plot: Plot, curves: list[Curve], t: np.ndarray, c0: int, c1: int,
                       px_s: float, bin_s: float) -> None:
        """Draw again, over the columns ``c0..c1-1`` just filled, the bins drawn there before."""
        if plot.done_t is None or not curves or not len(t):
            return
        b0 = math.floor(c0 / px_s / bin_s) - 1              # a bin boundary before c0
        i0 = int(np.searchsorted(t, b0 * bin_s, side="left"))
        while i0 > 0 and math.floor(t[i0 - 1] / bin_s) >= b0:
            i0 -= 1
        while i0 < len(t) and math.floor(t[i0] / bin_s) < b0:
            i0 += 1
        i1 = int(np.searchsorted(t, plot.done_t, side="right"))
        if i1 - i0 < 2:
            return
        td, yd = peak_decimate(t[i0:i1], np.vstack([c._y[i0:i1] for c in curves]), bin_s)
        if td.ndim == 1:
            td = np.broadcast_to(td, yd.shape)
        painter = QtGui.QPainter(plot.layer)
        for c, x, y in zip(curves, td, yd):
            self._ring_draw(painter, plot, c, x * px_s, y, c0, c1)
        painter.end()

    def _ring_draw(self, painter: QtGui.QPainter, plot: Plot, c: Curve, x_abs: np.ndarray,
                   y: np.ndarray, c0: int, c1: int) -> None:
        """Draw a stretch of a curve (x in absolute pixel columns) into the ring of columns,
        touching only the columns ``c0..c1-1``."""
        w, h = plot.w, plot.h
        left = plot.c_right - w
        base = (left // w) * w         # absolute column c lies at c - base, or c - base - w
        for lo, hi, off in ((max(c0, left), min(c1, base + w), base),
                            (max(c0, base + w), min(c1, plot.c_right), base + w)):
            if hi <= lo:
                continue
            xl = x_abs - off
            if xl[-1] < lo - off - 1 or xl[0] > hi - off + 1:
                continue
            painter.setClipRect(QtCore.QRect(lo - off, 0, hi - lo, h))
            self._polyline(painter, c, xl, y, plot)

    def _draw_bins(self, plot: Plot, curves: list[Curve], t: np.ndarray, px_s: float,
                   bin_s: float, full: bool) -> None:
        """Draw into the layer the bins completed since the last frame (every curve of the
        plot at once), and make each curve's tail (its newest, unfinished bin) to be drawn
        over it."""
        if not len(t):
            return
        left = plot.c_right - plot.w
        b_cur = math.floor(t[-1] / bin_s)                 # the newest bin: not finished
        i1 = int(np.searchsorted(t, b_cur * bin_s, side="left"))
        while i1 > 0 and math.floor(t[i1 - 1] / bin_s) >= b_cur:   # floor's own rounding
            i1 -= 1
        while i1 < len(t) and math.floor(t[i1] / bin_s) < b_cur:
            i1 += 1
        if full or plot.done_t is None:
            i0 = 0
        else:
            i0 = int(np.searchsorted(t, plot.done_t, side="right"))
        if i1 > i0:
            td, yd = peak_decimate(t[i0:i1], np.vstack([c._y[i0:i1] for c in curves]), bin_s)
            if td.ndim == 1:
                td = np.broadcast_to(td, yd.shape)
            painter = QtGui.QPainter(plot.layer)
            for c, x, y in zip(curves, td, yd):
                if c.last is not None:
                    x, y = _before(c.last[0], x), _before(c.last[1], y)
                self._ring_draw(painter, plot, c, x * px_s, y, left, plot.c_right)
                c.last = (float(x[-1]), float(y[-1]))
            painter.end()
            plot.done_t = float(t[i1 - 1])
        tt = t[i1:]
        for c in curves:       # the tail: from the last point drawn to the newest sample
            yt = c._y[i1:]
            if c.last is not None:
                c.tail = (_before(c.last[0], tt) * px_s - left, _before(c.last[1], yt))
            else:
                c.tail = (tt * px_s - left, yt)

    def _runs(self, c: Curve, x: np.ndarray, y: np.ndarray, plot: Plot):
        """The polylines of a stretch of points (broken at gaps and heading re-zeroes)."""
        if len(x) < 2:
            return []
        if c.col in JUMPY:
            join = line_breaks(y)[:-1]
        else:
            f = np.isfinite(y)
            join = f[:-1] & f[1:]
        if join.all():
            cuts = [(0, len(x))]
        else:
            br = np.flatnonzero(~join) + 1
            starts, ends = _before(0, br), _after(br, len(x))
            cuts = [(a, b) for a, b in zip(starts, ends) if b - a >= 2]
        out = []
        yp = self._y_px(plot, y)
        for a, b in cuts:
            poly = pg.functions.create_qpolygonf(b - a)
            arr = pg.functions.ndarray_from_qpolygonf(poly)
            arr[:, 0] = x[a:b]
            arr[:, 1] = yp[a:b]
            out.append(poly)
        return out

    def _polyline(self, painter: QtGui.QPainter, c: Curve, x, y, plot: Plot) -> None:
        painter.setPen(c.pen)
        for poly in self._runs(c, x, y, plot):
            painter.drawPolyline(poly)

    # ------------------------------------------------------------------ painting ----------
    def _label(self, text: str) -> QtGui.QStaticText:
        st = self._labels.get(text)
        if st is None:
            st = self._labels[text] = QtGui.QStaticText(text)
            st.prepare(QtGui.QTransform(), self._small)
        return st

    def _draw_static(self) -> QtGui.QPixmap:
        """Titles, legends, y axes (what changes only with the y range or the traces shown)."""
        pm = QtGui.QPixmap(self.size())
        pm.fill(QtGui.QColor(theme.BG))
        p = QtGui.QPainter(pm)
        for plot in self.plots:
            self._draw_band(p, plot)
        p.end()
        return pm

    def _band_rect(self, plot: Plot) -> QtCore.QRect:
        """A plot's header, y axis and plot area, the whole width."""
        r = plot.rect
        return QtCore.QRect(0, r.top() - HEADER_H, self.width(), r.height() + HEADER_H)

    def _draw_band(self, p: QtGui.QPainter, plot: Plot) -> None:
        """A plot's title, legend and y axis, over the background of its band."""
        p.fillRect(self._band_rect(plot), QtGui.QColor(theme.BG))
        muted, text = QtGui.QColor(theme.MUTED), QtGui.QColor(theme.TEXT)
        r = plot.rect
        title_font = QtGui.QFont(self._font)
        title_font.setPointSizeF(11)
        p.setFont(title_font)
        p.setPen(text)
        fm = p.fontMetrics()
        x = r.left()
        p.drawText(x, r.top() - 7, plot.title)
        x += fm.horizontalAdvance(plot.title) + 24
        p.setFont(self._font)
        fm = p.fontMetrics()
        for c in plot.curves:
            if not c._visible:
                continue
            p.setPen(c.pen)
            p.drawLine(x, r.top() - 11, x + 18, r.top() - 11)
            p.setPen(text)
            p.drawText(x + 24, r.top() - 7, c._legend_name)
            x += 24 + fm.horizontalAdvance(c._legend_name) + 14
        p.setPen(QtGui.QColor(theme.GREY))
        p.drawLine(r.left() - 1, r.top(), r.left() - 1, r.bottom())
        p.setFont(self._small)
        for v in _ticks(*plot.yrange, plot.h / plot.dpr, 28):
            y = r.top() + round(self._y_px(plot, v) / plot.dpr)
            if y > r.bottom() - 7:         # its label would run into the axis below
                continue
            p.setPen(QtGui.QColor(theme.GREY))
            p.drawLine(r.left() - 5, y, r.left() - 1, y)
            p.setPen(muted)
            p.drawText(QtCore.QRect(0, y - 8, r.left() - 8, 16),
                       QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter,
                       f"{v:g}")

    def paintEvent(self, ev):  # noqa: N802
        if self._laid_out != (self.width(), self.height(), self.devicePixelRatioF()) \
                and self._snap is not None:
            self.update_snapshot(self._snap)
        self._layout()
        if self._static is None:
            self._static = self._draw_static()
        p = QtGui.QPainter(self)
        region = ev.region()
        rest = region.subtracted(QtGui.QRegion(self.pelvis.rect)).subtracted(
            QtGui.QRegion(self.hip.rect)).subtracted(QtGui.QRegion(self._time_axis_rect()))
        for r in rest:
            p.drawPixmap(r, self._static, r)
        for plot in self.plots:
            r = plot.rect
            if plot.layer is None or not region.intersects(r):
                continue
            w, dpr = plot.w, plot.dpr
            p0 = (plot.c_right - w) % w          # the layer is a ring of columns
            p.drawImage(QtCore.QRectF(r.left(), r.top(), (w - p0) / dpr, r.height()),
                        plot.layer, QtCore.QRectF(p0, 0, w - p0, plot.h))
            if p0:
                p.drawImage(QtCore.QRectF(r.left() + (w - p0) / dpr, r.top(), p0 / dpr,
                                          r.height()), plot.layer, QtCore.QRectF(0, 0, p0, plot.h))
            p.save()
            p.setClipRect(r)
            p.translate(r.topLeft())
            p.scale(1 / dpr, 1 / dpr)            # the tails in the picture's device pixels
            for c in plot.curves:
                if c._visible and c.tail is not None:
                    self._polyline(p, c, *c.tail, plot)
            p.restore()
        self._paint_time_axis(p)
        if not any(c._visible for c in self.curves.values()):
            p.setFont(self._big)
            p.setPen(QtGui.QColor(theme.TEXT))
            p.drawText(self.pelvis.rect, QtCore.Qt.AlignmentFlag.AlignCenter, self._message)
        p.end()

    def _paint_time_axis(self, p: QtGui.QPainter) -> None:
        r = self.hip.rect
        ax = self._time_axis_rect()
        grey, muted = _AXIS_COLOURS.get(theme.GREY), _AXIS_COLOURS.get(theme.MUTED)
        p.fillRect(ax, _AXIS_COLOURS.get(theme.BG))
        t0, t1 = self.hip.t_range
        px_s = r.width() / self.window_s
        top = ax.top()
        vs = _ticks(t0, t1, r.width(), 70).tolist()
        xs = [r.left() + round((v - t0) * px_s) for v in vs]
        # the axis line and every tick in one call, then the labels in one colour
        p.setPen(grey)
        p.drawLines([QtCore.QLine(r.left(), top, r.right(), top)]
                    + [QtCore.QLine(x, top, x, top + 4) for x in xs])
        p.setFont(self._small)
        p.setPen(muted)
        for x, v in zip(xs, vs):
            st = self._label(f"{v:g}")
            p.drawStaticText(QtCore.QPointF(x - st.size().width() / 2, top + 5), st)
        st = self._label("time (s)")
        p.drawStaticText(QtCore.QPointF(r.center().x() - st.size().width() / 2,
                                        ax.top() + 18), st)

    def _empty_message(self, snap: Snapshot) -> str:
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
        return msg
