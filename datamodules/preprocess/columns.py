"""Column kinds and conversions shared by the CSV and Parquet readers.

Column kinds (:class:`ColumnSpec`):

``int_id``   integer ids, returned as first-appearance codes with the raw values (:class:`Encoded`);
             strictly ASCII digits ``0-9`` (surrounding spaces allowed): no sign, ``_``,
             ``0x`` prefix or other scripts' digits, whatever Python's ``int()`` accepts
``str_id``   string ids, same return type
``label``    a string category (an event type), same return type
``int``      an integer (float64 array)
``number``   a real number (float64 array)
``time``     a point in time, returned as float64 unix seconds; ``time_format`` is ``auto``,
             ``unix``, ``unix_ms``, ``iso`` (ISO-8601, with or without zone; naive is UTC) or a
             ``strptime`` pattern such as ``%d/%m/%Y %H:%M``
``date``     a calendar date ``YYYY-MM-DD``, returned as float64 unix seconds of its midnight UTC

Inside the readers a time column's format is resolved to ``unix``, ``unix_ms``, ``iso_utc``,
``iso_naive`` or a ``strptime`` pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.sniff import detect_time_format

ID_KINDS = ("int_id", "str_id", "label")
KINDS = (*ID_KINDS, "int", "number", "time", "date")
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
        limit: For ``number`` and ``int`` columns holding times in a recipe's own unit: values
            must be finite and below this in magnitude (None: no check). ``time`` columns get
            the limit of their unit (:mod:`~datamodules.preprocess.times`).
    """

    key: str
    name: str
    kind: str
    time_format: str = "auto"
    nullable: bool = False
    limit: float | None = None


@dataclass
class Encoded:
    """An id column: ``values[codes[i]]`` is row ``i``'s raw id; codes follow first appearance.

    Missing values have code -1.
    """

    codes: np.ndarray
    values: np.ndarray


# --------------------------------------------------------------------------- conversions
def _utc(unit: str = "ns") -> pa.DataType:
    return pa.timestamp(unit, tz="UTC")


def strict_int_ids(strings: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """int64 ids from strings of ASCII digits, spaces or tabs around allowed (nulls stay null).

    Raises:
        pa.ArrowInvalid: A value is not ASCII digits, or does not fit in 64 bits.
    """
    trimmed = pc.utf8_trim(strings, " \t")
    if pc.all(pc.ascii_is_decimal(trimmed)).as_py() is False:
        raise pa.ArrowInvalid("an id is not ASCII digits")
    return pc.cast(trimmed, pa.int64())


def arrow_type(spec: ColumnSpec, time_format: str) -> pa.DataType:
    """The type the CSV reader converts ``spec``'s column to (ids: text, checked after)."""
    if spec.kind == "int_id":
        return pa.string()  # strict digits: see strict_int_ids
    if spec.kind == "int":
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


def text_converter(spec: ColumnSpec, time_format: str) -> Callable[[pa.Array], pa.Array]:
    """A function converting a string array like the typed reader; raises on a bad value."""
    if spec.kind == "int_id":
        return strict_int_ids
    target = arrow_type(spec, time_format)
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


def describe(spec: ColumnSpec, time_format: str) -> str:
    if spec.kind == "int_id":
        return (
            "an integer id (ASCII digits 0-9 only, no sign, below 2**63; pass --id-type "
            "str to accept other ids)"
        )
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


def to_seconds(array: pa.ChunkedArray, spec: ColumnSpec, time_format: str) -> np.ndarray:
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


def encode(array: pa.ChunkedArray) -> Encoded:
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


def first_failure(strings: pa.Array, convert: Callable[[pa.Array], pa.Array]) -> int | None:
    """Index of the first value of ``strings`` that ``convert`` rejects (binary search)."""
    try:
        convert(strings)
        return None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if not len(strings):
        return None
    good, bad = 0, len(strings)  # strings[:good] converts, strings[:bad] does not
    while bad - good > 1:
        middle = (good + bad) // 2
        try:
            convert(strings.slice(0, middle))
            good = middle
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = middle
    return bad - 1


def detect(path: Path, sample: list[tuple[int, str]], spec: ColumnSpec) -> str:
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
