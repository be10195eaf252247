"""The simulator writes what real sensors' software writes: Movella DOT CSV exports of every
kind and Xsens MT Manager ``.txt`` exports, so importer tests can assert against truth.

Use an error-free simulation (``errors=False``: every sample present, ideal clocks): each
sample then has its true orientation (:meth:`imu.sim.SimResult.sensor_orientation`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imu import quat as Q
from imu.session.vendor import GRAVITY_M_S2

#: DOT export kinds
DOT_KINDS = ("raw", "quat", "euler", "raw+euler", "delta")
#: DOT app versions whose small differences are imitated
DOT_APPS = ("2020", "2021", "2024")
XSENS_ORIENTATIONS = ("quat", "euler", "matrix", "none")

_DOT_TAGS = {"sacrum": "pelvis", "right_thigh": "RFemur", "left_thigh": "LFemur",
             "trunk": "torso"}


def euler_zyx_deg(q: np.ndarray) -> np.ndarray:
    """(N, 4) → (N, 3) roll X, pitch Y, yaw Z in degrees (``R = Rz·Ry·Rx``)."""
    return Q.to_scipy(q).as_euler("ZYX", degrees=True)[:, ::-1]


def _samples(res, role):
    d = res.session.sensors[role]
    q = res.sensor_orientation(role)
    if len(q) != len(d):
        raise ValueError("vendor exports need an error-free simulation (errors=False)")
    return d, q


def write_dot_exports(res, folder, *, kind: str = "raw", app: str = "2021",
                      tags: dict | None = None, zero_first_row: bool = True,
                      t0_us: int = 2 ** 32 - 1_500_000, skip_packets: int = 0,
                      preamble: bool = True) -> list[Path]:
    """One DOT CSV per sensor of ``res`` in ``folder``; returns the paths.

    Parameters
    ----------
    kind : {"raw", "quat", "euler", "raw+euler", "delta"}
        ``raw``: Acc (m/s²) and Gyr (deg/s); ``quat``/``euler``: sensor fusion (Quat_W..Z or
        Euler_X..Z) with FreeAcc; ``raw+euler``: the 2021 offline layout (Euler then Acc/Gyr);
        ``delta``: dq/dv.
    app : {"2020", "2021", "2024"}
        2020: ``Device Tag:`` preamble, trailing commas; 2021: ``sep=,`` first line and
        ``DeviceTag:``; 2024: a space after each comma, no trailing comma.
    zero_first_row : bool
        Start with an all-zero data row (what offline exports do).
    t0_us : int
        SampleTimeFine of the first sample (the default wraps the uint32 µs clock).
    skip_packets : int
        Drop every n-th packet (counters skip), 0 for none.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for role in res.session.roles:
        d, q = _samples(res, role)
        t = np.asarray(d.t_sensor_s, float)
        us = (t0_us + np.rint((t - t[0]) * 1e6).astype(np.int64)) % 2 ** 32
        pc = np.arange(len(t)) % 2 ** 16
        free = Q.rotate(q, d.acc)
        free[:, 2] -= GRAVITY_M_S2
        if kind == "raw":
            names = ["Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y", "Gyr_Z"]
            vals = np.column_stack([d.acc, np.degrees(d.gyr)])
        elif kind == "raw+euler":
            names = ["Euler_X", "Euler_Y", "Euler_Z", "Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y",
                     "Gyr_Z"]
            vals = np.column_stack([euler_zyx_deg(q), d.acc, np.degrees(d.gyr)])
        elif kind == "quat":
            names = ["Quat_W", "Quat_X", "Quat_Y", "Quat_Z", "FreeAcc_X", "FreeAcc_Y",
                     "FreeAcc_Z", "Status"]
            vals = np.column_stack([Q.canonical(q), free, np.zeros(len(t))])
        elif kind == "euler":
            names = ["Euler_X", "Euler_Y", "Euler_Z", "FreeAcc_X", "FreeAcc_Y", "FreeAcc_Z",
                     "Status"]
            vals = np.column_stack([euler_zyx_deg(q), free, np.zeros(len(t))])
        elif kind == "delta":
            dt = np.diff(t, prepend=t[0] - np.median(np.diff(t)))
            dq = Q.from_rotvec(d.gyr * dt[:, None])
            names = ["dq_W", "dq_X", "dq_Y", "dq_Z", "dv[1]", "dv[2]", "dv[3]"]
            vals = np.column_stack([dq, d.acc * dt[:, None]])
        else:
            raise ValueError(f"kind {kind!r}: one of {DOT_KINDS}")
        rows = np.column_stack([pc, us, vals])
        if skip_packets:
            rows = np.delete(rows, np.arange(skip_packets - 1, len(rows), skip_packets), axis=0)
        tag = (tags or _DOT_TAGS).get(role, role)
        sep = ", " if app == "2024" else ","
        tail = "" if app == "2024" else ","
        lines = []
        if preamble:
            if app == "2021":
                lines.append("sep=,")
            key = "Device Tag:" if app == "2020" else "DeviceTag:"
            lines += [f"{key},{tag}", "FirmwareVersion:,2.0.0", f"AppVersion:,{app}.0",
                      f"OutputRate:,{res.rate_hz:g}Hz", "FilterProfile:,General",
                      "Measurement Mode:,sim", "StartTime: ,2026-01-01_00:00:00_000 GMT", ""]
        lines.append(sep.join(["PacketCounter", "SampleTimeFine"] + names) + tail)
        if zero_first_row:
            z = [0, int(us[0]) - 1] + [0] * len(names)
            lines.append(sep.join(str(v) for v in z) + tail)
        for r in rows:
            cells = [str(int(r[0])), str(int(r[1]))] + [f"{v:.9f}" for v in r[2:]]
            lines.append(sep.join(cells) + tail)
        p = folder / f"{tag}_D4CA6EF1{abs(hash(role)) % 9999:04d}_20260101_000000.csv"
        p.write_text("\n".join(lines) + "\n")
        out.append(p)
    return out


