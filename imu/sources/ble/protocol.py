"""imu BLE sensor protocol v1: encoder, batcher and control-command handler.

Plain Python on purpose: this module runs unchanged on CircuitPython (no numpy, no dataclasses,
no f-string ``=`` specifiers, only ``struct`` and ``json``) inside the XIAO nRF52840 Sense
firmware, and on the host inside the virtual sensors and the tests. The wire format is
documented in ``docs/protocol.md``; the host decoder lives in ``imu/sources/ble/decoder.py``.

Data notification (little endian)::

    offset size field
    0      1    version        = 1
    1      1    count          samples in this notification (1..MAX_SAMPLES)
    2      2    dt_q4          sample interval, sensor ticks x 16 (u16)
    4      4    seq            sequence number of the first sample (per sample, u32, wraps)
    8      4    t0_ticks       sensor timestamp of the first sample (u32 ticks, wraps)
    12     12*n samples        int16 acc_x acc_y acc_z gyr_x gyr_y gyr_z

Control write: ``opcode u8, token u8, payload``. Every write is answered by a notification on
the control characteristic: ``0x80|opcode u8, token u8, status u8, payload``.
"""

import json
import struct

PROTOCOL_VERSION = 1

#: 128-bit UUIDs of the custom service and its characteristics.
SERVICE_UUID = "7a1e0001-5e6c-4d1a-9b1e-1f2d3c4b5a69"
DATA_UUID = "7a1e0002-5e6c-4d1a-9b1e-1f2d3c4b5a69"
CONTROL_UUID = "7a1e0003-5e6c-4d1a-9b1e-1f2d3c4b5a69"
INFO_UUID = "7a1e0004-5e6c-4d1a-9b1e-1f2d3c4b5a69"

#: Standard services (Bluetooth SIG assigned numbers).
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_UUID = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
SERIAL_NUMBER_UUID = "00002a25-0000-1000-8000-00805f9b34fb"
FIRMWARE_REV_UUID = "00002a26-0000-1000-8000-00805f9b34fb"

HEADER = struct.Struct("<BBHII")
HEADER_SIZE = 12
SAMPLE_SIZE = 12
#: Sensor clock resolution: the LSM6DS3TR-C timestamp counter ticks every 25 us.
TICK_S = 25e-6
TICK_WRAP = 1 << 32
SEQ_WRAP = 1 << 32
ATT_OVERHEAD = 3
#: A notification goes out when it is full or when its oldest sample is this old (s of sensor
#: time): at 200 Hz a full notification (19 samples at MTU 247) would hold its first sample for
#: 95 ms; with this bound a sample waits at most ~20 ms for its notification (5 samples each at
#: 200 Hz, 40 notifications/s per sensor: one per frame of a 40 Hz display).
MAX_BATCH_AGE_S = 0.020

# Control opcodes.
OP_START = 0x01
OP_STOP = 0x02
OP_SET_RATE = 0x03
OP_SET_RANGE = 0x04
OP_IDENTIFY = 0x05
OP_GET_STATUS = 0x06
OP_SET_PHASE = 0x07
OPCODES = (OP_START, OP_STOP, OP_SET_RATE, OP_SET_RANGE, OP_IDENTIFY, OP_GET_STATUS, OP_SET_PHASE)
OP_NAMES = {OP_START: "start", OP_STOP: "stop", OP_SET_RATE: "set_rate",
            OP_SET_RANGE: "set_range", OP_IDENTIFY: "identify", OP_GET_STATUS: "get_status",
            OP_SET_PHASE: "set_phase"}
RESPONSE_FLAG = 0x80

# Status codes of a control response.
ST_OK = 0
ST_UNKNOWN_OPCODE = 1
ST_BAD_LENGTH = 2
ST_BAD_VALUE = 3
ST_BUSY = 4
STATUS_NAMES = {ST_OK: "ok", ST_UNKNOWN_OPCODE: "unknown opcode", ST_BAD_LENGTH: "bad length",
                ST_BAD_VALUE: "bad value", ST_BUSY: "busy (stop streaming first)"}

