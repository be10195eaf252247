"""Our sensor streams only over an encrypted link: the reader pairs (LE Secure Connections,
bonded per sensor) on bumble's virtual link; a central that did not pair gets no sample; a
device offering our service that cannot be paired is refused."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient

from imu.errors import SensorError
from imu.sources.ble import protocol as P
from imu.sources.ble.bumble_backend import BumbleClientBackend, BumbleScannerBackend, get_radio
from imu.sources.ble.reader import BleSource
from imu.sources.ble.virtual import VirtualSensor, sim_address, still_feed


def source(vs):
    return BleSource({"sacrum": vs.address}, rate_hz=104, client_backend=BumbleClientBackend,
                     scanner_backend=BumbleScannerBackend, connect_timeout_s=3.0)


async def collect_for(src, seconds):
    got = []

    async def pump():
        async for _role, blk in src.role_blocks():
            got.append(blk)

    task = asyncio.create_task(pump())
    await asyncio.sleep(seconds)
    await src.stop()
    await task
    return sum(len(b) for b in got)


def test_the_reader_pairs_and_keeps_the_bond_per_sensor():
    async def main():
        vs = VirtualSensor(sim_address(3), "IMU-P", still_feed(), "pair-1")
        await vs.power_on()
        src = source(vs)
        await src.start()
        encrypted = vs._conn is not None and vs._conn.is_encrypted
        n = await collect_for(src, 1.0)
        central = get_radio().central
        bonds = await central.keystore.get_all()
        key = _ltk(bonds[0][1]) if bonds else None
        # a second session reuses the bond: the link is encrypted with the same key
        src2 = source(vs)
        await src2.start()
        again = vs._conn is not None and vs._conn.is_encrypted
        n2 = await collect_for(src2, 0.5)
        bonds2 = await central.keystore.get_all()
        await vs.close()
        return encrypted, n, bonds, key, again, n2, bonds2

    encrypted, n, bonds, key, again, n2, bonds2 = asyncio.run(main())
    assert encrypted and again
    assert n > 50 and n2 > 20
    assert {name.split("/")[0] for name, _ in bonds} == {sim_address(3)}  # this sensor's bond
    assert key is not None and {_ltk(k) for _, k in bonds2} == {key}  # kept, not paired anew


def _ltk(keys):
    k = keys.ltk or keys.ltk_central
    return None if k is None else bytes(k.value)


def test_an_unpaired_central_gets_no_samples():
    async def main():
        vs = VirtualSensor(sim_address(4), "IMU-U", still_feed(), "pair-2")
        await vs.power_on()
        got, refused = [], None
        async with BleakClient(vs.address, backend=BumbleClientBackend, timeout=3.0) as client:
            await client.start_notify(P.DATA_UUID, lambda _c, d: got.append(bytes(d)))
            try:
                await client.write_gatt_char(P.CONTROL_UUID, P.command(P.OP_START, 1),
                                             response=True)
            except Exception as exc:  # ATT: insufficient encryption
                refused = exc
            try:
                await client.read_gatt_char(P.INFO_UUID)
                info_read = True
            except Exception:
                info_read = False
            await asyncio.sleep(0.8)
        await vs.close()
        return got, refused, info_read, vs.samples_sent

    got, refused, info_read, sent = asyncio.run(main())
    assert refused is not None and "ENCRYPTION" in str(refused).upper()
    assert not info_read
    assert got == [] and sent == 0


def test_a_sensor_that_claims_to_be_ours_but_cannot_be_paired_is_refused():
    async def main():
        vs = VirtualSensor(sim_address(5), "IMU-X", still_feed(), "impostor")
        vs.require_encryption = False  # an open stream ...
        vs.accept_pairing = False      # ... from a device that will not encrypt it
        await vs.power_on()
        src = source(vs)
        try:
            with pytest.raises(SensorError) as exc:
                await src.start()
            return exc.value.message, vs.samples_sent
        finally:
            await src.stop()
            await vs.close()

    msg, sent = asyncio.run(main())
    assert "sacrum" in msg and sim_address(5) in msg and "cannot be encrypted" in msg, msg
    assert sent == 0
