"""Qt application entry points used by ``imu demo``, ``imu live`` and ``imu replay``."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from imu.errors import BadInputError


def ensure_app(offscreen: bool = False):
    """The process's ``QApplication`` (created on first use).

    ``offscreen`` selects Qt's offscreen platform (screenshots, tests) unless a platform was set.
    """
    if offscreen and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:
        from PySide6 import QtWidgets
    except ImportError as exc:  # missing system libraries (libEGL, libxkbcommon, ...)
        raise BadInputError(f"cannot start Qt ({exc}); install the system packages with "
                            "`make sysdeps` (libegl1 libxkbcommon0 libxcb-cursor0 libgl1 "
                            "libfontconfig1 libdbus-1-3)") from None
    app = QtWidgets.QApplication.instance()
    if app is None:
        if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
            _silence_offscreen_noise()
        app = QtWidgets.QApplication(["imu"])
        app.setApplicationName("imu")
    import pyqtgraph as pg
    pg.setConfigOptions(antialias=True, background=None)
    return app


#: Qt messages that say nothing to a user (the offscreen platform cannot resize windows).
QT_NOISE = ("propagateSizeHints",)


def _silence_offscreen_noise() -> None:
    """Drop Qt's offscreen-platform warnings that say nothing to a user (``--screenshot``
    printed "This plugin does not support propagateSizeHints()" three times); every other
    Qt message still reaches stderr."""
    from PySide6 import QtCore

    def handler(mode, context, message):
        if any(n in message for n in QT_NOISE):
            return
        sys.stderr.write(message + "\n")

    QtCore.qInstallMessageHandler(handler)


def _allow_ctrl_c(app) -> None:
    from PySide6 import QtCore

    signal.signal(signal.SIGINT, lambda *_: app.quit())
    # wake Python up regularly so the signal handler runs while Qt's loop waits
    timer = QtCore.QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(200)
    app._imu_sigint_timer = timer


def tune_for_live() -> None:
    """Process settings for a live window over a pipeline thread (``imu demo``, ``imu live``,
    ``bench dashboard``): :func:`imu.latency.tune_process` (a short interpreter switch interval,
    so the window's thread waits less for the interpreter lock while the pipeline's thread
    computes, and the objects made so far out of the garbage collector's sight)."""
    from imu.latency import tune_process

    tune_process()


def run_live(pipeline, seconds: float | None = None, title: str = "imu — live",
             open_wizard: bool = False, sound: bool = False) -> int:
    """Show the dashboard over a :class:`~imu.live.process.LiveProcess` (the live processing
    in a process of its own: ``imu demo``, ``imu live``) or an in-process
    :class:`~imu.live.pipeline.LivePipeline` until the window is closed, Ctrl-C, the source
    ends, or ``seconds`` pass. The pipeline is stopped on return."""
    from PySide6 import QtCore

    from imu.gui.dashboard import Dashboard

    own_process = hasattr(pipeline, "fileno")
    if own_process:          # its start-up (imports, sensors) overlaps the window's
        pipeline.start(seconds)
    app = ensure_app()
    win = Dashboard(pipeline, mode="live", title=title, sound=sound)
    win.show()
    if open_wizard:
        win.open_wizard()
    _allow_ctrl_c(app)
    tune_for_live()
    if not own_process:
        pipeline.start(seconds)

    def check():
        if not pipeline.running:
            win.refresh()
            app.quit()

    watch = QtCore.QTimer(win)
    watch.timeout.connect(check)
    watch.start(250)
    try:
        app.exec()
    finally:
        pipeline.stop()
        dispose(win)
    return 0


def run_replay(player, title: str = "imu — replay", sound: bool = False) -> int:
    """Show the dashboard over a :class:`~imu.live.player.ReplayPlayer` until closed."""
    from imu.gui.dashboard import Dashboard

    app = ensure_app()
    win = Dashboard(player, mode="replay", title=title, sound=sound)
    win.show()
    _allow_ctrl_c(app)
    player.play()
    app.exec()
    dispose(win)
    return 0


def render(model, out_path: str | os.PathLike, size: tuple[int, int] = (1280, 800),
           mode: str = "replay") -> tuple[int, int]:
    """Draw one snapshot of ``model`` offscreen into a PNG; returns the image size (w, h)."""
    from imu.gui.dashboard import Dashboard

    out = Path(out_path)
    if out.parent and not out.parent.exists():
        raise BadInputError(f"{out.parent}: folder does not exist")
    app = ensure_app(offscreen=True)
    win = Dashboard(model, mode=mode, refresh_hz=0)
    win.resize(*size)
    win.show()
    for _ in range(3):           # layout settles over a few passes
        win.refresh()
        app.processEvents()
    if (win.width(), win.height()) != tuple(size):
        need = win.minimumSizeHint()
        dispose(win)
        raise BadInputError(f"--size {size[0]}x{size[1]}: the dashboard needs at least "
                            f"{need.width()}x{need.height()} pixels")
    img = win.grab()
    if not img.save(str(out), "PNG"):
        raise BadInputError(f"{out}: cannot write the screenshot")
    w, h = img.width(), img.height()
    dispose(win)
    return w, h


def check_size(size: tuple[int, int], mode: str = "replay") -> None:
    """Refuse (one line) a screenshot size below what the dashboard's layout needs."""
    from imu.gui.dashboard import Dashboard
    from imu.live.snapshot import Snapshot

    class _Empty:
        def snapshot(self):
            return Snapshot(mode=mode)

    ensure_app(offscreen=True)
    win = Dashboard(_Empty(), mode=mode, refresh_hz=0)
    win.refresh()
    need = win.minimumSizeHint()
    dispose(win)
    if size[0] < need.width() or size[1] < need.height():
        raise BadInputError(f"--size {size[0]}x{size[1]}: the dashboard needs at least "
                            f"{need.width()}x{need.height()} pixels")


def dispose(widget) -> None:
    """Close and delete a top-level widget now (Qt objects outliving the interpreter's teardown
    can crash it at exit)."""
    from PySide6 import QtCore, QtWidgets

    # paints still queued (the loop was left by Ctrl-C) go to the window while it has its
    # platform window: after close() Qt says "QBackingStore::flush() called for ..."
    QtWidgets.QApplication.processEvents()
    widget.close()
    widget.deleteLater()
    QtWidgets.QApplication.processEvents()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
