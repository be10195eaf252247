"""Recording store: write and read throughput, size per hour, reading 1 h into numpy.

Workload: 1 h of 3 sensors at 200 Hz (2.16 M samples) as real sensors deliver it: int16 counts
times the scale factor (±8 g, ±2000 dps), smooth body-like motion plus noise, sensor and host
timestamps with BLE-like batching jitter.

Rows
----
- write, live path: :meth:`RecordingWriter.add_block` with blocks of 10 samples (as the BLE
  reader calls it), background commits every 0.25 s, then close. Baseline: ``np.save`` of the same
  arrays (uncompressed, not crash-safe).
- write, bulk (``imu import``): :func:`write_session`.
- read 1 h into numpy: :func:`read_recording`; baseline ``np.load`` of the same arrays.
- size per hour: the file after close; baseline the raw float64 arrays (``.npy``).
- size per hour for unquantised float noise (the codec's worst case), from 6 minutes × 10.
- the docs/formats.md CSV folder, read and written, per hour of data (from 3 minutes), against the
  recording.

Run alone: ``python -m bench recording [--quick]``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import imu.timing  # noqa: F401  (imported up front: the CSV rows time the writing, not imports)
from imu.session.csvfolder import read_csv_folder, write_csv_folder
from imu.session.store import RecordingWriter, read_recording, write_session
from imu.types import SampleBlock, SensorData, SensorInfo, Session

RATE_HZ = 200.0
ROLES = ("sacrum", "right_thigh", "left_thigh")
LSB_ACC = 9.80665 * 8 / 32768          # m/s² per count, ±8 g
LSB_GYR = np.deg2rad(2000 / 32768)      # rad/s per count, ±2000 dps


def synthetic_session(hours: float, seed: int = 0, quantised: bool = True) -> Session:
    """A session of 3 sensors at 200 Hz with realistic values and timestamps."""
    rng = np.random.default_rng(seed)
    n = int(round(hours * 3600 * RATE_HZ))
    sensors = {}
    for i, role in enumerate(ROLES):
        t = np.arange(n) / RATE_HZ
        k = max(2, n // 100)
        tk = np.linspace(0, t[-1], k)
        gyr = np.column_stack([np.interp(t, tk, rng.normal(0, 0.6, k)) for _ in range(3)])
        gyr += rng.normal(0, 0.004, gyr.shape)
        acc = np.array([0.3, -0.2, 9.81]) + np.column_stack(
            [np.interp(t, tk, rng.normal(0, 1.5, k)) for _ in range(3)])
        acc += rng.normal(0, 0.012, acc.shape)
        if quantised:
            acc = np.round(acc / LSB_ACC) * LSB_ACC
            gyr = np.round(gyr / LSB_GYR) * LSB_GYR
        # sensor clock: 25 µs ticks (LSM6DS3 timestamp), 20 ppm drift
        t_sensor = np.round((12.5 * i + t * (1 + 20e-6 * (i - 1))) / 25e-6) * 25e-6
        # BLE: samples arrive in batches of 10 per connection event, 8-30 ms late
        t_host = np.repeat(t[9::10] + rng.uniform(0.008, 0.030, n // 10), 10)[:n]
        if len(t_host) < n:
            t_host = np.concatenate([t_host, t[len(t_host):] + 0.01])
        info = SensorInfo(f"bench-{role}", role, "synthetic", RATE_HZ, "1.0")
        sensors[role] = SensorData(info, np.arange(n, dtype=np.int64), t_sensor, t_host, acc, gyr)
    return Session(meta={"bench": True}, sensors=sensors)


def _arrays(session: Session) -> dict[str, np.ndarray]:
    out = {}
    for r, d in session.sensors.items():
        for f in ("seq", "t_sensor_s", "t_host_s", "acc", "gyr"):
            out[f"{r}.{f}"] = getattr(d, f)
    return out


def _dir_size(d: Path) -> int:
    return sum(p.stat().st_size for p in d.iterdir())


def write_live(session: Session, path: Path, block: int = 10) -> float:
    """Seconds to push the session through add_block in blocks of ``block`` samples."""
    infos = [d.info for d in session.sensors.values()]
    n = len(next(iter(session.sensors.values())))
    cols = {r: (d.seq, d.t_sensor_s, d.t_host_s, d.acc, d.gyr) for r, d in session.sensors.items()}
    t0 = time.perf_counter()
    with RecordingWriter(path, {}, infos) as w:
        for k in range(0, n, block):
            for r, c in cols.items():
                w.add_block(r, SampleBlock(r, c[0][k:k + block], c[1][k:k + block],
                                           c[2][k:k + block], c[3][k:k + block],
                                           c[4][k:k + block]))
    return time.perf_counter() - t0


def _best_of(fn, repeat: int) -> tuple[float, float]:
    """Best wall time of ``repeat`` runs and the CPU time (all threads) of that run, seconds."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best = min(best, (wall, cpu))
    return best


