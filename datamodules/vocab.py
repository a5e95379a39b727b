"""The vocabulary: a user's raw item ids <-> the model's contiguous ids ``1..N``.

Three kinds: ``identity`` (the benchmarks, raw id ``i`` is item ``i``), ``int`` (a processed
dataset whose raw ids are integers) and ``str`` (raw ids are strings). A vocabulary round-trips
through a dict of tensors (:meth:`Vocabulary.to_state`), so a model can keep it in its checkpoint
as buffers and it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

from datamodules.processed import offsets_from_lengths

VocabularyKind = Literal["identity", "int", "str"]
_KIND_CODES: dict[str, int] = {"identity": 0, "int": 1, "str": 2}
_INT64 = (-(2**63), 2**63)
#: Longest digit string turned into an int (Python refuses longer ones by default).
_MAX_DIGITS = 4000
_SPACE = " \t\r\n"


def parse_int_id(text: str) -> int | None:
    """The integer a text id stands for: ASCII digits with an optional leading ``-``, spaces
    around allowed; None for anything else (``"+1"``, ``"1_000"``, ``"١٢"``, ``"0x10"``, ...),
    which Python's ``int()`` would accept."""
    body = text.strip(_SPACE)
    digits = body[1:] if body.startswith("-") else body
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > _MAX_DIGITS:
        return None
    return int(body)


def check_int64(raw_ids: Sequence[int], where: str = "vocabulary") -> None:
    """Raise ValueError naming the first raw id outside the int64 range."""
    low, high = _INT64
    bad = next((raw for raw in raw_ids if not low <= raw < high), None)
    if bad is not None:
        raise ValueError(f"{where}: raw id {bad} does not fit in 64 bits")


class Vocabulary:
    """Maps raw item ids to ``1..N`` and back.

    Build it with :meth:`identity`, :meth:`from_raw_ids` or :meth:`from_state`.
    """

    def __init__(
        self, kind: VocabularyKind, raw_ids: Sequence[int] | Sequence[str] | None, num_items: int
    ) -> None:
        self.kind: VocabularyKind = kind
        self.num_items = num_items
        self._raw_ids: list[Any] | None = None if raw_ids is None else list(raw_ids)
        self._index: dict[Any, int] = {}
        if kind == "int" and self._raw_ids is not None:
            check_int64(self._raw_ids)
        if self._raw_ids is not None:
            self._index = {raw: position + 1 for position, raw in enumerate(self._raw_ids)}
            if len(self._index) != len(self._raw_ids):
                seen: set[Any] = set()
                duplicate = next(r for r in self._raw_ids if r in seen or seen.add(r))
                raise ValueError(f"vocabulary lists raw id {duplicate!r} twice")

    @classmethod
    def identity(cls, num_items: int) -> Vocabulary:
        """Raw id ``i`` is item ``i`` for ``i`` in ``1..num_items``."""
        return cls("identity", None, num_items)

    @classmethod
    def from_raw_ids(cls, raw_ids: Sequence[int] | Sequence[str]) -> Vocabulary:
        """Entry ``i - 1`` of ``raw_ids`` is the raw id of item ``i`` (all ints or all strings)."""
        kinds = set(map(type, raw_ids))
        if kinds <= {int}:
            return cls("int", raw_ids, len(raw_ids))
        if kinds <= {str}:
            return cls("str", raw_ids, len(raw_ids))
        names = sorted(kind.__name__ for kind in kinds)
        raise ValueError(f"raw ids must be all ints or all strings, got {names}")

    def __len__(self) -> int:
        return self.num_items

    def __repr__(self) -> str:
        return f"Vocabulary(kind={self.kind!r}, num_items={self.num_items})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and (self.kind, self.num_items, self._raw_ids) == (
            other.kind,
            other.num_items,
            other._raw_ids,
        )

    def _normalise(self, raw: Any) -> Any:
        """``raw`` as the vocabulary's raw ids are typed, when it reads as one.

        Integer vocabularies: a text id of ASCII digits (:func:`parse_int_id`) becomes the int;
        string vocabularies: an int becomes its decimal text. Anything else is returned as
        given, so unknown ids are reported alike whether they came from a CSV (text) or a JSON
        (numbers) predict file.
        """
        if isinstance(raw, bool):
            return raw
        if self.kind == "str":
            return str(raw) if isinstance(raw, int) else raw
        if isinstance(raw, str):
            parsed = parse_int_id(raw)
            return raw if parsed is None else parsed
        return raw

    def _lookup(self, raw: Any) -> int:
        """The id of ``raw`` (already normalised) or 0 when unknown."""
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
        """Map raw ids to item ids, skipping unknown ones.

        Integer vocabularies also accept text ids of ASCII digits with an optional ``-``
        (``"123"``, ``" 123 "``; not ``"+123"``, ``"1_000"`` or other scripts' digits); string
        vocabularies accept ints by their decimal form.

        Returns:
            ``(ids, unknown)``: the known items' ids in order and the unknown raw ids in order,
            typed like the vocabulary's raw ids where they read as such (``"7"`` comes back as
            ``7`` from an integer vocabulary, ``7`` as ``"7"`` from a string one), otherwise
            as given.
        """
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

    def decode(self, ids: torch.Tensor | np.ndarray | Sequence[int]) -> list[Any]:
        """Raw ids of item ids ``1..N`` (any shape; the result is a flat list).

        Raises:
            ValueError: an id is outside ``1..N`` (0 is padding and has no raw id).
        """
        if isinstance(ids, torch.Tensor):
            ids = ids.detach().cpu().numpy()
        flat = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = np.flatnonzero((flat < 1) | (flat > self.num_items))
        if len(bad):
            raise ValueError(f"item id {int(flat[bad[0]])} is outside 1..{self.num_items}")
        if self._raw_ids is None:
            return flat.tolist()
        return [self._raw_ids[i - 1] for i in flat.tolist()]

    def to_state(self) -> dict[str, torch.Tensor]:
        """Tensors only: ``kind`` (0 identity, 1 int, 2 str), ``num_items``, and the raw ids
        (``int_ids`` int64, or ``str_bytes`` uint8 utf-8 with ``str_offsets`` int64)."""
        state = {
            "kind": torch.tensor(_KIND_CODES[self.kind], dtype=torch.int64),
            "num_items": torch.tensor(self.num_items, dtype=torch.int64),
        }
        if self.kind == "int":
            state["int_ids"] = torch.tensor(self._raw_ids, dtype=torch.int64)
        elif self.kind == "str":
            encoded = [raw.encode("utf-8") for raw in self._raw_ids or []]
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
            offsets = offsets_from_lengths(lengths)
            blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
            state["str_bytes"] = torch.from_numpy(blob)
            state["str_offsets"] = torch.from_numpy(offsets)
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, torch.Tensor]) -> Vocabulary:
        """Rebuild from :meth:`to_state` output (e.g. buffers of a loaded checkpoint)."""
        codes = {code: kind for kind, code in _KIND_CODES.items()}
        kind = codes.get(int(state["kind"]))
        num_items = int(state["num_items"])
        if kind == "identity":
            return cls.identity(num_items)
        if kind == "int":
            return cls("int", state["int_ids"].tolist(), num_items)
        if kind == "str":
            blob = state["str_bytes"].cpu().numpy().tobytes()
            offsets = state["str_offsets"].tolist()
            raw = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
            return cls("str", raw, num_items)
        raise ValueError(f"unknown vocabulary kind code {int(state['kind'])}")
