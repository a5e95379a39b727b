"""Checks of numeric time columns once they are read: finite, in range, one unit per column.

A split by time is only as good as the times: one ``inf``, ``1e300`` or millisecond value in a
column of seconds moves the split point and makes almost everything train. So, for every file:

* a time must be a finite number (``nan``, ``inf`` are errors; an empty field is a missing
  value, handled by the recipe);
* it must be below the limit of its unit: ``1e11`` for seconds (the year 5138), ``1e14`` for
  milliseconds, or the limit a recipe sets for its own unit;
* with ``--time-format auto``, a column of numbers is seconds when every value is below
  ``1e11`` and milliseconds when every value is at or above it, decided over the whole column
  of every input file; a column with both is an error naming one value of each.

Each error names the file, the line (or Parquet row) and the value as written there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamodules.preprocess.errors import PrepareError

#: Unix seconds at or above this are not seconds (1e11 s is the year 5138).
SECONDS_LIMIT = 1e11
#: The same moment in milliseconds.
MILLISECONDS_LIMIT = 1e14
UNIT_LIMITS = {"unix": SECONDS_LIMIT, "unix_ms": MILLISECONDS_LIMIT}
UNIT_NAMES = {"unix": "seconds", "unix_ms": "milliseconds", "auto": "seconds or milliseconds"}


class RowLocator(Protocol):
    """Where a data row of one input file is, and what it holds as text."""

    path: Path

    def where(self, row: int) -> tuple[int, str]:
        """``(number, label)``: the physical line (``"line"``) or Parquet row (``"row"``)."""

    def text_at(self, column: str, row: int) -> str:
        """The value of ``column`` at data row ``row`` as written in the file."""


@dataclass
class TimePart:
    """One input file's numeric time column.

    Attributes:
        values: The column as read (arrow float64 or int64; nulls are empty fields).
        locator: Maps a row index to the file's line and original text.
    """

    values: pa.ChunkedArray
    locator: RowLocator
    _magnitudes: np.ndarray | None = None

    def magnitudes(self) -> np.ndarray:
        """``|values|`` as float64, NaN where empty (computed once)."""
        if self._magnitudes is None:
            values = self.values.cast(pa.float64()).to_numpy(zero_copy_only=False)
            self._magnitudes = np.abs(values)
        return self._magnitudes


def _error(part: TimePart, column: str, row: int, problem: str) -> PrepareError:
    line, label = part.locator.where(row)
    text = part.locator.text_at(column, row)
    return PrepareError(
        problem.format(value=repr(text)),
        path=part.locator.path,
        line=line,
        column=column,
        row_label=label,
    )


def _first(mask: pa.ChunkedArray | pa.Array) -> int | None:
    """Index of the first True of a boolean arrow array (nulls count as False)."""
    flags = np.asarray(pc.fill_null(mask, False), dtype=bool)
    hits = np.flatnonzero(flags)
    return int(hits[0]) if len(hits) else None


def check_finite(parts: Sequence[TimePart], column: str) -> None:
    """Raise a located error for the first ``nan``/``inf`` value.

    Raises:
        PrepareError: A value is not a finite number.
    """
    for part in parts:
        if not pa.types.is_floating(part.values.type):
            continue
        row = _first(pc.invert(pc.is_finite(part.values)))
        if row is not None:
            raise _error(
                part,
                column,
                row,
                "{value} is not a finite time (a time must be a number such as unix seconds; "
                "leave the field empty for a missing value)",
            )


def check_range(parts: Sequence[TimePart], column: str, limit: float, unit: str) -> None:
    """Raise a located error for the first value whose magnitude is ``limit`` or more.

    Args:
        parts: The column of each input file.
        column: Its name (for the message).
        limit: The exclusive bound on ``|value|``.
        unit: ``unix``, ``unix_ms``, ``auto`` (either), or a description of the recipe's own
            unit.

    Raises:
        PrepareError: A value is out of range.
    """
    for part in parts:
        magnitudes = part.magnitudes()  # NaN where empty: never compares True
        hits = np.flatnonzero(magnitudes >= limit)
        if not len(hits):
            continue
        row = int(hits[0])
        name = UNIT_NAMES.get(unit, unit)
        hint = ""
        if unit == "unix" and magnitudes[row] < MILLISECONDS_LIMIT:
            hint = "; it looks like milliseconds: pass --time-format unix_ms if they all are"
        elif unit == "unix_ms":
            hint = " (microseconds or nanoseconds are not supported: convert the column)"
        raise _error(
            part,
            column,
            row,
            f"{{value}} is out of range for a time in {name} (|t| must be below {limit:.0e}, "
            f"the year 5138){hint}",
        )


def decide_unit(parts: Sequence[TimePart], column: str) -> str:
    """``unix`` or ``unix_ms`` for a column of numbers, from every value of every file.

    Raises:
        PrepareError: The column holds both values below 1e11 (seconds) and at or above it
            (milliseconds); the message names the first value of the rarer kind and one of
            the other kind.
    """
    firsts: dict[bool, tuple[int, int]] = {}  # is_ms -> (part index, row) of its first value
    counts = {False: 0, True: 0}
    for index, part in enumerate(parts):
        magnitudes = part.magnitudes()  # NaN where empty: never compares True
        present = ~np.isnan(magnitudes)
        is_ms = magnitudes >= SECONDS_LIMIT
        for kind, mask in ((False, present & ~is_ms), (True, is_ms)):
            hits = np.flatnonzero(mask)
            counts[kind] += len(hits)
            if len(hits) and kind not in firsts:
                firsts[kind] = (index, int(hits[0]))
    if not counts[True]:
        return "unix"
    if not counts[False]:
        return "unix_ms"
    if counts[True] != counts[False]:
        odd = counts[True] < counts[False]
    else:
        odd = firsts[True] > firsts[False]  # the kind that starts later
    odd_part, odd_row = firsts[odd]
    other_part, other_row = firsts[not odd]
    other_line, other_label = parts[other_part].locator.where(other_row)
    other_text = parts[other_part].locator.text_at(column, other_row)
    where = f"{other_label} {other_line}"
    if other_part != odd_part:
        where = f"{parts[other_part].locator.path}, {where}"
    kinds = {True: "milliseconds (>= 1e11)", False: "seconds (< 1e11)"}
    return_problem = (
        f"{{value}} looks like {kinds[odd]} but {where} holds {other_text!r}, which looks "
        f"like {kinds[not odd]}: mixed units in one column ({counts[odd]:,} vs "
        f"{counts[not odd]:,} values); convert the column to one unit, or pass --time-format "
        "unix or unix_ms to say which it is"
    )
    raise _error(parts[odd_part], column, odd_row, return_problem)
