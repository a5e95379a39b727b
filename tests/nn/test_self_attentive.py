from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn.self_attentive import SelfAttentiveExtractor
from tests.nn import naive_multi_interest as naive


def test_matches_naive_loop(batch):
    layer = SelfAttentiveExtractor(6, 3, max_positions=7, hidden_factor=2)
    with torch.no_grad():
        layer.hidden.bias.uniform_(-0.5, 0.5)  # a non-zero bias must be used too
    hidden = torch.randn((*batch.items.shape, 6), requires_grad=True)
    interests, attention = layer(hidden, batch.mask)
    assert interests.shape == (4, 3, 6) and attention.shape == (4, 5, 3)
    expected, expected_attention = naive.self_attentive(layer, hidden, batch.mask)
    torch.testing.assert_close(interests, expected)
    torch.testing.assert_close(attention, expected_attention)
    params = [hidden, *layer.parameters()]
    ours = torch.autograd.grad((interests**2).sum() + attention[..., 0].sum(), params)
    theirs = torch.autograd.grad((expected**2).sum() + expected_attention[..., 0].sum(), params)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_attention_is_a_distribution_over_real_positions(batch):
    layer = SelfAttentiveExtractor(4, 2, max_positions=5)
    hidden = torch.randn((*batch.items.shape, 4))
    _, attention = layer(hidden, batch.mask)
    assert (attention[~batch.mask] == 0).all()
    torch.testing.assert_close(attention.sum(1), torch.ones(4, 2))
    # Padding content never matters.
    noisy = hidden.masked_fill(~batch.mask.unsqueeze(-1), 100.0)
    torch.testing.assert_close(layer(noisy, batch.mask)[0], layer(hidden, batch.mask)[0])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="hidden_factor"):
        SelfAttentiveExtractor(4, 2, hidden_factor=0)
    layer = SelfAttentiveExtractor(4, 2, max_positions=2)
    with pytest.raises(ValueError, match="max_positions=2"):
        layer(torch.randn(1, 3, 4), torch.ones(1, 3, dtype=torch.bool))
