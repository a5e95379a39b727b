"""The vocabulary of an export directory: raw item ids <-> model ids ``1..N``, without torch.

The same mapping and the same rules as :class:`datamodules.vocab.Vocabulary` (which needs
torch): kinds ``identity`` (raw id ``i`` is item ``i``), ``int`` and ``str``; for integer
vocabularies a text id counts only when it is ASCII digits with an optional ``-`` (spaces
around allowed), so ``"+13"``, ``"1_000"`` or ``"١٢"`` are unknown ids; string vocabularies take
an int by its decimal text. Unknown ids are reported typed like the vocabulary's raw ids when
they read as one, otherwise as given. Stored as ``vocabulary.json``:
``{"kind": ..., "num_items": N, "raw_ids": [...] | null}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

_SPACE = " \t\r\n"
#: Longest digit string turned into an int (as :mod:`datamodules.vocab`).
_MAX_DIGITS = 4000
KINDS = ("identity", "int", "str")


def parse_int_id(text: str) -> int | None:
    """The integer a text id stands for (ASCII digits, optional ``-``), else None."""
    body = text.strip(_SPACE)
    digits = body[1:] if body.startswith("-") else body
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > _MAX_DIGITS:
        return None
    return int(body)


class ExportVocabulary:
    """Maps raw item ids to ``1..N`` and back (torch-free twin of ``Vocabulary``).

    Args:
        kind: ``"identity"``, ``"int"`` or ``"str"``.
        num_items: ``N``.
        raw_ids: entry ``i - 1`` is the raw id of item ``i`` (None for ``identity``).

    Raises:
        ValueError: an unknown kind, raw ids of the wrong type or count, or a repeated raw id.
    """

    def __init__(self, kind: str, num_items: int, raw_ids: Sequence[Any] | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"vocabulary kind must be one of {KINDS}, got {kind!r}")
        if isinstance(num_items, bool) or not isinstance(num_items, int) or num_items < 1:
            raise ValueError(f"vocabulary num_items must be an int >= 1, got {num_items!r}")
        self.kind = kind
        self.num_items = num_items
        self._raw_ids = None if raw_ids is None else list(raw_ids)
        self._index: dict[Any, int] = {}
        if kind == "identity":
            return
        if self._raw_ids is None or len(self._raw_ids) != num_items:
            count = None if self._raw_ids is None else len(self._raw_ids)
            raise ValueError(f"a {kind} vocabulary needs {num_items} raw ids, got {count}")
        wanted = int if kind == "int" else str
        bad = next((r for r in self._raw_ids if type(r) is not wanted), None)
        if bad is not None:
            raise ValueError(f"a {kind} vocabulary holds raw id {bad!r}")
        self._index = {raw: position + 1 for position, raw in enumerate(self._raw_ids)}
        if len(self._index) != num_items:
            raise ValueError("the vocabulary lists a raw id twice")

    def __len__(self) -> int:
        return self.num_items

    def _normalise(self, raw: Any) -> Any:
        if isinstance(raw, bool):
            return raw
        if self.kind == "str":
            return str(raw) if isinstance(raw, int) else raw
        if isinstance(raw, str):
            parsed = parse_int_id(raw)
            return raw if parsed is None else parsed
        return raw

    def _lookup(self, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            return 0
        if self.kind == "str":
            return self._index.get(raw, 0)
        if not isinstance(raw, int):
            return 0
        if self.kind == "identity":
            return raw if 1 <= raw <= self.num_items else 0
        return self._index.get(raw, 0)

    def encode(self, raw_session: Iterable[Any]) -> tuple[list[int], list[Any]]:
        """``(ids, unknown)``: the known items' ids in order and the unknown raw ids in order."""
        ids: list[int] = []
        unknown: list[Any] = []
        for raw in raw_session:
            normal = self._normalise(raw)
            item = self._lookup(normal)
            if item:
                ids.append(item)
            else:
                unknown.append(normal)
        return ids, unknown

    def decode(self, ids: Iterable[int]) -> list[Any]:
        """Raw ids of item ids ``1..N``.

        Raises:
            ValueError: an id is outside ``1..N``.
        """
        flat = [int(i) for i in ids]
        bad = next((i for i in flat if not 1 <= i <= self.num_items), None)
        if bad is not None:
            raise ValueError(f"item id {bad} is outside 1..{self.num_items}")
        if self._raw_ids is None:
            return flat
        return [self._raw_ids[i - 1] for i in flat]

    def to_json(self) -> dict[str, Any]:
        """The content of ``vocabulary.json``."""
        return {"kind": self.kind, "num_items": self.num_items, "raw_ids": self._raw_ids}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ExportVocabulary:
        """Read ``vocabulary.json``.

        Raises:
            ValueError: the file is not a vocabulary (names the file and the problem).
        """
        try:
            content = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(content["kind"], content["num_items"], content.get("raw_ids"))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a vocabulary file ({error})") from None

    @classmethod
    def from_vocabulary(cls, vocabulary: Any) -> ExportVocabulary:
        """The export twin of a :class:`datamodules.vocab.Vocabulary`."""
        raw_ids = (
            None
            if vocabulary.kind == "identity"
            else vocabulary.decode(range(1, vocabulary.num_items + 1))
        )
        return cls(vocabulary.kind, vocabulary.num_items, raw_ids)
