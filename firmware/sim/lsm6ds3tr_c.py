"""A register-level model of the ST LSM6DS3TR-C, and an I2C bus to reach it.

Written from the LSM6DS3TR-C datasheet (DocID 030071) and AN5130, independently of the driver
it tests (``firmware/lsm6ds3.py``): nothing here is imported from the driver or the protocol.

What is modelled
----------------
- ``WHO_AM_I`` (0Fh) = 6Ah; I2C address 6Ah (SA0 low) or 6Bh.
- ``CTRL1_XL`` (10h) ``ODR_XL[7:4]``, ``FS_XL[3:2]`` (00 ±2 g, 01 ±16 g, 10 ±4 g, 11 ±8 g);
  ``CTRL2_G`` (11h) ``ODR_G[7:4]``, ``FS_G[3:2]`` (00 250, 01 500, 10 1000, 11 2000 dps),
  ``FS_125`` bit 1. ODR codes 0001..1010 = 12.5, 26, 52, 104, 208, 416, 833, 1660, 3330,
  6660 Hz. Sensitivities (datasheet table 3): 0.061/0.122/0.244/0.488 mg/LSB,
  4.375/8.75/17.50/35/70 mdps/LSB.
- ``CTRL3_C`` (12h): ``BOOT`` 7, ``BDU`` 6, ``IF_INC`` 2 (default 1), ``SW_RESET`` 0.
- ``CTRL10_C`` (19h) ``TIMER_EN`` bit 5; ``WAKE_UP_DUR`` (5Ch) ``TIMER_HR`` bit 4
  (0: 1 LSB = 6.4 ms, 1: 1 LSB = 25 µs); ``TIMESTAMP0..2_REG`` (40h..42h) = TS[7:0], TS[15:8],
  TS[23:16]; writing AAh to 42h resets the counter; the counter wraps at 2^24.
- FIFO, 4 kbyte = 2048 16-bit words. ``FIFO_CTRL1/2`` threshold ``FTH[10:0]``;
  ``FIFO_CTRL2`` ``TIMER_PEDO_FIFO_EN`` bit 7 (step counter + timestamp as the 4th data set),
  ``FIFO_TEMP_EN`` bit 3; ``FIFO_CTRL3`` ``DEC_FIFO_GYRO[5:3]``, ``DEC_FIFO_XL[2:0]``;
  ``FIFO_CTRL4`` ``DEC_DS4_FIFO[5:3]``, ``DEC_DS3_FIFO[2:0]`` (decimation code 000 = not in
  FIFO, 001 = none, 010/011/100/101/110/111 = factor 2/3/4/8/16/32); ``FIFO_CTRL5``
  ``ODR_FIFO[6:3]`` (same codes as the sensors), ``FIFO_MODE[2:0]`` (000 bypass: FIFO off and
  emptied, 001 FIFO: stops when full, 110 continuous: the newest data overwrite the oldest).
- Data sets are written in the order gyroscope, accelerometer, (3rd: sensor hub), 4th; the
  recursive pattern is the sequence of words over one period of the decimation factors.
  The 4th data set is 6 bytes: TS[15:8], TS[23:16], (unused), TS[7:0], STEP[7:0], STEP[15:8].
- ``FIFO_STATUS1/2`` (3Ah/3Bh): ``DIFF_FIFO[10:0]`` unread words, ``WaterM`` 7, ``OVER_RUN``
  6, ``FIFO_FULL_SMART`` 5, ``FIFO_EMPTY`` 4; ``FIFO_STATUS3/4`` (3Ch/3Dh):
  ``FIFO_PATTERN[9:0]``, the pattern index of the next word to be read.
- ``FIFO_DATA_OUT_L/H`` (3Eh/3Fh): reading H pops the word; with ``IF_INC`` a burst from 3Eh
  rolls from 3Fh back to 3Eh, so each 2 bytes read are the next word, low byte first.

Model choices where the datasheet is silent (each chosen to be the harder case for a driver):
an overflow in continuous mode drops the oldest *word* (not a whole pattern), so the head of
the FIFO can be mid-pattern; ``OVER_RUN`` stays set until a FIFO word is read or the FIFO is
put in bypass; ``FIFO_FULL_SMART`` is set when the next slot fills or overflows the FIFO;
transfers on :class:`I2CBus` take bus time (9 clocks a byte) during which the chip runs on;
the unused byte of the timestamp set reads as 5Ah (never 0); ``DIFF_FIFO``
saturates at 2047 when all 2048 words are full. The internal oscillator's error
(``clock_error``) scales the ODRs and the timestamp counter alike, as they share it.

Not modelled (writes that need them raise ``NotImplementedError``): the sensor hub (3rd data
set), temperature in the FIFO, FIFO modes other than bypass/FIFO/continuous, and the
embedded functions; output registers (22h..2Dh) read as zero.
"""

