"""The fixed global neighbour table of GCE-GNN and its ``hop``-level aggregation pyramid.

Shared by every network with the ``"global_graph"`` feature (DMI-GNN, GCE-GNN): the checks of
``set_global_graph`` and the GraphSAGE-style pyramid of the published code, as pure functions
over the network's own embedding, aggregators and buffers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["check_global_graph", "global_pyramid"]


def check_global_graph(
    neighbors: Tensor, weights: Tensor, expected_shape: tuple[int, int], num_items: int
) -> tuple[Tensor, Tensor]:
    """Validate a global neighbour table; return ``(neighbors, weights as float32)``.

    Args:
        neighbors: ``(num_items + 1, num_neighbors)`` integer item ids in ``0..num_items``
            (row ``v`` lists the neighbours of item ``v``; 0 marks an empty slot).
        weights: ``(num_items + 1, num_neighbors)`` co-occurrence weights, finite.
        expected_shape: ``(num_items + 1, num_neighbors)`` of the network's buffers.
        num_items: ``N``.

    Raises:
        ValueError: on a wrong shape or dtype, an id out of range or a non-finite weight.
    """
    neighbors = torch.as_tensor(neighbors)
    weights = torch.as_tensor(weights)
    expected = tuple(expected_shape)
    for name, table in (("neighbors", neighbors), ("weights", weights)):
        if tuple(table.shape) != expected:
            raise ValueError(
                f"set_global_graph: {name} must have shape (num_items + 1, num_neighbors) = "
                f"{expected}, got {tuple(table.shape)}"
            )
    if neighbors.is_floating_point() or neighbors.is_complex() or neighbors.dtype == torch.bool:
        raise ValueError(f"set_global_graph: neighbors must be integer ids, got {neighbors.dtype}")
    low, high = int(neighbors.min()), int(neighbors.max())
    if low < 0 or high > num_items:
        raise ValueError(
            f"set_global_graph: neighbour ids must lie in 0..{num_items}, got {low}..{high}"
        )
    if weights.dtype == torch.bool or weights.is_complex():
        raise ValueError(f"set_global_graph: weights must be real numbers, got {weights.dtype}")
    weights = weights.to(torch.float32)
    if not bool(torch.isfinite(weights).all()):
        raise ValueError("set_global_graph: weights must be finite")
    return neighbors, weights


def global_pyramid(
    embedding: nn.Embedding,
    aggregators: Sequence[nn.Module],
    neighbors: Tensor,
    weights: Tensor,
    nodes: Tensor,
    session: Tensor,
    masked: bool = False,
) -> Tensor:
    r"""The global branch of GCE-GNN for ``M`` node slots per session, ``hop = len(aggregators)``.

    Level 0 holds the nodes, level :math:`t + 1` the :math:`k` table neighbours of every id of
    level :math:`t` (so :math:`k^t` ids per node; neighbours of neighbours come from the same
    table). Iteration :math:`t` applies aggregator :math:`t` to every level that still has a
    level below it (the published code's pyramid); level 0 after ``hop`` iterations is the
    result :math:`\mathbf{h}^g`.

    Args:
        embedding: the item embedding (raw vectors feed every level).
        aggregators: ``hop`` :class:`~dmi_gnn.nn.GlobalAggregator` layers.
        neighbors: the ``(N + 1, k)`` neighbour-id buffer.
        weights: the ``(N + 1, k)`` weight buffer.
        nodes: ``(B, M)`` item ids.
        session: ``(B, d)`` session vector conditioning every aggregator.
        masked: exclude slots holding item 0 (``neighbor_padding="masked"``).

    Shapes:
        - **output:** :math:`(B, M, d)`.
    """
    batch = nodes.shape[0]
    hop = len(aggregators)
    k, dim = neighbors.shape[1], embedding.embedding_dim
    levels = [nodes]
    level_weights = []
    for _ in range(hop):
        ids = levels[-1]
        levels.append(neighbors[ids].view(batch, -1))
        level_weights.append(weights[ids].view(batch, -1, k))
    vectors = [embedding(ids) for ids in levels]
    masks: list[Tensor | None] = [None] * hop
    if masked:
        masks = [(ids != 0).view(batch, -1, k) for ids in levels[1:]]
    for step, aggregator in enumerate(aggregators):
        vectors = [
            aggregator(
                vectors[level],
                vectors[level + 1].view(batch, -1, k, dim),
                level_weights[level],
                session,
                masks[level],
            )
            for level in range(hop - step)
        ]
    return vectors[0]
