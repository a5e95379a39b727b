from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn import MultiInterestExtractor
from tests.nn import naive


@pytest.mark.parametrize(
    ("positional", "attention", "readout_bias"),
    [
        ("multi", "raw", False),
        ("multi", "softmax", True),
        ("single", "raw", True),
        ("single", "softmax", False),
    ],
)
def test_matches_naive_loop(batch, positional, attention, readout_bias):
    layer = MultiInterestExtractor(
        6,
        3,
        max_positions=10,
        positional=positional,
        attention=attention,
        readout_bias=readout_bias,
    )
    hidden = torch.randn((*batch.items.shape, 6), requires_grad=True)
    interests, weights = layer(hidden, batch.mask)
    assert interests.shape == (4, 3, 6) and weights.shape == (4, 5, 3)
    expected_interests, expected_weights = naive.interests(layer, hidden, batch.mask)
    torch.testing.assert_close(interests, expected_interests)
    torch.testing.assert_close(weights, expected_weights)
    # Gradients too.
    (interests.square().sum() + weights.sum()).backward()
    ours = [hidden.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    hidden.grad = None
    (expected_interests.square().sum() + expected_weights.sum()).backward()
    theirs = [hidden.grad] + [p.grad for p in layer.parameters()]
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_attention_is_zero_at_padding_and_softmax_sums_to_one(batch):
    for attention in ("raw", "softmax"):
        layer = MultiInterestExtractor(4, 2, attention=attention)
        _, weights = layer(torch.randn((*batch.items.shape, 4)), batch.mask)
        assert (weights[~batch.mask] == 0).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(4, 2))


def test_raw_attention_can_be_negative(batch):
    layer = MultiInterestExtractor(4, 2, attention="raw")
    with torch.no_grad():
        layer.query.fill_(-1.0)  # q_u^T sigmoid(...) < 0
    _, weights = layer(torch.randn((*batch.items.shape, 4)), batch.mask)
    assert (weights[batch.mask] < 0).all()


def test_positions_past_the_table_reuse_its_last_row():
    layer = MultiInterestExtractor(4, 2, max_positions=3)
    table = layer.position_embedding.weight
    positions = layer.positions(6)
    torch.testing.assert_close(positions[:3], table)
    torch.testing.assert_close(positions[3:], table[2].expand(3, 4))
    hidden = torch.randn(2, 6, 4, requires_grad=True)
    interests, _weights = layer(hidden, torch.ones(2, 6, dtype=torch.bool))
    interests.sum().backward()
    assert torch.isfinite(hidden.grad).all()


def test_single_positional_pattern_shares_one_gate():
    layer = MultiInterestExtractor(5, 4, positional="single")
    assert layer.gate.weight.shape == (5, 5)
    assert MultiInterestExtractor(5, 4).gate.weight.shape == (20, 5)
    # With identical queries, the single-gate heads are identical.
    with torch.no_grad():
        layer.query.copy_(layer.query[:, :1].expand(5, 4))
    interests, _ = layer(torch.randn(2, 3, 5), torch.ones(2, 3, dtype=torch.bool))
    torch.testing.assert_close(interests[:, 1:], interests[:, :1].expand(2, 3, 5))


def test_one_interest_and_other_sizes_run():
    layer = MultiInterestExtractor(32, 1)
    interests, weights = layer(torch.randn(3, 7, 32), torch.ones(3, 7, dtype=torch.bool))
    assert interests.shape == (3, 1, 32) and weights.shape == (3, 7, 1)


def test_reset_repr_and_validation():
    layer = MultiInterestExtractor(16, 3, readout_bias=True)
    assert repr(layer) == (
        "MultiInterestExtractor(16, num_interests=3, max_positions=200, positional='multi', "
        "attention='raw', readout_bias=True)"
    )
    layer.reset_parameters()
    assert all(p.abs().max() <= 0.25 for p in layer.parameters())
    assert MultiInterestExtractor(16, 3).readout_bias is None
    with pytest.raises(ValueError, match="num_interests"):
        MultiInterestExtractor(4, 0)
    with pytest.raises(ValueError, match="attention"):
        MultiInterestExtractor(4, 2, attention="sparsemax")
    with pytest.raises(ValueError, match="positional"):
        MultiInterestExtractor(4, 2, positional="none")
