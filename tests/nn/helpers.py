"""Test helpers: a SessionBatch built with plain Python loops, following the reference loader.

``make_batch`` transcribes ``utils.py`` ``Data.__getitem__`` of the published code (one prefix at
a time, no vectorisation) with one deliberate difference: the node list is the *sorted unique
real items, then 0 padding* (the batch contract), not ``np.unique`` of the padded row (which
puts item 0 first). The model is permutation-equivariant over nodes, so results do not change.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from datamodules.batch import SessionBatch


def make_batch(
    prefixes: Sequence[Sequence[int]],
    targets: Sequence[int] | None = None,
    length: int | None = None,
) -> SessionBatch:
    """Build a batch from chronological prefixes (``[s1, ..., sl]``, item ids >= 1)."""
    if targets is None:
        targets = [0] * len(prefixes)
    width = max(len(p) for p in prefixes) if length is None else length
    items, mask, nodes, node_mask, alias, adjacency = [], [], [], [], [], []
    for prefix in prefixes:
        assert 1 <= len(prefix) <= width and all(i >= 1 for i in prefix)
        reversed_items = list(reversed(prefix)) + [0] * (width - len(prefix))
        unique = sorted(set(prefix))
        node_of = {item: index for index, item in enumerate(unique)}
        adj = [[0] * width for _ in range(width)]
        # The reference walk over the reversed row: u = x[t], v = x[t + 1].
        for t in range(width - 1):
            u = node_of[reversed_items[t]]
            adj[u][u] = 1
            if reversed_items[t + 1] == 0:
                break
            v = node_of[reversed_items[t + 1]]
            if u == v or adj[u][v] == 4:
                continue
            adj[v][v] = 1
            if adj[v][u] == 2:
                adj[u][v] = 4
                adj[v][u] = 4
            else:
                adj[u][v] = 2
                adj[v][u] = 3
        for node in range(len(unique)):  # contract: every real node has its self edge
            if adj[node][node] == 0:
                adj[node][node] = 1
        items.append(reversed_items)
        mask.append([True] * len(prefix) + [False] * (width - len(prefix)))
        nodes.append(unique + [0] * (width - len(unique)))
        node_mask.append([True] * len(unique) + [False] * (width - len(unique)))
        alias.append([node_of[i] if i != 0 else 0 for i in reversed_items])
        adjacency.append(adj)
    return SessionBatch(
        items=torch.tensor(items, dtype=torch.int64),
        mask=torch.tensor(mask, dtype=torch.bool),
        lengths=torch.tensor([len(p) for p in prefixes], dtype=torch.int64),
        nodes=torch.tensor(nodes, dtype=torch.int64),
        node_mask=torch.tensor(node_mask, dtype=torch.bool),
        alias=torch.tensor(alias, dtype=torch.int64),
        adjacency=torch.tensor(adjacency, dtype=torch.int8),
        targets=torch.tensor(list(targets), dtype=torch.int64),
    )
