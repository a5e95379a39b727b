"""Reading a file of sessions to recommend for (``--data.predict_file``).

Formats, chosen by the file extension:

* ``.jsonl`` / ``.ndjson`` / ``.json``: one JSON value per line, either a list of raw item ids
  (``[123, 456]`` or ``["a1", "b2"]``) or an object ``{"session": [...]}`` (other keys ignored).
* ``.csv`` / ``.txt``: one session per line, raw ids separated by commas (``123,456``).

Sessions are in time order (most recent click last). Every line gets a :class:`PredictRecord`,
in file order; an empty or malformed line carries an ``error`` (never an exception). Raw ids
are NOT encoded here: the model does that with the vocabulary stored in its checkpoint (so
predicting needs nothing but the checkpoint and this file), skipping and reporting ids it does
not know (:meth:`datamodules.vocab.Vocabulary.encode`). CSV tokens stay text here; for an
integer vocabulary only ASCII digits (with an optional ``-``) read as an integer, so ``"+13"``,
``"1_000"`` or ``"١٢"`` are unknown ids, never items 13, 1000 or 12. Unknown ids are reported
in the vocabulary's type when they read as one (``"7"`` as ``7`` for integer ids), otherwise as
written, so a CSV and a JSONL file of the same sessions report the same unknown ids.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

from torch.utils.data import Dataset

from datamodules.errors import DataError

logger = logging.getLogger(__name__)

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
TEXT_SUFFIXES = (".csv", ".txt")


class PredictRecord(NamedTuple):
    """One line of a predict file.

    Attributes:
        line: 1-based line number.
        raw_session: the raw ids as read, oldest first (empty when the line is malformed).
        error: why the line gets no prediction; None when it can be served.
    """

    line: int
    raw_session: list[Any]
    error: str | None


def _int_digit_limit() -> int:
    """Python's limit on the digits of an int read from text (3.11+; 4300 by default)."""
    return getattr(sys, "get_int_max_str_digits", lambda: 4300)()


def _parse_json_line(text: str) -> list[Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None
    except ValueError:  # an integer beyond Python's conversion limit
        raise ValueError(
            f"not valid JSON (a number with more than {_int_digit_limit()} digits)"
        ) from None
    if isinstance(value, dict):
        if "session" not in value:
            raise ValueError('a JSON object needs a "session" key')
        value = value["session"]
    if not isinstance(value, list):
        raise ValueError(f"expected a list of item ids, got {type(value).__name__}")
    for position, raw in enumerate(value):
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise ValueError(f"item {position} is {raw!r}: ids must be ints or strings")
    return value


def _parse_text_line(text: str) -> list[Any]:
    tokens = [token.strip() for token in text.split(",")]
    for position, token in enumerate(tokens):
        if not token:
            raise ValueError(f"item {position} is empty")
    return tokens


def read_predict_file(path: str | os.PathLike) -> list[PredictRecord]:
    """Parse ``path`` into one record per line, in file order.

    Raises:
        DataError: the file is missing or has an unsupported extension.
    """
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix in JSON_SUFFIXES:
        parse = _parse_json_line
    elif suffix in TEXT_SUFFIXES:
        parse = _parse_text_line
    else:
        raise DataError(
            f"{source}: unsupported predict file extension {suffix!r}; use one of "
            f"{', '.join(JSON_SUFFIXES + TEXT_SUFFIXES)}"
        )
    if not source.is_file():
        raise DataError(f"{source}: predict file not found")
    records: list[PredictRecord] = []
    try:
        text = source.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of line 1
    except UnicodeDecodeError as error:
        line = source.read_bytes()[: error.start].count(b"\n") + 1
        raise DataError(f"{source}, line {line}: not UTF-8 text ({error.reason})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline ending the last line
    for line_number, line in enumerate(lines, start=1):
        content = line.strip()
        if not content:
            records.append(PredictRecord(line_number, [], "empty line"))
            continue
        try:
            raw_session = parse(content)
        except ValueError as error:
            records.append(PredictRecord(line_number, [], f"malformed line: {error}"))
            continue
        error_message = None if raw_session else "empty session"
        records.append(PredictRecord(line_number, raw_session, error_message))
    rejected = sum(record.error is not None for record in records)
    if rejected:
        logger.warning("%s: %d of %d lines are empty or malformed", source, rejected, len(records))
    return records


class PredictRecords(Dataset):
    """The records of a predict file; batches are plain lists of :class:`PredictRecord`."""

    def __init__(self, records: list[PredictRecord]) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> PredictRecord:
        return self.records[index]


def collate_records(records: list[PredictRecord]) -> list[PredictRecord]:
    """``collate_fn`` of :class:`PredictRecords`: keep the list as it is."""
    return list(records)
