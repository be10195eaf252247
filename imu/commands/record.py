"""``imu record [--simulate] [--seconds N] -o FILE``: headless recording with live status lines.

Sensors are named with ``--sensor ROLE=ADDRESS`` (see ``imu scan``); with none named the
built-in simulated sensor set is used (docs/sensors.md). Samples go straight into the crash-safe
recording; Ctrl-C stops cleanly and closes the file.
"""

from __future__ import annotations

import math
import sys

NAME = "record"
HELP = "record sensors headless into a session file (--simulate: the virtual sensor set)"


def add_arguments(parser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="recording file to create (exactly this path)")
    parser.add_argument("--seconds", type=float, default=None, metavar="N",
                        help="stop after N seconds of data (default: until Ctrl-C)")
    add_source_arguments(parser)
    from imu.output import add_force_argument
    add_force_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no status lines")


DEFAULT_ROLES_ARG = "sacrum,right_thigh,left_thigh"


def add_source_arguments(parser) -> None:
    """The sensor-source options shared by ``imu record`` and ``imu live``."""
    parser.add_argument("--simulate", action="store_true",
                        help="use the simulated sensors over the virtual BLE link "
                             "(the default when no --sensor is given)")
    parser.add_argument("--sensor", action="append", default=[], metavar="ROLE=ADDRESS",
                        help="a real sensor and its role (sacrum, right_thigh, left_thigh, trunk); "
                             "repeat for each sensor (addresses: imu scan)")
    parser.add_argument("--rate", type=int, default=104, metavar="HZ",
                        help="sensor output data rate (default 104; the XIAO firmware offers 104 "
                             "and 208)")
    parser.add_argument("--dot-payload", default=None, metavar="MODE",
                        choices=("rate", "complete-quaternion", "extended-quaternion",
                                 "orientation-quaternion"),
                        help="Movella DOT payload mode: rate (21, raw acc/gyr; default), "
                             "complete-quaternion (3), extended-quaternion (2), "
                             "orientation-quaternion (5); quaternion modes record "
                             "orientation-only sensors")
    parser.add_argument("--dot-rate", type=int, default=None, metavar="HZ",
                        help="Movella DOT output rate to set (1, 4, 10, 12, 15, 20, 30, 60 or "
                             "120; default: the sensor's own, 60 unless changed)")
    parser.add_argument("--dot-heading-reset", action="store_true",
                        help="reset each Movella DOT's heading once it streams (quaternion "
                             "modes; face every sensor's x axis the same way first)")
    parser.add_argument("--simulate-vendors", action="store_true",
                        help="like --simulate, with third-party virtual sensors worn too: our "
                             "sensor on the sacrum, a Movella DOT (rate quantities) on the right "
                             "thigh, a Polar Verity Sense on the left thigh, a DOT in an "
                             "orientation mode on the trunk (docs/hardware.md)")
    parser.add_argument("--program", default="demo",
                        help="--simulate: simulator program (default demo)")
    from imu.cliargs import seed
    parser.add_argument("--seed", type=seed, default=0, help="--simulate: simulator seed")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="--simulate: session seconds per wall-clock second (default 1)")
    parser.add_argument("--roles", default=DEFAULT_ROLES_ARG,
                        help="--simulate: comma-separated roles "
                             "(default sacrum,right_thigh,left_thigh; with --simulate-vendors "
                             "all four)")
    parser.add_argument("--identify", action="store_true",
                        help="blink each sensor's LED as it connects, to check the role mapping")
    parser.add_argument("--lsl", action="store_true",
                        help="also publish every sensor's raw stream as a Lab Streaming Layer "
                             "outlet: a network service (by default only this computer can "
                             "discover it; see --lsl-scope)")
    from imu.cliargs import add_lsl_scope_argument
    add_lsl_scope_argument(parser)