#: LSM6DS3TR-C sensitivities (datasheet table 3): full scale -> value of one LSB.
ACC_MG_PER_LSB = {2: 0.061, 4: 0.122, 8: 0.244, 16: 0.488}
GYR_MDPS_PER_LSB = {125: 4.375, 250: 8.75, 500: 17.5, 1000: 35.0, 2000: 70.0}
STANDARD_GRAVITY = 9.80665
DEG_TO_RAD = 3.141592653589793 / 180.0


def acc_scale(range_g):
    """m/s² per LSB at accelerometer full scale ``range_g`` (g)."""
    return ACC_MG_PER_LSB[range_g] * 1e-3 * STANDARD_GRAVITY


def gyr_scale(range_dps):
    """rad/s per LSB at gyroscope full scale ``range_dps`` (deg/s)."""
    return GYR_MDPS_PER_LSB[range_dps] * 1e-3 * DEG_TO_RAD


def max_samples(mtu):
    """Samples that fit one notification at ATT MTU ``mtu`` (payload = mtu - 3)."""
    n = (mtu - ATT_OVERHEAD - HEADER_SIZE) // SAMPLE_SIZE
    if n < 1:
        return 1
    return n if n < 255 else 255


def encode_batch(seq, t0_ticks, dt_q4, samples):
    """Encode one data notification.

    Parameters
    ----------
    seq : int
        Sequence number of the first sample (wrapped to u32 here).
    t0_ticks : int
        Sensor timestamp of the first sample in ticks of ``TICK_S`` (wrapped to u32).
    dt_q4 : int
        Sample interval in sixteenths of a tick (u16).
    samples : sequence of 6-tuples of int
        Raw int16 ``acc_x, acc_y, acc_z, gyr_x, gyr_y, gyr_z`` per sample.

    Returns
    -------
    bytes
    """
    n = len(samples)
    if n < 1 or n > 255:
        raise ValueError("a batch holds 1..255 samples")
    out = bytearray(HEADER_SIZE + SAMPLE_SIZE * n)
    HEADER.pack_into(out, 0, PROTOCOL_VERSION, n, dt_q4 & 0xFFFF, seq % SEQ_WRAP,
                     t0_ticks % TICK_WRAP)
    off = HEADER_SIZE
    for s in samples:
        struct.pack_into("<6h", out, off, s[0], s[1], s[2], s[3], s[4], s[5])
        off += SAMPLE_SIZE
    return bytes(out)


def unwrap_near(raw, ref, wrap=SEQ_WRAP):
    """The value congruent to ``raw`` modulo ``wrap`` nearest to ``ref`` (a wrapped u32
    sequence number from the host, placed on the sensor's unwrapped counter)."""
    half = wrap // 2
    return ref + ((raw - ref + half) % wrap) - half


def clamp_i16(x):
    """Round and saturate a number to the int16 range (what the sensor's ADC does)."""
    v = int(round(x))
    if v > 32767:
        return 32767
    if v < -32768:
        return -32768
    return v


