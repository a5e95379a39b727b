"""Vocabulary: encoding raw ids, decoding, and a tensors-only state for checkpoints."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from datamodules.vocab import Vocabulary


def _round_trip(vocabulary: Vocabulary) -> Vocabulary:
    buffer = io.BytesIO()
    torch.save(vocabulary.to_state(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    return Vocabulary.from_state(state)


def test_identity():
    vocabulary = Vocabulary.identity(5)
    assert vocabulary.encode([1, "5", " 2", 0, 6, "x", True, 2.0]) == (
        [1, 5, 2],
        [0, 6, "x", True, 2.0],
    )
    assert vocabulary.decode(torch.tensor([[5, 1]])) == [5, 1]
    assert _round_trip(vocabulary) == vocabulary


def test_integer_raw_ids():
    vocabulary = Vocabulary.from_raw_ids([1000, 7, 42])
    assert vocabulary.kind == "int" and len(vocabulary) == 3
    assert vocabulary.encode([42, "1000", 8, "7"]) == ([3, 1, 2], [8])
    assert vocabulary.decode(np.array([2, 3])) == [7, 42]
    assert _round_trip(vocabulary) == vocabulary


def test_string_raw_ids():
    vocabulary = Vocabulary.from_raw_ids(["b", "ä-42", "17"])
    assert vocabulary.kind == "str"
    assert vocabulary.encode(["ä-42", 17, "zz", "b"]) == ([2, 3, 1], ["zz"])
    assert vocabulary.decode([1, 2]) == ["b", "ä-42"]
    restored = _round_trip(vocabulary)
    assert restored == vocabulary
    assert restored.encode(["ä-42"]) == ([2], [])


def test_decode_rejects_padding_and_out_of_range():
    with pytest.raises(ValueError, match=r"item id 0 is outside 1\.\.3"):
        Vocabulary.from_raw_ids([5, 6, 7]).decode([1, 0])
    with pytest.raises(ValueError, match=r"item id 4 is outside"):
        Vocabulary.identity(3).decode(torch.tensor([4]))


def test_bad_raw_id_lists():
    with pytest.raises(ValueError, match="raw id 7 twice"):
        Vocabulary.from_raw_ids([7, 8, 7])
    with pytest.raises(ValueError, match="all ints or all strings"):
        Vocabulary.from_raw_ids([7, "8"])


def test_integer_ids_in_text_are_strict_ascii_digits():
    vocabulary = Vocabulary.from_raw_ids([1000, 13, 12, -4])
    lenient = ["1_000", "+13", "١٢", "１２", "0x0d", "13.0", "1e3", "", " "]
    ids, unknown = vocabulary.encode([*lenient, " 13 ", "13", "\t12", "-4"])
    assert ids == [2, 2, 3, 4]
    assert unknown == lenient
    identity = Vocabulary.identity(20)
    assert identity.encode(["+3", "٣", "3", "0x3"]) == ([3], ["+3", "٣", "0x3"])


def test_unknown_ids_come_back_in_the_vocabulary_type():
    """CSV tokens are strings, JSON ids ints: unknown ones are reported alike."""
    for vocabulary in (Vocabulary.from_raw_ids([5, 6]), Vocabulary.identity(6)):
        ids, unknown = vocabulary.encode(["7", 8, "x", " 9 ", "-3", "+1", 2**70, str(2**70)])
        assert ids == []
        assert unknown == [7, 8, "x", 9, -3, "+1", 2**70, 2**70]
        assert [type(raw) for raw in unknown] == [int, int, str, int, int, str, int, int]
    strings = Vocabulary.from_raw_ids(["a", "12"])
    assert strings.encode([12, "b", 13, " 12"]) == ([2], ["b", "13", " 12"])


def test_raw_ids_beyond_64_bits_are_refused():
    with pytest.raises(ValueError, match="does not fit in 64 bits"):
        Vocabulary.from_raw_ids([1, 2**70])
