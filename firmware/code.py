# imu sensor firmware for the Seeed XIAO nRF52840 Sense (CircuitPython 9).
#
# Copy this file, protocol.py and lsm6ds3.py to the CIRCUITPY drive, plus the adafruit_ble
# library in lib/ (see README.md). The hardware boundary is kept thin: encoding, batching and
# command handling are protocol.py (tested on the host against the reader's decoder); register
# values and FIFO parsing are lsm6ds3.py (tested on the host too).
#
# LED (on-board RGB, active low):
#   blue blink 1 Hz        advertising, waiting for the host
#   green steady           connected, not streaming
#   green blink 4 Hz       streaming
#   white blink 8 Hz       identify (the host asked "which one are you?")
#   red blink 1 Hz         battery below 10 %
#   red steady             IMU not found (check the board is a "Sense")

import time

import _bleio
import analogio
import board
import busio
import digitalio
import microcontroller
from adafruit_ble import BLERadio
from adafruit_ble.advertising.standard import ProvideServicesAdvertisement
from adafruit_ble.attributes import Attribute
from adafruit_ble.characteristics import Characteristic, ComplexCharacteristic
from adafruit_ble.services import Service
from adafruit_ble.services.standard import BatteryService
from adafruit_ble.services.standard.device_info import DeviceInfoService
from adafruit_ble.uuid import VendorUUID

import lsm6ds3 as L
import protocol as P

FIRMWARE = "1.0.0"
MODEL = "imu-xiao-sense"
SENSOR_ID = "".join("%02x" % b for b in microcontroller.cpu.uid)[-12:]
# FIFO read interval: a sample waits at most P.MAX_BATCH_AGE_S plus one read interval for its
# notification (plus the wait for the next connection event, set by the host).
FIFO_READ_INTERVAL_S = 0.01


# Security: health data. Every characteristic of our service needs an encrypted link
# (ENCRYPT_NO_MITM: the sensor has no display or keys, so pairing is "Just Works"; the nRF52840
# stack uses LE Secure Connections when the host offers it, which the reader always does, and
# keeps the bond). A central that did not pair can neither send a command (so nothing is ever
# streamed to it), subscribe to the data, nor read the info.
SECURE = Attribute.ENCRYPT_NO_MITM


class _Packets(ComplexCharacteristic):
    """A characteristic bound to a _bleio.PacketBuffer (notifications out, writes in)."""

    def __init__(self, uuid, properties, max_length):
        self.packet_size = max_length
        super().__init__(uuid=VendorUUID(uuid), properties=properties, read_perm=SECURE,
                         write_perm=SECURE, max_length=max_length, fixed_length=False)

    def bind(self, service):
        bound = super().bind(service)
        return _bleio.PacketBuffer(bound, buffer_size=8, max_packet_size=self.packet_size)


class ImuService(Service):
    uuid = VendorUUID(P.SERVICE_UUID)
    data = _Packets(P.DATA_UUID, Characteristic.NOTIFY, 244)
    control = _Packets(P.CONTROL_UUID, Characteristic.WRITE | Characteristic.NOTIFY, 32)
    info = Characteristic(uuid=VendorUUID(P.INFO_UUID), properties=Characteristic.READ,
                          read_perm=SECURE, write_perm=Attribute.NO_ACCESS,
                          max_length=512, fixed_length=False)


class Led:
    def __init__(self):
        self.pins = {}
        for name in ("LED_RED", "LED_GREEN", "LED_BLUE"):
            p = digitalio.DigitalInOut(getattr(board, name))
            p.direction = digitalio.Direction.OUTPUT
            p.value = True  # off (active low)
            self.pins[name[4]] = p

    def show(self, colour, blink_hz=0.0):
        on = True if blink_hz == 0 else int(time.monotonic() * blink_hz * 2) % 2 == 0
        for c, p in self.pins.items():
            p.value = not (on and c in colour)


def open_imu():
    """Power the IMU, lock its I2C bus and return the driver (lsm6ds3.Lsm6ds3)."""
    pwr = digitalio.DigitalInOut(board.IMU_PWR)
    pwr.direction = digitalio.Direction.OUTPUT
    pwr.value = True
    time.sleep(0.05)
    i2c = busio.I2C(board.IMU_SCL, board.IMU_SDA, frequency=400000)
    while not i2c.try_lock():
        pass
    imu = L.Lsm6ds3(i2c)
    imu.power_pin = pwr  # keep the pin object alive: the IMU stays powered
    return imu


def battery_level():
    try:
        en = digitalio.DigitalInOut(board.READ_BATT_ENABLE)
        en.direction = digitalio.Direction.OUTPUT
        en.value = False  # enable the divider
        a = analogio.AnalogIn(board.VBATT)
        volts = a.value / 65535 * a.reference_voltage * 2.961  # 1M + 510k divider
        a.deinit()
        en.value = True
        en.deinit()
        return L.battery_percent(volts)
    except (AttributeError, ValueError):
        return 100


