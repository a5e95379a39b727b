"""Parquet input: typed columns read as they are stored, strings parsed like text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamodules.preprocess.columns import (
    ColumnSpec,
    describe,
    detect,
    first_failure,
    text_converter,
)
from datamodules.preprocess.errors import PrepareError

PARQUET_SUFFIXES = (".parquet", ".pq")


class ParquetRows:
    """Rows of a Parquet file for error messages: row ``r`` is "row r + 1"."""

    def __init__(self, path: Path, table: pa.Table) -> None:
        self.path = path
        self.table = table

    def where(self, row: int) -> tuple[int, str]:
        return row + 1, "row"

    def text_at(self, column: str, row: int) -> str:
        value = self.table.column(column)[row].as_py()
        return "" if value is None else str(value)


def is_parquet(path: Path) -> bool:
    """Whether ``path`` is read as Parquet (by its suffix)."""
    return path.suffix.lower() in PARQUET_SUFFIXES


def read_parquet(
    path: Path, specs: Sequence[ColumnSpec], formats: dict[str, str]
) -> tuple[pa.Table, dict[str, str]]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise PrepareError(f"not a readable Parquet file ({error})", path=path) from None
    missing = [s.name for s in specs if s.name not in schema.names]
    if missing:
        raise PrepareError(
            f"required column(s) {', '.join(map(repr, missing))} not found; the file has "
            f"{', '.join(map(repr, schema.names))}",
            path=path,
            column=missing[0],
        )
    for spec in specs:
        if schema.names.count(spec.name) > 1:
            raise PrepareError(
                f"the column name {spec.name!r} appears {schema.names.count(spec.name)} times "
                "(more than once): rename the columns so that each one read is unique",
                path=path,
                column=spec.name,
            )
    table = pq.read_table(path, columns=[s.name for s in specs])
    columns = {}
    for spec in specs:
        column = table.column(spec.name)
        time_format = formats.get(spec.key, "")
        if spec.kind == "time" and (
            pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        ):
            column = column.cast(pa.float64())
            if time_format not in ("unix", "unix_ms"):
                formats[spec.key] = "unix"  # or ms: decided from every value once all are read
        elif spec.kind == "time" and pa.types.is_timestamp(column.type):
            formats[spec.key] = "iso_utc"
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            if spec.kind == "time" and time_format == "":
                sample = column.drop_null().slice(0, 200).to_pylist()
                time_format = detect(path, [(i + 1, v) for i, v in enumerate(sample)], spec)
                formats[spec.key] = time_format
            convert = text_converter(spec, time_format)
            offset = 0
            chunks = []
            for chunk in column.cast(pa.string()).chunks:
                index = first_failure(chunk, convert)
                if index is not None:
                    raise PrepareError(
                        f"cannot parse {chunk[index].as_py()!r} as {describe(spec, time_format)}",
                        path=path,
                        line=offset + index + 1,
                        column=spec.name,
                        row_label="row",
                    )
                chunks.append(convert(chunk))
                offset += len(chunk)
            column = pa.chunked_array(chunks) if chunks else column
        elif spec.kind == "str_id" and not pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        elif spec.kind == "int_id" and not pa.types.is_integer(column.type):
            raise PrepareError(
                f"expected integer ids, the column has type {column.type} (pass --id-type str)",
                path=path,
                column=spec.name,
            )
        elif spec.kind == "int_id":
            negative = np.flatnonzero(
                np.asarray(pc.fill_null(pc.less(column, 0), False), dtype=bool)
            )
            if len(negative):
                row = int(negative[0])
                raise PrepareError(
                    f"{column[row].as_py()} is not an integer id (ids are non-negative; pass "
                    "--id-type str to accept other ids)",
                    path=path,
                    line=row + 1,
                    column=spec.name,
                    row_label="row",
                )
        columns[spec.name] = column
    return pa.table(columns), formats
