"""A bleak backend over bumble's in-process controller and link: a virtual radio.

Real sensors and virtual ones share one code path: the reader talks to ``bleak.BleakClient`` /
``bleak.BleakScanner``; for virtual sensors it passes ``backend=BumbleClientBackend`` /
``backend=BumbleScannerBackend``. Underneath, a :class:`VirtualRadio` (one per event loop) holds a
``bumble.link.LocalLink`` (the "air"), a central ``bumble.device.Device`` with its own
``bumble.controller.Controller`` (the host's adapter), and the peripherals of
:mod:`imu.sources.ble.virtual`, each with its own controller on the same link. Everything below
HCI (advertising PDUs, connection set-up, ATT over L2CAP, MTU exchange) is bumble's real code.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bumble import hci
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

log = logging.getLogger(__name__)

CENTRAL_ADDRESS = "F0:F0:F0:F0:F0:F0"
#: MTU the central asks for (what Windows and most phones negotiate; payload 244 bytes).
CENTRAL_MTU = 247

_PROPS = {0x1: "broadcast", 0x2: "read", 0x4: "write-without-response", 0x8: "write",
          0x10: "notify", 0x20: "indicate", 0x40: "authenticated-signed-writes",
          0x80: "extended-properties"}


class _QuietController(Controller):
    """bumble's controller without eager debug formatting of every HCI packet.

    The stock controller and host format each packet into a coloured string for
    ``logger.debug`` even when debug logging is off; on a busy link that is half the CPU.
    Also advertises LE Data Length Extension sized ACL packets (251 bytes), as the nRF52840 does.
    """

    le_acl_data_packet_length = 251

    def on_hci_packet(self, packet) -> None:
        match packet:
            case hci.HCI_Command():
                self.on_hci_command_packet(packet)
            case hci.HCI_AclDataPacket():
                self.on_hci_acl_data_packet(packet)
            case hci.HCI_Event():
                self.on_hci_event_packet(packet)

    def on_hci_acl_data_packet(self, packet) -> None:
        connection = self.find_connection_by_handle(packet.connection_handle)
        if connection is None:  # data still in flight for a link just dropped
            return
        connection.on_hci_acl_data_packet(packet)

    def send_hci_packet(self, packet) -> None:
        if self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))


class _QuietHost(Host):
    """bumble's host without eager debug formatting (see :class:`_QuietController`)."""

    def send_hci_packet(self, packet) -> None:
        if self.snooper:
            super().send_hci_packet(packet)
            return
        if self.hci_sink:
            self.hci_sink.on_packet(bytes(packet))

    def on_command_processed(self, event) -> None:
        # a command whose caller was cancelled (a reader stopping during a reconnect) may be
        # answered after that when the controller is in another process: nothing waits for it
        if self.pending_response is not None and self.pending_response.done():
            return
        super().on_command_processed(event)

    def on_hci_packet(self, packet) -> None:
        if self.snooper:
            super().on_hci_packet(packet)
            return
        match packet:
            case hci.HCI_Command():
                self.on_hci_command_packet(packet)
            case hci.HCI_Event():
                self.on_hci_event_packet(packet)
            case hci.HCI_AclDataPacket():
                self.on_hci_acl_data_packet(packet)
            case hci.HCI_SynchronousDataPacket():
                self.on_hci_sco_data_packet(packet)
            case hci.HCI_IsoDataPacket():
                self.on_hci_iso_data_packet(packet)


class _CentralController(_QuietController):
    """bumble's controller with an LE Create Connection Cancel that really cancels.

    The stock controller answers the cancel but keeps the pending connection, so a timed-out
    connect never completes. Per the Core spec (Vol 4 Part E 7.8.13) a successful cancel is
    followed by an LE Connection Complete event with status Unknown Connection Identifier.
    """

    def on_hci_le_create_connection_cancel_command(self, command):
        pending = self.pending_le_connection
        self.pending_le_connection = None
        if pending is not None:
            def complete():
                self.send_hci_packet(hci.HCI_LE_Connection_Complete_Event(
                    status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                    connection_handle=0, role=hci.Role.CENTRAL,
                    peer_address_type=pending.peer_address_type,
                    peer_address=pending.peer_address, connection_interval=0,
                    peripheral_latency=0, supervision_timeout=0, central_clock_accuracy=0))
            asyncio.get_running_loop().call_soon(complete)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


