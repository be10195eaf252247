"""LSM6DS3TR-C driver: register values, FIFO reading and parsing, in plain Python.

Runs on CircuitPython (``code.py`` hands it a locked ``busio.I2C``) and on the host, where the
tests hand it an I2C object backed by a register-level model of the chip
(``firmware/sim/lsm6ds3tr_c.py``). Register map and bit fields from the LSM6DS3TR-C datasheet
(DocID 030071) and application note AN5130:

- ``CTRL1_XL`` (10h): ``ODR_XL[7:4]``, ``FS_XL[3:2]`` (00 ±2 g, 10 ±4 g, 11 ±8 g, 01 ±16 g).
- ``CTRL2_G`` (11h): ``ODR_G[7:4]``, ``FS_G[3:2]`` (00 250, 01 500, 10 1000, 11 2000 dps),
  ``FS_125`` bit 1.
- ODR code 0100 = 104 Hz, 0101 = 208 Hz (accelerometer, gyroscope and FIFO alike).
- ``CTRL3_C`` (12h): ``BDU`` bit 6, ``IF_INC`` bit 2.
- ``CTRL10_C`` (19h): ``TIMER_EN`` bit 5; ``WAKE_UP_DUR`` (5Ch): ``TIMER_HR`` bit 4 → 25 µs
  timestamp resolution. Writing AAh to ``TIMESTAMP2_REG`` (42h) resets the 24-bit counter.
- FIFO: ``FIFO_CTRL2`` (07h) ``TIMER_PEDO_FIFO_EN`` bit 7 puts step counter and timestamp in
  the FIFO as the 4th data set (the 3rd is the sensor hub's, unused here); ``FIFO_CTRL3`` (08h) gyro/accel decimation 001 = none; ``FIFO_CTRL4`` (09h)
  ``DEC_DS4_FIFO[5:3]`` 001 = none; ``FIFO_CTRL5`` (0Ah) ``ODR_FIFO[6:3]``,
  ``FIFO_MODE[2:0]`` 110 = continuous.
- ``FIFO_STATUS1/2`` (3Ah/3Bh): unread 16-bit words ``DIFF_FIFO[10:0]``, ``OVER_RUN`` bit 6 of
  3Bh; ``FIFO_STATUS3/4`` (3Ch/3Dh): ``FIFO_PATTERN[9:0]``, the index of the next word in the
  pattern; ``FIFO_DATA_OUT_L/H`` (3Eh/3Fh), read as one burst from 3Eh (with ``IF_INC`` the
  address rolls from 3Fh back to 3Eh, so each 2 bytes are the next word, low byte first).
- FIFO pattern with gyro, accel and the timestamp set: 9 words = gyro x y z, accel x y z, then
  the timestamp set as bytes ``TS[15:8], TS[23:16], --, TS[7:0], STEP[7:0], STEP[15:8]``.
"""

import struct

ADDRESS = 0x6A
WHO_AM_I = 0x0F
WHO_AM_I_VALUE = 0x6A
FIFO_CTRL1 = 0x06
FIFO_CTRL2 = 0x07
FIFO_CTRL3 = 0x08
FIFO_CTRL4 = 0x09
FIFO_CTRL5 = 0x0A
CTRL1_XL = 0x10
CTRL2_G = 0x11
CTRL3_C = 0x12
CTRL10_C = 0x19
FIFO_STATUS1 = 0x3A
FIFO_STATUS2 = 0x3B
FIFO_STATUS3 = 0x3C
FIFO_STATUS4 = 0x3D
FIFO_DATA_OUT_L = 0x3E
TIMESTAMP2_REG = 0x42
WAKE_UP_DUR = 0x5C

ODR_CODE = {104: 0b0100, 208: 0b0101}
FS_XL_CODE = {2: 0b00, 4: 0b10, 8: 0b11, 16: 0b01}
FS_G_CODE = {250: 0b00, 500: 0b01, 1000: 0b10, 2000: 0b11}
PATTERN_WORDS = 9
TS_WRAP = 1 << 24


def ctrl1_xl(rate_hz, range_g):
    """CTRL1_XL value for an accelerometer rate (Hz) and full scale (g)."""
    return (ODR_CODE[rate_hz] << 4) | (FS_XL_CODE[range_g] << 2)


