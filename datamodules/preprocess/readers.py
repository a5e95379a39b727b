"""Columnar reading of raw click logs (CSV/TSV/Parquet) into numpy arrays, errors located.

The reader asks pyarrow for typed columns directly (integers, dictionary-encoded strings,
timestamps), so a 20-million-row log is parsed in parallel into a few hundred megabytes of
arrays. Only when pyarrow rejects a value does a slow path re-read the offending column as
text to find the first bad row and its physical line, so every error names the file, the
line and the column.

Column kinds (:class:`ColumnSpec`):

``int_id``   integer ids, returned as first-appearance codes with the raw values (:class:`Encoded`)
``str_id``   string ids, same return type
``label``    a string category (an event type), same return type
``int``      an integer number (float64 array)
``number``   a real number (float64 array)
``time``     a point in time, returned as float64 unix seconds; ``time_format`` is ``auto``,
             ``unix``, ``unix_ms``, ``iso`` (ISO-8601, with or without zone; naive is UTC) or a
             ``strptime`` pattern such as ``%d/%m/%Y %H:%M``
``date``     a calendar date ``YYYY-MM-DD``, returned as float64 unix seconds of its midnight UTC
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.sniff import (
    check_field_count,
    check_header,
    delimiter_name,
    detect_time_format,
    guess_delimiter,
    head_lines,
    split_fields,
)

ID_KINDS = ("int_id", "str_id", "label")
KINDS = (*ID_KINDS, "int", "number", "time", "date")
PARQUET_SUFFIXES = (".parquet", ".pq")
_NS = 10**9


@dataclass(frozen=True)
class ColumnSpec:
    """One column to read.

    Attributes:
        key: Name of the result entry.
        name: Column name in the header (or in ``TextOptions.column_names``).
        kind: One of :data:`KINDS`.
        time_format: For ``kind == "time"``: ``auto``, ``unix``, ``unix_ms``, ``iso`` or a
            ``strptime`` pattern.
        nullable: Empty values allowed (they come back as -1 codes / NaN); otherwise an
            empty value is an error.
    """

    key: str
    name: str
    kind: str
    time_format: str = "auto"
    nullable: bool = False


@dataclass(frozen=True)
class TextOptions:
    """How to parse delimited text.

    Attributes:
        delimiter: Field delimiter; None detects it from the first line.
        header: True: the first line names the columns. False: it does not, and
            ``column_names`` names them. None: detect (a first line equal to
            ``column_names`` is a header).
        column_names: Names of all columns of a headerless file, in order.
        quote_char: Quote character, or False for none.
        skip_bad_rows: Skip rows with a wrong number of fields (counted) instead of failing.
    """

    delimiter: str | None = None
    header: bool | None = True
    column_names: tuple[str, ...] | None = None
    quote_char: str | bool = '"'
    skip_bad_rows: bool = False


@dataclass
class Encoded:
    """An id column: ``values[codes[i]]`` is row ``i``'s raw id; codes follow first appearance.

    Missing values have code -1.
    """

    codes: np.ndarray
    values: np.ndarray


@dataclass
class ReadResult:
    """The columns of all input files, concatenated in order."""

    columns: dict[str, np.ndarray | Encoded]
    rows: int
    skipped_rows: int = 0
    time_formats: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- conversions
def _utc(unit: str = "ns") -> pa.DataType:
    return pa.timestamp(unit, tz="UTC")


def _arrow_type(spec: ColumnSpec, time_format: str) -> pa.DataType:
    if spec.kind in ("int_id", "int"):
        return pa.int64()
    if spec.kind in ("str_id", "label"):
        return pa.dictionary(pa.int32(), pa.string())
    if spec.kind == "number":
        return pa.float64()
    if spec.kind == "date":
        return pa.date32()
    if time_format in ("unix", "unix_ms"):
        return pa.float64()
    if time_format == "iso_utc":
        return _utc()
    if time_format == "iso_naive":
        return pa.timestamp("ns")
    return pa.string()  # strptime pattern: parsed after reading


def _text_converter(spec: ColumnSpec, time_format: str) -> Callable[[pa.Array], pa.Array]:
    """A function converting a string array like the typed reader; raises on a bad value."""
    target = _arrow_type(spec, time_format)
    if pa.types.is_dictionary(target):
        return lambda strings: strings
    if target == pa.string():

        def parse(strings: pa.Array) -> pa.Array:
            parsed = pc.strptime(strings, format=time_format, unit="s", error_is_null=True)
            if parsed.null_count != strings.null_count:
                raise pa.ArrowInvalid("unparsable time")
            return parsed

        return parse
    return lambda strings: pc.cast(pc.utf8_trim_whitespace(strings), target)


def _describe(spec: ColumnSpec, time_format: str) -> str:
    if spec.kind == "int_id":
        return "an integer id (pass --id-type str to accept non-integer ids)"
    if spec.kind == "int":
        return "an integer"
    if spec.kind == "number":
        return "a number"
    if spec.kind == "date":
        return "a date YYYY-MM-DD"
    return {
        "unix": "unix seconds",
        "unix_ms": "unix milliseconds",
        "iso_utc": "an ISO-8601 time with a zone (as the first rows have)",
        "iso_naive": "an ISO-8601 time without zone (as the first rows have)",
    }.get(time_format, f"a time in the format {time_format!r}")


def _to_seconds(array: pa.ChunkedArray, spec: ColumnSpec, time_format: str) -> np.ndarray:
    """Float64 seconds (NaN where missing) from a typed time/number/date column."""
    if spec.kind == "date":
        days = array.cast(pa.int32()).to_numpy(zero_copy_only=False)
        return days.astype(np.float64) * 86400.0
    if pa.types.is_timestamp(array.type):
        ns = pc.cast(array, pa.timestamp("ns", tz=array.type.tz)).cast(pa.int64())
        ns = ns.fill_null(0).to_numpy()
        seconds = np.floor_divide(ns, _NS).astype(np.float64) + (ns % _NS) / 1e9
        if array.null_count:
            seconds[np.asarray(pc.is_null(array))] = np.nan
        return seconds
    values = array.to_numpy(zero_copy_only=False).astype(np.float64)
    if spec.kind == "time" and time_format == "unix_ms":
        values = values / 1000.0
    return values


def _encode(array: pa.ChunkedArray) -> Encoded:
    """First-appearance codes (-1 for missing) and raw values of an id/label column."""
    dictionary = None
    if pa.types.is_dictionary(array.type):
        unified = pa.table({"c": array}).unify_dictionaries().column("c")
        if unified.num_chunks:
            dictionary = unified.chunk(0).dictionary
        else:
            dictionary = pa.array([], pa.string())
        array = pa.chunked_array([c.indices for c in unified.chunks], type=pa.int32())
    encoded = pc.dictionary_encode(array)
    if encoded.num_chunks:
        first = encoded.chunk(0).dictionary
        codes = np.concatenate(
            [c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in encoded.chunks]
        ).astype(np.int64)
    else:
        first = pa.array([], array.type)
        codes = np.zeros(0, dtype=np.int64)
    values = dictionary.take(first) if dictionary is not None else first
    return Encoded(codes=codes, values=values.to_numpy(zero_copy_only=False))


# --------------------------------------------------------------------------- locating
def _non_empty_to_physical(path: Path, wanted: Iterable[int]) -> dict[int, int]:
    """Map pyarrow line numbers (non-empty lines, 1-based) to physical line numbers."""
    wanted_set = set(wanted)
    found: dict[int, int] = {}
    if not wanted_set:
        return found
    last = max(wanted_set)
    count = 0
    with open(path, "rb") as handle:
        for physical, raw in enumerate(handle, start=1):
            if raw.strip(b"\r\n"):
                count += 1
                if count in wanted_set:
                    found[count] = physical
                    if count >= last:
                        break
    return found


def _stream(
    text_file: _TextFile, columns: Sequence[str], on_bad: Callable[[int], str] | None
) -> Iterable[pa.RecordBatch]:
    """Single-threaded batches of ``columns`` as strings.

    ``on_bad(line_number)`` is called for each malformed row (pyarrow's numbering: non-empty
    lines, 1-based, header included) and returns ``"skip"`` or ``"error"``.
    """

    def handle(row: pcsv.InvalidRow) -> str:
        return on_bad(row.number) if on_bad is not None else "error"

    read = pcsv.ReadOptions(
        use_threads=False, column_names=text_file.column_names, block_size=1 << 22
    )
    parse = pcsv.ParseOptions(
        delimiter=text_file.delimiter, quote_char=text_file.quote_char, invalid_row_handler=handle
    )
    convert = pcsv.ConvertOptions(
        include_columns=list(columns),
        column_types=dict.fromkeys(columns, pa.string()),
        null_values=[""],
        strings_can_be_null=True,
    )
    return pcsv.open_csv(
        text_file.path, read_options=read, parse_options=parse, convert_options=convert
    )


def _first_failure(strings: pa.Array, convert: Callable[[pa.Array], pa.Array]) -> int | None:
    """Index of the first value of ``strings`` that ``convert`` rejects (binary search)."""
    try:
        convert(strings)
        return None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    good, bad = 0, len(strings)  # strings[:good] converts, strings[:bad] does not
    while bad - good > 1:
        middle = (good + bad) // 2
        try:
            convert(strings.slice(0, middle))
            good = middle
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = middle
    return bad - 1


# --------------------------------------------------------------------------- text files
class _TextFile:
    """One delimited file: sniffed settings, typed reading and error location."""

    def __init__(self, path: Path, specs: Sequence[ColumnSpec], text: TextOptions) -> None:
        self.path = path
        self.specs = specs
        lines = head_lines(path)
        first = lines[0]
        self.delimiter = text.delimiter or guess_delimiter(first) or ","
        self.quote_char = text.quote_char
        self.skip_bad_rows = text.skip_bad_rows
        names = [spec.name for spec in specs]
        fields = [f.strip() for f in split_fields(first, self.delimiter, self.quote_char)]
        header = text.header
        if header is None:
            header = fields == list(text.column_names or ())
        self.column_names: list[str] | None
        if header:
            check_header(path, fields, names, self.delimiter, first)
            self.column_names = None
            self.all_names = fields
            self.header_lines = 1
        else:
            if not text.column_names:
                raise PrepareError("a headerless file needs column names", path=path)
            self.all_names = list(text.column_names)
            check_field_count(path, first, len(self.all_names), self.delimiter)
            missing = [n for n in names if n not in self.all_names]
            if missing:
                raise PrepareError(
                    f"column {missing[0]!r} is not one of the names given for this "
                    f"headerless file: {', '.join(self.all_names)}",
                    path=path,
                    column=missing[0],
                )
            self.column_names = self.all_names
            self.header_lines = 0
        data = lines[self.header_lines :]
        self.sample = [(i + 1 + self.header_lines, line) for i, line in enumerate(data)]

    def sample_values(self, name: str) -> list[tuple[int, str]]:
        """``(line, text)`` of the non-empty values of column ``name`` in the first lines."""
        index = self.all_names.index(name)
        out = []
        for line_number, line in self.sample:
            fields = split_fields(line, self.delimiter, self.quote_char)
            if index < len(fields) and fields[index].strip():
                out.append((line_number, fields[index].strip()))
        return out

    def read(self, formats: dict[str, str]) -> tuple[pa.Table, int]:
        """The typed columns (named as in the file) and the number of skipped malformed rows."""
        skipped = [0]

        def count(row: pcsv.InvalidRow) -> str:
            skipped[0] += 1
            return "skip"

        read = pcsv.ReadOptions(column_names=self.column_names, block_size=1 << 24)
        parse = pcsv.ParseOptions(
            delimiter=self.delimiter,
            quote_char=self.quote_char,
            invalid_row_handler=count if self.skip_bad_rows else None,
        )
        types = {s.name: _arrow_type(s, formats.get(s.key, "")) for s in self.specs}
        convert = pcsv.ConvertOptions(
            include_columns=[s.name for s in self.specs],
            column_types=types,
            null_values=[""],
            strings_can_be_null=True,
        )
        try:
            table = pcsv.read_csv(
                self.path, read_options=read, parse_options=parse, convert_options=convert
            )
        except pa.ArrowInvalid as error:
            raise self._locate(error, formats) from None
        for spec in self.specs:  # strptime patterns: parsed after reading
            if types[spec.name] == pa.string() and spec.kind == "time":
                time_format = formats.get(spec.key, "")
                convert = _text_converter(spec, time_format)
                try:
                    parsed = pa.chunked_array(
                        [convert(c) for c in table.column(spec.name).chunks], type=pa.timestamp("s")
                    )
                except pa.ArrowInvalid as error:
                    raise self._locate_value(spec, time_format, str(error)) from None
                index = table.schema.get_field_index(spec.name)
                table = table.set_column(index, spec.name, parsed)
        return table, skipped[0]

    def _skipped_numbers(self) -> list[int]:
        """pyarrow line numbers of the malformed rows that ``--skip-bad-rows`` skips."""
        if not self.skip_bad_rows:
            return []
        numbers: list[int] = []

        def record(number: int) -> str:
            numbers.append(number)
            return "skip"

        for _ in _stream(self, [self.all_names[0]], record):
            pass
        return numbers

    def _line_of_row(self, row: int) -> int:
        """Physical line of data row ``row`` (0-based as pyarrow counts rows)."""
        number = self.header_lines + row + 1  # pyarrow numbering: non-empty lines
        for skipped_number in self._skipped_numbers():
            if skipped_number <= number:
                number += 1
        return _non_empty_to_physical(self.path, [number]).get(number, number)

    def _locate(self, error: pa.ArrowInvalid, formats: dict[str, str]) -> PrepareError:
        message = str(error)
        if "CSV parse error" in message:
            bad: list[int] = []

            def first_bad(number: int) -> str:
                bad.append(number)
                return "error"

            try:
                for _ in _stream(self, [self.all_names[0]], first_bad):
                    pass
            except pa.ArrowInvalid:
                pass
            detail = message.split(": ", 1)[-1].split("\n")[0]
            problem = (
                f"malformed row ({detail}): wrong delimiter, a stray delimiter or quote inside "
                f"a value, or a truncated line (the file is split on "
                f"{delimiter_name(self.delimiter)}; --skip-bad-rows skips such rows)"
            )
            line = _non_empty_to_physical(self.path, bad[:1]).get(bad[0]) if bad else None
            return PrepareError(problem, path=self.path, line=line)
        for spec in self.specs:
            if f"column #{self.all_names.index(spec.name)}:" in message:
                return self._locate_value(spec, formats.get(spec.key, ""), message)
        return PrepareError(message, path=self.path)

    def _locate_value(self, spec: ColumnSpec, time_format: str, message: str) -> PrepareError:
        """The error for the first value of ``spec``'s column that does not convert."""
        convert = _text_converter(spec, time_format)
        skip = (lambda number: "skip") if self.skip_bad_rows else None
        offset = 0
        for batch in _stream(self, [spec.name], skip):
            strings = batch.column(0)
            index = _first_failure(strings, convert)
            if index is not None:
                return PrepareError(
                    f"cannot parse {strings[index].as_py()!r} as {_describe(spec, time_format)}",
                    path=self.path,
                    line=self._line_of_row(offset + index),
                    column=spec.name,
                )
            offset += len(strings)
        return PrepareError(message, path=self.path, column=spec.name)

    def locate_missing(self, spec: ColumnSpec, row: int) -> PrepareError:
        """The error for an empty value in a required column at data row ``row``."""
        return PrepareError(
            "empty value", path=self.path, line=self._line_of_row(row), column=spec.name
        )


