"""The interface every index shares: state round trip, validation, padding and chunking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dmi_gnn.nonparametric import SKNN, VSKNN, Pop, SPop
from tests.nonparametric.conftest import NUM_ITEMS, PREFIXES, reversed_batch

INDEXES = [
    (Pop, {"top_n": 4}),
    (SPop, {"support": "sessions"}),
    (SKNN, {"k": 3, "sample_size": 4, "sampling": "random", "seed": 5, "remind": True}),
    (VSKNN, {"k": 3, "sample_size": 4, "sampling": "random", "seed": 5, "idf_weighting": 1.0}),
]


@pytest.mark.parametrize(("index", "options"), INDEXES)
def test_from_state_scores_the_same(sessions, index, options):
    fitted = index(NUM_ITEMS, **options).fit(sessions)
    state = fitted.state()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    again = index.from_state(state, fitted.options())
    batch = reversed_batch(PREFIXES)
    torch.testing.assert_close(again.scores(*batch), fitted.scores(*batch), rtol=0, atol=0)


@pytest.mark.parametrize(("index", "options"), INDEXES)
def test_padding_and_chunks_change_nothing(sessions, index, options):
    fitted = index(NUM_ITEMS, **options).fit(sessions)
    scores = fitted.scores(*reversed_batch(PREFIXES))
    torch.testing.assert_close(fitted.scores(*reversed_batch(PREFIXES, pad=3)), scores)
    if "chunk_size" in fitted.options():
        small = index(NUM_ITEMS, **{**options, "chunk_size": 1}).fit(sessions)
        torch.testing.assert_close(small.scores(*reversed_batch(PREFIXES)), scores)


@pytest.mark.parametrize(
    ("index", "options", "message"),
    [
        (SKNN, {"k": 0}, "k must be >= 1"),
        (SKNN, {"k": 2.5}, "k must be an integer"),
        (SKNN, {"sampling": "oldest"}, "sampling must be one of recent, random"),
        (SKNN, {"similarity": "euclid"}, "similarity must be one of cosine, jaccard, dice"),
        (SKNN, {"pop_boost": -1.0}, "pop_boost must be a finite number >= 0"),
        (VSKNN, {"sample_size": -1}, "sample_size must be >= 0"),
        (VSKNN, {"weighting": "exp"}, "weighting must be one of same, linear, div, log"),
        (VSKNN, {"weighting_score": "div_score"}, "weighting_score must be one of"),
        (VSKNN, {"remind": "yes"}, "remind must be True or False"),
        (VSKNN, {"idf_weighting": float("nan")}, "idf_weighting must be a finite number"),
        (Pop, {"support": "users"}, "support must be one of clicks, sessions"),
        (SPop, {"top_n": -3}, "top_n must be >= 0"),
    ],
)
def test_bad_options_are_named(index, options, message):
    with pytest.raises((ValueError, TypeError), match=message):
        index(NUM_ITEMS, **options)


@pytest.mark.parametrize(("index", "options"), INDEXES)
def test_bad_sessions_and_prefixes_are_named(sessions, index, options):
    with pytest.raises(ValueError, match=r"session 1 holds item id 10, outside 1\.\.9"):
        index(NUM_ITEMS, **options).fit([np.array([1, 2]), np.array([3, 10])])
    with pytest.raises(ValueError, match="session 0 must be a non-empty"):
        index(NUM_ITEMS, **options).fit([np.array([], dtype=np.int64)])
    with pytest.raises(RuntimeError, match="call fit"):
        index(NUM_ITEMS, **options).scores(*reversed_batch([[1]]))
    fitted = index(NUM_ITEMS, **options).fit(sessions)
    items, mask = reversed_batch([[1, 12]])
    with pytest.raises(ValueError, match=r"item id 12 at a real position, outside 1\.\.9"):
        fitted.scores(items, mask)
    with pytest.raises(ValueError, match="must both be"):
        fitted.scores(items, mask[:, :1])
