"""The angles CSV (docs/formats.md): ``time_s`` then the angle columns in degrees, one header
row and numbers; its provenance goes next to it as ``ANGLES.csv.json``."""

from __future__ import annotations

import json
import os

import numpy as np

from imu.output import open_temp, temp_fd
from imu.session.textfmt import format_row_parts
from imu.workers import fork_map

#: schema of the provenance file written next to an angles CSV
PROVENANCE_SCHEMA = "imu.angles-provenance/1"


def write_angles_csv(table, path, confidence: bool = False, decimals: int = 3,
                     chunk_rows: int = 200_000, provenance: dict | None = None,
                     force: bool = False, rows: CsvRows | None = None,
                     outputs=None) -> None:
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
    rows : CsvRows, optional
        The rows' text, already made with the angles (used when it is ``table``'s, with the
        same ``confidence`` and ``decimals``; else the rows are formatted here).
    outputs : imu.output.Outputs, optional
        The caller's outputs (committed by the caller): with ``rows`` written into one of
        them (:meth:`CsvRows.write_into`), that is the CSV.
    """
    import contextlib

    from imu.output import Outputs

    with Outputs(force=force) if outputs is None else contextlib.nullcontext(outputs) as outs:
        own = rows is not None and rows._output is not None and outputs is not None
        csv = rows._output if own else outs.file(path, what="angles CSV")
        _write_csv(table, csv.temp_path(), confidence, decimals, chunk_rows, rows)
        if provenance is not None:
            js = outs.file(f"{os.fspath(path)}.json", what="angles provenance JSON")
            doc = _provenance_doc(table, os.fspath(path), confidence, provenance)
            with js.open() as f:
                json.dump(doc, f, indent=2, allow_nan=False, default=str)
                f.write("\n")


def _header(table, confidence: bool) -> list[str]:
    return _layout(table.time_s, table.columns, table.confidence, confidence, 3)[0]


def _provenance_doc(table, path: str, confidence: bool, provenance: dict) -> dict:
    header = _header(table, confidence)
    return {"schema": PROVENANCE_SCHEMA, "csv": os.path.basename(path), "columns": header,
            "rows": len(table.time_s),
            "units": {"time_s": "s", **{c: ("1" if c.endswith("_confidence") else "deg")
                                        for c in header[1:]}},
            **provenance}


def _layout(time_s, columns: dict, conf: dict, confidence: bool, decimals: int):
    """``(header, cols, decs)`` of the CSV: the column names, their (N,) arrays (or blocks of
    rows) and each one's digits after the point."""
    names = list(columns)
    header = ["time_s"] + names
    cols = [time_s] + [columns[c] for c in names]
    decs = [4] + [decimals] * len(names)
    if confidence:
        for c, v in conf.items():
            header.append(f"{c}_confidence")
            cols.append(v)
            decs.append(2)
    return header, cols, decs