def run(quick: bool = False) -> list[dict]:
    hours = 0.1 if quick else 1.0
    label = f"{hours:g} h x 3 sensors @ 200 Hz"
    tmp = Path(tempfile.mkdtemp(prefix="imu-bench-rec-"))
    rows = []
    try:
        print(f"  making {label} of synthetic sensor data", file=sys.stderr, flush=True)
        s = synthetic_session(hours)
        n_total = sum(len(d) for d in s.sensors.values())
        arrays = _arrays(s)

        npy = tmp / "npy"
        npy.mkdir()
        t0 = time.perf_counter()
        for k, a in arrays.items():
            np.save(npy / f"{k}.npy", a)
        t_npsave = time.perf_counter() - t0
        raw_bytes = _dir_size(npy)

        # live path on a slice (the full hour in blocks of 10 is 216 k writer calls per sensor)
        live_hours = min(hours, 0.25)
        s_live = synthetic_session(live_hours, seed=1)
        n_live = sum(len(d) for d in s_live.sensors.values())
        print("  writing through the live path (blocks of 10)", file=sys.stderr, flush=True)
        t_live = write_live(s_live, tmp / "live.imu")
        rows.append({"name": f"write, live path (blocks of 10), {live_hours:g} h",
                     "value": n_live / t_live, "unit": "samples/s",
                     "baseline": n_total / t_npsave,
                     "note": "baseline np.save of the same arrays (uncompressed, not crash-safe)"})

        print("  writing in bulk", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        write_session(s, tmp / "bulk.imu")
        t_bulk = time.perf_counter() - t0
        rows.append({"name": f"write, bulk (import), {label}", "value": n_total / t_bulk,
                     "unit": "samples/s", "baseline": n_total / t_npsave,
                     "note": "baseline np.save"})

        print("  reading", file=sys.stderr, flush=True)
        t_read, cpu_read = _best_of(lambda: read_recording(tmp / "bulk.imu"), 1 if quick else 3)
        t_npload, _ = _best_of(lambda: [np.load(p) for p in npy.iterdir()], 1 if quick else 3)
        rows.append({"name": f"read into numpy, {label}", "value": t_read, "unit": "s",
                     "baseline": t_npload,
                     "note": f"{n_total / 1e6:.2f} M samples, CPU {cpu_read:.2f} s; acceptance "
                             f"< 2 s for 1 h; baseline np.load; "
                             f"load avg {os.getloadavg()[0]:.1f} on "
                             f"{os.cpu_count()} cores"})
        rows.append({"name": "read throughput", "value": n_total / t_read, "unit": "samples/s",
                     "baseline": n_total / t_npload, "note": "baseline np.load"})

        check = read_recording(tmp / "bulk.imu")
        exact = all(np.array_equal(getattr(check.sensors[r], f), getattr(d, f))
                    for r, d in s.sensors.items()
                    for f in ("seq", "t_sensor_s", "t_host_s", "acc", "gyr"))
        size_h = (tmp / "bulk.imu").stat().st_size / hours
        rows.append({"name": "size per hour, 3 sensors @ 200 Hz (int16 data)",
                     "value": size_h / 1e6, "unit": "MB", "baseline": raw_bytes / hours / 1e6,
                     "note": f"{size_h / (n_total / hours):.1f} B/sample; bit-exact: {exact}; "
                             "baseline raw float64 .npy"})
        size_live = (tmp / "live.imu").stat().st_size / live_hours
        rows.append({"name": "size per hour, written live", "value": size_live / 1e6,
                     "unit": "MB", "baseline": raw_bytes / hours / 1e6,
                     "note": "0.25 s commits sealed into ~20 s chunks"})

        c_hours = 0.01 if quick else 0.05
        print("  CSV folder for comparison", file=sys.stderr, flush=True)
        sc = synthetic_session(c_hours, seed=3)
        t0 = time.perf_counter()
        write_csv_folder(sc, tmp / "csv")
        t_csv_w = time.perf_counter() - t0
        t0 = time.perf_counter()
        read_csv_folder(tmp / "csv")
        t_csv_r = time.perf_counter() - t0
        rows.append({"name": "read a SPEC CSV folder, per hour of data", "value": t_csv_r / c_hours,
                     "unit": "s", "baseline": t_read / hours,
                     "note": f"np.loadtxt, from {c_hours:g} h; baseline: the recording"})
        rows.append({"name": "write a SPEC CSV folder (imu export), per hour of data",
                     "value": t_csv_w / c_hours, "unit": "s", "baseline": t_bulk / hours,
                     "note": f"shortest exact float text, from {c_hours:g} h; "
                             f"{_dir_size(tmp / 'csv') / c_hours / 1e6:.0f} MB/h; "
                             "baseline: recording bulk write"})

        f_hours = 0.01 if quick else 0.1
        sf = synthetic_session(f_hours, seed=2, quantised=False)
        write_session(sf, tmp / "float.imu")
        rows.append({"name": "size per hour, unquantised float noise (worst case)",
                     "value": (tmp / "float.imu").stat().st_size / f_hours / 1e6, "unit": "MB",
                     "baseline": raw_bytes / hours / 1e6,
                     "note": f"from {f_hours:g} h; baseline raw float64"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":  # pragma: no cover
    from bench import format_table
    print(format_table(run(quick="--quick" in sys.argv)))
