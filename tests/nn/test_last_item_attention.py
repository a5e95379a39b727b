from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn import LastItemAttention
from tests.nn import naive_baselines as naive


@pytest.mark.parametrize(
    ("bias", "normalization"), [(True, "none"), (False, "softmax"), (True, "softmax")]
)
def test_matches_naive_loop(batch, bias, normalization):
    layer = LastItemAttention(5, bias=bias, normalization=normalization)
    hidden = torch.randn(*batch.items.shape, 5)
    session, attention = layer(hidden, batch.mask)
    assert session.shape == (4, 5)
    assert attention.shape == batch.items.shape
    for b in range(hidden.shape[0]):
        length = int(batch.lengths[b])
        expected, weights = naive.last_item_attention(layer, list(hidden[b, :length]))
        torch.testing.assert_close(session[b], expected)
        torch.testing.assert_close(attention[b, :length], torch.stack(weights))
        assert bool((attention[b, length:] == 0).all())


def test_padding_content_is_ignored(batch):
    layer = LastItemAttention(4, normalization="softmax")
    hidden = torch.randn(*batch.items.shape, 4)
    noisy = hidden.masked_fill(~batch.mask.unsqueeze(-1), 100.0)
    torch.testing.assert_close(layer(hidden, batch.mask)[0], layer(noisy, batch.mask)[0])


def test_softmax_weights_sum_to_one(batch):
    layer = LastItemAttention(4, normalization="softmax")
    _, attention = layer(torch.randn(*batch.items.shape, 4), batch.mask)
    torch.testing.assert_close(attention.sum(1), torch.ones(4))


def test_repr_and_validation():
    layer = LastItemAttention(8, bias=False, normalization="softmax")
    assert repr(layer) == "LastItemAttention(8, bias=False, normalization='softmax')"
    assert layer.item_weight.bias is None
    with pytest.raises(ValueError, match="normalization"):
        LastItemAttention(8, normalization="sparsemax")
    with pytest.raises(ValueError, match="dim"):
        LastItemAttention(0)
