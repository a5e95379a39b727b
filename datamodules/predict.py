"""Reading a file of sessions to recommend for (``--data.predict_file``).

Formats, chosen by the file extension:

* ``.jsonl`` / ``.ndjson`` / ``.json``: one JSON value per line, either a list of raw item ids
  (``[123, 456]`` or ``["a1", "b2"]``) or an object ``{"session": [...]}`` (other keys ignored).
* ``.csv`` / ``.txt``: one session per line, raw ids separated by commas (``123,456``).

Sessions are in time order (most recent click last). Raw ids go through the vocabulary: unknown
ids are skipped inside a session (counted, and logged with a few examples). Every line gets a
:class:`PredictRecord`, in file order; a line that is empty, malformed, or has no known item has
an ``error`` and is left out of the predict dataloader, which serves the other lines in file
order, so predictions zip back onto ``[r for r in records if r.error is None]``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamodules.errors import DataError
from datamodules.vocab import Vocabulary

logger = logging.getLogger(__name__)

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
TEXT_SUFFIXES = (".csv", ".txt")
_EXAMPLES = 5


@dataclass(frozen=True)
class PredictRecord:
    """One line of a predict file.

    Attributes:
        line: 1-based line number.
        raw_session: the raw ids as read (empty when the line could not be parsed).
        unknown: raw ids absent from the vocabulary (skipped).
        error: why the line gets no prediction; None when it is served.
    """

    line: int
    raw_session: list[Any]
    unknown: list[Any]
    error: str | None


def _parse_json_line(text: str) -> list[Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg})") from None
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


def read_predict_file(
    path: str | os.PathLike, vocabulary: Vocabulary
) -> tuple[list[PredictRecord], list[list[int]]]:
    """Parse ``path`` into per-line records and the encoded sessions of the valid lines.

    Returns:
        ``(records, sessions)``: one record per line, and the item-id lists of the records whose
        ``error`` is None, in the same order.

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
    sessions: list[list[int]] = []
    unknown_total, unknown_examples = 0, []
    with open(source, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                records.append(PredictRecord(line_number, [], [], "empty line"))
                continue
            try:
                raw_session = parse(text)
            except ValueError as error:
                records.append(PredictRecord(line_number, [], [], f"malformed line: {error}"))
                continue
            ids, unknown = vocabulary.encode(raw_session)
            unknown_total += len(unknown)
            unknown_examples.extend(unknown[: _EXAMPLES - len(unknown_examples)])
            error_message = None
            if not raw_session:
                error_message = "empty session"
            elif not ids:
                error_message = "no known item in the session"
            records.append(PredictRecord(line_number, raw_session, unknown, error_message))
            if error_message is None:
                sessions.append(ids)
    if unknown_total:
        logger.warning(
            "%s: skipped %d unknown item ids (e.g. %s)", source, unknown_total, unknown_examples
        )
    rejected = sum(record.error is not None for record in records)
    if rejected:
        logger.warning(
            "%s: %d of %d lines give no session to predict", source, rejected, len(records)
        )
    return records, sessions