class Batcher:
    """Collects samples and emits notifications: full ones, and those whose oldest sample
    reached the maximum age; or, once the host set a phase (:meth:`set_phase`), one after
    every ``cycle``-th sample counted from the phase's sample (``cycle``: the samples of one
    maximum age), so the host can line several sensors' notifications up (they then leave
    together rather than at unrelated, drifting times).

    The batch size follows the negotiated MTU (``set_mtu``). ``add`` returns the encoded
    notifications it completed (a full batch, or a batch closed by a sequence gap); ``poll``
    emits the pending batch once its oldest sample is ``max_age_s`` old (a backlog, e.g. a
    FIFO read after a pause or a re-send, still goes out in full notifications: add it all,
    then poll); ``flush`` emits what is pending (or ``None``).

    Parameters
    ----------
    rate_hz : float
        Nominal output data rate, used for ``dt_q4`` when a batch has one sample.
    mtu : int
        ATT MTU of the connection (23 until negotiated).
    max_age_s : float or None
        Longest a sample waits for its notification, s of sensor time (``MAX_BATCH_AGE_S`` in
        the firmware); ``None``: only full batches (and ``flush``).
    """

    def __init__(self, rate_hz=104, mtu=247, max_age_s=None):
        self.rate_hz = rate_hz
        self.batch = max_samples(mtu)
        self.max_age_ticks = None
        self.set_max_age(max_age_s)
        self._samples = []
        self._seq0 = 0
        self._t0 = 0
        self._t_last = 0
        self._seq_last = 0
        self.phase_seq = None

    @property
    def cycle(self):
        """Samples per notification on a phase: those of one maximum age (at least 1)."""
        if self.max_age_ticks is None:
            return 1
        n = int(self.max_age_ticks * TICK_S * self.rate_hz + 1e-6)
        return n if n > 1 else 1

    def set_phase(self, seq):
        """Close a notification after sample ``seq`` (unwrapped; see :func:`unwrap_near`) and
        after every :attr:`cycle`-th sample from it; ``None``: by age again."""
        self.phase_seq = None if seq is None else int(seq)

    def closes_at(self, seq, t_ticks):
        """Sensor time (ticks) at which the notification holding sample ``seq`` (at ``t_ticks``)
        leaves on the phase: its closing sample's time (``None`` without a phase)."""
        if self.phase_seq is None:
            return None
        left = (self.phase_seq - seq) % self.cycle
        return t_ticks + int(round(left / (self.rate_hz * TICK_S)))

    def set_mtu(self, mtu):
        self.batch = max_samples(mtu)

    def set_max_age(self, max_age_s):
        """Longest wait of a sample for its notification, s (``None``: full batches only)."""
        self.max_age_ticks = None if max_age_s is None else int(round(max_age_s / TICK_S))

    def reset(self):
        self._samples = []

    @property
    def pending(self):
        """Samples waiting for the next notification."""
        return len(self._samples)

    def due_ticks(self):
        """Sensor time (ticks) at which the pending batch leaves: when ``poll`` sends it (its
        maximum age), or, on a phase, when its closing sample comes if that is sooner;
        ``None`` when nothing is pending or there is neither."""
        if not self._samples:
            return None
        close = self.closes_at(self._seq_last, self._t_last)
        due = self._age_due()
        if close is None or (due is not None and due < close):
            return due
        return close

    def _age_due(self):
        """Sensor time (ticks) at which the pending batch's oldest sample reaches the maximum
        age (``None``: nothing pending, or no maximum age)."""
        if not self._samples or self.max_age_ticks is None:
            return None
        return self._t0 + self.max_age_ticks

    def add(self, seq, t_ticks, sample):
        """Add one sample (``seq`` int, ``t_ticks`` unwrapped int ticks, 6 int16).

        Returns the list of notifications completed by this sample (usually empty). A sample
        whose ``seq`` does not follow the pending ones closes the batch first, because a batch
        implies consecutive sequence numbers.
        """
        out = []
        if self._samples and seq != self._seq_last + 1:
            out.append(self.flush())
        if not self._samples:
            self._seq0 = seq
            self._t0 = t_ticks
        self._samples.append(sample)
        self._seq_last = seq
        self._t_last = t_ticks
        if len(self._samples) >= self.batch or (
                self.phase_seq is not None and (seq - self.phase_seq) % self.cycle == 0):
            out.append(self.flush())
        return out

    def poll(self, now_ticks):
        """The pending batch if its oldest sample is at least ``max_age_s`` old at sensor time
        ``now_ticks`` (unwrapped ticks), else ``None`` (on a phase too: a missing closing
        sample does not hold a batch back)."""
        due = self._age_due()
        if due is None or now_ticks < due:
            return None
        return self.flush()

    def flush(self):
        if not self._samples:
            return None
        n = len(self._samples)
        if n > 1:
            dt_q4 = int(round((self._t_last - self._t0) * 16 / (n - 1)))
        else:
            dt_q4 = int(round(16 / (self.rate_hz * TICK_S)))
        if dt_q4 > 0xFFFF:
            dt_q4 = 0xFFFF
        pkt = encode_batch(self._seq0, self._t0, dt_q4, self._samples)
        self._samples = []
        return pkt


