from __future__ import annotations

import random

import pytest
import torch

from dmi_gnn.nn import normalized_session_graph
from tests.nn import naive_baselines as naive
from tests.nn.helpers import make_batch

# Repeats at a distance, an immediate repeat, one click, a transition seen twice (1 -> 8).
PREFIXES = [[7, 3, 5, 3], [2, 2, 4], [6], [1, 8, 1, 8, 9]]


def _check(prefixes, length=None):
    batch = make_batch(prefixes, length=length)
    graph = normalized_session_graph(batch.items, batch.mask)
    width = batch.items.shape[1]
    for b, prefix in enumerate(prefixes):
        nodes, a_in, a_out = naive.srgnn_graph(prefix)
        n = len(nodes)
        assert graph.nodes[b].tolist() == nodes + [0] * (width - n)
        assert graph.node_mask[b].tolist() == [True] * n + [False] * (width - n)
        reversed_prefix = prefix[::-1]
        for t in range(width):
            expected = nodes.index(reversed_prefix[t]) if t < len(prefix) else 0
            assert int(graph.alias[b, t]) == expected
        expected_in = torch.zeros(width, width)
        expected_out = torch.zeros(width, width)
        expected_in[:n, :n] = torch.tensor(a_in)
        expected_out[:n, :n] = torch.tensor(a_out)
        torch.testing.assert_close(graph.in_adjacency[b], expected_in)
        torch.testing.assert_close(graph.out_adjacency[b], expected_out)


def test_matches_naive_loop_on_hand_built_sessions():
    _check(PREFIXES)


def test_extra_padding_changes_nothing_but_the_width():
    _check(PREFIXES, length=8)


def test_hand_computed_values():
    # [1, 8, 1, 8, 9]: edges 1->8, 8->1, 8->9 (1->8 counted once); nodes [1, 8, 9].
    batch = make_batch([[1, 8, 1, 8, 9], [2, 2, 4]])
    graph = normalized_session_graph(batch.items, batch.mask)
    torch.testing.assert_close(
        graph.out_adjacency[0, :3, :3], torch.tensor([[0, 1, 0], [0.5, 0, 0.5], [0, 0, 0]])
    )
    torch.testing.assert_close(
        graph.in_adjacency[0, :3, :3], torch.tensor([[0.0, 1, 0], [1, 0, 0], [0, 1, 0]])
    )
    # [2, 2, 4]: the immediate repeat is a self-loop, then 2 -> 4.
    torch.testing.assert_close(
        graph.out_adjacency[1, :2, :2], torch.tensor([[0.5, 0.5], [0.0, 0.0]])
    )
    torch.testing.assert_close(graph.in_adjacency[1, :2, :2], torch.tensor([[1.0, 0], [1, 0]]))


def test_random_sessions_match_naive_loop():
    generator = random.Random(3)
    prefixes = [
        [generator.randint(1, 6) for _ in range(generator.randint(1, 9))] for _ in range(25)
    ]
    _check(prefixes)


def test_dtype_and_errors():
    batch = make_batch(PREFIXES)
    graph = normalized_session_graph(batch.items, batch.mask, dtype=torch.float64)
    assert graph.in_adjacency.dtype == torch.float64
    with pytest.raises(ValueError, match="items and mask"):
        normalized_session_graph(batch.items, batch.mask[:, :2])
    empty = batch.mask.clone()
    empty[2] = False
    with pytest.raises(ValueError, match="at least one item"):
        normalized_session_graph(batch.items, empty)
