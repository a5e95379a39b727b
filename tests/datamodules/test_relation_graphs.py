"""MGIR's relation graphs against a naive dense transcription of their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from datamodules.processed import Sessions
from datamodules.relation_graphs import (
    build_relation_graphs,
    item_frequencies,
    ordered_pair_counts,
)

#: Repeats at a distance ([1, 2, 1, 3]), an immediate repeat ([2, 2, 4]), a single click ([5]).
SESSIONS = [[1, 2, 1, 3], [2, 2, 4], [5], [1, 2, 3, 4, 2], [3, 1, 2], [4, 2, 1], [6, 2, 1, 4]]


def _sequences(sessions, counting, min_prefix_length):
    if counting == "sessions":
        return [list(s) for s in sessions]
    return [list(s[:m]) for s in sessions for m in range(min_prefix_length + 1, len(s) + 1)]


def _naive(sessions, n, min_frequency, cold_ratio, seq_ratio, counting="prefixes", p=1):
    """The published dense pipeline, one loop at a time (ids kept, row/column 0 = padding)."""
    size = n + 1
    w = np.zeros((size, size))
    freq = np.zeros(size)
    for seq in _sequences(sessions, counting, p):
        for a in range(len(seq) - 1):
            freq[seq[a]] += 1
            for b in range(a + 1, len(seq)):
                w[seq[a], seq[b]] += 1
    seq_g, co_g, in_g = np.zeros((size, size)), np.zeros((size, size)), np.zeros((size, size))
    total = w + w.T
    for i in range(size):
        for j in range(size):
            if total[i, j] <= min_frequency:
                continue
            low = min(w[i, j], w[j, i])
            if abs(w[i, j] - w[j, i]) > seq_ratio * low:
                if w[i, j] > w[j, i]:
                    seq_g[i, j] = w[i, j] - w[j, i]
            else:
                co_g[i, j] = low
    g = total * (total > min_frequency)
    np.fill_diagonal(g, 0)
    order = sorted(range(1, size), key=lambda v: (freq[v], v))
    cold = set(order[: math.ceil(n * cold_ratio)]) | {0}
    for a in range(size):
        for b in range(size):
            if a == b or a in cold or b in cold or total[a, b] != 0:
                continue
            common = [c for c in range(size) if g[a, c] > 0 and g[b, c] > 0]
            in_g[a, b] = sum(g[a, c] + g[b, c] for c in common)
    return w, freq, seq_g, co_g, in_g


@pytest.mark.parametrize(
    ("min_frequency", "cold_ratio", "seq_ratio", "counting", "p"),
    [
        (1, 0.0, 1.0, "prefixes", 1),
        (2, 0.3, 1.0, "prefixes", 1),
        (0, 0.2, 0.5, "sessions", 1),
        (1, 0.0, 2.0, "prefixes", 2),
    ],
)
def test_matches_naive_dense_pipeline(min_frequency, cold_ratio, seq_ratio, counting, p):
    n = 7
    w, freq, seq_g, co_g, in_g = _naive(
        SESSIONS, n, min_frequency, cold_ratio, seq_ratio, counting, p
    )
    np.testing.assert_array_equal(ordered_pair_counts(SESSIONS, n, counting, p).toarray(), w)
    np.testing.assert_array_equal(item_frequencies(SESSIONS, n, counting, p), freq)
    graphs = build_relation_graphs(
        SESSIONS,
        n,
        min_frequency=min_frequency,
        cold_ratio=cold_ratio,
        seq_ratio=seq_ratio,
        counting=counting,
        min_prefix_length=p,
    )
    np.testing.assert_array_equal(graphs.sequential.toarray(), seq_g)
    np.testing.assert_array_equal(graphs.cooccurrence.toarray(), co_g)
    np.testing.assert_array_equal(graphs.incompatible.toarray(), in_g)
    assert in_g.sum() > 0 or cold_ratio > 0  # the case exercises the incompatible graph


def test_hand_counted_pairs_with_repeats():
    # [1, 2, 1, 3] as prefix + target samples [1, 2], [1, 2, 1], [1, 2, 1, 3].
    w = ordered_pair_counts([[1, 2, 1, 3]], 3).toarray()
    assert w[1, 2] == 3 and w[2, 1] == 2 and w[1, 1] == 2 and w[1, 3] == 2 and w[2, 3] == 1
    assert w.sum() == 1 + 3 + 6
    once = ordered_pair_counts([[1, 2, 1, 3]], 3, counting="sessions").toarray()
    assert once[1, 2] == 1 and once[1, 1] == 1 and once[1, 3] == 2 and once.sum() == 6


def test_graphs_are_disjoint_padding_free_and_symmetric_where_they_should_be():
    graphs = build_relation_graphs(SESSIONS, 7, min_frequency=1, cold_ratio=0.0)
    seq_g, co_g, in_g = (m.toarray() for m in graphs.as_dict().values())
    for m in (seq_g, co_g, in_g):
        assert not m[0].any() and not m[:, 0].any()
    np.testing.assert_array_equal(co_g, co_g.T)
    np.testing.assert_array_equal(in_g, in_g.T)
    assert not (seq_g * seq_g.T).any()  # directed: never both ways
    assert not ((seq_g > 0) & (co_g > 0)).any()
    assert not (((seq_g + co_g) > 0) & (in_g > 0)).any()
    assert (in_g > 0).any() and (seq_g > 0).any() and (co_g > 0).any()


def test_a_session_outside_the_fit_list_contributes_nothing():
    fit = SESSIONS
    held_out = [[7, 1, 7, 3], [3, 7, 1]]
    base = build_relation_graphs(fit, 7, min_frequency=1, cold_ratio=0.0)
    again = build_relation_graphs(Sessions.from_lists(fit), 7, min_frequency=1, cold_ratio=0.0)
    more = build_relation_graphs(fit + held_out, 7, min_frequency=1, cold_ratio=0.0)
    for name, matrix in base.as_dict().items():
        np.testing.assert_array_equal(matrix.toarray(), again.as_dict()[name].toarray())
        assert not matrix.toarray()[7].any() and not matrix.toarray()[:, 7].any()
    assert (more.cooccurrence.toarray()[7] != 0).any() or (more.sequential.toarray()[7] != 0).any()


def test_to_torch_round_trip():
    graphs = build_relation_graphs(SESSIONS, 7, min_frequency=1, cold_ratio=0.0)
    for name, tensor in graphs.to_torch().items():
        np.testing.assert_array_equal(tensor.to_dense().numpy(), graphs.as_dict()[name].toarray())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_frequency": -1}, "min_frequency"),
        ({"cold_ratio": 1.5}, "cold_ratio"),
        ({"seq_ratio": float("nan")}, "seq_ratio"),
        ({"counting": "clicks"}, "counting"),
        ({"min_prefix_length": 0}, "min_prefix_length"),
    ],
)
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_relation_graphs(SESSIONS, 7, **kwargs)


def test_out_of_range_ids_are_refused():
    with pytest.raises(ValueError, match=r"1\.\.3"):
        build_relation_graphs([[1, 4]], 3)
