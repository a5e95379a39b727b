"""Read the columns of raw click logs (CSV/TSV/Parquet, several files in order) into numpy.

:func:`read_log` is the one entry point of the recipes. Text files are parsed by pyarrow in
parallel straight into typed columns (integers, dictionary-encoded strings, timestamps), so a
20-million-row log becomes a few hundred megabytes of arrays; see
:mod:`~datamodules.preprocess.textfile` for how errors are located and
:mod:`~datamodules.preprocess.columns` for the column kinds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamodules.preprocess.columns import (
    ID_KINDS,
    KINDS,
    ColumnSpec,
    Encoded,
    detect,
    encode,
    to_seconds,
)
from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.parquet import ParquetRows, is_parquet, read_parquet
from datamodules.preprocess.textfile import TextFile, TextOptions
from datamodules.preprocess.times import (
    UNIT_LIMITS,
    TimePart,
    check_finite,
    check_range,
    decide_unit,
)

__all__ = ["ColumnSpec", "Encoded", "ReadResult", "TextOptions", "read_log"]


@dataclass
class ReadResult:
    """The columns of all input files, concatenated in order."""

    columns: dict[str, np.ndarray | Encoded]
    rows: int
    skipped_rows: int = 0
    time_formats: dict[str, str] = field(default_factory=dict)


def read_log(
    paths: Sequence[str | os.PathLike], specs: Sequence[ColumnSpec], text: TextOptions
) -> ReadResult:
    """Read ``specs`` from every file in ``paths`` (concatenated in order) into numpy arrays.

    Raises:
        PrepareError: A file is missing or empty, a column is absent, or a value is malformed;
            the message names the file, line and column.
    """
    formats: dict[str, str] = {}
    for spec in specs:
        if spec.kind not in KINDS:
            raise ValueError(f"unknown column kind {spec.kind!r}")
        if spec.kind == "time" and spec.time_format not in ("auto", "iso", ""):
            formats[spec.key] = spec.time_format
    tables: list[pa.Table] = []
    files: list[TextFile | None] = []
    locators: list[TextFile | ParquetRows] = []
    skipped = 0
    for raw_path in paths:
        path = Path(raw_path)
        if not path.is_file():
            raise PrepareError("no such file", path=path)
        if os.path.getsize(path) == 0:
            raise PrepareError("the file is empty (no header and no rows)", path=path, line=1)
        if is_parquet(path):
            table, formats = read_parquet(path, specs, formats)
            files.append(None)
            locators.append(ParquetRows(path, table))
        else:
            text_file = TextFile(path, specs, text)
            for spec in specs:
                if spec.kind == "time" and formats.get(spec.key, "") == "":
                    formats[spec.key] = detect(path, text_file.sample_values(spec.name), spec)
            table, bad = text_file.read(formats)
            skipped += bad
            files.append(text_file)
            locators.append(text_file)
        tables.append(table.select([s.name for s in specs]))
    _check_missing(tables, files, specs, [Path(p) for p in paths])
    columns: dict[str, np.ndarray | Encoded] = {}
    for spec in specs:
        parts = [t.column(spec.name) for t in tables]
        if spec.kind in ID_KINDS:
            columns[spec.key] = encode(_same_type(parts, spec))
        else:
            time_parts = [TimePart(part, loc) for part, loc in zip(parts, locators, strict=True)]
            formats[spec.key] = _check_times(spec, formats.get(spec.key, ""), time_parts)
            time_format = formats.get(spec.key, "")
            seconds = [to_seconds(part, spec, time_format) for part in parts]
            columns[spec.key] = seconds[0] if len(seconds) == 1 else np.concatenate(seconds)
        del parts
    rows = sum(t.num_rows for t in tables)
    del tables
    pa.default_memory_pool().release_unused()  # the parse buffers are no longer needed
    return ReadResult(columns=columns, rows=rows, skipped_rows=skipped, time_formats=formats)


def _check_times(spec: ColumnSpec, time_format: str, parts: Sequence[TimePart]) -> str:
    """Validate a numeric time column (see :mod:`~datamodules.preprocess.times`); return its
    format, with the unit of an auto-detected column of numbers decided from all its values."""
    numeric_time = spec.kind == "time" and time_format in UNIT_LIMITS
    if spec.kind == "number" or numeric_time:
        check_finite(parts, spec.name)
    if numeric_time:
        if spec.time_format not in UNIT_LIMITS:  # auto: seconds or milliseconds?
            check_range(parts, spec.name, UNIT_LIMITS["unix_ms"], "auto")
            time_format = decide_unit(parts, spec.name)
        check_range(parts, spec.name, UNIT_LIMITS[time_format], time_format)
    elif spec.limit is not None and spec.kind in ("number", "int"):
        check_range(parts, spec.name, spec.limit, "the log's time unit")
    return time_format


def _same_type(parts: Sequence[pa.ChunkedArray], spec: ColumnSpec) -> pa.ChunkedArray:
    """One chunked id column from per-file columns (Parquet and CSV types may differ)."""
    chunks = [chunk for part in parts for chunk in part.chunks]
    if spec.kind == "int_id":
        chunks = [c if c.type == pa.int64() else c.cast(pa.int64()) for c in chunks]
        return pa.chunked_array(chunks, type=pa.int64())
    target = pa.dictionary(pa.int32(), pa.string())
    chunks = [c if c.type == target else c.cast(pa.string()).dictionary_encode() for c in chunks]
    return pa.chunked_array(chunks, type=target)


def _check_missing(
    tables: Sequence[pa.Table],
    files: Sequence[TextFile | None],
    specs: Sequence[ColumnSpec],
    paths: Sequence[Path],
) -> None:
    """Raise a located error for the first empty value in a non-nullable column."""
    for table, text_file, path in zip(tables, files, paths, strict=True):
        if table.num_rows == 0:
            raise PrepareError(
                "the file has no data rows",
                path=path,
                line=1 + (text_file.header_lines if text_file else 0),
            )
        for spec in specs:
            column = table.column(spec.name)
            if spec.nullable or column.null_count == 0:
                continue
            row = int(np.flatnonzero(np.asarray(pc.is_null(column)))[0])
            if text_file is None:
                raise PrepareError(
                    "empty value", path=path, line=row + 1, column=spec.name, row_label="row"
                )
            raise text_file.locate_missing(spec, row)
