"""Registry of virtual third-party sensors (Polar, Movella DOT, ...) for simulated sessions.

Each vendor module that builds a virtual peripheral registers a *maker* under a kind name with
:func:`register`; the modules are listed in :data:`PROVIDERS` and imported on first use. The
simulated session (``imu record --simulate-vendors``) and ``imu scan --simulate`` ask this
registry for their vendor peripherals, so the commands need not know any vendor.

A maker is called as ``maker(ctx)`` with a :class:`VendorContext` and returns a peripheral with
the :class:`~imu.sources.ble.virtual.VirtualSensor` life cycle: ``address``, ``paused``,
``async power_on()``, ``async close()``, ``restart_clock(t_wall0)`` and ``_t_wall0``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

#: Modules that register virtual vendor sensors (imported lazily, in this order).
#: Add one line per vendor module (each registers its kinds when imported).
PROVIDERS: list[str] = [
    "imu.sources.ble.polar_virtual",
    "imu.sources.ble.dot_virtual",
]

#: Who wears what in a ``--simulate-vendors`` session: role → kind (``"imu"`` = our firmware).
#: Kinds that are not registered fall back to our own virtual sensor.
SESSION_LAYOUT: dict[str, str] = {
    "sacrum": "imu",
    "right_thigh": "movella-dot-rate",
    "left_thigh": "polar-verity-sense",
    "trunk": "movella-dot-orientation",
}


@dataclass
class VendorContext:
    """What a maker gets to build one virtual vendor sensor.

    Attributes
    ----------
    kind : str
        The registered kind.
    index : int
        Position of this peripheral among the virtual vendor sensors (addresses, names).
    address : str
        BLE address to use (unique on the virtual radio).
    feed : SampleFeed
        The motion to stream: sensor clock (s), acc (m/s²), gyr (rad/s), from the simulator
        (or a still feed for scans).
    role : str or None
        The role the sensor is worn on (``None`` for a scan).
    sim : SimResult or None
        The simulation the feed comes from (truth orientation: ``sim.sensor_orientation(role)``
        on ``sim.truth_time_s``; sample true times: ``sim.sample_true_times(role)``).
    speed : float
        Sensor-clock seconds per wall second.
    radio : VirtualRadio or None
    sync_group : list
        Peripherals of the same kind made for the same session so far (e.g. DOTs that
        synchronise with each other); a maker may append to it.
    """

    kind: str
    index: int
    address: str
    feed: Any
    role: str | None = None
    sim: Any = None
    speed: float = 1.0
    radio: Any = None
    sync_group: list = field(default_factory=list)


@dataclass(frozen=True)
class VendorKind:
    kind: str
    model: str
    maker: Callable[[VendorContext], Any]
    name: Callable[[int], str]


_KINDS: dict[str, VendorKind] = {}
_loaded = False


def register(kind: str, maker: Callable[[VendorContext], Any], *, model: str,
             name: Callable[[int], str]) -> None:
    """Register a virtual vendor sensor: ``maker(ctx)`` builds one, ``name(i)`` is the
    advertised name of the ``i``-th, ``model`` the reader's model string."""
    _KINDS[kind] = VendorKind(kind, model, maker, name)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in PROVIDERS:
        importlib.import_module(mod)


def kinds() -> list[str]:
    """The registered kinds."""
    _load()
    return list(_KINDS)


def kind_info(kind: str) -> VendorKind:
    _load()
    return _KINDS[kind]


def vendor_address(index: int) -> str:
    """Deterministic address of the ``index``-th virtual vendor sensor (distinct from ours)."""
    return f"D0:7E:5E:00:00:{index + 1:02X}"


def make(kind: str, index: int, feed, *, role: str | None = None, sim=None, speed: float = 1.0,
         radio=None, sync_group: list | None = None):
    """Build the ``index``-th virtual sensor of ``kind`` (not powered on)."""
    _load()
    k = _KINDS[kind]
    ctx = VendorContext(kind, index, vendor_address(index), feed, role=role, sim=sim,
                        speed=speed, radio=radio,
                        sync_group=sync_group if sync_group is not None else [])
    return k.maker(ctx)


def session_layout(roles) -> dict[str, str]:
    """Role → kind for a ``--simulate-vendors`` session over ``roles`` (unregistered kinds
    become ``"imu"``)."""
    _load()
    return {r: (SESSION_LAYOUT.get(r, "imu") if SESSION_LAYOUT.get(r, "imu") in _KINDS else "imu")
            for r in roles}


def scan_set(radio=None, rate_hz: float = 60.0) -> list:
    """One still virtual sensor of every registered kind (for ``imu scan --simulate``)."""
    from imu.sources.ble.virtual import still_feed

    _load()
    groups: dict[str, list] = {}
    out = []
    for i, kind in enumerate(_KINDS):
        out.append(make(kind, i, still_feed(rate_hz), radio=radio,
                        sync_group=groups.setdefault(kind, [])))
    return out
