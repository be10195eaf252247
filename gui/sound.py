"""The optional audible cue: a short tone when a rep ends with a fault, or when the pelvis leaves
the green band during a single-leg hold.

:class:`CueWatcher` decides from consecutive snapshots which cues are due (pure logic, tested
headless); a *sink* makes the sound. :class:`ToneSink` writes a short sine tone as a WAV file
(numpy) and plays it with the system's player (``paplay``, ``pw-play``, ``aplay`` or ``afplay``);
PySide6-Essentials has no QtMultimedia. Without a player it falls back to the desktop bell and says
so once in the log; a sound that cannot play never stops the dashboard.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Callable

import numpy as np

from imu.gui.views.exercises import view_for

log = logging.getLogger(__name__)

#: cue kinds and their tone (Hz, seconds)
TONES = {"fault": (660.0, 0.18), "drop": (880.0, 0.12)}
PLAYERS = ("paplay", "pw-play", "aplay", "afplay")


def _key(item: dict) -> tuple:
    return (item.get("exercise"), item.get("set_index"), item.get("index"), item.get("end_s"))


class CueWatcher:
    """Which cues a new snapshot calls for.

    ``"fault"``: a rep (or hold, or stride) completed since the last snapshot has a fault;
    ``"drop"``: during a set whose view cues on the drop (single-leg stance), the live pelvic drop
    went from the green band to amber or red. The first snapshot only sets the baseline, and a
    replay seek (items disappear) resets it, so jumping around never plays a burst of tones.
    """

    def __init__(self, grade: Callable[[object, float | None], str]):
        self.grade = grade
        self._seen: set | None = None
        self._n = 0
        self._was_green = False

    def events(self, snap) -> list[str]:
        items = list(snap.reps) + list(snap.holds) + list(getattr(snap, "strides", []))
        out = []
        if self._seen is None or len(items) < self._n:
            self._seen = {_key(it) for it in items}
        else:
            new = [it for it in items if _key(it) not in self._seen]
            self._seen.update(_key(it) for it in new)
            if any(it.get("faults") for it in new):
                out.append("fault")
        self._n = len(items)
        cs = snap.current_set
        view = view_for(cs.get("exercise") if cs else None)
        drop = snap.current.get("pelvic_drop_deg") if view.cue_on_drop else None
        g = self.grade(snap, drop) if drop is not None else "none"
        if g in ("amber", "red") and self._was_green:
            out.append("drop")
        self._was_green = g == "green"
        return out


def tone_wav(path: str | os.PathLike, freq_hz: float, dur_s: float, rate_hz: int = 22050) -> Path:
    """Write a sine tone with 10 ms fades as 16-bit mono WAV."""
    n = int(rate_hz * dur_s)
    t = np.arange(n) / rate_hz
    y = np.sin(2 * np.pi * freq_hz * t)
    ramp = min(n // 2, int(0.01 * rate_hz))
    if ramp:
        env = np.ones(n)
        env[:ramp] = np.linspace(0, 1, ramp)
        env[-ramp:] = np.linspace(1, 0, ramp)
        y *= env
    data = (0.4 * 32767 * y).astype("<i2")
    path = Path(path)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(data.tobytes())
    return path


class ToneSink:
    """Plays the cue tones (see the module text); ``play(kind)`` returns at once."""

    def __init__(self):
        self.player = next((p for p in PLAYERS if shutil.which(p)), None)
        self._dir = None
        self._files: dict[str, Path] = {}
        self._warned = False
        self._procs: list[subprocess.Popen] = []

    def _file(self, kind: str) -> Path:
        if kind not in self._files:
            if self._dir is None:
                self._dir = tempfile.TemporaryDirectory(prefix="imu-cue-")
            self._files[kind] = tone_wav(Path(self._dir.name) / f"{kind}.wav", *TONES[kind])
        return self._files[kind]

    def play(self, kind: str) -> None:
        try:
            self._procs = [p for p in self._procs if p.poll() is None]
            if self.player is not None:
                self._procs.append(subprocess.Popen(
                    [self.player, str(self._file(kind))], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL))
                return
            if not self._warned:
                log.warning("sound cue: no audio player found (%s); using the desktop bell",
                            ", ".join(PLAYERS))
                self._warned = True
            from PySide6 import QtWidgets
            QtWidgets.QApplication.beep()
        except Exception as exc:  # noqa: BLE001 - a sound never stops the dashboard
            if not self._warned:
                log.warning("sound cue could not play: %s", exc)
                self._warned = True

    def close(self) -> None:
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
