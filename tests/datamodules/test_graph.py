"""The global graph: golden reference tables, a hand-built case, and the reference resampling."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest

from datamodules.graph import GlobalGraph, build_global_graph, fill_neighbors_with_replacement
from datamodules.pickles import read_train_sessions
from datamodules.processed import Sessions


def _reference_build(sessions, num_items, window, top_k):
    """``build_graph.py`` transcribed: insertion-ordered counts, stable sort by count."""
    counts = [{} for _ in range(num_items + 1)]
    for s in sessions:
        for k in range(1, window + 1):
            for j in range(len(s) - k):
                for a, b in ((s[j], s[j + k]), (s[j + k], s[j])):
                    counts[a][b] = counts[a].get(b, 0) + 1
    ranked = [sorted(c.items(), reverse=True, key=lambda x: x[1])[:top_k] for c in counts]
    return [[v for v, _ in r] for r in ranked], [[w for _, w in r] for r in ranked]


def _rows(graph: GlobalGraph):
    neighbors = [graph.neighbors[v, : graph.degree[v]].tolist() for v in range(len(graph.degree))]
    weights = [graph.weights[v, : graph.degree[v]].tolist() for v in range(len(graph.degree))]
    return neighbors, weights


def test_hand_built_session():
    graph = build_global_graph(Sessions.from_lists([[1, 2, 1, 3]]), num_items=4, top_k=3)
    # Enumeration: k=1: (1,2) (2,1) (2,1) (1,2) (1,3) (3,1); k=2: (1,1) (1,1) (2,3) (3,2);
    # k=3: (1,3) (3,1). Item 1 sees 2, 3 and itself twice each: ties keep first appearance.
    assert graph.neighbors[1].tolist() == [2, 3, 1]
    assert graph.weights[1].tolist() == [2, 2, 2]
    assert graph.neighbors[2].tolist() == [1, 3, 0]
    assert graph.weights[2].tolist() == [2, 1, 0]
    assert graph.neighbors[3].tolist() == [1, 2, 0]
    assert graph.degree.tolist() == [0, 3, 2, 2, 0]
    assert graph.neighbors[0].tolist() == [0, 0, 0] and graph.neighbors[4].tolist() == [0, 0, 0]


@pytest.mark.parametrize(("window", "top_k"), [(3, 12), (1, 4), (5, 2)])
def test_matches_a_transcription_of_the_reference_on_random_sessions(window, top_k):
    rng = np.random.default_rng(window)
    sessions = [rng.integers(1, 30, size=n).tolist() for n in rng.integers(1, 15, size=300)]
    graph = build_global_graph(Sessions.from_lists(sessions), 30, window=window, top_k=top_k)
    assert _rows(graph) == _reference_build(sessions, 30, window, top_k)
    assert graph.neighbors.shape == graph.weights.shape == (31, top_k)


@pytest.mark.parametrize(
    ("folder", "num_items"),
    [
        ("tmall-gcegnn", 40_727),
        pytest.param("diginetica-gcegnn", 43_097, marks=pytest.mark.slow),  # > 3 s
    ],
)
def test_golden_reference_tables(shared_data, folder, num_items):
    root = shared_data(folder)
    graph = build_global_graph(
        read_train_sessions(root / "all_train_seq.txt", num_items), num_items
    )
    with open(root / "reference-global-graph" / "adj_12.pkl", "rb") as handle:
        golden_neighbors = pickle.load(handle)
    with open(root / "reference-global-graph" / "num_12.pkl", "rb") as handle:
        golden_weights = pickle.load(handle)
    neighbors, weights = _rows(graph)
    assert len(neighbors) == len(golden_neighbors) == num_items + 1
    assert neighbors == golden_neighbors  # same sets and the same order (tie rule)
    assert weights == golden_weights


def test_fill_with_replacement_like_handle_adj():
    neighbors = np.array([[0, 0, 0], [2, 3, 0], [1, 2, 3], [1, 0, 0], [0, 0, 0]])
    weights = np.array([[0, 0, 0], [5, 4, 0], [3, 2, 1], [7, 0, 0], [0, 0, 0]])
    graph = GlobalGraph(neighbors, weights, degree=np.array([0, 2, 3, 1, 0]))
    filled = fill_neighbors_with_replacement(graph, seed=0)
    assert filled.degree.tolist() == [0, 3, 3, 3, 0]
    np.testing.assert_array_equal(filled.neighbors[[0, 2, 4]], neighbors[[0, 2, 4]])
    assert filled.neighbors[3].tolist() == [1, 1, 1] and filled.weights[3].tolist() == [7, 7, 7]
    pairs = set(zip(filled.neighbors[1].tolist(), filled.weights[1].tolist(), strict=True))
    assert pairs <= {(2, 5), (3, 4)}  # weights travel with their neighbour
    again = fill_neighbors_with_replacement(graph, seed=0)
    np.testing.assert_array_equal(again.neighbors, filled.neighbors)
    np.testing.assert_array_equal(graph.neighbors, neighbors)  # input untouched


def test_fill_draws_uniformly_with_replacement():
    top_k = 12
    neighbors = np.zeros((401, top_k), dtype=np.int64)
    neighbors[1:, :3] = [10, 20, 30]
    graph = GlobalGraph(neighbors, neighbors.copy(), degree=np.r_[0, np.full(400, 3)])
    filled = fill_neighbors_with_replacement(graph, seed=1)
    counts = Counter(filled.neighbors[1:].ravel().tolist())
    assert set(counts) == {10, 20, 30}
    for value in counts.values():
        assert abs(value / (400 * top_k) - 1 / 3) < 0.03
    other = fill_neighbors_with_replacement(graph, seed=2)
    assert not np.array_equal(other.neighbors, filled.neighbors)
