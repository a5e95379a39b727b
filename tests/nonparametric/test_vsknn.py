"""V-SKNN against the naive definition: hand-built sessions with repeats, then random ones."""

from __future__ import annotations

import numpy as np
import pytest

from dmi_gnn.nonparametric import VSKNN, vsknn
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
    {"k": 2, "sample_size": 0},
    {"k": 3, "sample_size": 4, "weighting": "linear", "weighting_score": "linear"},
    {"k": 4, "sample_size": 5, "weighting": "log", "weighting_score": "quadratic"},
    {"k": 5, "sample_size": 0, "weighting": "quadratic", "weighting_score": "log", "remind": False},
    {"k": 2, "sample_size": 3, "sampling": "random", "weighting": "same", "idf_weighting": 2.0},
    {
        "k": 9,
        "sample_size": 6,
        "weighting_score": "same",
        "idf_weighting": 10.0,
        "normalize": False,
    },
]


def expected(sessions, prefixes, num_items, options):
    full = {"sampling": "recent", "seed": 0, **options}
    priority = priority_of(len(sessions), full.pop("sampling"), full.pop("seed"))
    return np.array(
        [naive.vsknn_scores(p, sessions, num_items, priority, **full) for p in prefixes]
    )


@pytest.mark.parametrize("options", OPTIONS)
def test_scores_equal_the_definition(sessions, options):
    index = VSKNN(NUM_ITEMS, **options).fit(sessions)
    scores = index.scores(*reversed_batch(PREFIXES)).numpy()
    np.testing.assert_allclose(scores, expected(SESSIONS, PREFIXES, NUM_ITEMS, options), rtol=1e-6)


@pytest.mark.parametrize("block", [48, 3, 1])
@pytest.mark.parametrize("seed", range(3))
def test_random_sessions_equal_the_definition(monkeypatch, seed, block):
    # a small block makes most neighbours' decay steps go through the older-click blocks
    monkeypatch.setattr(vsknn, "RECENCY_BLOCK", block)
    sessions, prefixes = random_data(seed + 10)
    options = {
        "k": [2, 6, 30][seed],
        "sample_size": [0, 8, 4][seed],
        "sampling": ["recent", "random", "recent"][seed],
        "weighting": ["div", "linear", "log"][seed],
        "weighting_score": ["div", "quadratic", "linear"][seed],
        "idf_weighting": [0.0, 1.5, 10.0][seed],
        "remind": seed != 1,
        "seed": seed,
    }
    index = VSKNN(15, chunk_size=11, **options).fit(sessions)
    scores = index.scores(*reversed_batch(prefixes)).numpy()
    np.testing.assert_allclose(scores, expected(sessions, prefixes, 15, options), rtol=1e-5)


def test_decay_step_counts_clicks_back_to_the_latest_shared_item(sessions):
    # prefix [3, 7, 7]: session 3 {7, 8} shares the last click (step 1), session 0 {1, 2, 3}
    # only the click 3 steps back, so with same-weights its vote is divided by 3
    index = VSKNN(NUM_ITEMS, k=10, sample_size=0, weighting="same", normalize=False)
    scores = index.fit(sessions).scores(*reversed_batch([[3, 7, 7]]))[0]
    assert scores[7].item() == pytest.approx(0.5)  # item 8: session 3, sim 1/2, step 1
    assert scores[0].item() == pytest.approx(0.5 / 3 * 4)  # item 1: 4 sessions with 3, step 3
