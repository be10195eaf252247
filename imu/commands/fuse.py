"""``imu fuse CSV -o ORIENTATION.csv``: one sensor's orientation (docs/formats.md orientation CSV)."""

from __future__ import annotations

import sys

NAME = "fuse"
HELP = "fuse one sensor's CSV (time_s,acc_*,gyr_*) into an orientation CSV (time_s,qw,qx,qy,qz)"


def add_arguments(p) -> None:
    from imu.fusion import DEFAULT_FILTER, FILTERS

    p.add_argument("csv", metavar="CSV", help="sensor CSV with header time_s,acc_x,acc_y,acc_z,"
                                               "gyr_x,gyr_y,gyr_z (s, m/s², rad/s), or a Movella "
                                               "DOT CSV export (time_s then counts from its first "
                                               "sample, on the sensor clock)")
    p.add_argument("-o", "--output", required=True, metavar="ORIENTATION.csv",
                   help="output file (written exactly there): time_s,qw,qx,qy,qz")
    p.add_argument("--filter", default=DEFAULT_FILTER, choices=list(FILTERS), metavar="NAME",
                   help=f"fusion filter: {', '.join(FILTERS)} (default {DEFAULT_FILTER})")
    from imu.cliargs import add_causal_argument
    add_causal_argument(p)
    p.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="nominal sample rate (default: measured from time_s)")
    p.add_argument("--sensor-id", default=None, metavar="ID",
                   help="apply this sensor's stored intrinsic correction (gyro bias, acc offset/scale)")
    p.add_argument("--save-intrinsics", action="store_true",
                   help="with --sensor-id: estimate the intrinsics from this file's still periods "
                        "(gyro bias; acc offset/scale when it holds six or more distinct still "
                        "poses), store them for the sensor (config dir, $IMU_CONFIG_DIR) and apply")
    from imu.output import add_force_argument
    add_force_argument(p)


def run(args) -> int:
    import numpy as np

    from imu.errors import BadInputError
    from imu.fusion import fuse
    from imu.intrinsics import IntrinsicStore
    from imu.session.csvfolder import read_sensor_csv

    from imu.output import Output
    from imu.session.movella import is_dot_csv, read_dot_csv

    output = Output(args.output, what="orientation CSV", force=args.force)  # before any work
    if is_dot_csv(args.csv):
        _, cols = read_dot_csv(args.csv)
        if cols["acc"] is None:
            raise BadInputError(f"{args.csv}: Movella DOT export without Acc/Gyr (or dq/dv) "
                                "columns: it holds the sensor's own orientation, nothing to fuse "
                                "(imu import or imu export --format sto use it as it is)")
        t = cols["t_sensor_s"] - cols["t_sensor_s"][0]
        back = np.flatnonzero(np.diff(t) < 0)
        if len(back):
            i = int(back[0]) + 1
            raise BadInputError(f"{args.csv}: SampleTimeFine goes backwards at PacketCounter "
                                f"{int(cols['seq'][i])} ({float(t[i - 1]):.6f} then "
                                f"{float(t[i]):.6f} s from the first sample)")
        acc, gyr = cols["acc"], cols["gyr"]
    else:
        data = read_sensor_csv(args.csv)
        t, acc, gyr = data[:, 0], data[:, 1:4], data[:, 4:7]
        bad = np.flatnonzero(~np.all(np.isfinite(data[:, 1:]), axis=1))
        if len(bad):
            raise BadInputError(f"{args.csv}: row {bad[0] + 2}: acc/gyr value is not finite")
    from imu.session.validate import implausible_sample, implausible_units
    from imu.types import SensorData, SensorInfo

    bad = implausible_sample(acc, gyr)
    if bad is not None:
        raise BadInputError(f"{args.csv}: sample {bad[0] + 1}: {bad[1]}")
    why = implausible_units(SensorData(SensorInfo("csv", "sacrum", "csv", 0.0),
                                       np.arange(len(t)), t, t, acc, gyr))
    if why:  # °/s, g, milliseconds or swapped columns: fused anyway, nonsense
        raise BadInputError(f"{args.csv}: {why}")
    if args.rate is not None:
        from imu.chain import check_rate
        from imu.timing import check_grid

        check_rate(args.rate)
        rate = float(args.rate)
        check_grid(float(t[-1] - t[0]), rate, len(t))  # dropouts are filled at this rate
    else:
        d = np.diff(t)
        d = d[d > 0]
        if len(d) == 0:
            raise BadInputError(f"{args.csv}: column time_s: cannot measure the sample rate "
                                "(fewer than two distinct times); give --rate")
        rate = float(1.0 / np.median(d))
    if args.save_intrinsics and not args.sensor_id:
        raise BadInputError("--save-intrinsics needs --sensor-id ID (the sensor the file comes from)")
    if args.save_intrinsics:
        from imu.intrinsics import estimate_intrinsics

        store = IntrinsicStore()
        corr = estimate_intrinsics(acc, gyr, rate, prior=store.get(args.sensor_id))
        path = store.put(args.sensor_id, corr)
        print(f"imu fuse: intrinsics of {args.sensor_id}: gyro bias "
              f"{np.round(np.degrees(corr.gyr_bias_rad_s), 3).tolist()} °/s "
              f"({corr.meta.get('gyr_bias')}), accelerometer {corr.meta.get('acc')}, "
              f"{corr.meta.get('still_s', 0):.0f} s still; stored in {path}", file=sys.stderr)
        acc, gyr = corr.apply(acc, gyr)
    elif args.sensor_id:
        corr = IntrinsicStore().get(args.sensor_id)
        if corr is None:
            print(f"imu fuse: no stored intrinsics for sensor {args.sensor_id!r}; using raw data",
                  file=sys.stderr)
        else:
            acc, gyr = corr.apply(acc, gyr)
    print(f"imu fuse: {len(t)} samples at {rate:.1f} Hz, filter {args.filter}"
          f"{' (causal)' if args.causal else ' (non-causal)'}", file=sys.stderr)
    q = fuse(acc, gyr, rate, name=args.filter, t_s=t, causal=args.causal)
    out = np.column_stack([t, q])
    try:
        with output.open("w", newline="") as fh:
            fh.write("time_s,qw,qx,qy,qz\n")
            np.savetxt(fh, out, delimiter=",", fmt=["%.6f"] + ["%.9f"] * 4)
        output.commit()
    except OSError as exc:
        output.discard()
        raise BadInputError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"imu fuse: wrote {args.output}", file=sys.stderr)
    return 0
