"""The global item graph (GCE-GNN / DMI-GNN ``build_graph.py``), built vectorised.

Construction (:func:`build_global_graph`), exactly as the reference code computes it:

1. Enumerate pairs session by session (in the given order), then distance ``k = 1..window``,
   then position ``j``: the forward pair ``(s[j], s[j+k])`` and then the backward pair
   ``(s[j+k], s[j])``. Each occurrence counts once, so a pair at distance 1 and 3 counts twice,
   and an item repeated within ``window`` clicks is its own neighbour (the self-pair counts in
   both directions, i.e. twice per occurrence).
2. For each item, sort its neighbours by count, descending; among equal counts, by the position
   of the pair's first appearance in the enumeration (the reference's stable sort over
   insertion-ordered dicts). Keep the first ``top_k``.

Ties decide membership, not just order (on Tmall 25,199 items tie across the 12th place), so this
reproduces the reference tables ``adj_12.pkl``/``num_12.pkl`` exactly, order included.

Build it from the fit sessions only: never from validation or test sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datamodules.processed import Sessions


@dataclass
class GlobalGraph:
    """Each item's strongest co-occurrence neighbours, as dense 0-padded tables.

    Row ``v`` describes item ``v``; row 0 (padding) is empty. Slots ``degree[v]`` and beyond are
    padding (neighbour 0, weight 0).

    Shapes:
        neighbors: ``(N + 1, top_k)`` int64, neighbour item ids.
        weights: ``(N + 1, top_k)`` int64, raw co-occurrence counts.
        degree: ``(N + 1,)`` int64, number of real slots of each row.
    """

    neighbors: np.ndarray
    weights: np.ndarray
    degree: np.ndarray

    @property
    def num_items(self) -> int:
        """``N``: the table has ``N + 1`` rows."""
        return self.neighbors.shape[0] - 1

    @property
    def top_k(self) -> int:
        """Slots per item."""
        return self.neighbors.shape[1]

    def arrays(self) -> dict[str, np.ndarray]:
        """The three arrays by name (for caching)."""
        return {"neighbors": self.neighbors, "weights": self.weights, "degree": self.degree}


def _enumerate_pairs(sessions: Sessions, window: int) -> tuple[np.ndarray, np.ndarray]:
    """All directed pairs ``(source, neighbour)`` in the reference enumeration order.

    Returns:
        sources, neighbours: ``(P,)`` int64 each, in enumeration order.
    """
    items, lengths = sessions.items, sessions.lengths
    session_of_click = np.repeat(np.arange(len(sessions)), lengths)
    position = np.arange(len(items)) - sessions.offsets[:-1][session_of_click]
    # Pairs per session and distance: 2 * max(length - k, 0). The enumeration index of a pair is
    # (pairs of earlier sessions) + (pairs of smaller k in this session) + 2 * j + direction.
    per_distance = [2 * np.maximum(lengths - k, 0) for k in range(1, window + 1)]
    per_session = np.sum(per_distance, axis=0) if per_distance else np.zeros_like(lengths)
    session_base = np.cumsum(per_session) - per_session
    total = int(per_session.sum())
    sources = np.empty(total, dtype=np.int64)
    neighbours = np.empty(total, dtype=np.int64)
    distance_base = session_base.copy()
    for k, pairs_at_k in enumerate(per_distance, start=1):
        first = np.flatnonzero(position + k < lengths[session_of_click])
        index = distance_base[session_of_click[first]] + 2 * position[first]
        left, right = items[first], items[first + k]
        sources[index], neighbours[index] = left, right
        sources[index + 1], neighbours[index + 1] = right, left
        distance_base += pairs_at_k
    return sources, neighbours


def build_global_graph(
    sessions: Sessions, num_items: int, window: int = 3, top_k: int = 12
) -> GlobalGraph:
    """Build the global co-occurrence graph of ``sessions`` (see the module docstring).

    Args:
        sessions: the fit sessions, chronological, ids ``1..num_items``.
        num_items: ``N``.
        window: the largest distance ``k`` of a pair (the reference's 3).
        top_k: neighbours kept per item (the reference's ``sample_num = 12``).

    Returns:
        The graph; ``neighbors``/``weights`` rows sorted by count, ties by first appearance.
    """
    if window < 1 or top_k < 1:
        raise ValueError(f"window and top_k must be >= 1, got {window} and {top_k}")
    sources, neighbours = _enumerate_pairs(sessions, window)
    rows = num_items + 1
    pair_code = sources * rows + neighbours
    # Stable sort by pair: equal pairs stay in enumeration order, so each group's first element
    # is the pair's first appearance.
    order = np.argsort(pair_code, kind="stable")
    sorted_codes = pair_code[order]
    group_start = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    counts = np.diff(np.r_[group_start, len(sorted_codes)])
    first_seen = order[group_start]
    pair_source = sorted_codes[group_start] // rows
    pair_neighbour = sorted_codes[group_start] % rows
    # Per source: count descending, then first appearance ascending.
    ranked = np.lexsort((first_seen, -counts, pair_source))
    pair_source, pair_neighbour, counts = (
        pair_source[ranked],
        pair_neighbour[ranked],
        counts[ranked],
    )
    source_start = np.flatnonzero(np.r_[True, pair_source[1:] != pair_source[:-1]])
    distinct = np.diff(np.r_[source_start, len(pair_source)])
    slot = np.arange(len(pair_source)) - np.repeat(source_start, distinct)
    keep = slot < top_k
    neighbors = np.zeros((rows, top_k), dtype=np.int64)
    weights = np.zeros((rows, top_k), dtype=np.int64)
    neighbors[pair_source[keep], slot[keep]] = pair_neighbour[keep]
    weights[pair_source[keep], slot[keep]] = counts[keep]
    degree = np.zeros(rows, dtype=np.int64)
    if len(source_start):
        degree[pair_source[source_start]] = np.minimum(distinct, top_k)
    return GlobalGraph(neighbors=neighbors, weights=weights, degree=degree)


def fill_neighbors_with_replacement(graph: GlobalGraph, seed: int) -> GlobalGraph:
    """The reference's ``handle_adj``: give every item with a neighbour all ``top_k`` slots.

    Items with ``0 < degree < top_k`` get ``top_k`` slots drawn uniformly **with replacement**
    from their real neighbours (so duplicates appear and some neighbours may be lost, as in the
    published code); items with ``degree >= top_k`` keep their row; items with degree 0 (and
    item 0) stay all-zero. The draw uses ``numpy.random.default_rng(seed)``, so it is
    reproducible but not the reference's exact ``np.random.choice`` stream.

    Args:
        graph: a graph from :func:`build_global_graph`.
        seed: seed of the numpy Generator.

    Returns:
        A new graph; ``degree`` becomes ``top_k`` for every filled item (all slots are real).
    """
    rng = np.random.default_rng(seed)
    top_k = graph.top_k
    partial = np.flatnonzero((graph.degree > 0) & (graph.degree < top_k))
    neighbors, weights = graph.neighbors.copy(), graph.weights.copy()
    picks = rng.integers(0, graph.degree[partial, None], size=(len(partial), top_k))
    neighbors[partial] = np.take_along_axis(graph.neighbors[partial], picks, axis=1)
    weights[partial] = np.take_along_axis(graph.weights[partial], picks, axis=1)
    degree = np.where(graph.degree > 0, top_k, 0).astype(np.int64)
    return GlobalGraph(neighbors=neighbors, weights=weights, degree=degree)
