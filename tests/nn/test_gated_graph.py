from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn import GatedGraphLayer, normalized_session_graph
from tests.nn import naive_baselines as naive


@pytest.mark.parametrize("steps", [1, 2])
def test_matches_naive_loop(batch, steps):
    layer = GatedGraphLayer(5, steps=steps)
    graph = normalized_session_graph(batch.items, batch.mask)
    hidden = torch.randn(*graph.nodes.shape, 5)
    out = layer(hidden, graph.in_adjacency, graph.out_adjacency)
    assert out.shape == hidden.shape
    for b in range(hidden.shape[0]):
        expected = naive.gated_graph(
            layer, hidden[b], graph.in_adjacency[b], graph.out_adjacency[b]
        )
        torch.testing.assert_close(out[b], expected)


def test_gradients_match_naive_loop(batch):
    layer = GatedGraphLayer(4)
    graph = normalized_session_graph(batch.items, batch.mask)
    hidden = torch.randn(*graph.nodes.shape, 4, requires_grad=True)
    layer(hidden, graph.in_adjacency, graph.out_adjacency).square().sum().backward()
    ours = (hidden.grad.clone(), layer.edge_in.weight.grad.clone(), layer.cell.weight_ih.grad)
    layer.zero_grad()
    hidden.grad = None
    loss = sum(
        naive.gated_graph(layer, hidden[b], graph.in_adjacency[b], graph.out_adjacency[b])
        .square()
        .sum()
        for b in range(hidden.shape[0])
    )
    loss.backward()
    torch.testing.assert_close(ours[0], hidden.grad)
    torch.testing.assert_close(ours[1], layer.edge_in.weight.grad)
    torch.testing.assert_close(ours[2], layer.cell.weight_ih.grad)


def test_reset_repr_and_validation():
    layer = GatedGraphLayer(16, steps=2)
    assert repr(layer) == "GatedGraphLayer(16, steps=2)"
    assert all(p.abs().max() <= 0.25 for p in layer.parameters())
    with pytest.raises(ValueError, match="dim"):
        GatedGraphLayer(0)
    with pytest.raises(ValueError, match="steps"):
        GatedGraphLayer(4, steps=0)