# --------------------------------------------------------------------------- parquet
def _read_parquet(
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
                biggest = pc.max(pc.abs(column)).as_py() or 0
                formats[spec.key] = "unix_ms" if biggest > 1e11 else "unix"
        elif spec.kind == "time" and pa.types.is_timestamp(column.type):
            formats[spec.key] = "iso_utc"
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            if spec.kind == "time" and time_format == "":
                sample = column.drop_null().slice(0, 200).to_pylist()
                time_format = _detect(path, [(i + 1, v) for i, v in enumerate(sample)], spec)
                formats[spec.key] = time_format
            convert = _text_converter(spec, time_format)
            offset = 0
            chunks = []
            for chunk in column.cast(pa.string()).chunks:
                index = _first_failure(chunk, convert)
                if index is not None:
                    raise PrepareError(
                        f"cannot parse {chunk[index].as_py()!r} as {_describe(spec, time_format)}",
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
        columns[spec.name] = column
    return pa.table(columns), formats


def _detect(path: Path, sample: list[tuple[int, str]], spec: ColumnSpec) -> str:
    """The time format of ``sample``; ``--time-format iso`` rejects plain numbers."""
    found = detect_time_format(path, sample, spec.name)
    if spec.time_format == "iso" and found in ("unix", "unix_ms"):
        line, text = sample[0]
        raise PrepareError(
            f"{text!r} is a number, not an ISO-8601 time (use --time-format auto or unix)",
            path=path,
            line=line,
            column=spec.name,
        )
    return found


# --------------------------------------------------------------------------- entry point
def is_parquet(path: Path) -> bool:
    """Whether ``path`` is read as Parquet (by its suffix)."""
    return path.suffix.lower() in PARQUET_SUFFIXES


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
    files: list[_TextFile | None] = []
    skipped = 0
    for raw_path in paths:
        path = Path(raw_path)
        if not path.is_file():
            raise PrepareError("no such file", path=path)
        if os.path.getsize(path) == 0:
            raise PrepareError("the file is empty (no header and no rows)", path=path, line=1)
        if is_parquet(path):
            table, formats = _read_parquet(path, specs, formats)
            files.append(None)
        else:
            text_file = _TextFile(path, specs, text)
            for spec in specs:
                if spec.kind == "time" and formats.get(spec.key, "") == "":
                    formats[spec.key] = _detect(path, text_file.sample_values(spec.name), spec)
            table, bad = text_file.read(formats)
            skipped += bad
            files.append(text_file)
        tables.append(table.select([s.name for s in specs]))
    _check_missing(tables, files, specs, [Path(p) for p in paths])
    columns: dict[str, np.ndarray | Encoded] = {}
    for spec in specs:
        parts = [t.column(spec.name) for t in tables]
        if spec.kind in ID_KINDS:
            columns[spec.key] = _encode(_same_type(parts, spec))
        else:
            time_format = formats.get(spec.key, "")
            seconds = [_to_seconds(part, spec, time_format) for part in parts]
            columns[spec.key] = seconds[0] if len(seconds) == 1 else np.concatenate(seconds)
        del parts
    rows = sum(t.num_rows for t in tables)
    del tables
    pa.default_memory_pool().release_unused()  # the parse buffers are no longer needed
    return ReadResult(columns=columns, rows=rows, skipped_rows=skipped, time_formats=formats)


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
    files: Sequence[_TextFile | None],
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