def main():
    led = Led()
    try:
        imu = open_imu()
    except (RuntimeError, OSError):
        while True:
            led.show("R")
            time.sleep(1)
    cfg = P.SensorConfig(SENSOR_ID, MODEL, FIRMWARE, rates_hz=(104, 208), rate_hz=104,
                         acc_range_g=8, gyr_range_dps=1000)
    state = {"identify_until": 0.0, "mtu": 23, "ticks": 0, "t_read": 0.0, "seq": 0}
    counter = P.SampleCounter(cfg.rate_hz)

    resend = P.Resender()
    replay = []

    def on_start(resume_seq=None):
        # After a dropped link the FIFO kept sampling (continuous mode keeps the newest
        # FIFO_SAMPLES): resume from it, so a short drop loses nothing. Otherwise start afresh.
        if imu.running != (cfg.rate_hz, cfg.acc_range_g, cfg.gyr_range_dps):
            imu.start(cfg.rate_hz, cfg.acc_range_g, cfg.gyr_range_dps)
            counter.set_rate(cfg.rate_hz)
            batcher.rate_hz = cfg.rate_hz
            batcher.reset()
            resend.clear()
            replay[:] = []
        elif resume_seq is not None:
            # notifications in flight when the link dropped are lost: re-send from the
            # host's next expected sample (the pending batch is among the retained samples)
            batcher.reset()
            replay[:] = resend.since(resume_seq)

    def on_stop():
        imu.stop()
        batcher.reset()
        resend.clear()
        replay[:] = []

    def on_identify(seconds):
        state["identify_until"] = time.monotonic() + seconds

    def on_phase(seq):
        # the host lines the sensors' notifications up: one after its sample seq, and after
        # every batcher.cycle-th sample from it
        batcher.set_phase(None if seq is None else P.unwrap_near(seq, state["seq"]))

    def now_ticks():
        # the newest sample's time plus the time since it was read (the IMU's clock)
        return state["ticks"] + int((time.monotonic() - state["t_read"]) / P.TICK_S)

    battery = BatteryService()
    battery.level = battery_level()
    def on_config(c):
        svc.info = c.info_bytes(state["mtu"])

    handler = P.CommandHandler(cfg, on_start=on_start, on_stop=on_stop, on_identify=on_identify,
                               on_config=on_config, battery=lambda: battery.level,
                               on_phase=on_phase)
    batcher = P.Batcher(rate_hz=cfg.rate_hz, mtu=23, max_age_s=P.MAX_BATCH_AGE_S)
    radio = BLERadio()
    radio.name = "IMU-" + SENSOR_ID[-4:].upper()
    svc = ImuService()
    dis = DeviceInfoService(manufacturer="imu project", model_number=MODEL,
                            serial_number=SENSOR_ID, firmware_revision=FIRMWARE)
    adv = ProvideServicesAdvertisement(svc)
    adv.complete_name = radio.name
    cmd = bytearray(32)
    t_batt = time.monotonic()

    t_lost = time.monotonic()
    while True:
        radio.start_advertising(adv)
        while not radio.connected:
            led.show("R" if battery.level < 10 else "B", 1.0)
            if imu.running is not None and time.monotonic() - t_lost > 60:
                on_stop()  # nobody came back for the FIFO: save the battery
            time.sleep(0.05)
        radio.stop_advertising()
        conn = radio.connections[0]
        state["mtu"] = svc.data.outgoing_packet_length + 3  # ATT payload + 3 = negotiated MTU
        batcher.set_mtu(state["mtu"])
        svc.info = cfg.info_bytes(state["mtu"])
        while conn.connected:
            n = svc.control.readinto(cmd)
            if n > 0:
                svc.control.write(handler.handle(cmd[:n]))
            if handler.streaming:
                while replay:
                    seq, ticks, s = replay.pop(0)
                    for pkt in batcher.add(seq, ticks, s):
                        svc.data.write(pkt)
                samples, _overrun = imu.samples()
                for ticks, s in samples:
                    seq = counter.next(ticks)
                    resend.add(seq, ticks, s)
                    for pkt in batcher.add(seq, ticks, s):
                        svc.data.write(pkt)
                # the newest sample's time is the sensor's "now" (within one read interval):
                # a partial batch goes out once its oldest sample reached the maximum age
                # (on the host's phase it left when its closing sample was added)
                if samples:
                    state["ticks"] = samples[-1][0]
                    state["t_read"] = time.monotonic()
                    state["seq"] = seq
                pkt = batcher.poll(now_ticks())
                if pkt is not None:
                    svc.data.write(pkt)
            now = time.monotonic()
            if now < state["identify_until"]:
                led.show("RGB", 8.0)
            elif battery.level < 10:
                led.show("R", 1.0)
            else:
                led.show("G", 4.0 if handler.streaming else 0.0)
            if now - t_batt > 60:
                battery.level = battery_level()
                t_batt = now
            # the next FIFO read: in one read interval, or when the pending batch is due (on the
            # host's phase: when its closing sample is in), so a notification leaves on time
            wait = FIFO_READ_INTERVAL_S
            due = batcher.due_ticks() if handler.streaming else None
            if due is not None:
                wait = min(wait, max(0.001, (due - now_ticks()) * P.TICK_S))
            time.sleep(wait)
        # The link dropped: stop sending but keep the IMU's FIFO filling; the host's next start
        # resumes from it (see on_start). An explicit stop command stops the IMU.
        handler.streaming = False
        t_lost = time.monotonic()


main()
