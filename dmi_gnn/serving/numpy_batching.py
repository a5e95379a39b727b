"""The model's batch built in numpy: :func:`datamodules.batching.collate_sessions` without torch.

The exported encoder reads the same arrays as the network reads from a
:class:`~datamodules.batch.SessionBatch`: reversed, 0-padded prefixes, their mask and lengths,
and the session graph over the unique items of each prefix (``nodes`` sorted ascending, then 0;
``alias`` the node of each position; ``adjacency`` the GCE-GNN edge codes 0 none, 1 self, 2 in,
3 out, 4 in-out; see :mod:`datamodules.batch`). Vectorised over the batch: no Python loop per
session or position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EDGE_SELF, EDGE_IN, EDGE_OUT, EDGE_IN_OUT = 1, 2, 3, 4
_PADDING_KEY = np.iinfo(np.int64).max

#: The fields of a batch, in :class:`~datamodules.batch.SessionBatch` order (targets aside).
BATCH_FIELDS = ("items", "mask", "lengths", "nodes", "node_mask", "alias", "adjacency")


def reversed_prefixes(
    sessions: Sequence[Sequence[int]], max_len: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sessions (oldest first) as reversed, 0-padded rows, cut to their ``max_len`` most recent.

    Shapes:
        items: ``(B, L)`` int64; mask: ``(B, L)`` bool, ``L`` the longest kept session.
    """
    lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=len(sessions))
    flat = np.fromiter((i for s in sessions for i in s), dtype=np.int64, count=int(lengths.sum()))
    kept = lengths if max_len is None else np.minimum(lengths, max_len)
    width = int(kept.max()) if len(kept) else 0
    ends = np.cumsum(lengths) - 1
    position = np.arange(width)
    mask = position < kept[:, None]
    index = np.where(mask, ends[:, None] - position, 0)
    items = np.where(mask, flat[index] if len(flat) else 0, 0)
    return items.astype(np.int64), mask


def session_graph(items: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """``nodes``, ``node_mask``, ``alias`` and ``adjacency`` of each row (see module docstring).

    Shapes:
        items, mask: ``(B, L)``; nodes, alias: ``(B, L)`` int64; node_mask: ``(B, L)`` bool;
        adjacency: ``(B, L, L)`` int8.
    """
    batch, width = items.shape
    keys = np.where(mask, items, _PADDING_KEY)
    order = np.argsort(keys, axis=1, kind="stable")
    sorted_keys = np.take_along_axis(keys, order, axis=1)
    is_new = np.ones_like(mask)
    is_new[:, 1:] = sorted_keys[:, 1:] != sorted_keys[:, :-1]
    is_new &= sorted_keys != _PADDING_KEY
    node_of_sorted = np.cumsum(is_new, axis=1) - 1
    alias = np.empty_like(items)
    np.put_along_axis(alias, order, node_of_sorted, axis=1)
    alias[~mask] = 0
    rows, columns = np.nonzero(is_new)
    nodes = np.zeros_like(items)
    nodes[rows, node_of_sorted[rows, columns]] = sorted_keys[rows, columns]
    node_mask = np.arange(width) < is_new.sum(axis=1, keepdims=True)

    later, earlier = alias[:, :-1], alias[:, 1:]  # position t is more recent than t + 1
    edge = mask[:, 1:] & (later != earlier)
    row_index = np.broadcast_to(np.arange(batch)[:, None], later.shape)
    has_predecessor = np.zeros((batch, width, width), dtype=bool)
    has_predecessor[row_index[edge], later[edge], earlier[edge]] = True
    has_successor = has_predecessor.transpose(0, 2, 1)
    adjacency = np.zeros((batch, width, width), dtype=np.int8)
    adjacency[has_predecessor] = EDGE_IN
    adjacency[has_successor] = EDGE_OUT
    adjacency[has_predecessor & has_successor] = EDGE_IN_OUT
    diagonal = np.arange(width)
    adjacency[:, diagonal, diagonal] = node_mask.astype(np.int8) * EDGE_SELF
    return {"nodes": nodes, "node_mask": node_mask, "alias": alias, "adjacency": adjacency}


def collate(sessions: Sequence[Sequence[int]], max_len: int | None = None) -> dict[str, np.ndarray]:
    """The batch of ``sessions`` (model ids ``1..N``, oldest first) as numpy arrays by field name.

    Raises:
        ValueError: no session, an empty session or an id below 1.
    """
    if len(sessions) == 0:
        raise ValueError("collate needs at least one session")
    empty = next((i for i, s in enumerate(sessions) if len(s) == 0), None)
    if empty is not None:
        raise ValueError(f"session {empty} is empty")
    items, mask = reversed_prefixes(sessions, max_len)
    if (items[mask] < 1).any():
        raise ValueError("item ids are >= 1")
    return {"items": items, "mask": mask, "lengths": mask.sum(axis=1), **session_graph(items, mask)}


def sub_batch_bounds(lengths: Sequence[int], max_cells: int) -> list[tuple[int, int]]:
    """Consecutive row ranges whose ``rows x L x L`` session-graph cells fit ``max_cells``.

    The same greedy rule as :func:`datamodules.batching.sub_batch_bounds`.
    """
    sizes = list(lengths)
    if not sizes:
        return []
    if len(sizes) * max(sizes) ** 2 <= max_cells:
        return [(0, len(sizes))]
    bounds, start, longest = [], 0, 0
    for row, size in enumerate(sizes):
        wider = max(longest, size)
        if row > start and (row + 1 - start) * wider * wider > max_cells:
            bounds.append((start, row))
            start, wider = row, size
        longest = wider
    bounds.append((start, len(sizes)))
    return bounds
