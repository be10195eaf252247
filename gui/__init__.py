"""The pyqtgraph/PySide6 dashboard. Draws what :mod:`imu.live` computed; computes nothing.

Imported only lazily, inside the ``imu demo`` / ``imu live`` / ``imu replay`` commands.
"""
