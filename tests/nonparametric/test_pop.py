"""Pop and S-POP against the naive definitions on hand-built sessions with repeats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dmi_gnn.nonparametric import Pop, SPop
from tests.nonparametric import naive
from tests.nonparametric.conftest import NUM_ITEMS, PREFIXES, SESSIONS, reversed_batch

OPTIONS = [
    {"top_n": 100, "support": "clicks"},
    {"top_n": 3, "support": "clicks"},
    {"top_n": 4, "support": "sessions"},
    {"top_n": 0, "support": "sessions"},
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize(
    ("index", "reference"), [(Pop, naive.pop_scores), (SPop, naive.spop_scores)]
)
def test_scores_equal_the_definition(sessions, index, reference, options):
    items, mask = reversed_batch(PREFIXES)
    scores = index(NUM_ITEMS, **options).fit(sessions).scores(items, mask)
    expected = [reference(p, SESSIONS, NUM_ITEMS, **options) for p in PREFIXES]
    assert scores.dtype == torch.float32 and scores.shape == (len(PREFIXES), NUM_ITEMS)
    np.testing.assert_allclose(scores.numpy(), np.array(expected), rtol=1e-6)


def test_top_n_ties_go_to_the_smaller_id(sessions):
    # clicks: item 2 leads (9); 1 and 3 tie at 5, so top_n=2 keeps 2 and 1, not 3
    scores = Pop(NUM_ITEMS, top_n=2).fit(sessions).scores(*reversed_batch([[1]]))[0]
    assert scores.nonzero().flatten().tolist() == [0, 1]


def test_spop_ranks_the_prefix_counts_first(sessions):
    scores = SPop(NUM_ITEMS).fit(sessions).scores(*reversed_batch([[7, 9, 7]]))[0]
    assert scores.argsort(descending=True)[:2].tolist() == [6, 8]  # items 7 (twice), then 9