class VirtualRadio:
    """The in-process BLE world of one event loop: a link, the host's central, peripherals.

    With ``central_transport`` (a connected stream socket) the central's controller is not
    here: it is at the other end of the socket (with the link and the peripherals, in the
    process of :mod:`imu.sources.ble.sensor_process`), and the central's host talks to it in
    HCI packets (H4), as a host talks to a real Bluetooth adapter.
    """

    def __init__(self, central_transport=None) -> None:
        self.link = LocalLink()
        self.central: Device | None = None
        self._central_lock = asyncio.Lock()
        self.connect_lock = asyncio.Lock()
        self.peripherals: dict[str, Any] = {}
        self.central_transport = central_transport
        self._hci_transport = None

    def new_device(self, address: str, name: str = "", controller_cls=_QuietController) -> Device:
        """A bumble device with its own controller on this radio's link (not powered yet)."""
        c = controller_cls(f"C-{address}", link=self.link, public_address=address)
        host_cls = Host if logging.getLogger("bumble").isEnabledFor(logging.DEBUG) else _QuietHost
        dev = Device(name=name or address, address=hci.Address(address),
                     host=host_cls(c, AsyncPipeSink(c)))
        return dev

    async def get_central(self) -> Device:
        async with self._central_lock:
            if self.central is None and self.central_transport is not None:
                from bumble.transport.common import StreamPacketSink, StreamPacketSource

                transport, source = await asyncio.get_running_loop().create_unix_connection(
                    StreamPacketSource, sock=self.central_transport)
                self._hci_transport = transport
                host_cls = Host if logging.getLogger("bumble").isEnabledFor(logging.DEBUG) \
                    else _QuietHost
                dev = Device(name="imu-host", address=hci.Address(CENTRAL_ADDRESS),
                             host=host_cls(source, StreamPacketSink(transport)))
                _secure(dev)
                await dev.power_on()
                self.central = dev
            elif self.central is None:
                dev = self.new_device(CENTRAL_ADDRESS, "imu-host", _CentralController)
                _secure(dev)  # bonds are kept per sensor in memory, never in a file
                await dev.power_on()
                self.central = dev
            return self.central

    async def close_central(self) -> None:
        """Close the HCI transport of a central whose controller is in another process."""
        if self._hci_transport is not None:
            self._hci_transport.close()
            self._hci_transport = None
        elif self.central_transport is not None:
            self.central_transport.close()
        self.central = None


def _pairing_config(accept: bool = True) -> "pairing.PairingConfig":
    """LE Secure Connections, Just Works (sensors have no display or keys), bonding."""
    from bumble import pairing

    class _Delegate(pairing.PairingDelegate):
        async def accept(self) -> bool:
            return accept

        async def confirm(self, auto: bool = False) -> bool:
            return accept

    return pairing.PairingConfig(sc=True, mitm=False, bonding=True, delegate=_Delegate(
        io_capability=pairing.PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT))


def _secure(dev: Device, accept: bool = True) -> None:
    from bumble.keys import MemoryKeyStore

    dev.keystore = MemoryKeyStore()
    dev.pairing_config_factory = lambda _conn: _pairing_config(accept)

    def on_connection(conn) -> None:
        def on_pairing(keys) -> None:
            # bumble files the bond under the peer's identity address; the next connection
            # comes from the address it connected with: keep the bond under that one too
            addr = conn.peer_resolvable_address or conn.peer_address
            asyncio.ensure_future(dev.keystore.update(str(addr), keys))

        conn.on(conn.EVENT_PAIRING, on_pairing)

    dev.on(dev.EVENT_CONNECTION, on_connection)


def secure_peripheral(dev: Device, accept: bool = True) -> None:
    """Give a virtual sensor's device SMP with LE Secure Connections and an in-memory bond
    store (``accept=False``: a sensor that refuses to pair)."""
    _secure(dev, accept)


_RADIOS: dict[asyncio.AbstractEventLoop, VirtualRadio] = {}