def build_source(args, progress: bool = True):
    """The :class:`~imu.sources.base.Source` the shared options ask for, and recording metadata.

    Returns ``(source, meta)``: a :class:`~imu.sources.simulated.SimulatedSource` with
    ``--simulate`` or without ``--sensor``, else a :class:`~imu.sources.ble.reader.BleSource`.
    Bad options raise :class:`~imu.errors.BadInputError` (one line).
    """
    from imu.errors import BadInputError
    from imu.sources.simulated import SimulatedSource

    role_to_addr = parse_sensor_args(args.sensor)
    if not (math.isfinite(args.speed) and args.speed > 0):
        raise BadInputError(f"--speed {args.speed:g}: must be a positive number")
    if not (1 <= args.rate <= 1000):
        raise BadInputError(f"--rate {args.rate}: give 1..1000 Hz")
    vendors = getattr(args, "simulate_vendors", False)
    if (args.simulate or vendors) and role_to_addr:
        raise BadInputError(f"{'--simulate-vendors' if vendors else '--simulate'} and --sensor "
                            "exclude each other")
    if args.simulate or vendors or not role_to_addr:
        roles = tuple(r.strip() for r in args.roles.split(",") if r.strip())
        layout = None
        if vendors:
            from imu.sources.ble.vendor_sim import SESSION_LAYOUT, session_layout
            if args.roles == DEFAULT_ROLES_ARG:  # every vendor of the layout gets a role
                roles = tuple(SESSION_LAYOUT)
            layout = session_layout(roles)
        if not (args.simulate or vendors):
            print(f"imu {getattr(args, 'command', None) or 'record'}: no --sensor given: "
                  "using the simulated sensor set", file=sys.stderr)
        source = SimulatedSource(args.program, rate_hz=args.rate, seed=args.seed, roles=roles,
                                 speed=args.speed, progress=progress, vendors=layout)
        meta = {"source": "simulated", "program": args.program, "seed": args.seed,
                "rate_hz": args.rate, "speed": args.speed}
        if layout is not None:
            meta["vendors"] = layout
        return source, meta
    from imu.sources.ble.reader import BleSource
    dot = {k: v for k, v in (("payload", getattr(args, "dot_payload", None)),
                             ("rate_hz", getattr(args, "dot_rate", None)),
                             ("heading_reset", getattr(args, "dot_heading_reset", False) or None))
           if v is not None}
    source = BleSource(role_to_addr, rate_hz=args.rate, identify=args.identify,
                       announce=lambda m: print(m, file=sys.stderr),
                       vendor_options={r: dot for r in role_to_addr} if dot else None)
    return source, {"source": "ble", "rate_hz": args.rate, "addresses": dict(role_to_addr)}


def parse_sensor_args(items: list[str]) -> dict[str, str]:
    """``["sacrum=AA:BB:..", ...]`` → role → address; BadInputError naming the bad item."""
    from imu.errors import BadInputError
    from imu.types import ROLES

    out: dict[str, str] = {}
    for item in items:
        role, sep, addr = item.partition("=")
        role, addr = role.strip(), addr.strip()
        if not sep or not addr:
            raise BadInputError(f"--sensor {item!r}: expected ROLE=ADDRESS, e.g. sacrum=C0:1D:5E:00:00:01")
        if role not in ROLES:
            raise BadInputError(f"--sensor {item!r}: unknown role {role!r} (one of {', '.join(ROLES)})")
        if role in out:
            raise BadInputError(f"--sensor {item!r}: role {role} given twice")
        out[role] = addr
    if out and "sacrum" not in out:
        raise BadInputError("--sensor: the sacrum sensor is required (sacrum=ADDRESS)")
    if out and not ({"right_thigh", "left_thigh"} & set(out)):
        raise BadInputError("--sensor: at least one thigh sensor is required "
                            "(right_thigh=ADDRESS or left_thigh=ADDRESS)")
    return out


def status_line(role: str, st) -> str:
    """One status line: role, state, rate, samples, drops, duplicates, malformed, battery."""
    batt = f"{st.battery_pct:.0f}%" if st.battery_pct is not None else "-"
    return (f"{role:<12} {st.state:<12} {st.rate_hz:6.1f} Hz  {st.samples:>8} samples  "
            f"dropped {st.dropped:<5} dup {st.duplicates:<4} bad {st.malformed:<4} "
            f"reconnects {st.reconnects:<3} battery {batt}")