class SensorConfig:
    """What the sensor offers and its current settings (the info characteristic's content)."""

    def __init__(self, sensor_id, model, firmware, rates_hz=(104, 208), acc_ranges_g=(2, 4, 8, 16),
                 gyr_ranges_dps=(125, 250, 500, 1000, 2000), rate_hz=104, acc_range_g=8,
                 gyr_range_dps=1000):
        self.sensor_id = sensor_id
        self.model = model
        self.firmware = firmware
        self.rates_hz = tuple(rates_hz)
        self.acc_ranges_g = tuple(acc_ranges_g)
        self.gyr_ranges_dps = tuple(gyr_ranges_dps)
        self.rate_hz = rate_hz
        self.acc_range_g = acc_range_g
        self.gyr_range_dps = gyr_range_dps

    def info_bytes(self, mtu=247):
        """The info characteristic value: compact UTF-8 JSON (see docs/protocol.md)."""
        d = {
            "v": PROTOCOL_VERSION,
            "id": self.sensor_id,
            "model": self.model,
            "fw": self.firmware,
            "rate_hz": self.rate_hz,
            "rates_hz": list(self.rates_hz),
            "acc_range_g": self.acc_range_g,
            "acc_ranges_g": list(self.acc_ranges_g),
            "gyr_range_dps": self.gyr_range_dps,
            "gyr_ranges_dps": list(self.gyr_ranges_dps),
            "acc_scale": acc_scale(self.acc_range_g),
            "gyr_scale": gyr_scale(self.gyr_range_dps),
            "tick_s": TICK_S,
            "batch": max_samples(mtu),
        }
        return json.dumps(d).encode("utf-8")


class CommandHandler:
    """Parses control writes, changes the sensor state and builds the response.

    The hardware side is reached only through the callbacks, so the same handler runs in the
    firmware and in the virtual sensors.

    Parameters
    ----------
    config : SensorConfig
    on_start, on_stop : callable() or None
    on_identify : callable(seconds) or None
    on_config : callable(config) or None
        Called after a rate or range change (reprogram the IMU).
    battery : callable() -> int or None
        Battery level in percent for ``get_status``.
    on_phase : callable(seq or None) or None
        ``set_phase``: the host's sequence number (wrapped u32) of a sample after which a
        notification leaves (place it on the sensor's counter with :func:`unwrap_near`, then
        :meth:`Batcher.set_phase`), or ``None``: by age again. Without it the command is
        answered "unknown opcode".
    """

    def __init__(self, config, on_start=None, on_stop=None, on_identify=None, on_config=None,
                 battery=None, on_phase=None):
        self.config = config
        self.streaming = False
        self.on_start = on_start
        self.on_stop = on_stop
        self.on_identify = on_identify
        self.on_config = on_config
        self.battery = battery
        self.on_phase = on_phase

    def handle(self, data):
        """Handle one control write; always returns the response bytes, never raises."""
        data = bytes(data)
        if len(data) < 2:
            op = data[0] if data else 0
            return bytes((RESPONSE_FLAG | (op & 0x7F), 0, ST_BAD_LENGTH))
        op, token, payload = data[0], data[1], data[2:]
        status, extra = self._dispatch(op, payload)
        return bytes((RESPONSE_FLAG | (op & 0x7F), token, status)) + extra

    def _dispatch(self, op, payload):
        cfg = self.config
        if op == OP_START:
            # optional u32: the host's next expected sequence number after a dropped link; the
            # sensor re-sends what it still holds from there (see Resender)
            if len(payload) not in (0, 4):
                return ST_BAD_LENGTH, b""
            resume = struct.unpack("<I", payload)[0] if payload else None
            self.streaming = True
            if self.on_start:
                self.on_start(resume)
            return ST_OK, b""
        if op == OP_STOP:
            if payload:
                return ST_BAD_LENGTH, b""
            was = self.streaming
            self.streaming = False
            if was and self.on_stop:
                self.on_stop()
            return ST_OK, b""
        if op == OP_SET_RATE:
            if len(payload) != 2:
                return ST_BAD_LENGTH, b""
            rate = struct.unpack("<H", payload)[0]
            if rate not in cfg.rates_hz:
                return ST_BAD_VALUE, b""
            if self.streaming:
                return ST_BUSY, b""
            cfg.rate_hz = rate
            if self.on_config:
                self.on_config(cfg)
            return ST_OK, b""
        if op == OP_SET_RANGE:
            if len(payload) != 3:
                return ST_BAD_LENGTH, b""
            acc_g, gyr_dps = struct.unpack("<BH", payload)
            if acc_g not in cfg.acc_ranges_g or gyr_dps not in cfg.gyr_ranges_dps:
                return ST_BAD_VALUE, b""
            if self.streaming:
                return ST_BUSY, b""
            cfg.acc_range_g = acc_g
            cfg.gyr_range_dps = gyr_dps
            if self.on_config:
                self.on_config(cfg)
            return ST_OK, b""
        if op == OP_IDENTIFY:
            if len(payload) != 1:
                return ST_BAD_LENGTH, b""
            seconds = payload[0]
            if seconds < 1 or seconds > 30:
                return ST_BAD_VALUE, b""
            if self.on_identify:
                self.on_identify(seconds)
            return ST_OK, b""
        if op == OP_GET_STATUS:
            if payload:
                return ST_BAD_LENGTH, b""
            batt = self.battery() if self.battery else 255
            if batt is None:
                batt = 255
            return ST_OK, struct.pack("<BHBH", 1 if self.streaming else 0, cfg.rate_hz,
                                      cfg.acc_range_g, cfg.gyr_range_dps) + bytes((int(batt) & 0xFF,))
        if op == OP_SET_PHASE and self.on_phase is not None:
            # u32: the sequence number of a sample after which a notification leaves (the next
            # ones after every Batcher.cycle-th sample from it); empty: by age again
            if len(payload) not in (0, 4):
                return ST_BAD_LENGTH, b""
            self.on_phase(struct.unpack("<I", payload)[0] if payload else None)
            return ST_OK, b""
        return ST_UNKNOWN_OPCODE, b""


