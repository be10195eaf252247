"""Process settings for the processes that must answer within milliseconds: the live window's,
the live processing's (:mod:`imu.live.process`) and the virtual sensors'
(:mod:`imu.sources.ble.sensor_process`).

Two things delayed their work by several milliseconds (``python -m bench dashboard``): the
interpreter's thread switch interval (Python's default 5 ms: a thread woken by another waits up
to that long for the interpreter lock while the other computes), and the garbage collector's
full collections, which scan every object made so far (modules, the window, the simulation):
pauses of up to ~20 ms in the window's process and ~8 ms in the sensors' process.
"""

from __future__ import annotations

import gc
import sys

#: the interpreter's thread switch interval in a live process, s (Python's default: 5 ms)
SWITCH_INTERVAL_S = 0.001


def tune_process(switch_interval: bool = True) -> None:
    """Call once the process is set up: the objects made so far are moved out of the garbage
    collector's sight (``gc.freeze``), so its full collections stay short; with
    ``switch_interval``, a short interpreter switch interval (:data:`SWITCH_INTERVAL_S`) for a
    process whose threads hand work to each other."""
    if switch_interval:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