def ctrl2_g(rate_hz, range_dps):
    """CTRL2_G value for a gyroscope rate (Hz) and full scale (dps; 125 uses FS_125)."""
    if range_dps == 125:
        return (ODR_CODE[rate_hz] << 4) | 0b10
    return (ODR_CODE[rate_hz] << 4) | (FS_G_CODE[range_dps] << 2)


def fifo_ctrl5(rate_hz):
    """FIFO_CTRL5: FIFO ODR = sensor rate, continuous mode."""
    return (ODR_CODE[rate_hz] << 3) | 0b110


#: Register writes at power-on: the timestamp runs from here on, never reset while powered.
INIT_SEQUENCE = (
    (CTRL3_C, 0b01000100),           # BDU, IF_INC
    (WAKE_UP_DUR, 0b00010000),       # TIMER_HR: 25 us timestamp
    (CTRL10_C, 0b00100000),          # TIMER_EN
    (TIMESTAMP2_REG, 0xAA),          # reset the timestamp counter
)


#: Register writes that (re)start streaming, in order: (register, value).
def setup_sequence(rate_hz, range_g, range_dps):
    return [
        (FIFO_CTRL5, 0x00),              # bypass: clear the FIFO
        (CTRL1_XL, ctrl1_xl(rate_hz, range_g)),
        (CTRL2_G, ctrl2_g(rate_hz, range_dps)),
        (FIFO_CTRL2, 0b10000000),        # TIMER_PEDO_FIFO_EN: timestamp as 4th data set
        (FIFO_CTRL3, 0b00001001),        # gyro and accel in FIFO, no decimation
        (FIFO_CTRL4, 0b00001000),        # 4th data set, no decimation
        (FIFO_CTRL5, fifo_ctrl5(rate_hz)),
    ]


def fifo_level(status1, status2):
    """Unread FIFO words and overrun flag from FIFO_STATUS1 and FIFO_STATUS2."""
    return status1 | ((status2 & 0x07) << 8), bool(status2 & 0x40)


def fifo_pattern(status3, status4):
    """FIFO_PATTERN[9:0] from FIFO_STATUS3/4: pattern index of the next word to be read."""
    return status3 | ((status4 & 0x03) << 8)


class FifoParser:
    """Turns FIFO words into samples ``(ts24, (ax, ay, az, gx, gy, gz))``.

    Words may arrive split across reads at any point of the 9-word pattern; ``pattern`` is the
    FIFO_PATTERN value (index of the next word) at the start of the first read.
    """

    def __init__(self, pattern=0):
        self.pos = pattern % PATTERN_WORDS
        self.words = [0] * PATTERN_WORDS
        self.have_start = self.pos == 0

    def feed(self, data):
        """Parse raw FIFO bytes (little-endian words); returns completed samples."""
        out = []
        n = len(data) // 2
        for i in range(n):
            w = data[2 * i] | (data[2 * i + 1] << 8)
            self.words[self.pos] = w
            self.pos += 1
            if self.pos == PATTERN_WORDS:
                self.pos = 0
                if self.have_start:
                    out.append(self._sample())
                self.have_start = True
        return out

    def _sample(self):
        w = self.words
        raw = struct.pack("<9H", *w)
        g = struct.unpack_from("<3h", raw, 0)
        a = struct.unpack_from("<3h", raw, 6)
        b = raw[12:18]
        ts = (b[1] << 16) | (b[0] << 8) | b[3]
        return ts, (a[0], a[1], a[2], g[0], g[1], g[2])


