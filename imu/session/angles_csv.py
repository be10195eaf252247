"""The angles CSV (docs/formats.md): ``time_s`` then the angle columns in degrees, one header
row and numbers; its provenance goes next to it as ``ANGLES.csv.json``."""

from __future__ import annotations

import json
import os

import numpy as np

from imu.session.textfmt import format_row_parts
from imu.workers import fork_map

#: schema of the provenance file written next to an angles CSV
PROVENANCE_SCHEMA = "imu.angles-provenance/1"


def write_angles_csv(table, path, confidence: bool = False, decimals: int = 3,
                     chunk_rows: int = 200_000, provenance: dict | None = None,
                     force: bool = False) -> None:
    """Write ``table`` to exactly ``path`` (and, with ``provenance``, ``path + ".json"``) under
    the output rule (:mod:`imu.output`: never over an existing file without ``force``,
    temp + rename, both committed together, owner-only). Rows inside a data gap hold NaN.

    Parameters
    ----------
    table : imu.types.AngleTable
        ``time_s`` (N,) seconds; columns (N,) degrees.
    path : str or path-like
    confidence : bool
        Add ``<column>_confidence`` columns (0..1) for the rotation angles.
    decimals : int
        Digits after the point of the angles (time has 4).
    chunk_rows : int
        Rows formatted per task (tasks run in parallel, written in order).
    provenance : dict, optional
        What produced the angles (:func:`imu.chain.provenance`); written as JSON next to the
        CSV with the CSV's columns.
    force : bool
        Replace existing outputs.
    """
    from imu.output import Outputs

    with Outputs(force=force) as outs:
        csv = outs.file(path, what="angles CSV")
        _write_csv(table, csv.temp_path(), confidence, decimals, chunk_rows)
        if provenance is not None:
            js = outs.file(f"{os.fspath(path)}.json", what="angles provenance JSON")
            doc = _provenance_doc(table, os.fspath(path), confidence, provenance)
            with js.open() as f:
                json.dump(doc, f, indent=2, allow_nan=False, default=str)
                f.write("\n")


def _header(table, confidence: bool) -> list[str]:
    names = ["time_s"] + table.names()
    if confidence:
        names += [f"{c}_confidence" for c in table.confidence]
    return names


def _provenance_doc(table, path: str, confidence: bool, provenance: dict) -> dict:
    header = _header(table, confidence)
    return {"schema": PROVENANCE_SCHEMA, "csv": os.path.basename(path), "columns": header,
            "rows": len(table.time_s),
            "units": {"time_s": "s", **{c: ("1" if c.endswith("_confidence") else "deg")
                                        for c in header[1:]}},
            **provenance}


def _write_csv(table, tmp, confidence, decimals, chunk_rows) -> None:
    names = table.names()
    cols = [table.time_s] + [table[c] for c in names]
    header = ["time_s"] + names
    decs = [4] + [decimals] * len(names)
    if confidence:
        for c, v in table.confidence.items():
            header.append(f"{c}_confidence")
            cols.append(v)
            decs.append(2)
    n = len(table.time_s)

    def chunk(i0):
        return format_row_parts([np.asarray(c[i0:i0 + chunk_rows], float) for c in cols], decs)

    with open(tmp, "wb") as f:
        f.write((",".join(header) + "\n").encode())
        starts = list(range(0, n, chunk_rows))
        # formatting holds the GIL between its numpy steps: one forked child per CPU formats
        # its share of the chunks (threads where processes cannot fork); same text either way
        groups = max(1, min(len(starts), os.cpu_count() or 1))
        for k in range(0, len(starts), 4 * groups):  # at most 4 chunks per group at once
            batch = starts[k:k + 4 * groups]
            parts = [batch[g::groups] for g in range(groups)]
            texts = fork_map(lambda part: [chunk(i0) for i0 in part], parts)
            for j in range(len(batch)):  # back in row order
                f.writelines(texts[j % groups][j // groups])
