"""The torch-free pieces of serving against naive loops and their PyTorch twins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamodules.batching import collate_sessions
from datamodules.vocab import Vocabulary
from dmi_gnn.serving.numpy_batching import BATCH_FIELDS, collate
from dmi_gnn.serving.recommender import Answer, Query, recommend
from dmi_gnn.serving.topk import top_k
from dmi_gnn.serving.vocabulary import ExportVocabulary

REPEATS = [[1, 2, 1, 3, 3, 2], [5], [4, 4], [2, 7, 2, 7, 9, 1, 2]]


def _same_as_torch(sessions, max_len=None):
    want = collate_sessions(sessions, max_len=max_len)
    got = collate(sessions, max_len)
    for name in BATCH_FIELDS:
        expected = getattr(want, name).numpy()
        assert got[name].dtype == expected.dtype, name
        np.testing.assert_array_equal(got[name], expected, err_msg=name)


def test_collate_equals_the_torch_batch_on_sessions_with_repeats():
    _same_as_torch(REPEATS)
    _same_as_torch(REPEATS, max_len=3)
    batch = collate([[1, 2, 1, 3]])
    # reversed: 3 1 2 1; nodes 1 2 3; 3 <- 1 (in), 1 <- 2, 2 <- 1: node 1 has in and out edges
    assert batch["items"].tolist() == [[3, 1, 2, 1]]
    assert batch["nodes"].tolist() == [[1, 2, 3, 0]]
    assert batch["alias"].tolist() == [[2, 0, 1, 0]]
    assert batch["adjacency"][0, :3, :3].tolist() == [[1, 4, 3], [4, 1, 0], [2, 0, 1]]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 6), min_size=1, max_size=9), min_size=1, max_size=5),
    st.one_of(st.none(), st.integers(1, 5)),
)
def test_collate_equals_the_torch_batch_on_drawn_sessions(sessions, max_len):
    _same_as_torch(sessions, max_len)


def test_collate_refuses_empty_input():
    with pytest.raises(ValueError, match="at least one"):
        collate([])
    with pytest.raises(ValueError, match="session 1 is empty"):
        collate([[1], []])


TRICKY = [3, "3", " 4 ", "+5", "1_000", "١٢", "0x10", -2, "x", True, 10**30, 2.0, "007"]


@pytest.mark.parametrize(
    "vocabulary",
    [
        Vocabulary.identity(20),
        Vocabulary.from_raw_ids([7, 3, 1000, -2, 12]),
        Vocabulary.from_raw_ids(["a", "3", "x", "007", "٣"]),
    ],
)
def test_export_vocabulary_encodes_and_decodes_like_the_vocabulary(vocabulary, tmp_path):
    twin = ExportVocabulary.from_vocabulary(vocabulary)
    twin.save(tmp_path / "vocabulary.json")
    twin = ExportVocabulary.load(tmp_path / "vocabulary.json")
    assert twin.encode(TRICKY) == vocabulary.encode(TRICKY)
    ids = list(range(1, vocabulary.num_items + 1))
    assert twin.decode(ids) == vocabulary.decode(ids)
    with pytest.raises(ValueError, match="outside"):
        twin.decode([0])


def test_a_bad_vocabulary_file_is_named(tmp_path):
    path = tmp_path / "vocabulary.json"
    path.write_text('{"kind": "int", "num_items": 2, "raw_ids": [1, 1]}')
    with pytest.raises(ValueError, match=r"vocabulary\.json: not a vocabulary file"):
        ExportVocabulary.load(path)


def _naive_top_k(interests, table, k):
    """Eq. 6 by loops: each item's best interest, sorted by score then id."""
    rows = []
    for session in interests:
        scored = []
        for item, vector in enumerate(table, start=1):
            best = max(float(sum(a * b for a, b in zip(s, vector, strict=True))) for s in session)
            scored.append((-best, item))
        rows.append([item for _, item in sorted(scored)[:k]])
    return rows


@pytest.mark.parametrize("block", [3, 4, 65536])
def test_top_k_equals_a_naive_loop(block):
    rng = np.random.default_rng(1)
    table = rng.integers(-3, 4, size=(11, 4)).astype(np.float32)  # small ints: exact, many ties
    interests = rng.integers(-2, 3, size=(3, 2, 4)).astype(np.float32)
    for k in (1, 5, 11):
        ids, scores = top_k(interests, np.ascontiguousarray(table.T), k, block=block)
        assert ids.tolist() == _naive_top_k(interests, table, k)
        best = (interests @ table.T).max(axis=1)
        np.testing.assert_array_equal(scores, np.take_along_axis(best, ids - 1, axis=1))
    with pytest.raises(ValueError, match=r"k must be in 1\.\.11"):
        top_k(interests, table.T, 12)


class _Backend:
    """A backend whose interest vectors are the one-hot rows of the session's last item."""

    def __init__(self, num_items=6, max_session_length=3):
        self.vocabulary = ExportVocabulary("int", num_items, [10 * i for i in range(1, 7)])
        self.num_items = num_items
        self.max_session_length = max_session_length
        self.table_t = np.eye(num_items, dtype=np.float32) + 0.01 * np.arange(num_items)
        self.seen: list[list[int]] = []
        self.description = "fake"

    def interests(self, sessions):
        self.seen.extend(list(s) for s in sessions)
        return np.stack([np.eye(self.num_items, dtype=np.float32)[[s[-1] - 1]] for s in sessions])


def test_recommend_follows_predict_conventions():
    backend = _Backend()
    answers = recommend(
        backend,
        [
            Query([10, 99, "20"], 3),
            Query([], 2),
            Query(["nope"], 2),
            Query([10, 20, 30, 40, 50], 2, exclude=[50, 777]),
        ],
    )
    assert answers[0].items[0] == 20 and answers[0].unknown == [99] and len(answers[0].items) == 3
    assert answers[1] == Answer([], [], [], "empty session")
    assert answers[2] == Answer([], [], ["nope"], "no known item in the session")
    assert answers[3].items[0] != 50 and 50 not in answers[3].items and len(answers[3].items) == 2
    assert backend.seen == [[1, 2], [3, 4, 5]]  # unknown skipped, cut to the 3 most recent
    many = recommend(backend, [Query([10 * (1 + i % 6)], 1) for i in range(600)])
    assert [a.items for a in many] == [[10 * (1 + i % 6)] for i in range(600)]  # 3 passes
    assert answers[2].to_json() == {"unknown": ["nope"], "error": "no known item in the session"}
