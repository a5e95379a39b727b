"""SKNN and V-SKNN on the real Tmall split against the naive definition, for a few prefixes.

The hand-built tests cover the options; this one covers scale: 65,286 training sessions, popular
items held by thousands of them, so the sample and the top-k cut many candidates and ties.
"""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.pickles import read_test_pairs, read_train_sessions
from dmi_gnn.nonparametric import SKNN, VSKNN
from tests.nonparametric import naive
from tests.nonparametric.conftest import reversed_batch

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

NUM_ITEMS = 40727


@pytest.fixture(scope="module")
def tmall():
    from tests.conftest import require_shared

    folder = require_shared("tmall-gcegnn")
    train = read_train_sessions(folder / "all_train_seq.txt", NUM_ITEMS)
    test = read_test_pairs(folder / "test.txt", NUM_ITEMS)
    sessions = np.split(train.items, train.offsets[1:-1])
    picks = np.random.default_rng(0).choice(len(test), size=4, replace=False)
    prefixes = [test.prefix(int(i)).tolist() for i in picks]
    return sessions, prefixes


@pytest.mark.parametrize(
    ("index", "reference", "options"),
    [
        (SKNN, naive.sknn_scores, {"k": 50, "sample_size": 500, "similarity": "cosine"}),
        (VSKNN, naive.vsknn_scores, {"k": 100, "sample_size": 1000, "idf_weighting": 10.0}),
    ],
)
def test_real_split_equals_the_definition(tmall, index, reference, options):
    sessions, prefixes = tmall
    lists = [s.tolist() for s in sessions]
    priority = np.arange(len(sessions))
    scores = index(NUM_ITEMS, **options).fit(sessions).scores(*reversed_batch(prefixes)).numpy()
    for row, prefix in enumerate(prefixes):
        expected = reference(prefix, lists, NUM_ITEMS, priority, **options)
        np.testing.assert_allclose(scores[row], expected, rtol=1e-5, atol=1e-7)
    assert (scores > 0).sum(1).min() > 20  # the neighbours vote for many items
