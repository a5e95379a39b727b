from __future__ import annotations

import math

import pytest
import torch

from dmi_gnn.nn import LocalAggregator
from tests.nn import naive


def test_matches_naive_loop(batch):
    layer = LocalAggregator(6)
    hidden = torch.randn((*batch.nodes.shape, 6))
    out = layer(hidden, batch.adjacency)
    assert out.shape == hidden.shape
    torch.testing.assert_close(out, naive.local(layer, hidden, batch.adjacency))


def test_gradients_match_naive_loop(batch):
    layer = LocalAggregator(5, leaky_relu_slope=0.1)
    hidden = torch.randn((*batch.nodes.shape, 5), requires_grad=True)
    layer(hidden, batch.adjacency).square().sum().backward()
    ours = (hidden.grad.clone(), layer.edge_attention.grad.clone())
    hidden.grad = None
    layer.edge_attention.grad = None
    naive.local(layer, hidden, batch.adjacency).square().sum().backward()
    torch.testing.assert_close(ours[0], hidden.grad)
    torch.testing.assert_close(ours[1], layer.edge_attention.grad)


def test_node_with_only_its_self_edge_returns_itself(batch):
    # Session [6] (row 2): one node with a self edge only.
    layer = LocalAggregator(4)
    hidden = torch.randn((*batch.nodes.shape, 4))
    out = layer(hidden, batch.adjacency)
    torch.testing.assert_close(out[2, 0], hidden[2, 0])


def test_padding_rows_are_uniform_and_finite():
    layer = LocalAggregator(3)
    hidden = torch.randn(1, 4, 3)
    adjacency = torch.zeros(1, 4, 4, dtype=torch.int8)
    adjacency[0, 0, 0] = 1
    out = layer(hidden, adjacency)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[0, 3], hidden[0].mean(0))


def test_edge_types_select_their_vector():
    layer = LocalAggregator(2, leaky_relu_slope=0.2)
    with torch.no_grad():
        layer.edge_attention.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, -3.0]]))
    hidden = torch.tensor([[[1.0, 1.0], [2.0, 1.0]]])
    for edge_type, expected_logit in ((2, 1.0), (3, 4.0), (4, -0.6)):
        adjacency = torch.tensor([[[1, edge_type], [0, 1]]], dtype=torch.int8)
        out = layer(hidden, adjacency)
        # Node 0: self logit = a_self . (h0 * h0) = 1; neighbour logit = a_r . (h0 * h1).
        weight = 1.0 / (1.0 + math.exp(1.0 - expected_logit))
        expected = (1 - weight) * hidden[0, 0] + weight * hidden[0, 1]
        torch.testing.assert_close(out[0, 0], expected)


def test_reset_repr_and_validation():
    layer = LocalAggregator(16, leaky_relu_slope=0.3)
    assert repr(layer) == "LocalAggregator(16, leaky_relu_slope=0.3)"
    assert layer.edge_attention.shape == (4, 16)
    assert layer.edge_attention.abs().max() <= 0.25
    layer.reset_parameters()
    assert layer.edge_attention.abs().max() <= 0.25
    with pytest.raises(ValueError, match="dim"):
        LocalAggregator(0)
