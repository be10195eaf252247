"""imu: the headless core of the wearable hip/pelvis motion monitor.

Quaternions are ``w, x, y, z`` everywhere; angles in degrees unless a name says ``_rad``.
"""

__version__ = "0.1.0"
