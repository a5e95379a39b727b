from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn import session_item_features
from dmi_gnn.nn.session_items import check_session_inputs
from tests.nn import naive_repeat
from tests.nn.helpers import make_batch


def test_features_match_naive_loop(batch):
    stats = session_item_features(batch.items, batch.mask)
    for b in range(batch.batch_size):
        session = naive_repeat.prefix(batch.items, batch.mask, b)
        expected = naive_repeat.item_stats(session)
        for t, item in enumerate(session):
            count, last, first = expected[item]
            assert int(stats.count[b, t]) == count
            assert int(stats.last[b, t]) == last
            assert int(stats.first[b, t]) == first
            assert bool(stats.representative[b, t]) == (t == last)
        padding = ~batch.mask[b]
        assert not stats.representative[b, padding].any()
        assert (stats.count[b, padding] == 0).all()
        # One representative per unique item.
        assert int(stats.representative[b].sum()) == len(expected)


def test_hand_built_session_values():
    # [7, 3, 5, 3] reversed is [3, 5, 3, 7]: item 3 twice, last at 0, first at 2.
    batch = make_batch([[7, 3, 5, 3]])
    stats = session_item_features(batch.items, batch.mask)
    assert stats.count.tolist() == [[2, 1, 2, 1]]
    assert stats.last.tolist() == [[0, 1, 0, 3]]
    assert stats.first.tolist() == [[2, 1, 2, 3]]
    assert stats.representative.tolist() == [[True, True, False, True]]


def test_padding_item_zero_is_never_matched():
    items = torch.tensor([[4, 0, 0]])
    mask = torch.tensor([[True, False, False]])
    stats = session_item_features(items, mask)
    assert stats.count.tolist() == [[1, 0, 0]]
    assert not stats.same[0, 1:].any() and not stats.same[0, :, 1:].any()


@pytest.mark.parametrize(
    ("logits", "items", "mask", "message"),
    [
        (torch.zeros(2, 5, 1), torch.ones(2, 3, dtype=torch.long), None, "logits must be"),
        (torch.zeros(2, 5), torch.ones(2, 3, dtype=torch.long), torch.ones(2, 4), "items and mask"),
        (torch.zeros(3, 5), torch.ones(2, 3, dtype=torch.long), None, "3 rows"),
        (torch.zeros(2, 5), torch.ones(2, 3), None, "integer"),
        (torch.zeros(2, 5), torch.full((2, 3), 6), None, r"1\.\.N = 1\.\.5"),
    ],
)
def test_bad_inputs_are_named(logits, items, mask, message):
    if mask is None:
        mask = torch.ones(items.shape, dtype=torch.bool)
    with pytest.raises(ValueError, match=message):
        check_session_inputs("Layer", logits, items, mask)
