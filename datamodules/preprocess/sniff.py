"""Look at the first lines of a delimited file: delimiter, header and time format.

Everything here reads at most :data:`HEAD_BYTES` of the file, so it is cheap on any size.
The findings decide how the columnar reader is configured and turn the usual mistakes (wrong
delimiter, missing column, headerless file) into one located :class:`PrepareError`.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Sequence
from pathlib import Path

from datamodules.preprocess.errors import PrepareError

#: Delimiters tried by auto-detection and suggested when a file parses into too few columns.
CANDIDATE_DELIMITERS = (",", "\t", ";", "|")
HEAD_BYTES = 1 << 16

_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_ISO = re.compile(
    r"^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
_ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2})\s*$")
_NON_FINITE = ("nan", "inf", "infinity")


def delimiter_name(delimiter: str) -> str:
    """A readable name for a delimiter, as the CLI accepts it back (``'\\t'`` -> ``tab``)."""
    return "tab" if delimiter == "\t" else repr(delimiter)


def head_lines(path: Path, max_lines: int = 200) -> list[str]:
    """The first complete lines of ``path`` (at most ``HEAD_BYTES``), without line endings.

    Raises:
        PrepareError: The file is empty, or these first bytes are not UTF-8 (located).
    """
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        complete = len(head) < HEAD_BYTES
    if not head.strip():
        raise PrepareError("the file is empty (no header and no rows)", path=path, line=1)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if complete or error.start < len(head) - 3:  # not just a character cut at the end
            raise encoding_error(path, head, error.start) from None
        text = head[: error.start].decode("utf-8")
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    return [line for line in lines if line][:max_lines]


def encoding_error(
    path: Path, data: bytes, index: int, base: int = 0, line: int = 1, line_start: int = 0
) -> PrepareError:
    """The located error for ``data[index]``, a byte that does not decode as UTF-8.

    Args:
        path: The file.
        data: Bytes of the file starting at file offset ``base``.
        index: Index in ``data`` of the bad byte.
        base: File offset of ``data[0]``.
        line: Line number at ``data[0]``.
        line_start: File offset where that line starts.
    """
    newlines = data.count(b"\n", 0, index)
    if newlines:
        line += newlines
        line_start = base + data.rfind(b"\n", 0, index) + 1
    offset = base + index
    return PrepareError(
        f"not UTF-8 text: byte 0x{data[index]:02x} at byte {offset - line_start + 1} of the "
        f"line (file offset {offset}); the file looks Latin-1 or Windows-1252 encoded: convert "
        "it to UTF-8 first, e.g. `iconv -f latin1 -t utf-8 IN > OUT`",
        path=path,
        line=line,
    )


def find_invalid_utf8(path: Path, chunk_size: int = 1 << 20) -> PrepareError | None:
    """The located error for the first byte of ``path`` that is not UTF-8, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    base, line, line_start = 0, 1, 0  # where ``pending + chunk`` starts in the file
    pending = b""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(chunk_size)
            data = pending + chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:  # error.start indexes pending + chunk
                return encoding_error(path, data, error.start, base, line, line_start)
            if not chunk:
                return None
            pending = decoder.getstate()[0]
            passed = len(data) - len(pending)
            newlines = data.count(b"\n", 0, passed)
            if newlines:
                line += newlines
                line_start = base + data.rfind(b"\n", 0, passed) + 1
            base += passed


def split_fields(line: str, delimiter: str, quote_char: str | bool = '"') -> list[str]:
    """Split one line as the CSV reader would (quotes honoured when ``quote_char`` is set)."""
    if quote_char:
        return next(csv.reader([line], delimiter=delimiter, quotechar=quote_char))
    return line.split(delimiter)


def guess_delimiter(line: str, exclude: str | None = None) -> str | None:
    """The candidate delimiter occurring most often in ``line`` (None when none occurs)."""
    counts = {d: line.count(d) for d in CANDIDATE_DELIMITERS if d != exclude}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else None


def _delimiter_hint(line: str, delimiter: str) -> str:
    other = guess_delimiter(line, exclude=delimiter)
    if other is None:
        return ""
    return (
        f"; the line contains {delimiter_name(other)} but is split on "
        f"{delimiter_name(delimiter)}: the file looks {delimiter_name(other)}-separated, "
        f"pass --delimiter {'tab' if other == chr(9) else repr(other)}"
    )


def check_header(
    path: Path,
    header: Sequence[str],
    required: Sequence[str],
    delimiter: str,
    first_line: str,
) -> None:
    """Raise a located error if a required column is absent from ``header``.

    When the header split into a single field, the message says which other delimiter the
    line contains, the usual cause.
    """
    missing = [name for name in required if name not in header]
    if not missing:
        return
    shown = ", ".join(repr(h) for h in header[:12]) + (" ..." if len(header) > 12 else "")
    problem = (
        f"required column(s) {', '.join(repr(m) for m in missing)} not found; the header "
        f"split on {delimiter_name(delimiter)} has {len(header)} column(s): {shown}"
    )
    if len(header) <= 1:
        problem += _delimiter_hint(first_line, delimiter)
    raise PrepareError(problem, path=path, line=1, column=missing[0])


def check_field_count(path: Path, first_line: str, expected: int, delimiter: str) -> None:
    """Raise a located error if a headerless file's first line has the wrong field count."""
    fields = split_fields(first_line, delimiter)
    if len(fields) == expected:
        return
    problem = (
        f"expected {expected} fields split on {delimiter_name(delimiter)}, found {len(fields)}"
    )
    if len(fields) < expected:
        problem += _delimiter_hint(first_line, delimiter)
    raise PrepareError(problem, path=path, line=1)


def _time_kind(text: str) -> str | None:
    """``"number"``, ``"iso"`` or None (neither) for one time value."""
    if _NUMBER.match(text):
        return "number"
    if _ISO.match(text):
        return "iso"
    return None


def detect_time_format(path: Path, values: Sequence[tuple[int, str]], column: str) -> str:
    """Decide between numbers (``unix``) and ``iso_utc`` / ``iso_naive`` from sample values.

    Numbers come back as ``unix``: whether they are seconds or milliseconds is decided from
    the whole column once it is read (:mod:`datamodules.preprocess.times`).

    Args:
        path: The file (for the error message).
        values: ``(line_number, text)`` pairs of non-empty sample values.
        column: The column name (for the error message).

    Raises:
        PrepareError: A sample value is neither a finite number nor an ISO-8601 date/time, or
            the sample mixes both; the message names that value's own line.
    """
    if not values:
        return "unix"
    first_line, first_text = values[0]
    first_kind = _time_kind(first_text)
    for line, text in values:
        kind = _time_kind(text)
        if kind is None:
            reason = (
                "a time must be a finite number"
                if text.strip().lower().lstrip("+-") in _NON_FINITE
                else "expected unix seconds or milliseconds or an ISO-8601 date/time; pass "
                "--time-format (e.g. '%d/%m/%Y %H:%M')"
            )
            raise PrepareError(
                f"cannot recognise {text!r} as a time: {reason}",
                path=path,
                line=line,
                column=column,
            )
        if first_kind is not None and kind != first_kind:
            names = {"number": "a number (unix time)", "iso": "an ISO-8601 time"}
            raise PrepareError(
                f"{text!r} is {names[kind]} but line {first_line} holds {names[first_kind]}: "
                "one column, one time format",
                path=path,
                line=line,
                column=column,
            )
    if first_kind == "number":
        return "unix"
    return "iso_utc" if _ZONE.search(first_text) else "iso_naive"
