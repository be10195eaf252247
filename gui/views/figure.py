"""A stick figure of the pelvis and thighs, seen from the side and from the front, posed by the
newest angles (docs/formats.md signs), so the hinge and the pelvic drop read as a shape.

Side view (facing right): the pelvis line turns with ``pelvis_tilt`` (+ anterior: the front goes
down), the trunk stub leans with it (plus ``lumbar_flexion`` when a trunk sensor is worn), each
thigh hangs at its ``thigh_inclination`` (+ knee forward; ``hip_flexion − pelvis_tilt`` without it).

Front view (facing the viewer, so the patient's right is on the left): the pelvis bar turns with
``pelvis_obliquity`` (+ right side lower); each thigh hangs perpendicular to the bar turned by its
``hip_adduction`` (+ knee toward the midline).

The widget only draws the angles it is given; :meth:`StickFigure.pose` holds the geometry (unit
vectors), which the tests check.
"""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

from imu.gui import theme

SIDE_COLOURS = {"right": theme.TRACE_COLOURS["right_hip_flexion"],
                "left": theme.TRACE_COLOURS["left_hip_flexion"]}


def _get(cur: dict, key: str, default: float = 0.0) -> float:
    v = cur.get(key)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def _rot(vx: float, vy: float, deg: float) -> tuple[float, float]:
    """Rotate (vx, vy) counter-clockwise by ``deg`` (y up)."""
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return (c * vx - s * vy, s * vx + c * vy)


class StickFigure(QtWidgets.QWidget):
    """Side and front views of pelvis, trunk stub and thighs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(220, 150)
        self.cur: dict = {}
        self.sides: list[str] = []
        self.pelvis_colour = theme.TEXT
        self.stance: str | None = None

    def set_angles(self, cur: dict, pelvis_grade: str | None = None,
                   stance: str | None = None) -> None:
        """Pose the figure from the newest angle values (degrees, SPEC column names)."""
        self.cur = dict(cur)
        self.sides = [s for s in ("right", "left")
                      if f"{s}_hip_flexion" in cur or f"{s}_thigh_inclination" in cur]
        self.pelvis_colour = theme.GRADE_COLOURS.get(pelvis_grade or "", theme.TEXT)
        self.stance = stance
        self.update()

    # ----------------------------------------------------------------- geometry -----------
    def pose(self) -> dict:
        """Unit direction vectors (x right, y up) of every drawn segment.

        ``side_pelvis``: back→front of the pelvis in the side view; ``side_trunk``;
        ``side_thigh_<s>``: hip→knee; ``front_pelvis``: patient's right→left hip;
        ``front_thigh_<s>``: hip→knee in the front view.
        """
        c = self.cur
        tilt = _get(c, "pelvis_tilt")
        out = {"side_pelvis": _rot(1.0, 0.0, -tilt),
               "side_trunk": _rot(0.0, 1.0, -(tilt + _get(c, "lumbar_flexion")))}
        obl = _get(c, "pelvis_obliquity")
        out["front_pelvis"] = _rot(1.0, 0.0, obl)
        for s in self.sides:
            if f"{s}_thigh_inclination" in c:
                inc = _get(c, f"{s}_thigh_inclination")
            else:
                inc = _get(c, f"{s}_hip_flexion") - tilt
            out[f"side_thigh_{s}"] = _rot(0.0, -1.0, inc)
            add = _get(c, f"{s}_hip_adduction")
            out[f"front_thigh_{s}"] = _rot(0.0, -1.0, obl + (add if s == "right" else -add))
        return out

    # ------------------------------------------------------------------ drawing -----------
    def paintEvent(self, _event):  # noqa: N802 (Qt name)
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        r = self.rect()
        p.fillRect(r, QtGui.QColor(theme.PANEL))
        w, h = r.width(), r.height()
        pose = self.pose()
        half = w / 2
        scale = min(half, h) * 0.36
        p.setPen(QtGui.QColor(theme.MUTED))
        f = p.font()
        f.setPointSizeF(9)
        p.setFont(f)
        p.drawText(QtCore.QRectF(6, 4, half, 16), "SIDE")
        p.drawText(QtCore.QRectF(half + 6, 4, half, 16), "FRONT")
        if not self.cur:
            p.drawText(QtCore.QRectF(0, 0, w, h), QtCore.Qt.AlignmentFlag.AlignCenter, "no angles yet")
            p.end()
            return
        p.setPen(QtGui.QPen(QtGui.QColor(theme.GREY), 1, QtCore.Qt.PenStyle.DotLine))
        p.drawLine(QtCore.QLineF(half, 18, half, h - 4))

        def seg(x0, y0, v, length, colour, width=5.0):
            x1, y1 = x0 + v[0] * length, y0 - v[1] * length
            p.setPen(QtGui.QPen(QtGui.QColor(colour), width, QtCore.Qt.PenStyle.SolidLine,
                                QtCore.Qt.PenCapStyle.RoundCap))
            p.drawLine(QtCore.QLineF(x0, y0, x1, y1))
            return x1, y1

        # side view: hip joint in the middle of the left half
        hx, hy = half * 0.5, h * 0.42
        seg(hx, hy, pose["side_trunk"], scale * 1.1, theme.MUTED, 4.0)
        for s in reversed(self.sides):            # right drawn last (in front)
            seg(hx, hy, pose[f"side_thigh_{s}"], scale * 1.2, SIDE_COLOURS[s])
        v = pose["side_pelvis"]
        seg(hx - v[0] * scale * 0.45, hy + v[1] * scale * 0.45, v, scale * 0.9, self.pelvis_colour, 7.0)
        # front view: pelvis bar centred in the right half
        cx, cy = half * 1.5, h * 0.42
        v = pose["front_pelvis"]
        wdt = scale * 0.55
        rx, ry = cx - v[0] * wdt, cy + v[1] * wdt          # patient's right hip (viewer's left)
        lx, ly = cx + v[0] * wdt, cy - v[1] * wdt
        seg(rx, ry, v, 2 * wdt, self.pelvis_colour, 7.0)
        p.setPen(QtGui.QPen(QtGui.QColor(theme.GREY), 1, QtCore.Qt.PenStyle.DashLine))
        p.drawLine(QtCore.QLineF(cx - wdt * 1.3, cy, cx + wdt * 1.3, cy))     # level reference
        for s, (x0, y0) in (("right", (rx, ry)), ("left", (lx, ly))):
            if s in self.sides:
                width = 6.0 if self.stance == s else 4.0
                seg(x0, y0, pose[f"front_thigh_{s}"], scale * 1.2, SIDE_COLOURS[s], width)
        obl = _get(self.cur, "pelvis_obliquity")
        tilt = _get(self.cur, "pelvis_tilt")
        p.setPen(QtGui.QColor(theme.MUTED))
        p.drawText(QtCore.QRectF(6, h - 20, half - 6, 16), f"tilt {tilt:+.0f}°")
        p.drawText(QtCore.QRectF(half + 6, h - 20, half - 6, 16), f"obliquity {obl:+.0f}°")
        p.end()
