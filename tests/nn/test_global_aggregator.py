from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn import GlobalAggregator
from tests.nn import naive


def _inputs(batch=2, nodes=3, k=4, dim=5):
    return (
        torch.randn(batch, nodes, dim),
        torch.randn(batch, nodes, k, dim),
        torch.randint(0, 6, (batch, nodes, k)).float(),
        torch.randn(batch, dim),
    )


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_matches_naive_loop(activation):
    layer = GlobalAggregator(5, activation=activation, leaky_relu_slope=0.1)
    inputs = _inputs()
    torch.testing.assert_close(layer(*inputs), naive.global_layer(layer, *inputs))


def test_masked_matches_naive_loop_and_empty_row_has_no_neighbourhood():
    layer = GlobalAggregator(5)
    inputs = _inputs()
    mask = torch.rand(2, 3, 4) > 0.4
    mask[0, 1] = False  # a node without neighbours
    mask[1, 2] = True
    out = layer(*inputs, neighbor_mask=mask)
    torch.testing.assert_close(out, naive.global_layer(layer, *inputs, neighbor_mask=mask))
    expected = torch.relu(torch.cat([inputs[0][0, 1], torch.zeros(5)]) @ layer.output_weight)
    torch.testing.assert_close(out[0, 1], expected)


def test_gradients_match_naive_loop():
    layer = GlobalAggregator(4)
    inputs = [t.requires_grad_() for t in _inputs(dim=4)]
    layer(*inputs).sum().backward()
    ours = [p.grad.clone() for p in layer.parameters()] + [t.grad.clone() for t in inputs]
    layer.zero_grad()
    for t in inputs:
        t.grad = None
    naive.global_layer(layer, *inputs).sum().backward()
    theirs = [p.grad for p in layer.parameters()] + [t.grad for t in inputs]
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_full_dropout_zeroes_in_training_only():
    layer = GlobalAggregator(5, dropout=1.0)
    inputs = _inputs()
    assert torch.equal(layer.train()(*inputs), torch.zeros(2, 3, 5))
    layer.eval()
    torch.testing.assert_close(layer(*inputs), naive.global_layer(layer, *inputs))


def test_reset_repr_and_validation():
    layer = GlobalAggregator(9, dropout=0.2, activation="tanh")
    assert repr(layer) == (
        "GlobalAggregator(9, dropout=0.2, activation='tanh', leaky_relu_slope=0.2)"
    )
    assert layer.attention_weight.shape == (10, 9)
    assert layer.attention_vector.shape == (9,)
    assert layer.output_weight.shape == (18, 9)
    layer.reset_parameters()
    assert all(p.abs().max() <= 1 / 3 for p in layer.parameters())
    with pytest.raises(ValueError, match="activation"):
        GlobalAggregator(4, activation="gelu")
    with pytest.raises(ValueError, match="dropout"):
        GlobalAggregator(4, dropout=1.5)
