"""SR-GNN's session graph: unique items and degree-normalised in/out adjacency, vectorised."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["NormalizedSessionGraph", "normalized_session_graph"]


class NormalizedSessionGraph(NamedTuple):
    """What :func:`normalized_session_graph` returns.

    Shapes:
        nodes: ``(B, L)`` int64, unique items of each prefix, sorted by id, 0-padded.
        node_mask: ``(B, L)`` bool, True where ``nodes`` holds a real item.
        alias: ``(B, L)`` int64, ``nodes[b, alias[b, t]] == items[b, t]`` at real positions,
            0 at padding.
        in_adjacency: ``(B, L, L)`` float, ``A_in[i, j] = [j -> i] / indeg(i)``.
        out_adjacency: ``(B, L, L)`` float, ``A_out[i, j] = [i -> j] / outdeg(i)``.
    """

    nodes: Tensor
    node_mask: Tensor
    alias: Tensor
    in_adjacency: Tensor
    out_adjacency: Tensor


def normalized_session_graph(
    items: Tensor, mask: Tensor, dtype: torch.dtype = torch.float32
) -> NormalizedSessionGraph:
    r"""The session graph of SR-GNN (Wu et al., AAAI 2019, §3.2) for a batch of prefixes.

    A prefix :math:`[v_{s,1}, \ldots, v_{s,l}]` (chronological) gives a directed graph over its
    unique items with an edge :math:`v_{s,t} \to v_{s,t+1}` per consecutive pair (an immediate
    repeat is a self-loop). As in the published code, an edge counts once however often it
    occurs, and the two normalised matrices are

    .. math::
        A^{in}_{ij} = \frac{[v_j \to v_i]}{\max(1, \deg^{in}(v_i))}, \qquad
        A^{out}_{ij} = \frac{[v_i \to v_j]}{\max(1, \deg^{out}(v_i))},

    the :math:`\mathbf{A}_s = [\mathbf{A}^{in}_s ; \mathbf{A}^{out}_s]` of the paper (its rows
    read by node :math:`i`). Built in torch for the whole batch at once (no per-session loop),
    so a datamodule can precompute it as well.

    Args:
        items: ``(B, L)`` int64 **reversed** prefixes (position 0 = most recent), 0-padded.
        mask: ``(B, L)`` bool, True at real positions (a prefix of each row).
        dtype: floating dtype of the adjacency matrices.

    Returns:
        A :class:`NormalizedSessionGraph`.

    Raises:
        ValueError: on mismatched shapes or an empty prefix.
    """
    if items.dim() != 2 or tuple(mask.shape) != tuple(items.shape):
        raise ValueError(
            "normalized_session_graph: items and mask must both be (B, L), got "
            f"{tuple(items.shape)} and {tuple(mask.shape)}"
        )
    mask = mask.to(torch.bool)
    if items.shape[0] and not bool(mask[:, 0].all()):
        raise ValueError("normalized_session_graph: every prefix needs at least one item")
    batch, length = items.shape
    # Sort each row with padding last, mark the first occurrence of every item: its rank
    # among the first occurrences is the node index.
    key = items.masked_fill(~mask, torch.iinfo(items.dtype).max)
    sorted_items, order = key.sort(dim=1)
    sorted_real = mask.gather(1, order)
    first = torch.ones_like(sorted_real)
    first[:, 1:] = sorted_items[:, 1:] != sorted_items[:, :-1]
    first &= sorted_real
    rank = first.long().cumsum(1) - 1
    alias = torch.zeros_like(items).scatter_(1, order, rank).masked_fill_(~mask, 0)
    slots = torch.where(first, rank, torch.full_like(rank, length))
    nodes = torch.zeros(batch, length + 1, dtype=items.dtype, device=items.device)
    nodes.scatter_(1, slots, torch.where(first, sorted_items, torch.zeros_like(sorted_items)))
    nodes = nodes[:, :length]
    node_mask = torch.arange(length, device=items.device) < first.sum(1, keepdim=True)

    # Reversed order: position t + 1 is clicked right before position t.
    edges = torch.zeros(batch, length, length, dtype=dtype, device=items.device)
    if length > 1:
        valid = mask[:, 1:]
        rows = torch.arange(batch, device=items.device).unsqueeze(1).expand(-1, length - 1)
        source, target = alias[:, 1:], alias[:, :-1]
        edges[rows[valid], source[valid], target[valid]] = 1.0
    in_degree = edges.sum(1).clamp_min(1.0)  # column sums: edges into each node
    out_degree = edges.sum(2).clamp_min(1.0)
    in_adjacency = edges.transpose(1, 2) / in_degree.unsqueeze(-1)
    out_adjacency = edges / out_degree.unsqueeze(-1)
    return NormalizedSessionGraph(nodes, node_mask, alias, in_adjacency, out_adjacency)
