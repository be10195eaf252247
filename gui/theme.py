"""Colours and the style sheet shared by every view (a dark theme that reads well on a gym laptop)."""

from __future__ import annotations

BG = "#0f172a"          # window
PANEL = "#1e293b"       # cards
PANEL_2 = "#273449"
TEXT = "#e2e8f0"
MUTED = "#94a3b8"
ACCENT = "#38bdf8"

GREEN = "#22c55e"
AMBER = "#f59e0b"
RED = "#ef4444"
GREY = "#64748b"

#: Trace colours per SPEC column.
TRACE_COLOURS = {
    "pelvis_tilt": "#38bdf8",
    "pelvis_obliquity": "#f59e0b",
    "pelvis_rotation": "#a78bfa",
    "right_hip_flexion": "#f43f5e",
    "left_hip_flexion": "#22c55e",
    "right_thigh_inclination": "#fda4af",
    "left_thigh_inclination": "#86efac",
    "right_hip_rotation": "#fb923c",
    "left_hip_rotation": "#2dd4bf",
    "lumbar_flexion": "#e2e8f0",
    "pelvic_drop_deg": "#f8fafc",
}

STATE_COLOURS = {
    "streaming": GREEN,
    "connecting": AMBER,
    "reconnecting": AMBER,
    "disconnected": RED,
    "stopped": GREY,
}

GRADE_COLOURS = {"green": GREEN, "amber": AMBER, "red": RED, "none": GREY}

STYLE = f"""
QWidget {{ background: {BG}; color: {TEXT}; font-size: 13px; }}
QFrame#card {{ background: {PANEL}; border-radius: 8px; }}
QLabel#muted {{ color: {MUTED}; background: transparent; }}
QLabel {{ background: transparent; }}
QLabel#title {{ font-size: 18px; font-weight: 600; }}
QLabel#bignum {{ font-size: 36px; font-weight: 700; }}
QLabel#bigcap {{ color: {MUTED}; font-size: 12px; text-transform: uppercase; }}
QPushButton {{ background: {PANEL_2}; border: 1px solid #334155; border-radius: 6px;
              padding: 6px 14px; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton#primary {{ background: #0369a1; border-color: #0284c7; font-weight: 600; }}
QPushButton#danger {{ background: #991b1b; border-color: #b91c1c; font-weight: 600; }}
QComboBox {{ background: {PANEL_2}; border: 1px solid #334155; border-radius: 6px; padding: 4px 8px; }}
QTableWidget {{ background: {PANEL}; gridline-color: #334155; border: none; border-radius: 8px; }}
QHeaderView::section {{ background: {PANEL_2}; color: {MUTED}; border: none; padding: 4px; }}
QSlider::groove:horizontal {{ height: 6px; background: #334155; border-radius: 3px; }}
QSlider::handle:horizontal {{ background: {ACCENT}; width: 14px; margin: -5px 0; border-radius: 7px; }}
QSlider::sub-page:horizontal {{ background: #0369a1; border-radius: 3px; }}
QProgressBar {{ background: {PANEL_2}; border: none; border-radius: 4px; height: 10px; text-align: center; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 4px; }}
QStatusBar {{ color: {MUTED}; }}
"""
