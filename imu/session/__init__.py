"""Session files: the crash-safe recording store, CSV folder and Movella DOT import, exports.

Public entry points: :func:`imu.session.load.load_session` (any session source),
:class:`imu.session.store.RecordingWriter` and :func:`imu.session.store.read_recording`.
"""
