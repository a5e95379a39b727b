"""SKNN against the naive definition: hand-built sessions with repeats, then random ones."""

from __future__ import annotations

import numpy as np
import pytest

from dmi_gnn.nonparametric import SKNN
from tests.nonparametric import naive
from tests.nonparametric.conftest import (
    NUM_ITEMS,
    PREFIXES,
    SESSIONS,
    priority_of,
    random_data,
    reversed_batch,
)

OPTIONS = [
    {"k": 2, "sample_size": 0, "similarity": "cosine"},
    {"k": 3, "sample_size": 4, "similarity": "jaccard", "remind": True},
    {"k": 5, "sample_size": 3, "sampling": "random", "similarity": "dice", "pop_boost": 0.5},
    {"k": 1, "sample_size": 2, "remind": True, "pop_boost": 1.0, "normalize": False},
    {"k": 50, "sample_size": 500, "sampling": "random", "seed": 3, "normalize": False},
]


def expected(sessions, prefixes, num_items, options):
    full = {"sampling": "recent", "seed": 0, **options}
    priority = priority_of(len(sessions), full.pop("sampling"), full.pop("seed"))
    return np.array([naive.sknn_scores(p, sessions, num_items, priority, **full) for p in prefixes])


@pytest.mark.parametrize("options", OPTIONS)
def test_scores_equal_the_definition(sessions, options):
    index = SKNN(NUM_ITEMS, **options).fit(sessions)
    scores = index.scores(*reversed_batch(PREFIXES)).numpy()
    np.testing.assert_allclose(scores, expected(SESSIONS, PREFIXES, NUM_ITEMS, options), rtol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_random_sessions_equal_the_definition(seed):
    sessions, prefixes = random_data(seed)
    options = {
        "k": [1, 3, 8, 20][seed],
        "sample_size": [0, 5, 12, 3][seed],
        "sampling": ["recent", "random"][seed % 2],
        "similarity": ["cosine", "jaccard", "dice", "cosine"][seed],
        "remind": seed % 2 == 0,
        "pop_boost": [0.0, 0.3][seed // 2],
        "seed": seed,
    }
    index = SKNN(15, chunk_size=7, **options).fit(sessions)
    scores = index.scores(*reversed_batch(prefixes)).numpy()
    np.testing.assert_allclose(scores, expected(sessions, prefixes, 15, options), rtol=1e-5)


def test_ties_keep_the_more_recent_session(sessions):
    # prefix [8]: sessions 3 {7, 8} and 8 {6, 8} tie (cosine 1/sqrt 2); k=1 keeps session 8
    scores = SKNN(NUM_ITEMS, k=1, sample_size=0).fit(sessions).scores(*reversed_batch([[8]]))
    assert scores[0].nonzero().flatten().tolist() == [5, 7]  # items 6 and 8


@pytest.mark.parametrize("prefix", [[4], [4, 4], [1, 4]])
def test_remind_on_a_batch_narrower_than_three_clicks(sessions, prefix):
    options = {"k": 3, "sample_size": 0, "remind": True, "pop_boost": 0.5}
    scores = SKNN(NUM_ITEMS, **options).fit(sessions).scores(*reversed_batch([prefix])).numpy()
    np.testing.assert_allclose(scores, expected(SESSIONS, [prefix], NUM_ITEMS, options), rtol=1e-6)