import math
from collections import deque

ADDRESS = 0x6A
G0 = 9.80665
FIFO_CAPACITY_WORDS = 2048
TS_WRAP = 1 << 24
UNUSED_TS_BYTE = 0x5A

ODR_HZ = {0: 0.0, 1: 12.5, 2: 26.0, 3: 52.0, 4: 104.0, 5: 208.0, 6: 416.0, 7: 833.0,
          8: 1660.0, 9: 3330.0, 10: 6660.0}
FS_XL_G = {0b00: 2, 0b01: 16, 0b10: 4, 0b11: 8}
XL_MG_PER_LSB = {2: 0.061, 4: 0.122, 8: 0.244, 16: 0.488}
FS_G_DPS = {0b00: 250, 0b01: 500, 0b10: 1000, 0b11: 2000}
G_MDPS_PER_LSB = {125: 4.375, 250: 8.75, 500: 17.5, 1000: 35.0, 2000: 70.0}
DECIMATION = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 8, 6: 16, 7: 32}

# Registers a host may write (datasheet register map, "r/w"); writes elsewhere are recorded
# in ``bad_writes`` (reserved registers must not be changed, outputs are read-only).
WRITABLE = {0x01, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0D, 0x0E,
            *range(0x10, 0x1B), *range(0x58, 0x60), 0x73, 0x74, 0x75}
DEFAULTS = {0x0F: 0x6A, 0x12: 0x04, 0x18: 0xE0}


def _quantize(value, lsb):
    return max(-32768, min(32767, int(round(value / lsb))))