class StatusPrinter:
    """Prints the per-sensor status block; redraws in place on a terminal."""

    def __init__(self, stream=None, quiet: bool = False, log_interval_s: float = 10.0):
        import time

        self._now = time.monotonic
        stream = sys.stderr if stream is None else stream
        self.stream = stream
        self.quiet = quiet
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.log_interval_s = log_interval_s  # not a terminal: a block every 10 s, not every 1 s
        self._last = -1e9
        self._lines = 0
        self._printed: list[str] = []

    def __call__(self, status: dict, final: bool = False) -> None:
        if self.quiet or not status:
            return
        if not self.tty and not final and self._now() - self._last < self.log_interval_s:
            return
        self._last = self._now()
        lines = [status_line(r, st) for r, st in status.items()]
        if lines == self._printed:
            return
        self._printed = lines
        if self.tty and self._lines:
            self.stream.write(f"\x1b[{self._lines}F")
        for ln in lines:
            self.stream.write(ln + ("\x1b[K" if self.tty else "") + "\n")
        self.stream.flush()
        self._lines = len(lines)


def run(args) -> int:
    from imu.live.paths import no_samples_error, remove_empty
    import asyncio
    import dataclasses
    import signal
    from pathlib import Path

    from imu.errors import BadInputError, ImuError
    from imu.session.store import RecordingWriter
    from imu.sources.simulated import record_source

    if args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0):
        # (nan recorded forever; without --seconds it runs until Ctrl-C)
        raise BadInputError(f"--seconds {args.seconds:g}: must be a positive number")
    from imu.output import check_output

    out = check_output(args.output, what="recording", force=args.force, recording=True)
    source, meta = build_source(args, progress=not args.quiet)

    writer = RecordingWriter(out, meta, [], overwrite=args.force)
    printer = StatusPrinter(quiet=args.quiet)
    lsl = None
    samples = 0

    async def main() -> int:
        nonlocal lsl
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, stop.set)
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
        # Ctrl-C while connecting stops the connecting: no empty recording is left behind
        starting = asyncio.ensure_future(source.start())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not starting.done():
            starting.cancel()
            try:
                await starting
            except (asyncio.CancelledError, Exception):
                pass
            await source.stop()
            interrupted.append(True)
            return 0
        starting.result()  # a connection error ends here, one line
        on_block = None
        if args.lsl:
            from imu.sources.lsl import LslPublisher
            lsl = LslPublisher(source.sensors, scope=args.lsl_scope)
            on_block = lsl.push_block
            print(f"imu record: LSL outlets: {', '.join(lsl.source_ids.values())}",
                  file=sys.stderr)
        if not args.quiet:
            what = f"{args.seconds:g} s" if args.seconds else "until Ctrl-C"
            print(f"imu record: recording {len(source.sensors)} sensors into {out} ({what})",
                  file=sys.stderr)
        return await record_source(source, writer, seconds=args.seconds, status_cb=printer,
                                   stop_event=stop, start=False, on_block=on_block,
                                   written=per_role)

    per_role: dict[str, int] = {}
    interrupted: list[bool] = []
    try:
        samples = asyncio.run(main())
    except BaseException:
        try:
            writer.close()  # keeps what was committed; the first error is the one to report
        except ImuError:
            pass
        if not writer.samples_written:
            remove_empty(out)
        raise
    finally:
        if lsl is not None:
            lsl.close()
    writer.close()  # disk full on the last commit: one line, the file keeps the rest
    if not writer.samples_written:
        remove_empty(out)
        if interrupted:
            print("imu record: interrupted while connecting; nothing recorded", file=sys.stderr)
            return 130
        return no_samples_error(source, per_role, out, kept=False)
    # the final status counts what was written (blocks still in flight at the stop are not)
    status = {r: dataclasses.replace(st, samples=per_role.get(r, 0))
              for r, st in source.status().items()}
    printer(status, final=True)
    print(f"imu record: {samples} samples from {len(source.sensors)} sensors written to {out}",
          file=sys.stderr)
    return no_samples_error(source, per_role, out, kept=True)
