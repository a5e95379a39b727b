"""Building :class:`~datamodules.batch.SessionBatch` for a whole batch with tensor ops.

Everything here is pure torch on whatever device the inputs live on (CPU in the loader, or the
GPU when the flat arrays are kept there): no Python loop over samples or positions.

The session graph follows the reference ``utils.py`` (``Data.__getitem__``) and the edge codes of
:mod:`datamodules.batch`. Walking consecutive clicks ``a -> b`` (``a`` earlier, ``a != b``):
``b``'s row gets ``a`` as a predecessor and ``a``'s row gets ``b`` as a successor. Which pairs
exist does not depend on the walk order, so the codes are ``2`` (predecessor only), ``3``
(successor only) or ``4`` (both), plus ``1`` on the diagonal of every real node.

Memory is bounded by the batch, never by the longest session: prefixes are cut to their
``max_len`` most recent clicks (:data:`DEFAULT_MAX_LEN` unless told otherwise) and
:func:`split_batch` / :func:`sub_batch_bounds` cut a batch whose session graphs hold more than
a budget of ``B x L x L`` cells into consecutive sub-batches (the local attention of the model
allocates several ``B x L x L`` float tensors).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from datamodules.batch import EDGE_IN, EDGE_IN_OUT, EDGE_OUT, EDGE_SELF, SessionBatch

_PADDING_KEY = torch.iinfo(torch.int64).max

#: Default maximum prefix length: the rows of the model's reversed position table (200).
#: Positions past the table share its last row, so older clicks add little; the cap bounds a
#: batch's session graphs to ``B x 200 x 200`` cells whatever the input.
DEFAULT_MAX_LEN = 200

#: Default budget of session-graph cells (``B x L x L``) per model pass. The model's local
#: attention holds several ``B x L x L`` float tensors (about 62 bytes per cell in an evaluation
#: pass, measured; README "Memory"), so 2**23 cells keep one evaluation pass near 1 GB, and a
#: batch of 100 prefixes of 200 clicks (4M cells) runs in one pass.
DEFAULT_MAX_BATCH_CELLS = 2**23


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
    with_session_graph: bool = True,
) -> SessionBatch:
    """The :class:`SessionBatch` of the samples ``(starts, lengths, targets)`` over ``flat``.

    Args:
        with_session_graph: build the session-graph fields (else they are None).

    Shapes:
        flat: ``(T,)`` int64; starts, lengths, targets: ``(B,)`` int64.
    """
    items, mask = gather_reversed_prefixes(flat, starts, lengths, max_len)
    return _batch(items, mask, targets, with_session_graph)


def _batch(
    items: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor, with_session_graph: bool
) -> SessionBatch:
    graph = session_graph(items, mask) if with_session_graph else (None, None, None, None)
    nodes, node_mask, alias, adjacency = graph
    return SessionBatch(
        items=items,
        mask=mask,
        lengths=mask.sum(dim=1),
        targets=targets,
        nodes=nodes,
        node_mask=node_mask,
        alias=alias,
        adjacency=adjacency,
    )


def collate_sessions(
    sessions: Sequence[Sequence[int]],
    targets: Sequence[int] | None = None,
    max_len: int | None = None,
    with_session_graph: bool = True,
) -> SessionBatch:
    """A :class:`SessionBatch` from plain lists of item ids (``1..N``), in time order.

    Args:
        sessions: one list of item ids per session (the most recent click last).
        targets: next items, or None for 0 (unknown, prediction).
        max_len: keep only the ``max_len`` most recent clicks.
        with_session_graph: build the session-graph fields (else they are None).

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
    return make_batch(flat, starts, lengths, target_tensor, max_len, with_session_graph)


def truncate_batch(batch: SessionBatch, max_len: int) -> SessionBatch:
    """``batch`` with every prefix cut to its ``max_len`` most recent clicks.

    The result equals building the batch with ``max_len`` in the first place (the session
    graphs are rebuilt from the kept clicks). A batch no wider than ``max_len`` is returned as
    it is.

    Shapes:
        batch: padded to ``L``; result: padded to ``min(L, max_len)``.
    """
    if batch.max_length <= max_len:
        return batch
    items, mask = batch.items[:, :max_len], batch.mask[:, :max_len]  # most recent first
    width = int(mask.sum(dim=1).max())
    items, mask = items[:, :width], mask[:, :width]
    return _batch(items, mask, batch.targets, batch.has_session_graph)


def sub_batch_bounds(
    lengths: Sequence[int] | torch.Tensor, max_cells: int
) -> list[tuple[int, int]]:
    """Consecutive ``[start, end)`` ranges of rows whose session graphs fit ``max_cells``.

    A range of ``n`` rows whose longest length is ``m`` holds ``n * m * m`` graph cells; ranges
    are grown greedily, in order, while they fit. A single row longer than ``sqrt(max_cells)``
    gets a range of its own (rows are never cut further: cutting is ``max_len``'s job).

    Args:
        lengths: the (already cut) length of each row.
        max_cells: the budget of ``B x L x L`` cells per range (>= 1).

    Returns:
        The ranges, covering ``0..len(lengths)`` in order; one range when everything fits.
    """
    sizes = lengths.tolist() if isinstance(lengths, torch.Tensor) else list(lengths)
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


def slice_batch(batch: SessionBatch, start: int, end: int) -> SessionBatch:
    """Rows ``start:end`` of ``batch``, padded to their own longest prefix."""
    lengths = batch.lengths[start:end]
    width = int(lengths.max()) if lengths.numel() else 0
    graph = batch.has_session_graph
    return SessionBatch(
        items=batch.items[start:end, :width],
        mask=batch.mask[start:end, :width],
        lengths=lengths,
        targets=batch.targets[start:end],
        nodes=batch.nodes[start:end, :width] if graph else None,
        node_mask=batch.node_mask[start:end, :width] if graph else None,
        alias=batch.alias[start:end, :width] if graph else None,
        adjacency=batch.adjacency[start:end, :width, :width] if graph else None,
    )


def split_batch(batch: SessionBatch, max_cells: int) -> list[SessionBatch]:
    """``batch`` as consecutive sub-batches of at most ``max_cells`` graph cells each.

    Each sub-batch is padded to its own longest prefix; padding is masked everywhere, so a
    model gives every row the same result in a sub-batch as in the whole batch (up to float
    rounding of differently sized kernels). A batch that fits is returned alone, unchanged.
    """
    bounds = sub_batch_bounds(batch.lengths, max_cells)
    if len(bounds) <= 1:
        return [batch]
    return [slice_batch(batch, start, end) for start, end in bounds]