def write_xsens_exports(res, folder, *, orientation: str = "matrix", gyro: bool = False,
                        device_ids: dict | None = None, fine: bool = False) -> list[Path]:
    """One MT Manager ``.txt`` per sensor of ``res`` in ``folder``; returns the paths.

    ``orientation`` is ``quat`` (Quat_q0..q3), ``euler`` (Roll/Pitch/Yaw), ``matrix``
    (Mat[i][j], ``R_GS``) or ``none``; ``gyro`` adds Gyr_X..Z (rad/s); ``fine`` fills
    SampleTimeFine (10 kHz ticks, else it is empty as in the OpenSense example).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = device_ids or {"sacrum": "00B40001", "right_thigh": "00B40002",
                         "left_thigh": "00B40003", "trunk": "00B40004"}
    out = []
    for role in res.session.roles:
        d, q = _samples(res, role)
        t = np.asarray(d.t_sensor_s, float)
        names = ["PacketCounter", "SampleTimeFine", "Acc_X", "Acc_Y", "Acc_Z"]
        cols = [np.arange(len(t)) % 2 ** 16 + 472, None, d.acc[:, 0], d.acc[:, 1], d.acc[:, 2]]
        if gyro:
            names += ["Gyr_X", "Gyr_Y", "Gyr_Z"]
            cols += [d.gyr[:, 0], d.gyr[:, 1], d.gyr[:, 2]]
        if orientation == "quat":
            qc = Q.canonical(q)
            names += ["Quat_q0", "Quat_q1", "Quat_q2", "Quat_q3"]
            cols += [qc[:, k] for k in range(4)]
        elif orientation == "euler":
            e = euler_zyx_deg(q)
            names += ["Roll", "Pitch", "Yaw"]
            cols += [e[:, 0], e[:, 1], e[:, 2]]
        elif orientation == "matrix":
            m = Q.to_matrix(q)
            for j in range(3):
                for i in range(3):
                    names.append(f"Mat[{i + 1}][{j + 1}]")
                    cols.append(m[:, i, j])
        elif orientation != "none":
            raise ValueError(f"orientation {orientation!r}: one of {XSENS_ORIENTATIONS}")
        lines = ["// Start Time: Unknown", f"// Update Rate: {res.rate_hz:.1f}Hz",
                 "// Filter Profile: human (46.1)", "// Firmware Version: 4.0.2",
                 "\t".join(names)]
        ticks = np.rint((t - t[0]) * 1e4).astype(np.int64) + 123456
        for k in range(len(t)):
            cells = [f"{int(cols[0][k]):05d}", str(int(ticks[k])) if fine else ""]
            cells += [f"{c[k]:.6f}" for c in cols[2:]]
            lines.append("\t".join(cells))
        p = folder / f"MT_012005D6_000-000_{ids[role]}.txt"
        p.write_text("\n".join(lines) + "\n")
        out.append(p)
    return out


__all__ = ["write_dot_exports", "write_xsens_exports", "DOT_KINDS", "DOT_APPS",
           "XSENS_ORIENTATIONS", "euler_zyx_deg"]