class Lsm6ds3trc:
    """The chip: registers, sensors sampling a motion, FIFO and timestamp counter.

    Parameters
    ----------
    motion : callable or None
        ``motion(t_s) -> (acc_mps2, gyr_radps)``, each 3 floats in the chip's axes, at true
        time ``t_s``. None: at rest, +1 g on z.
    clock_error : float
        Relative error of the internal oscillator (0.002 = 0.2 % fast): ODRs and the
        timestamp counter run ``1 + clock_error`` times their nominal rate.
    address : int
        7-bit I2C address (6Ah: SA0 low).

    Attributes
    ----------
    t_s : float
        True time, s (advanced by :meth:`advance`).
    written : list of dict
        Truth for every FIFO slot written: ``t_s``, ``ts24``, ``raw`` (ax, ay, az, gx, gy, gz
        int16 as stored), ``acc_mps2``, ``gyr_radps``.
    bad_writes : list of (register, value)
        Writes to read-only or reserved registers.
    """

    def __init__(self, motion=None, clock_error=0.0, address=ADDRESS):
        self.motion = motion or (lambda t: ((0.0, 0.0, G0), (0.0, 0.0, 0.0)))
        self.osc = 1.0 + clock_error
        self.address = address
        self.t_s = 0.0
        self.written = []
        self.bad_writes = []
        self.steps = 0
        self._ts_acc = 0.0      # timestamp counter (LSB of the current resolution), float
        self._ts_mark_s = 0.0   # true time at which _ts_acc was last folded
        self._reset_registers()

    # ---- register fields ------------------------------------------------------------------
    def _reset_registers(self):
        self.regs = bytearray(0x80)
        for reg, value in DEFAULTS.items():
            self.regs[reg] = value
        self.fifo = deque()     # (word, pattern index)
        self.overrun = False
        self._slot = 0          # FIFO slot counter since the FIFO left bypass
        self._next_pattern = 0  # pattern index of the next word to be written
        self._next_slot_s = None

    @property
    def xl_odr_hz(self):
        return ODR_HZ[self.regs[0x10] >> 4]

    @property
    def xl_fs_g(self):
        return FS_XL_G[(self.regs[0x10] >> 2) & 3]

    @property
    def g_odr_hz(self):
        return ODR_HZ[self.regs[0x11] >> 4]

    @property
    def g_fs_dps(self):
        if self.regs[0x11] & 0x02:
            return 125
        return FS_G_DPS[(self.regs[0x11] >> 2) & 3]

    @property
    def bdu(self):
        return bool(self.regs[0x12] & 0x40)

    @property
    def if_inc(self):
        return bool(self.regs[0x12] & 0x04)

    @property
    def timer_en(self):
        return bool(self.regs[0x19] & 0x20)

    @property
    def ts_resolution_s(self):
        return 25e-6 if self.regs[0x5C] & 0x10 else 6.4e-3

    @property
    def fifo_mode(self):
        return self.regs[0x0A] & 0x07

    @property
    def fifo_odr_hz(self):
        return ODR_HZ[(self.regs[0x0A] >> 3) & 0x0F]

    @property
    def fifo_threshold_words(self):
        return self.regs[0x06] | ((self.regs[0x07] & 0x07) << 8)

    @property
    def ds4_timestamp(self):
        return bool(self.regs[0x07] & 0x80)

    def decimation(self):
        """Decimation factors (0 = not in FIFO) of gyro, accel, 3rd and 4th data sets."""
        c3, c4 = self.regs[0x08], self.regs[0x09]
        return (DECIMATION[(c3 >> 3) & 7], DECIMATION[c3 & 7],
                DECIMATION[c4 & 7], DECIMATION[(c4 >> 3) & 7])

    def pattern(self):
        """The recursive FIFO pattern: (period in slots, [(data set, slot), ...] one per 3
        words); data set 0 gyro, 1 accel, 2 sensor hub, 3 step counter and timestamp."""
        dec = self.decimation()
        period = 1
        for d in dec:
            if d:
                period = period * d // math.gcd(period, d)
        out = []
        for slot in range(period):
            for k, d in enumerate(dec):
                if d and slot % d == 0 and self._set_enabled(k):
                    out.append((k, slot))
        return period, out

    def _set_enabled(self, k):
        if k == 0:
            return self.g_odr_hz > 0
        if k == 1:
            return self.xl_odr_hz > 0
        if k == 3:
            return self.ds4_timestamp
        return False

    # ---- timestamp --------------------------------------------------------------------------
    def _fold_timestamp(self):
        if self.timer_en:
            self._ts_acc += (self.t_s - self._ts_mark_s) * self.osc / self.ts_resolution_s
        self._ts_mark_s = self.t_s

    def timestamp(self):
        """TIMESTAMP[23:0] now (LSB of the current resolution)."""
        self._fold_timestamp()
        return int(self._ts_acc) % TS_WRAP

    def set_timestamp(self, value):
        """Test hook: put the counter at ``value`` LSB now (as if powered that long)."""
        self._fold_timestamp()
        self._ts_acc = float(value)

    # ---- time -----------------------------------------------------------------------------
    def advance(self, dt_s):
        """Run the chip for ``dt_s`` seconds of true time, writing FIFO slots as they fall."""
        end = self.t_s + dt_s
        while self._next_slot_s is not None and self._next_slot_s <= end:
            self.t_s = self._next_slot_s
            self._write_slot()
            self._next_slot_s += 1.0 / (self.fifo_odr_hz * self.osc)
        self.t_s = end

    def _schedule(self):
        running = self.fifo_mode != 0 and self.fifo_odr_hz > 0
        if not running:
            self._next_slot_s = None
        elif self._next_slot_s is None:
            self._next_slot_s = self.t_s + 1.0 / (self.fifo_odr_hz * self.osc)

    def _write_slot(self):
        period, pat = self.pattern()
        if not pat:
            return
        slot_in_period = self._slot % period
        n_words = 3 * sum(1 for _, slot in pat if slot == slot_in_period)
        if self.fifo_mode == 0b001 and len(self.fifo) + n_words > FIFO_CAPACITY_WORDS:
            return  # FIFO mode: collection stops when the next slot no longer fits
        acc, gyr = self.motion(self.t_s)
        ts = self.timestamp()
        raw_xl = tuple(_quantize(a / G0 * 1000.0, XL_MG_PER_LSB[self.xl_fs_g]) for a in acc)
        raw_g = tuple(_quantize(w * 180.0 / math.pi * 1000.0, G_MDPS_PER_LSB[self.g_fs_dps])
                      for w in gyr)
        self.written.append({"t_s": self.t_s, "ts24": ts, "raw": raw_xl + raw_g,
                             "acc_mps2": tuple(acc), "gyr_radps": tuple(gyr)})
        for index, (k, slot) in enumerate(pat):
            if slot != slot_in_period:
                continue
            if k == 0:
                words = [v & 0xFFFF for v in raw_g]
            elif k == 1:
                words = [v & 0xFFFF for v in raw_xl]
            else:
                words = [((ts >> 8) & 0xFF) | ((ts >> 16) << 8),
                         UNUSED_TS_BYTE | ((ts & 0xFF) << 8),
                         self.steps & 0xFFFF]
            for j, w in enumerate(words):
                self._push(w, 3 * index + j, 3 * len(pat))
        self._slot += 1

    def _push(self, word, pattern_index, pattern_words):
        if len(self.fifo) >= FIFO_CAPACITY_WORDS:
            self.fifo.popleft()           # continuous: newest overwrites oldest
            self.overrun = True
        self.fifo.append((word, pattern_index))
        self._next_pattern = (pattern_index + 1) % pattern_words

    # ---- registers --------------------------------------------------------------------------
    def read_register(self, reg):
        if reg in (0x3A, 0x3B):
            n = min(len(self.fifo), FIFO_CAPACITY_WORDS - 1)
            if reg == 0x3A:
                return n & 0xFF
            period, pat = self.pattern()
            nxt = 3 * sum(1 for _, slot in pat if slot == self._slot % period)
            return ((0x80 if n >= self.fifo_threshold_words else 0)
                    | (0x40 if self.overrun else 0)
                    | (0x20 if len(self.fifo) + nxt >= FIFO_CAPACITY_WORDS else 0)
                    | (0x10 if not self.fifo else 0)
                    | (n >> 8) & 0x07)
        if reg in (0x3C, 0x3D):
            p = self.fifo[0][1] if self.fifo else self._next_pattern
            return p & 0xFF if reg == 0x3C else (p >> 8) & 0x03
        if reg == 0x3E:
            return self.fifo[0][0] & 0xFF if self.fifo else 0
        if reg == 0x3F:
            if not self.fifo:
                return 0
            word, _ = self.fifo.popleft()
            self.overrun = False
            return word >> 8
        if reg in (0x40, 0x41, 0x42):
            return (self.timestamp() >> (8 * (reg - 0x40))) & 0xFF
        return self.regs[reg]

    def write_register(self, reg, value):
        if reg == 0x42:
            if value == 0xAA:
                self._fold_timestamp()
                self._ts_acc = 0.0
            else:
                self.bad_writes.append((reg, value))
            return
        if reg not in WRITABLE:
            self.bad_writes.append((reg, value))
            return
        if reg == 0x12 and value & 0x01:          # SW_RESET
            self._fold_timestamp()
            self._reset_registers()
            return
        if reg in (0x19, 0x5C):
            self._fold_timestamp()                # TIMER_EN / TIMER_HR change from here on
        if reg == 0x07 and value & 0x08:
            raise NotImplementedError("temperature in the FIFO is not modelled")
        if reg == 0x09 and value & 0x07:
            raise NotImplementedError("the sensor hub (3rd FIFO data set) is not modelled")
        if reg == 0x0A and value & 0x07 not in (0b000, 0b001, 0b110):
            raise NotImplementedError("FIFO mode %s is not modelled" % bin(value & 7))
        self.regs[reg] = value
        if reg == 0x0A and value & 0x07 == 0:     # bypass: FIFO off and emptied
            self.fifo.clear()
            self.overrun = False
            self._slot = 0
            self._next_pattern = 0
            self._next_slot_s = None
        if reg in (0x0A, 0x10, 0x11, 0x07, 0x08, 0x09):
            self._schedule()

    def next_address(self, reg):
        """Register address after ``reg`` in a burst (IF_INC; FIFO output rolls 3Fh → 3Eh)."""
        if not self.if_inc:
            return reg
        return 0x3E if reg == 0x3F else (reg + 1) & 0x7F