class Lsm6ds3:
    """The LSM6DS3TR-C on an I2C bus (CircuitPython ``busio.I2C`` API, already locked).

    Parameters
    ----------
    i2c : object
        Has ``writeto(address, buffer)`` and ``writeto_then_readfrom(address, out, in_)``.
    address : int
        7-bit I2C address (6Ah with SA0 low, as on the XIAO nRF52840 Sense).

    Raises
    ------
    RuntimeError
        WHO_AM_I is not 6Ah (no LSM6DS3TR-C at that address).
    """

    def __init__(self, i2c, address=ADDRESS):
        self.i2c = i2c
        self.address = address
        if self.read(WHO_AM_I, 1)[0] != WHO_AM_I_VALUE:
            raise RuntimeError("LSM6DS3TR-C not found")
        for reg, value in INIT_SEQUENCE:
            self.write(reg, value)
        self.chunk = bytearray(PATTERN_WORDS * 2 * 16)
        self.unwrap = TimestampUnwrapper()  # one sensor clock for the whole power-on
        self.parser = FifoParser(0)
        self.running = None  # (rate, acc range, gyr range) while the FIFO runs
        self.overruns = 0    # FIFO overruns seen since power-on
        self._deferred = False

    def write(self, reg, value):
        self.i2c.writeto(self.address, bytes((reg, value)))

    def read(self, reg, n):
        out = bytearray(n)
        self.i2c.writeto_then_readfrom(self.address, bytes((reg,)), out)
        return out

    def start(self, rate_hz, range_g, range_dps):
        """Clear the FIFO and stream accelerometer, gyroscope and timestamp at ``rate_hz``."""
        for reg, value in setup_sequence(rate_hz, range_g, range_dps):
            self.write(reg, value)
        st = self.read(FIFO_STATUS1, 4)
        self.parser = FifoParser(fifo_pattern(st[2], st[3]))
        self.running = (rate_hz, range_g, range_dps)

    def stop(self):
        """FIFO to bypass (clears it), accelerometer and gyroscope off."""
        self.write(FIFO_CTRL5, 0x00)
        self.write(CTRL1_XL, 0x00)
        self.write(CTRL2_G, 0x00)
        self.running = None

    def samples(self):
        """Read what the FIFO holds.

        Returns
        -------
        samples : list of (ticks, (ax, ay, az, gx, gy, gz))
            Unwrapped sensor timestamps (25 µs ticks) and raw int16 values, oldest first.
        overrun : bool
            The FIFO overflowed since the last read: its oldest words were overwritten. The
            parser is then realigned on FIFO_PATTERN (the partial pattern at the head is
            dropped), so no sample is ever assembled from words of different patterns; the
            lost samples show as a jump of the timestamps. When ``FIFO_FULL_SMART`` says the
            next slot overflows, one read is skipped (returns no samples) so the overflow
            happens before the read, not during it.
        """
        st = self.read(FIFO_STATUS1, 4)
        words, overrun = fifo_level(st[0], st[1])
        pattern = fifo_pattern(st[2], st[3]) % PATTERN_WORDS
        if st[1] & 0x20 and not overrun and not self._deferred:
            # FIFO_FULL_SMART: the next slot overflows the FIFO. Reading now would race it
            # (the overflow moves the head mid-burst and the words read would be misaligned,
            # with OVER_RUN cleared by the read itself): let it overflow, read next time.
            self._deferred = True
            return [], False
        self._deferred = False
        if overrun:
            self.overruns += 1
        if overrun or pattern != self.parser.pos:
            self.parser = FifoParser(pattern)
        out = []
        while words > 0:
            n = min(words, len(self.chunk) // 2)
            view = memoryview(self.chunk)[: 2 * n]
            self.i2c.writeto_then_readfrom(self.address, bytes((FIFO_DATA_OUT_L,)), view)
            for ts, s in self.parser.feed(view):
                out.append((self.unwrap(ts), s))
            words -= n
        return out, overrun


class TimestampUnwrapper:
    """24-bit sensor timestamps → monotonic ticks (wraps every 7 min at 25 µs)."""

    def __init__(self):
        self.last = None
        self.offset = 0

    def __call__(self, ts24):
        if self.last is not None and ts24 < self.last and self.last - ts24 > TS_WRAP // 2:
            self.offset += TS_WRAP
        self.last = ts24
        return ts24 + self.offset


#: LiPo open-circuit voltage → charge (V, %), a typical single-cell discharge curve.
LIPO_CURVE = ((3.27, 0), (3.61, 5), (3.69, 10), (3.71, 15), (3.73, 20), (3.75, 25), (3.77, 30),
              (3.79, 35), (3.80, 40), (3.82, 45), (3.84, 50), (3.85, 55), (3.87, 60),
              (3.91, 65), (3.95, 70), (3.98, 75), (4.02, 80), (4.08, 85), (4.11, 90),
              (4.15, 95), (4.20, 100))


def battery_percent(volts):
    """Battery charge (0..100 %) from the cell voltage, interpolated on :data:`LIPO_CURVE`."""
    if volts <= LIPO_CURVE[0][0]:
        return 0
    for (v0, p0), (v1, p1) in zip(LIPO_CURVE, LIPO_CURVE[1:]):
        if volts <= v1:
            return int(round(p0 + (p1 - p0) * (volts - v0) / (v1 - v0)))
    return 100
