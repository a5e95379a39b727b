"""Building :class:`~datamodules.batch.SessionBatch` for a whole batch with tensor ops.

Everything here is pure torch on whatever device the inputs live on (CPU in the loader, or the
GPU when the flat arrays are kept there): no Python loop over samples or positions.

The session graph follows the reference ``utils.py`` (``Data.__getitem__``) and the edge codes of
:mod:`datamodules.batch`. Walking consecutive clicks ``a -> b`` (``a`` earlier, ``a != b``):
``b``'s row gets ``a`` as a predecessor and ``a``'s row gets ``b`` as a successor. Which pairs
exist does not depend on the walk order, so the codes are ``2`` (predecessor only), ``3``
(successor only) or ``4`` (both), plus ``1`` on the diagonal of every real node.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from datamodules.batch import EDGE_IN, EDGE_IN_OUT, EDGE_OUT, EDGE_SELF, SessionBatch

_PADDING_KEY = torch.iinfo(torch.int64).max


def gather_reversed_prefixes(
    flat: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor, max_len: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut prefixes out of ``flat``, reversed (most recent first) and 0-padded.

    Args:
        flat: clicks the prefixes point into.
        starts: start of each prefix in ``flat``.
        lengths: prefix lengths (>= 1).
        max_len: keep only the ``max_len`` most recent clicks of longer prefixes.

    Returns:
        ``items`` and ``mask``, padded to the longest (cut) prefix of this batch.

    Shapes:
        flat: ``(T,)`` int64; starts, lengths: ``(B,)`` int64.
        items: ``(B, L)`` int64; mask: ``(B, L)`` bool.
    """
    kept = lengths if max_len is None else lengths.clamp(max=max_len)
    width = int(kept.max()) if kept.numel() else 0
    position = torch.arange(width, device=flat.device)
    mask = position < kept[:, None]
    index = (starts + lengths - 1)[:, None] - position
    items = flat[torch.where(mask, index, 0)]
    return items.masked_fill(~mask, 0), mask


def session_graph(
    items: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-session graphs over the unique items of each prefix.

    Args:
        items: reversed, 0-padded prefixes.
        mask: True at real positions (a prefix of each row).

    Returns:
        ``nodes`` (unique items sorted ascending, then 0), ``node_mask``, ``alias`` (node index of
        each position, 0 at padding) and ``adjacency`` (edge codes of :mod:`datamodules.batch`).

    Shapes:
        items, mask: ``(B, L)``.
        nodes: ``(B, L)`` int64; node_mask: ``(B, L)`` bool; alias: ``(B, L)`` int64;
        adjacency: ``(B, L, L)`` int8.
    """
    batch, width = items.shape
    device = items.device
    keys = items.masked_fill(~mask, _PADDING_KEY)
    sorted_keys, order = keys.sort(dim=1)
    is_new = torch.ones_like(mask)
    is_new[:, 1:] = sorted_keys[:, 1:] != sorted_keys[:, :-1]
    is_new &= sorted_keys != _PADDING_KEY
    node_of_sorted = is_new.cumsum(dim=1) - 1
    alias = torch.empty_like(items).scatter_(1, order, node_of_sorted).masked_fill(~mask, 0)
    rows = torch.arange(batch, device=device)[:, None].expand(batch, width)
    nodes = torch.zeros_like(items)
    nodes[rows[is_new], node_of_sorted[is_new]] = sorted_keys[is_new]
    node_mask = torch.arange(width, device=device) < is_new.sum(dim=1, keepdim=True)

    later, earlier = alias[:, :-1], alias[:, 1:]
    edge = mask[:, 1:] & (later != earlier)
    has_predecessor = torch.zeros(batch, width, width, dtype=torch.bool, device=device)
    has_predecessor[rows[:, 1:][edge], later[edge], earlier[edge]] = True
    has_successor = has_predecessor.transpose(1, 2)
    adjacency = torch.zeros(batch, width, width, dtype=torch.int8, device=device)
    adjacency[has_predecessor] = EDGE_IN
    adjacency[has_successor] = EDGE_OUT
    adjacency[has_predecessor & has_successor] = EDGE_IN_OUT
    diagonal = torch.arange(width, device=device)
    adjacency[:, diagonal, diagonal] = node_mask.to(torch.int8) * EDGE_SELF
    return nodes, node_mask, alias, adjacency


def make_batch(
    flat: torch.Tensor,
    starts: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    max_len: int | None = None,
) -> SessionBatch:
    """The :class:`SessionBatch` of the samples ``(starts, lengths, targets)`` over ``flat``.

    Shapes:
        flat: ``(T,)`` int64; starts, lengths, targets: ``(B,)`` int64.
    """
    items, mask = gather_reversed_prefixes(flat, starts, lengths, max_len)
    nodes, node_mask, alias, adjacency = session_graph(items, mask)
    return SessionBatch(
        items=items,
        mask=mask,
        lengths=mask.sum(dim=1),
        nodes=nodes,
        node_mask=node_mask,
        alias=alias,
        adjacency=adjacency,
        targets=targets,
    )


def collate_sessions(
    sessions: Sequence[Sequence[int]],
    targets: Sequence[int] | None = None,
    max_len: int | None = None,
) -> SessionBatch:
    """A :class:`SessionBatch` from plain lists of item ids (``1..N``), in time order.

    Args:
        sessions: one list of item ids per session (the most recent click last).
        targets: next items, or None for 0 (unknown, prediction).
        max_len: keep only the ``max_len`` most recent clicks.

    Raises:
        ValueError: no session, an empty session, a non-positive id, or a targets length that
            differs from the number of sessions.
    """
    if len(sessions) == 0:
        raise ValueError("collate_sessions needs at least one session")
    lengths = torch.tensor([len(session) for session in sessions], dtype=torch.int64)
    if (lengths == 0).any():
        raise ValueError(f"session {int(torch.nonzero(lengths == 0)[0, 0])} is empty")
    flat = torch.tensor([item for session in sessions for item in session], dtype=torch.int64)
    if (flat < 1).any():
        position = int(torch.nonzero(flat < 1)[0, 0])
        session = int(torch.searchsorted(lengths.cumsum(0), position, right=True))
        raise ValueError(f"session {session} holds item id {int(flat[position])}; ids are >= 1")
    if targets is None:
        target_tensor = torch.zeros(len(sessions), dtype=torch.int64)
    else:
        target_tensor = torch.as_tensor(list(targets), dtype=torch.int64)
        if target_tensor.shape != (len(sessions),):
            raise ValueError(f"{len(target_tensor)} targets for {len(sessions)} sessions")
    starts = lengths.cumsum(0) - lengths
    return make_batch(flat, starts, lengths, target_tensor, max_len)