def get_radio() -> VirtualRadio:
    """The :class:`VirtualRadio` of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    for old in [lp for lp in _RADIOS if lp.is_closed()]:
        del _RADIOS[old]
    if loop not in _RADIOS:
        _RADIOS[loop] = VirtualRadio()
    return _RADIOS[loop]


def _radio_of(dev: BLEDevice | str, default: VirtualRadio | None = None) -> VirtualRadio:
    if isinstance(dev, BLEDevice) and isinstance(dev.details, dict):
        r = dev.details.get("radio")
        if isinstance(r, VirtualRadio):
            return r
    return default or get_radio()


def backends_for(radio: VirtualRadio) -> tuple[type, type]:
    """bleak client and scanner backends bound to ``radio`` (instead of the running event
    loop's own radio)."""
    return (type("BoundBumbleClientBackend", (BumbleClientBackend,), {"radio": radio}),
            type("BoundBumbleScannerBackend", (BumbleScannerBackend,), {"radio": radio}))


class BumbleClientBackend(BaseBleakClient):
    """``bleak`` client backend that connects through the :class:`VirtualRadio`."""

    #: the radio to use when the device does not name one (default: the event loop's)
    radio: VirtualRadio | None = None

    def __init__(self, address_or_ble_device: BLEDevice | str, *,
                 disconnected_callback: Callable[[], None] | None = None, timeout: float = 10.0,
                 **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback,
                         timeout=timeout)
        self._radio = _radio_of(address_or_ble_device, self.radio)
        self._name = (address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice)
                      else None) or self.address
        self._conn = None
        self._peer: Peer | None = None
        self._notify: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def mtu_size(self) -> int:
        return int(self._conn.att_mtu) if self._conn is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._conn is not None

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        timeout = min(float(kwargs.get("timeout", self._timeout)), float(self._timeout))
        central = await self._radio.get_central()
        async with self._radio.connect_lock:  # one pending LE connection per controller
            try:
                conn = await central.connect(self.address, transport=hci.PhysicalTransport.LE,
                                             timeout=timeout)
            except Exception as exc:  # bumble TimeoutError / ConnectionError
                if "timeout" in type(exc).__name__.lower() or isinstance(exc, TimeoutError):
                    raise asyncio.TimeoutError(f"{self.address}: no answer in {timeout:.1f} s") from None
                raise BleakDeviceNotFoundError(self.address, f"{self.address}: {exc}") from None
        self._conn = conn
        conn.on(conn.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            peer = Peer(conn)
            await peer.request_mtu(CENTRAL_MTU)
            await peer.discover_all()
            self._peer = peer
            self.services = self._build_services(peer)
        except Exception as exc:
            self._conn = None
            try:
                await conn.disconnect()
            except Exception:
                pass
            raise BleakError(f"{self.address}: service discovery failed: {exc}") from None

    def _on_disconnection(self, *_args) -> None:
        was = self._conn is not None
        self._conn = None
        self._peer = None
        self._notify.clear()
        if was and self._disconnected_callback is not None:
            self._disconnected_callback()

    def _build_services(self, peer: Peer) -> BleakGATTServiceCollection:
        coll = BleakGATTServiceCollection()
        for s in peer.services:
            svc = BleakGATTService(s, s.handle, _uuid_str(s.uuid))
            coll.add_service(svc)
            for c in s.characteristics:
                props = [name for bit, name in _PROPS.items() if int(c.properties) & bit]
                ch = BleakGATTCharacteristic(
                    c, c.handle, _uuid_str(c.uuid), props,
                    lambda: self.mtu_size - 3, svc)
                coll.add_characteristic(ch)
                for d in c.descriptors:
                    coll.add_descriptor(BleakGATTDescriptor(d, d.handle, _uuid_str(d.type), ch))
        return coll

    def _require(self) -> None:
        if self._conn is None:
            raise BleakError(f"{self.address}: not connected")

    async def disconnect(self) -> None:
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        self._peer = None
        try:
            await conn.disconnect()
        except Exception:  # already gone
            pass

    async def pair(self, *args: Any, **kwargs: Any) -> bool:
        """Encrypt the link: with the bond kept for this sensor if there is one, else by LE
        Secure Connections pairing (Just Works, bonding). BleakError if the link stays plain."""
        self._require()
        conn = self._conn
        if not conn.is_encrypted:
            central = await self._radio.get_central()
            keys = None
            if central.keystore is not None:
                keys = await central.keystore.get(str(conn.peer_address))
            try:
                if keys is not None and (keys.ltk or keys.ltk_central):
                    try:
                        await conn.encrypt()
                    except Exception:  # the sensor forgot the bond: pair again
                        await conn.pair()
                else:
                    await conn.pair()
            except Exception as exc:
                raise BleakError(f"{self.address}: pairing failed: {exc or type(exc).__name__}"
                                 ) from None
        if not conn.is_encrypted:
            raise BleakError(f"{self.address}: the link is not encrypted after pairing")
        return True

    @property
    def is_encrypted(self) -> bool:
        return self._conn is not None and bool(self._conn.is_encrypted)

    async def unpair(self) -> None:
        raise NotImplementedError("virtual sensors do not pair")

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *,
                             use_cached: bool = False, **kwargs: Any) -> bytearray:
        self._require()
        return bytearray(await characteristic.obj.read_value())

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *,
                                   use_cached: bool = False, **kwargs: Any) -> bytearray:
        self._require()
        return bytearray(await descriptor.obj.read_value())

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data,
                              response: bool) -> None:
        self._require()
        await characteristic.obj.write_value(bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data) -> None:
        self._require()
        await descriptor.obj.write_value(bytes(data), with_response=True)

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: NotifyCallback, **kwargs: Any) -> None:
        self._require()

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        self._notify[characteristic.handle] = on_value
        await characteristic.obj.subscribe(on_value, prefer_notify=True)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._require()
        cb = self._notify.pop(characteristic.handle, None)
        await characteristic.obj.unsubscribe(cb)