#: LSM6DS3TR-C FIFO: 4 KB = 227 samples of gyro + accel + timestamp (18 bytes each).
FIFO_SAMPLES = 227

#: Samples the sensor keeps after handing them to the radio (≈ 1.2 s at 104 Hz): notifications
#: have no acknowledgement, so those in flight when a link drops are lost unless re-sent.
RESEND_SAMPLES = 128


class Resender:
    """The last ``size`` samples handed to the radio, re-sent after a dropped link.

    A notification queued when the link drops never arrives, and the sensor cannot tell. So
    the host's ``start`` after a reconnect names the next sequence number it expects and the
    sensor re-sends its retained samples from there before continuing with its FIFO: a short
    drop loses nothing, whatever was in flight (plain Python: firmware and host tests).
    """

    def __init__(self, size=RESEND_SAMPLES):
        self.size = size
        self._buf = []  # (seq, ticks, sample)

    def add(self, seq, ticks, sample):
        self._buf.append((seq, ticks, sample))
        if len(self._buf) > 2 * self.size:  # trim in steps: cheap on a microcontroller
            del self._buf[:len(self._buf) - self.size]

    def since(self, seq):
        """Retained samples with a sequence number at or after ``seq`` (u32, wrapping)."""
        half = SEQ_WRAP // 2
        return [x for x in self._buf[-self.size:] if (x[0] - seq) % SEQ_WRAP < half]

    def clear(self):
        self._buf = []


class SampleCounter:
    """Per-sample sequence numbers from the sensor's timestamps.

    Consecutive samples count +1; a jump of k sample periods (a FIFO overflow while the link
    was down) counts +k, so the host sees the lost samples as a gap. The period is tracked
    from the timestamps themselves (the ODR and the timestamp share the sensor's oscillator).
    """

    def __init__(self, rate_hz=104):
        self.seq = -1
        self.last = None
        self.set_rate(rate_hz)

    def set_rate(self, rate_hz):
        self.nominal = 1.0 / (rate_hz * TICK_S)
        self.period = self.nominal

    def next(self, ticks):
        if self.last is None:
            self.seq += 1
        else:
            dt = ticks - self.last
            k = int(dt / self.period + 0.5)
            if k < 1:
                k = 1
            if k == 1 and 0.8 * self.nominal < dt < 1.2 * self.nominal:
                self.period += (dt - self.period) * 0.01
            self.seq += k
        self.last = ticks
        return self.seq


def command(op, token=0, payload=b""):
    """Build a control write (host side helper, also used by tests)."""
    return bytes((op & 0xFF, token & 0xFF)) + bytes(payload)


def cmd_set_rate(rate_hz, token=0):
    return command(OP_SET_RATE, token, struct.pack("<H", int(rate_hz)))


def cmd_set_range(acc_g, gyr_dps, token=0):
    return command(OP_SET_RANGE, token, struct.pack("<BH", int(acc_g), int(gyr_dps)))


def cmd_identify(seconds=3, token=0):
    return command(OP_IDENTIFY, token, bytes((int(seconds) & 0xFF,)))
