"""``imu scan``: list the supported sensors in range (name, address, model, RSSI, battery)."""

from __future__ import annotations

import json
import sys

NAME = "scan"
HELP = "list supported BLE sensors in range (name, address, model, RSSI, battery)"


def add_arguments(parser) -> None:
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                        help="how long to listen for advertisements (default 5)")
    parser.add_argument("--simulate", action="store_true",
                        help="scan the built-in virtual sensors (ours and the virtual "
                             "third-party ones) instead of the Bluetooth adapter")
    parser.add_argument("--no-battery", action="store_true",
                        help="do not connect to read battery levels")
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


async def _scan_simulated(timeout_s: float, read_details: bool):
    from imu.sources.ble.bumble_backend import BumbleClientBackend, BumbleScannerBackend
    from imu.sources.ble.scan import scan
    from imu.sources.ble.virtual import VirtualSensor, sim_address, still_feed
    from imu.sources.simulated import DEFAULT_ROLES, virtual_name

    from imu.sources.ble.vendor_sim import scan_set

    sensors = []
    for i, role in enumerate(DEFAULT_ROLES):
        vs = VirtualSensor(sim_address(i), virtual_name(role), still_feed(104), f"sim-{role}",
                           battery_pct=95 - 7 * i)
        await vs.power_on()
        sensors.append(vs)
    for vs in scan_set():  # the registered third-party virtual sensors (Polar, DOT, ...)
        await vs.power_on()
        sensors.append(vs)
    try:
        return await scan(timeout_s, scanner_backend=BumbleScannerBackend,
                          client_backend=BumbleClientBackend, read_details=read_details)
    finally:
        for vs in sensors:
            await vs.close()


def run(args) -> int:
    import asyncio

    from imu.errors import BadInputError
    from imu.sources.ble.scan import format_table, scan

    if not (0.1 <= args.timeout <= 120):
        raise BadInputError(f"--timeout {args.timeout:g}: give 0.1..120 seconds")
    if args.simulate:
        results = asyncio.run(_scan_simulated(min(args.timeout, 1.0), not args.no_battery))
    else:
        results = asyncio.run(scan(args.timeout, read_details=not args.no_battery))
    if args.json:
        print(json.dumps([{"name": r.name, "address": r.address, "model": r.model,
                           "rssi_dbm": r.rssi_dbm, "battery_pct": r.battery_pct,
                           "sensor_id": r.sensor_id, "firmware": r.firmware} for r in results],
                         indent=2))
        return 0
    if not results:
        print(f"no supported sensors found in {args.timeout:g} s (switched on? charged? "
              "already connected to another device?)", file=sys.stderr)
        return 1
    print(format_table(results))
    return 0
