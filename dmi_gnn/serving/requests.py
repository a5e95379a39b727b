"""Validation of one ``POST /recommend`` body: every bad request becomes a 4xx with a message.

The body is a JSON object ``{"session": [raw ids, oldest first], "k": 20, "exclude": [...]}``;
``k`` and ``exclude`` are optional. Raw ids are JSON integers or strings (as in a ``.jsonl``
predict file); booleans, floats, ``null``, lists and objects are refused. Status codes:

* 400: the body is not JSON (or not UTF-8, or nested too deeply);
* 413: the body is larger than ``max_body_bytes``;
* 422: valid JSON of the wrong shape: not an object, an unknown key, a missing or empty
  ``session``, an id of the wrong type, ``k`` not an integer in ``1..max_k``, a session or an
  ``exclude`` list longer than its limit.

Nothing here imports torch or numpy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dmi_gnn.serving.recommender import Query

ALLOWED_KEYS = ("session", "k", "exclude")


class RequestError(ValueError):
    """A bad request: ``status`` (4xx) and the message sent back as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What one request may ask for.

    Attributes:
        max_body_bytes: the largest body read.
        max_session_items: the longest ``session`` (the model reads only its most recent
            ``max_session_length`` known items; longer sessions up to this limit are cut).
        max_exclude_items: the longest ``exclude`` list.
        max_k: the largest ``k`` (also at most the number of items).
        default_k: ``k`` when the body has none.
    """

    max_body_bytes: int = 1 << 20
    max_session_items: int = 1000
    max_exclude_items: int = 1000
    max_k: int = 1000
    default_k: int = 20


def _ids(value: Any, key: str, limit: int, allow_empty: bool) -> list[Any]:
    if not isinstance(value, list):
        raise RequestError(422, f'"{key}" must be a list of item ids, got {_type(value)}')
    if not value and not allow_empty:
        raise RequestError(422, f'"{key}" is empty: give at least one item id')
    if len(value) > limit:
        raise RequestError(422, f'"{key}" holds {len(value)} item ids; at most {limit} accepted')
    for position, raw in enumerate(value):
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise RequestError(
                422, f'"{key}"[{position}] is {_type(raw)}: item ids must be integers or strings'
            )
    return value


def _type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"the number {value!r}"
    return names.get(type(value), type(value).__name__)


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``.

    Raises:
        RequestError: 400 when it is not UTF-8 JSON.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(400, f"the body is not UTF-8 text (byte {error.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise RequestError(400, f"malformed JSON: {error.msg} at character {error.pos}") from None
    except RecursionError:
        raise RequestError(400, "malformed JSON: nested too deeply") from None
    except ValueError as error:  # an integer beyond Python's digit limit
        raise RequestError(400, f"malformed JSON: {error}") from None


def parse_query(body: bytes, limits: Limits, num_items: int) -> Query:
    """The :class:`~dmi_gnn.serving.recommender.Query` of a ``POST /recommend`` body.

    Raises:
        RequestError: with the 4xx status and message of the first problem found.
    """
    if len(body) > limits.max_body_bytes:
        raise RequestError(
            413, f"the body holds {len(body)} bytes; at most {limits.max_body_bytes}"
        )
    value = parse_json(body)
    if not isinstance(value, dict):
        raise RequestError(
            422, f'the body must be a JSON object {{"session": [...]}}, got {_type(value)}'
        )
    unknown_keys = sorted(set(value) - set(ALLOWED_KEYS))
    if unknown_keys:
        raise RequestError(
            422,
            f"unknown key(s) {', '.join(map(repr, unknown_keys))}; keys: {', '.join(ALLOWED_KEYS)}",
        )
    if "session" not in value:
        raise RequestError(422, 'the body needs a "session": a list of item ids, oldest first')
    session = _ids(value["session"], "session", limits.max_session_items, allow_empty=False)
    exclude = _ids(value.get("exclude", []), "exclude", limits.max_exclude_items, allow_empty=True)
    k = value.get("k", limits.default_k)
    largest = min(limits.max_k, num_items)
    if isinstance(k, bool) or not isinstance(k, int):
        raise RequestError(422, f'"k" must be an integer in 1..{largest}, got {_type(k)}')
    if not 1 <= k <= largest:
        raise RequestError(422, f'"k" must be in 1..{largest}, got {k}')
    return Query(session, k, exclude)
