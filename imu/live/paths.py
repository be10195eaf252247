"""Where the live commands keep their recordings by default."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from imu.output import private_dir


def user_data_dir() -> Path:
    """The user's data folder for imu: ``$IMU_DATA_DIR``, else ``$XDG_DATA_HOME/imu``, else
    ``~/.local/share/imu`` (created if missing)."""
    env = os.environ.get("IMU_DATA_DIR")
    if env:
        base = Path(env)
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".local" / "share") / "imu"
    return private_dir(base)


def new_session_path(prefix: str = "session", ext: str = ".imu") -> Path:
    """A fresh recording path ``<data dir>/sessions/<prefix>-YYYYmmdd-HHMMSS.imu``."""
    folder = private_dir(user_data_dir() / "sessions")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"{prefix}-{stamp}{ext}"
    k = 2
    while path.exists():
        path = folder / f"{prefix}-{stamp}-{k}{ext}"
        k += 1
    return path


def display_available() -> bool:
    """True when a window can be shown (X11/Wayland display, or Qt told to render offscreen)."""
    plat = os.environ.get("QT_QPA_PLATFORM", "")
    if plat.startswith("offscreen") or plat.startswith("minimal") or plat.startswith("vnc"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def remove_empty(out) -> None:
    """Remove a recording that holds no sample (nothing recorded: leave no empty file)."""
    import os

    try:
        os.unlink(out)
    except OSError:
        pass


def no_samples_error(source, per_role: dict, out, kept: bool) -> int:
    """0, or a SensorError naming every assigned sensor that delivered no sample."""
    silent = [r for r in source.sensors if not per_role.get(r)]
    if not silent:
        return 0
    if not source.sensors:
        from imu.errors import SensorError
        raise SensorError("no sensor delivered a sample; nothing recorded")
    from imu.errors import SensorError

    names = ", ".join(f"{r} ({source.sensors[r].sensor_id})" for r in silent)
    raise SensorError(f"no samples from {names}" + (f"; {out} holds the other sensors"
                                                    if kept else ""))
