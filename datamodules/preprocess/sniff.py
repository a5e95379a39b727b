"""Look at the first lines of a delimited file: delimiter, header and time format.

Everything here reads at most :data:`HEAD_BYTES` of the file, so it is cheap on any size.
The findings decide how the columnar reader is configured and turn the usual mistakes (wrong
delimiter, missing column, headerless file) into one located :class:`PrepareError`.
"""

from __future__ import annotations

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
#: Unix times above this are taken as milliseconds (1e11 s is the year 5138).
MILLISECONDS_ABOVE = 1e11


def delimiter_name(delimiter: str) -> str:
    """A readable name for a delimiter, as the CLI accepts it back (``'\\t'`` -> ``tab``)."""
    return "tab" if delimiter == "\t" else repr(delimiter)


def head_lines(path: Path, max_lines: int = 200) -> list[str]:
    """The first complete lines of ``path`` (at most ``HEAD_BYTES``), without line endings.

    Raises:
        PrepareError: The file is empty.
    """
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        complete = len(head) < HEAD_BYTES
    if not head.strip():
        raise PrepareError("the file is empty (no header and no rows)", path=path, line=1)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    return [line for line in lines if line][:max_lines]


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


def detect_time_format(path: Path, values: Sequence[tuple[int, str]], column: str) -> str:
    """Decide ``unix``, ``unix_ms``, ``iso_utc`` or ``iso_naive`` from sample values.

    Args:
        path: The file (for the error message).
        values: ``(line_number, text)`` pairs of non-empty sample values.
        column: The column name (for the error message).

    Raises:
        PrepareError: A sample value is neither a number nor an ISO-8601 date/time.
    """
    if not values:
        return "unix"
    if all(_NUMBER.match(text) for _, text in values):
        return "unix_ms" if max(abs(float(t)) for _, t in values) > MILLISECONDS_ABOVE else "unix"
    for line, text in values:
        if not _ISO.match(text):
            raise PrepareError(
                f"cannot recognise {text!r} as a time: expected unix seconds or milliseconds "
                "or an ISO-8601 date/time; pass --time-format (e.g. '%d/%m/%Y %H:%M')",
                path=path,
                line=line,
                column=column,
            )
    return "iso_utc" if _ZONE.search(values[0][1]) else "iso_naive"
