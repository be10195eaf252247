"""LSL outlets are reachable from this computer only by default (health data)."""

import os
import socket

import pytest

from imu.types import SensorInfo


def _publisher():
    try:
        from imu.sources.lsl import LslPublisher
        return LslPublisher({"sacrum": SensorInfo(sensor_id="s1", role="sacrum", rate_hz=100.0)})
    except Exception as exc:  # no liblsl / no network stack in this sandbox
        pytest.skip(f"LSL unavailable here: {exc}")


def _own_inet_sockets():
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            out.append((int(name), sock))
        else:
            sock.close()
    return out


def _non_loopback_ipv4():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent
        addr = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if addr.startswith("127.") else addr


def _data_port(pub):
    import xml.etree.ElementTree as ET
    root = ET.fromstring(pub.outlets["sacrum"].get_info().as_xml())
    return int(root.findtext("v4data_port"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux /proc")
def test_lsl_outlet_sockets_are_tied_to_loopback_by_default():
    pub = _publisher()
    try:
        port = _data_port(pub)
        socks = _own_inet_sockets()
        mine = [(fd, s) for fd, s in socks if s.getsockname()[1] == port]
        assert mine, "the outlet's data server socket was not found"
        for fd, s in mine:
            dev = s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\0")
            assert dev == b"lo", f"LSL socket {s.getsockname()} listens on all interfaces"
            assert not os.get_inheritable(fd), "child processes would inherit the LSL socket"
        for _, s in socks:
            s.close()
    finally:
        pub.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux /proc")
def test_lsl_data_port_refuses_connections_from_other_interfaces():
    pub = _publisher()
    try:
        port = _data_port(pub)
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # reachable from this computer
        addr = _non_loopback_ipv4()
        if addr is None:
            pytest.skip("no non-loopback IPv4 address on this machine")
        with pytest.raises(OSError):
            with socket.create_connection((addr, port), timeout=2):
                pass
    finally:
        pub.close()
