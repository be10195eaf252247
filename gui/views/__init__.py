"""Dashboard views: each draws one part of a :class:`imu.live.snapshot.Snapshot`."""
