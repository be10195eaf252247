"""OpenSim motion file (``.mot``) of a session's angles.

The header OpenSim 4 writes for a table of coordinates (``STOFileAdapter``, version 3); both
of OpenSim's readers (``TimeSeriesTable`` and the ``Storage`` its tools and GUI use) read it,
``nan`` included (the older version-1 header makes ``Storage`` stop at the first ``nan``)::

    Coordinates
    inDegrees=yes
    DataType=double
    version=3
    OpenSimVersion=4.6
    endheader
    time<TAB>pelvis_tilt<TAB>pelvis_list<TAB>pelvis_rotation<TAB>hip_flexion_r<TAB>...
    0.000000<TAB>-1.234567<TAB>...

Columns are OpenSim coordinates of the gait models (:mod:`imu.kinematics.opensim` for the names,
signs and orders); degrees; ``nan`` where a sensor is in a gap. Rows in which every angle is in a
gap are left out. Coordinates the IMUs cannot see (pelvis translations, knees, ankles, lumbar)
are not written: OpenSim keeps them at their default values.
"""

from __future__ import annotations


import numpy as np

from imu.kinematics.opensim import opensim_coordinates
from imu.session.sto import OPENSIM_VERSION
from imu.session.textfmt import format_rows


def write_mot(table, path, *, decimals: int = 6, name: str = "Coordinates",
              force: bool = False) -> int:
    """Write ``table``'s angles as an OpenSim motion file to exactly ``path``.

    Parameters
    ----------
    table : imu.types.AngleTable
        Our angles (degrees, SPEC column names) on one time base.
    path : str or path-like
        Written under the output rule (:mod:`imu.output`): a private temporary file in the
        same folder renamed into place; an existing file is replaced only with ``force``.
    decimals : int
        Digits after the point (time and angles).
    name : str
        First header line (OpenSim's name of the table).

    Returns
    -------
    int
        Number of rows written.
    """
    coords = opensim_coordinates(table.columns)
    names = list(coords)
    data = np.column_stack([np.asarray(table.time_s, float)] + [coords[c] for c in names])
    keep = np.any(np.isfinite(data[:, 1:]), axis=1)
    data = data[keep]
    from imu.output import Output

    out = Output(path, what=".mot file", force=force)
    head = (f"{name}\ninDegrees=yes\nDataType=double\nversion=3\n"
            f"OpenSimVersion={OPENSIM_VERSION}\nendheader\n" + "\t".join(["time"] + names) + "\n")
    try:
        with out.open("wb") as f:
            f.write(head.encode())
            for i0 in range(0, len(data), 200_000):
                f.write(format_rows(data[i0:i0 + 200_000], decimals, "\t" * len(names)))
        out.commit()
    except BaseException:
        out.discard()
        raise
    return int(len(data))
