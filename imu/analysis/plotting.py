"""Small inline-SVG charts for the self-contained report (no JavaScript, no network).

:class:`Chart` draws time series with shaded spans (reps), horizontal bands (grade zones),
reference lines and labelled markers (faults). Long series are reduced to a min/max envelope per
pixel column so a 10-minute set at 200 Hz stays a few kilobytes; NaN gaps break the line.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

PALETTE = {
    "blue": "#1f6fb2", "orange": "#e07b00", "green": "#2e8b57", "red": "#c0392b",
    "purple": "#7b4fa0", "grey": "#6b7280", "teal": "#138d90", "amber": "#d4a017",
    "zone_green": "#d8f0dd", "zone_amber": "#fbedc4", "zone_red": "#f8d4cf",
}


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + 1e-9 * step:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:g}"


def envelope(x: np.ndarray, y: np.ndarray, n_cols: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split at NaN gaps and reduce each piece to at most ~2 points per column (min and max).

    Returns a list of ``(x, y)`` pieces ready to draw as polylines.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    pieces = []
    if not ok.any():
        return pieces
    idx = np.flatnonzero(ok)
    breaks = np.flatnonzero(np.diff(idx) > 1)
    for seg in np.split(idx, breaks + 1):
        xs, ys = x[seg], y[seg]
        if len(xs) > 2 * n_cols and n_cols > 0:
            span = xs[-1] - xs[0]
            col = np.minimum(((xs - xs[0]) / (span if span > 0 else 1) * n_cols).astype(int), n_cols - 1)
            starts = np.flatnonzero(np.r_[True, np.diff(col) != 0])
            ends = np.r_[starts[1:], len(xs)]
            keep = []
            for a, b in zip(starts, ends):
                blk = ys[a:b]
                i_min, i_max = a + int(np.argmin(blk)), a + int(np.argmax(blk))
                keep.extend(sorted({a, i_min, i_max, b - 1}))
            keep = np.array(keep)
            xs, ys = xs[keep], ys[keep]
        pieces.append((xs, ys))
    return pieces


class Chart:
    """One SVG chart.

    Parameters
    ----------
    width, height : int
        Pixels.
    title, xlabel, ylabel : str
    x_range, y_range : (float, float) or None
        Axis limits; ``None`` fits the data.
    x_ticks : list of (float, str) or None
        Fixed x ticks (value, label), e.g. set numbers for a trend chart.
    """

    def __init__(self, width: int = 920, height: int = 260, title: str = "", xlabel: str = "time (s)",
                 ylabel: str = "degrees", x_range=None, y_range=None, x_ticks=None):
        self.w, self.h = int(width), int(height)
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.x_range, self.y_range, self.x_ticks = x_range, y_range, x_ticks
        self.ml, self.mr, self.mt, self.mb = 52, 14, 30, 34
        self._lines: list[tuple] = []
        self._spans: list[tuple] = []
        self._bands: list[tuple] = []
        self._hlines: list[tuple] = []
        self._markers: list[tuple] = []
        self._points: list[tuple] = []

    # -- content -------------------------------------------------------------------------------
    def line(self, x, y, color: str = "blue", label: str | None = None, width: float = 1.6,
             dash: str | None = None) -> "Chart":
        self._lines.append((np.asarray(x, float), np.asarray(y, float), PALETTE.get(color, color),
                            label, width, dash))
        return self

    def points(self, x, y, color: str = "blue", label: str | None = None) -> "Chart":
        """A line with a dot at every point (trend charts)."""
        self._points.append((np.asarray(x, float), np.asarray(y, float), PALETTE.get(color, color), label))
        return self

    def span(self, x0: float, x1: float, color: str = "green", opacity: float = 0.14,
             label: str | None = None) -> "Chart":
        self._spans.append((x0, x1, PALETTE.get(color, color), opacity, label))
        return self

    def hband(self, y0: float, y1: float, color: str) -> "Chart":
        self._bands.append((y0, y1, PALETTE.get(color, color)))
        return self

    def hline(self, y: float, color: str = "grey", dash: str = "4 3", label: str | None = None) -> "Chart":
        self._hlines.append((y, PALETTE.get(color, color), dash, label))
        return self

    def marker(self, x: float, y: float, color: str = "red", label: str | None = None) -> "Chart":
        self._markers.append((x, y, PALETTE.get(color, color), label))
        return self

    # -- geometry ------------------------------------------------------------------------------
    def _limits(self):
        xs, ys = [], []
        for x, y, *_ in self._lines + [p[:2] + (None,) for p in self._points]:
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.any():
                xs += [x[ok].min(), x[ok].max()]
                ys += [y[ok].min(), y[ok].max()]
        for x, y, *_ in self._markers:
            if np.isfinite(y):
                ys.append(y + 0.12 * (max(ys) - min(ys) if ys else 10.0) + 4.0)
        x0, x1 = self.x_range or ((min(xs), max(xs)) if xs else (0.0, 1.0))
        if self.y_range:
            y0, y1 = self.y_range
        else:
            for y, *_ in self._hlines:
                ys.append(y)
            y0, y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
            pad = max((y1 - y0) * 0.08, 1.0)
            y0, y1 = y0 - pad, y1 + pad
        if x1 <= x0:
            x0, x1 = x0 - 0.5, x0 + 0.5
        if y1 <= y0:
            y0, y1 = y0 - 1, y0 + 1
        return x0, x1, y0, y1

    # -- render --------------------------------------------------------------------------------
    def svg(self) -> str:
        x0, x1, y0, y1 = self._limits()
        pw, ph = self.w - self.ml - self.mr, self.h - self.mt - self.mb

        def X(v):
            return self.ml + (np.asarray(v, float) - x0) / (x1 - x0) * pw

        def Y(v):
            return self.mt + (1 - (np.asarray(v, float) - y0) / (y1 - y0)) * ph

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {self.w} {self.h}" '
               f'width="{self.w}" height="{self.h}" role="img" aria-label="{escape(self.title)}">']
        clip = f"clip{id(self) & 0xffffff:x}"
        out.append(f'<defs><clipPath id="{clip}"><rect x="{self.ml}" y="{self.mt}" width="{pw}" '
                   f'height="{ph}"/></clipPath></defs>')
        out.append(f'<rect x="{self.ml}" y="{self.mt}" width="{pw}" height="{ph}" fill="#fff" '
                   f'stroke="#c9ced6"/>')
        if self.title:
            out.append(f'<text x="{self.ml}" y="{self.mt - 10}" class="ct">{escape(self.title)}</text>')
        g = [f'<g clip-path="url(#{clip})">']
        for b0, b1, color in self._bands:
            lo, hi = max(min(b0, b1), y0), min(max(b0, b1), y1)
            if hi > lo:
                g.append(f'<rect x="{self.ml}" y="{Y(hi):.1f}" width="{pw}" height="{Y(lo) - Y(hi):.1f}" '
                         f'fill="{color}"/>')
        for s0, s1, color, op, label in self._spans:
            a, b = X(max(s0, x0)), X(min(s1, x1))
            if b > a:
                g.append(f'<rect x="{a:.1f}" y="{self.mt}" width="{b - a:.1f}" height="{ph}" fill="{color}" '
                         f'fill-opacity="{op}"/>')
                if label:
                    g.append(f'<text x="{(a + b) / 2:.1f}" y="{self.mt + ph - 5}" class="sl">{escape(label)}</text>')
        # grid
        for v in nice_ticks(y0, y1, 5):
            g.append(f'<line x1="{self.ml}" x2="{self.ml + pw}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" class="grid"/>')
        for y, color, dash, label in self._hlines:
            if y0 <= y <= y1:
                g.append(f'<line x1="{self.ml}" x2="{self.ml + pw}" y1="{Y(y):.1f}" y2="{Y(y):.1f}" '
                         f'stroke="{color}" stroke-dasharray="{dash}" stroke-width="1"/>')
                if label:
                    g.append(f'<text x="{self.ml + pw - 4}" y="{Y(y) - 3:.1f}" class="hl" '
                             f'fill="{color}">{escape(label)}</text>')
        for x, y, color, label, width, dash in self._lines:
            for xs, ys in envelope(x, y, pw):
                pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(xs), Y(ys)))
                d = f' stroke-dasharray="{dash}"' if dash else ""
                g.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}" '
                         f'stroke-linejoin="round"{d}/>')
        for x, y, color, label in self._points:
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() > 1:
                pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(X(x[ok]), Y(y[ok])))
                g.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.8"/>')
            for a, b in zip(X(x[ok]), Y(y[ok])):
                g.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{color}"/>')
        g.append("</g>")
        out += g
        for x, y, color, label in self._markers:
            if not (x0 <= x <= x1 and np.isfinite(y)):
                continue
            cx, cy = float(X(x)), float(min(max(Y(y), self.mt + 8), self.mt + ph))
            out.append(f'<path d="M{cx:.1f},{cy - 6:.1f} l-6,-10 h12 z" fill="{color}"/>')
            if label:
                out.append(f'<text x="{cx:.1f}" y="{cy - 19:.1f}" class="ml" fill="{color}">'
                           f'{escape(label)}</text>')
        # axes
        for v in nice_ticks(y0, y1, 5):
            out.append(f'<text x="{self.ml - 6}" y="{Y(v) + 4:.1f}" class="yt">{_fmt(v)}</text>')
        xt = self.x_ticks if self.x_ticks is not None else [(v, _fmt(v)) for v in nice_ticks(x0, x1, 10)]
        for v, lab in xt:
            if x0 - 1e-9 <= v <= x1 + 1e-9:
                out.append(f'<line x1="{X(v):.1f}" x2="{X(v):.1f}" y1="{self.mt + ph}" '
                           f'y2="{self.mt + ph + 4}" stroke="#6b7280"/>')
                out.append(f'<text x="{X(v):.1f}" y="{self.mt + ph + 16}" class="xt">{escape(lab)}</text>')
        out.append(f'<text x="{self.ml + pw / 2:.1f}" y="{self.h - 4}" class="xl">{escape(self.xlabel)}</text>')
        out.append(f'<text transform="translate(13,{self.mt + ph / 2:.1f}) rotate(-90)" class="xl">'
                   f'{escape(self.ylabel)}</text>')
        # legend: top right, on the title's line
        items = [(c, lab) for _, _, c, lab, *_ in self._lines if lab] + \
                [(c, lab) for _, _, c, lab in self._points if lab]
        lx = self.ml + pw
        ly = max(self.mt - 10, 10)
        for color, lab in reversed(items):
            wtxt = 6.2 * len(lab) + 26
            lx -= wtxt
            out.append(f'<rect x="{lx:.0f}" y="{ly - 6}" width="14" height="4" fill="{color}"/>')
            out.append(f'<text x="{lx + 18:.0f}" y="{ly}" class="lg">{escape(lab)}</text>')
        out.append("</svg>")
        return "".join(out)


#: CSS classes used by the charts (the report includes it once).
CHART_CSS = """
svg.chart { max-width: 100%; height: auto; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
svg.chart .ct { font-size: 13px; font-weight: 600; fill: #1f2937; }
svg.chart .grid { stroke: #eef0f3; stroke-width: 1; }
svg.chart .yt { font-size: 11px; fill: #4b5563; text-anchor: end; }
svg.chart .xt { font-size: 11px; fill: #4b5563; text-anchor: middle; }
svg.chart .xl { font-size: 11px; fill: #4b5563; text-anchor: middle; }
svg.chart .lg { font-size: 11px; fill: #374151; }
svg.chart .sl { font-size: 10px; fill: #374151; text-anchor: middle; }
svg.chart .ml { font-size: 10px; font-weight: 600; text-anchor: middle; }
svg.chart .hl { font-size: 10px; text-anchor: end; }
"""