def _uuid_str(u) -> str:
    """bumble UUID → bleak's normalised 128-bit lower-case string."""
    b = bytes(u.uuid_bytes)
    if len(b) == 2:
        return f"0000{int.from_bytes(b, 'little'):04x}-0000-1000-8000-00805f9b34fb"
    if len(b) == 4:
        return f"{int.from_bytes(b, 'little'):08x}-0000-1000-8000-00805f9b34fb"
    h = b[::-1].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class BumbleScannerBackend(BaseBleakScanner):
    """``bleak`` scanner backend listening to advertisements on the :class:`VirtualRadio`."""

    #: the radio to use when none is passed (default: the event loop's)
    radio: VirtualRadio | None = None

    def __init__(self, detection_callback=None, service_uuids=None, scanning_mode="active",
                 **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self._radio: VirtualRadio | None = kwargs.get("radio") or type(self).radio
        self._central: Device | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        radio = self._radio or get_radio()
        self._radio = radio
        self._central = await radio.get_central()
        self._central.on(self._central.EVENT_ADVERTISEMENT, self._on_adv)
        try:
            await self._central.start_scanning(filter_duplicates=False)
        except Exception as exc:  # already scanning from another scanner
            log.debug("start_scanning: %s", exc)

    async def stop(self) -> None:
        if self._central is None:
            return
        self._central.remove_listener(self._central.EVENT_ADVERTISEMENT, self._on_adv)
        try:
            await self._central.stop_scanning()
        except Exception as exc:
            log.debug("stop_scanning: %s", exc)

    def _on_adv(self, adv) -> None:
        data: AdvertisingData = adv.data
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME)
        if name is None:
            name = data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
        if isinstance(name, (bytes, bytearray)):
            name = name.decode("utf-8", "replace")
        uuids: list[str] = []
        for tag in (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS):
            for u in data.get_all(tag) or []:
                for one in (u if isinstance(u, list) else [u]):
                    uuids.append(_uuid_str(one))
        mfr: dict[int, bytes] = {}
        for item in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA) or []:
            if isinstance(item, tuple) and len(item) == 2:
                mfr[int(item[0])] = bytes(item[1])
        if not self.is_allowed_uuid(uuids):
            return
        address = str(adv.address).split("/")[0]
        ad = AdvertisementData(local_name=name, manufacturer_data=mfr, service_data={},
                               service_uuids=uuids, tx_power=None, rssi=int(adv.rssi),
                               platform_data=(adv,))
        dev = self.create_or_update_device(address, address, name,
                                           {"radio": self._radio, "virtual": True}, ad)
        self.call_detection_callbacks(dev, ad)
