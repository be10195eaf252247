"""Find supported sensors: our firmware (protocol v1), Movella DOT, Polar Verity Sense, WitMotion.

:func:`scan` listens for advertisements (bleak, any backend), keeps the supported ones, and —
for our own sensors — connects briefly to read the battery level and the info characteristic.
With no usable adapter it raises a one-line :class:`~imu.errors.SensorError`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bleak import BleakClient, BleakScanner

from imu.sources.ble import protocol as P
from imu.errors import SensorError
from imu.sources.ble.decoder import MalformedPacket, decode_info
from imu.sources.ble.reader import no_adapter_message
from imu.sources.ble.vendors import VENDOR_SIGNATURES


@dataclass
class ScanResult:
    """One supported sensor seen while scanning."""

    name: str
    address: str
    model: str
    rssi_dbm: int | None
    battery_pct: int | None = None
    sensor_id: str | None = None
    firmware: str | None = None
    device: object = None


def identify_model(name: str | None, service_uuids: list[str]) -> str | None:
    """Model of a sensor from its advertisement, or ``None`` when it is not supported."""
    uuids = {u.lower() for u in service_uuids}
    if P.SERVICE_UUID in uuids:
        return "imu-protocol-v1"
    for model, uuid, prefixes in VENDOR_SIGNATURES:
        if uuid in uuids or (name and any(name.startswith(p) for p in prefixes)):
            return model
    return None


async def _details(dev, client_backend, timeout_s: float) -> tuple[int | None, dict]:
    kw = {"backend": client_backend} if client_backend is not None else {}
    battery = None
    info: dict = {}
    try:
        async with asyncio.timeout(timeout_s):
            async with BleakClient(dev, timeout=timeout_s, **kw) as client:
                from imu.sources.ble.dot import CONFIG_SERVICE_UUID, scan_details
                if client.services.get_service(CONFIG_SERVICE_UUID) is not None:  # a DOT
                    return await scan_details(client)
                try:
                    battery = int((await client.read_gatt_char(P.BATTERY_LEVEL_UUID))[0])
                except Exception:
                    pass
                try:
                    await client.pair()  # our info characteristic needs an encrypted link
                    i = decode_info(await client.read_gatt_char(P.INFO_UUID))
                    info = {"model": i.model, "sensor_id": i.sensor_id, "firmware": i.firmware}
                except (MalformedPacket, Exception):
                    pass
    except Exception:
        pass
    return battery, info


async def scan(timeout_s: float = 3.0, *, scanner_backend=None, client_backend=None,
               read_details: bool = True) -> list[ScanResult]:
    """Scan for ``timeout_s`` and return the supported sensors, strongest signal first."""
    kw = {"backend": scanner_backend} if scanner_backend is not None else {}
    try:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **kw)
    except SensorError:
        raise
    except Exception as exc:  # no BlueZ / D-Bus / adapter off
        raise SensorError(no_adapter_message(exc)) from None
    out: list[ScanResult] = []
    for dev, adv in found.values():
        name = adv.local_name or dev.name or ""
        model = identify_model(name, adv.service_uuids)
        if model is None:
            continue
        out.append(ScanResult(name=name, address=dev.address, model=model, rssi_dbm=adv.rssi,
                              device=dev))
    if read_details:  # a short connection each: battery level (0x2A19; a DOT's own) and info
        for r in out:
            r.battery_pct, info = await _details(r.device, client_backend, 5.0)
            r.model = info.get("model", r.model)
            r.sensor_id = info.get("sensor_id")
            r.firmware = info.get("firmware")
    out.sort(key=lambda r: (-(r.rssi_dbm if r.rssi_dbm is not None else -999), r.name))
    return out


def format_table(results: list[ScanResult]) -> str:
    """The table ``imu scan`` prints."""
    rows = [("NAME", "ADDRESS", "MODEL", "RSSI", "BATTERY")]
    for r in results:
        rows.append((r.name, r.address, r.model,
                     f"{r.rssi_dbm} dBm" if r.rssi_dbm is not None else "-",
                     f"{r.battery_pct}%" if r.battery_pct is not None else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)
