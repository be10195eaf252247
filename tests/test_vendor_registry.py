"""The registry of virtual vendor sensors (imu.sources.ble.vendor_sim)."""

import numpy as np

from imu.sources.ble import vendor_sim as VS
from imu.sources.ble.virtual import still_feed


def test_registered_maker_gets_its_context_and_session_layout_uses_it(monkeypatch):
    monkeypatch.setattr(VS, "_KINDS", dict(VS._KINDS))
    made = []

    def maker(ctx):
        made.append(ctx)
        return ctx

    VS.register("test-kind", maker, model="test-model", name=lambda i: f"Test {i}")
    monkeypatch.setitem(VS.SESSION_LAYOUT, "left_thigh", "test-kind")
    layout = VS.session_layout(("sacrum", "right_thigh", "left_thigh"))
    assert layout["left_thigh"] == "test-kind"
    assert layout["sacrum"] == "imu"
    feed = still_feed(52)
    group: list = []
    ctx = VS.make("test-kind", 2, feed, role="left_thigh", speed=3.0, sync_group=group)
    assert ctx.address == VS.vendor_address(2) == "D0:7E:5E:00:00:03"
    assert ctx.role == "left_thigh" and ctx.speed == 3.0 and ctx.sync_group is group
    assert np.allclose(ctx.feed.acc[:, 2], 9.80665)
    assert VS.kind_info("test-kind").model == "test-model"


def test_unregistered_kinds_fall_back_to_our_sensor(monkeypatch):
    monkeypatch.setattr(VS, "_KINDS", {})
    monkeypatch.setattr(VS, "_loaded", True)  # no provider module registers anything
    layout = VS.session_layout(("sacrum", "right_thigh", "left_thigh", "trunk"))
    assert set(layout.values()) == {"imu"}