class I2CBus:
    """Host stand-in for CircuitPython's locked ``busio.I2C``, with devices on it.

    Parameters
    ----------
    *devices : objects with ``address``, ``read_register``, ``write_register``,
        ``next_address`` (and ``advance(dt_s)`` to let time pass during transfers).
    bus_hz : float or None
        I2C clock: every byte on the bus (address byte included) takes 9 clocks, during which
        the devices keep running (a FIFO slot can land in the middle of a burst read). None:
        transfers take no time.

    Attributes
    ----------
    transfers : list of (kind, address, register, length)
        Every transfer, for tests that check what the driver did.
    """

    def __init__(self, *devices, bus_hz=None):
        self.devices = {d.address: d for d in devices}
        self.byte_s = 9.0 / bus_hz if bus_hz else 0.0
        self.pointer = {}
        self.transfers = []

    def try_lock(self):
        return True

    def unlock(self):
        pass

    def scan(self):
        return sorted(self.devices)

    def _tick(self):
        if self.byte_s:
            for dev in self.devices.values():
                dev.advance(self.byte_s)

    def _device(self, address):
        self._tick()  # the address byte
        if address not in self.devices:
            raise OSError(19, "No such device")  # no ACK, as busio reports it
        return self.devices[address]

    def writeto(self, address, buffer, *, start=0, end=None):
        dev = self._device(address)
        data = bytes(buffer[start:end])
        if not data:
            return
        reg = data[0]
        self.transfers.append(("write", address, reg, len(data) - 1))
        self._tick()
        for value in data[1:]:
            self._tick()
            dev.write_register(reg, value)
            reg = dev.next_address(reg)
        self.pointer[address] = reg

    def readfrom_into(self, address, buffer, *, start=0, end=None):
        dev = self._device(address)
        reg = self.pointer.get(address, 0)
        end = len(buffer) if end is None else end
        self.transfers.append(("read", address, reg, end - start))
        for i in range(start, end):
            self._tick()
            buffer[i] = dev.read_register(reg)
            reg = dev.next_address(reg)
        self.pointer[address] = reg

    def writeto_then_readfrom(self, address, buffer_out, buffer_in, *, out_start=0,
                              out_end=None, in_start=0, in_end=None):
        self.writeto(address, buffer_out, start=out_start, end=out_end)
        self.readfrom_into(address, buffer_in, start=in_start, end=in_end)