class CsvRows:
    """The angles CSV's rows as text, made where the angles are computed (the forked workers
    of :func:`imu.kinematics.pipeline.angles_from_orientations` format each block of rows
    while its numbers are at hand) and written by :func:`write_angles_csv`: one pass over the
    rows instead of two. The same bytes as formatting the finished table.

    With :meth:`write_into` (the CSV's temp file under the output rule, :mod:`imu.output`),
    the rows from the first onwards go straight into the file as they are made (the worker
    with the first share of rows writes its text as it goes; the others hand theirs back,
    appended in order): the text is not sent between processes or held in memory.

    Parameters
    ----------
    confidence, decimals
        As for :func:`write_angles_csv` (the text is used only for the same settings).

    Attributes
    ----------
    header_ : list of str
        The CSV's column names (:meth:`begin`).
    parts_ : list of bytes
        The rows' text in order (whole lines) that is not in the file.
    rows_ : int
        Rows made (in the file and in ``parts_``).
    """

    def __init__(self, confidence: bool = False, decimals: int = 3):
        self.confidence = bool(confidence)
        self.decimals = int(decimals)
        self.header_: list[str] = []
        self.parts_: list[bytes] = []
        self.rows_ = 0
        self._output = None  # imu.output.Output written into
        self._fd: int | None = None
        self._next = 0  # the next row the file takes, and its byte offset there
        self._pos = 0
        import threading

        self._lock = threading.Lock()

    def write_into(self, output) -> None:
        """Write the rows into ``output``'s temp file (an :class:`imu.output.Output`: its
        owner commits or discards it) as they are made."""
        self._output = output

    def begin(self, names: list[str], conf_names: list[str]) -> None:
        """The angle columns (in order) and the confidence columns of the rows to come
        (before any :meth:`block`; in the process that hands the work out)."""
        self.header_ = ["time_s", *names] + (
            [f"{c}_confidence" for c in conf_names] if self.confidence else [])
        self.parts_, self.rows_, self._next = [], 0, 0
        head = (",".join(self.header_) + "\n").encode()
        if self._output is not None:
            self.close()
            self._fd = temp_fd(self._output.temp_path())  # (no O_TRUNC: imu.output.open_temp)
            _pwrite_all(self._fd, [head], 0)
        self._pos = len(head)

    def block(self, i0: int, i1: int, time_s, columns: dict, conf: dict) -> list[bytes]:
        """Text of rows ``[i0, i1)``: ``time_s`` (n,), ``columns`` name → (n,) degrees in the
        CSV's order, ``conf`` name → (n,) confidences (the table's ``confidence`` order).
        Written into the file when every row before ``i0`` is there (returns ``[]``), else
        returned, for :meth:`add`."""
        _, cols, decs = _layout(time_s, columns, conf, self.confidence, self.decimals)
        parts = format_row_parts([np.asarray(c, float) for c in cols], decs)
        if self._fd is not None:
            with self._lock:
                if i0 == self._next:
                    self._pos = _pwrite_all(self._fd, parts, self._pos)
                    self._next = i1
                    return []
        return parts

    def add(self, parts: list[bytes], rows: int) -> None:
        """The text handed back by :meth:`block` (in row order), after every block: ``rows``
        rows in all."""
        if self._fd is not None:
            _pwrite_all(self._fd, parts, os.fstat(self._fd).st_size)  # after the file's rows
        else:
            self.parts_.extend(parts)
        self.rows_ = int(rows)

    def fits(self, table, confidence: bool, decimals: int) -> bool:
        """Whether the text is ``table``'s rows written with these settings."""
        return (self.rows_ == len(table.time_s) and self.confidence == bool(confidence)
                and self.decimals == int(decimals) and self.header_ == _header(table, confidence))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _pwrite_all(fd: int, parts: list[bytes], pos: int) -> int:
    """Write ``parts`` one after the other at byte ``pos`` of ``fd``; the offset after them."""
    for b in parts:
        view = memoryview(b)
        while len(view):
            k = os.pwrite(fd, view, pos)
            view, pos = view[k:], pos + k
    return pos


def _write_csv(table, tmp, confidence, decimals, chunk_rows, rows=None) -> None:
    header, cols, decs = _layout(table.time_s, table.columns, table.confidence, confidence,
                                 decimals)
    n = len(table.time_s)
    if rows is not None:
        in_file = rows._output is not None  # its rows are in its own temp file (from row 0)
        written = in_file and rows._fd is not None and os.path.samefile(
            rows._output.temp_path(), tmp)
        rows.close()
        if rows.fits(table, confidence, decimals):
            if written:  # the rows went into this file as they were made
                return
            if not in_file:
                with open_temp(tmp, "wb") as f:
                    f.write((",".join(header) + "\n").encode())
                    f.writelines(rows.parts_)
                return

    def chunk(i0):
        return format_row_parts([np.asarray(c[i0:i0 + chunk_rows], float) for c in cols], decs)

    with open_temp(tmp, "wb") as f:
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
