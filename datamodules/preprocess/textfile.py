"""Delimited text files: sniffed settings, typed parallel reading, located errors.

The fast path asks pyarrow for typed columns directly. Only when pyarrow rejects a value does
a slow path re-read the offending column as text, single-threaded, to find the first bad row,
and map it to its physical line (pyarrow skips empty lines; ``--skip-bad-rows`` skips
malformed ones), so every error names the file, the line and the column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv

from datamodules.preprocess.columns import (
    ColumnSpec,
    arrow_type,
    describe,
    first_failure,
    text_converter,
)
from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.sniff import (
    check_field_count,
    check_header,
    delimiter_name,
    find_invalid_utf8,
    guess_delimiter,
    head_lines,
    split_fields,
)


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


REPEATED_HEADER_HINT = (
    "files concatenated with their headers? remove the extra header lines, or pass each file "
    "with its own --input"
)


def _check_unique(path: Path, all_names: Sequence[str], wanted: Sequence[str]) -> None:
    """Raise a located error if a column to read is named more than once."""
    for name in wanted:
        count = list(all_names).count(name)
        if count > 1:
            raise PrepareError(
                f"the column name {name!r} appears {count} times in the header (more than "
                "once): rename the columns so that each one read has a unique name",
                path=path,
                line=1,
                column=name,
            )


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


@contextmanager
def _text_batches(
    text_file: TextFile, columns: Sequence[str], on_bad: Callable[[int], str] | None
) -> Iterator[Iterable[pa.RecordBatch]]:
    """Batches of ``columns`` as strings, in file order, in a ``with`` block (slow path only).

    ``on_bad(line_number)`` is called for each malformed row, in file order (pyarrow's
    numbering: non-empty lines, 1-based, header included) and returns ``"skip"`` or
    ``"error"``. The whole column is read at once: pyarrow's streaming reader calls such a
    handler from a readahead thread that outlives an early stop and can abort the process at
    exit ("terminate called without an active exception").
    """

    def handle(row: pcsv.InvalidRow) -> str:
        return on_bad(row.number) if on_bad is not None else "error"

    read = pcsv.ReadOptions(
        use_threads=on_bad is None,  # one thread: the handler sees the rows in order
        column_names=text_file.column_names,
        block_size=1 << 22,
    )
    parse = pcsv.ParseOptions(
        delimiter=text_file.delimiter,
        quote_char=text_file.quote_char,
        invalid_row_handler=handle if on_bad is not None else None,
    )
    convert = pcsv.ConvertOptions(
        include_columns=list(columns),
        column_types=dict.fromkeys(columns, pa.string()),
        null_values=[""],
        strings_can_be_null=True,
    )
    table = pcsv.read_csv(
        text_file.path, read_options=read, parse_options=parse, convert_options=convert
    )
    yield table.to_batches()


class TextFile:
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
        _check_unique(path, self.all_names, names)
        data = lines[self.header_lines :]
        self.sample = [(i + 1 + self.header_lines, line) for i, line in enumerate(data)]
        if header:
            self._check_no_repeated_header()

    def _check_no_repeated_header(self) -> None:
        """Raise a located error for a sampled data line that repeats the header."""
        for line_number, line in self.sample:
            fields = [f.strip() for f in split_fields(line, self.delimiter, self.quote_char)]
            if fields == self.all_names:
                raise PrepareError(
                    f"a repeated header line ({REPEATED_HEADER_HINT})",
                    path=self.path,
                    line=line_number,
                )

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
        types = {s.name: arrow_type(s, formats.get(s.key, "")) for s in self.specs}
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
        for spec in self.specs:  # integer ids: checked and converted after reading
            if spec.kind == "int_id":
                convert_ids = text_converter(spec, "")
                try:
                    ids = pa.chunked_array(
                        [convert_ids(c) for c in table.column(spec.name).chunks], type=pa.int64()
                    )
                except pa.ArrowInvalid as error:
                    raise self._locate_value_safely(spec, "", str(error)) from None
                index = table.schema.get_field_index(spec.name)
                table = table.set_column(index, spec.name, ids)
        for spec in self.specs:  # strptime patterns: parsed after reading
            if types[spec.name] == pa.string() and spec.kind == "time":
                time_format = formats.get(spec.key, "")
                convert = text_converter(spec, time_format)
                try:
                    parsed = pa.chunked_array(
                        [convert(c) for c in table.column(spec.name).chunks], type=pa.timestamp("s")
                    )
                except pa.ArrowInvalid as error:
                    raise self._locate_value_safely(spec, time_format, str(error)) from None
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

        with _text_batches(self, [self.all_names[0]], record) as batches:
            for _ in batches:
                pass
        return numbers

    def _line_of_row(self, row: int) -> int:
        """Physical line of data row ``row`` (0-based as pyarrow counts rows)."""
        number = self.header_lines + row + 1  # pyarrow numbering: non-empty lines
        for skipped_number in self._skipped_numbers():
            if skipped_number <= number:
                number += 1
        return _non_empty_to_physical(self.path, [number]).get(number, number)

    def _encoding_error(self, message: str) -> PrepareError:
        """The located error for the first byte that is not UTF-8 (pyarrow names no line)."""
        located = find_invalid_utf8(self.path)
        return located or PrepareError(message, path=self.path)

    def _locate_value_safely(
        self, spec: ColumnSpec, time_format: str, message: str
    ) -> PrepareError:
        """:meth:`_locate_value`, or the encoding error that re-reading the file runs into."""
        try:
            return self._locate_value(spec, time_format, message)
        except pa.ArrowInvalid as error:
            return self._encoding_error(str(error))

    def _locate(self, error: pa.ArrowInvalid, formats: dict[str, str]) -> PrepareError:
        try:
            return self._locate_unsafe(error, formats)
        except pa.ArrowInvalid as again:
            return self._encoding_error(str(again))

    def _locate_unsafe(self, error: pa.ArrowInvalid, formats: dict[str, str]) -> PrepareError:
        message = str(error)
        if "UTF8" in message or "UTF-8" in message:
            return self._encoding_error(message)
        if "CSV parse error" in message:
            bad: list[int] = []

            def first_bad(number: int) -> str:
                bad.append(number)
                return "error"

            try:
                with _text_batches(self, [self.all_names[0]], first_bad) as batches:
                    for _ in batches:
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
        convert = text_converter(spec, time_format)
        skip = (lambda number: "skip") if self.skip_bad_rows else None
        offset = 0
        with _text_batches(self, [spec.name], skip) as batches:
            for batch in batches:
                strings = batch.column(0)
                index = first_failure(strings, convert)
                if index is not None:
                    text = strings[index].as_py()
                    problem = f"cannot parse {text!r} as {describe(spec, time_format)}"
                    if text.strip() == spec.name:
                        problem = f"a repeated header line ({REPEATED_HEADER_HINT})"
                    return PrepareError(
                        problem,
                        path=self.path,
                        line=self._line_of_row(offset + index),
                        column=spec.name,
                    )
                offset += len(strings)
        return PrepareError(message, path=self.path, column=spec.name)

    def where(self, row: int) -> tuple[int, str]:
        """``(physical line, "line")`` of data row ``row`` (0-based as pyarrow counts rows)."""
        return self._line_of_row(row), "line"

    def text_at(self, column: str, row: int) -> str:
        """The text of ``column`` at data row ``row`` as written in the file."""
        skip = (lambda number: "skip") if self.skip_bad_rows else None
        offset = 0
        with _text_batches(self, [column], skip) as batches:
            for batch in batches:
                if row < offset + batch.num_rows:
                    value = batch.column(0)[row - offset].as_py()
                    return "" if value is None else value
                offset += batch.num_rows
        raise IndexError(f"{self.path} has no data row {row}")

    def locate_missing(self, spec: ColumnSpec, row: int) -> PrepareError:
        """The error for an empty value in a required column at data row ``row``."""
        return PrepareError(
            "empty value", path=self.path, line=self._line_of_row(row), column=spec.name
        )
