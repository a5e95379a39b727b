"""The scoring input: reversed, padded prefixes as numpy arrays and as sparse item rows."""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse

__all__ = ["DistinctItems", "distinct_items", "prefix_arrays", "prefix_rows"]


def prefix_arrays(
    items: torch.Tensor, mask: torch.Tensor, num_items: int, owner: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check a batch of prefixes and return it as numpy ``(items, mask)``.

    Shapes:
        items: ``(B, L)`` int64, reversed prefixes (position 0 = most recent click), 0-padded;
        mask: ``(B, L)`` bool, True at real clicks.

    Raises:
        ValueError: shapes differ or are not 2-D, or a real click is outside ``1..num_items``.
        TypeError: ``items`` is not integer or ``mask`` not bool.
    """
    if items.ndim != 2 or tuple(items.shape) != tuple(mask.shape):
        raise ValueError(
            f"{owner}.scores: items and mask must both be (B, L); got {tuple(items.shape)} "
            f"and {tuple(mask.shape)}"
        )
    if items.dtype.is_floating_point or items.dtype == torch.bool:
        raise TypeError(f"{owner}.scores: items must hold integer ids, got {items.dtype}")
    if mask.dtype != torch.bool:
        raise TypeError(f"{owner}.scores: mask must be bool, got {mask.dtype}")
    ids = items.detach().cpu().numpy().astype(np.int64, copy=False)
    real = mask.detach().cpu().numpy()
    clicked = ids[real]
    if clicked.size and (clicked.min() < 1 or clicked.max() > num_items):
        bad = int(clicked.min()) if clicked.min() < 1 else int(clicked.max())
        raise ValueError(
            f"{owner}.scores: item id {bad} at a real position, outside 1..{num_items}"
        )
    return ids, real


class DistinctItems:
    """The distinct items of each prefix with the recency of their latest click.

    Attributes:
        rows: ``(D,)`` prefix of each entry; sorted, and items ascending within a row.
        items: ``(D,)`` item ids ``1..N``.
        recency: ``(D,)`` clicks between the item's latest click and the prefix's end
            (0 = the most recent click).
        clicks: ``(B,)`` prefix lengths in clicks (repeats included).
        distinct: ``(B,)`` number of distinct items per prefix.
    """

    def __init__(self, ids: np.ndarray, real: np.ndarray, num_items: int) -> None:
        rows, position = np.nonzero(real)
        clicked = ids[rows, position]
        # row-major order: within a row positions ascend, so the first occurrence of an item
        # is its most recent click
        _, first = np.unique(rows * (num_items + 1) + clicked, return_index=True)
        self.rows = rows[first]
        self.items = clicked[first]
        self.recency = position[first]
        self.clicks = real.sum(1)
        self.distinct = np.bincount(self.rows, minlength=real.shape[0])


def distinct_items(ids: np.ndarray, real: np.ndarray, num_items: int) -> DistinctItems:
    """:class:`DistinctItems` of a batch of reversed prefixes."""
    return DistinctItems(ids, real, num_items)


def prefix_rows(
    rows: np.ndarray, items: np.ndarray, values: np.ndarray, num_rows: int, num_items: int
) -> sparse.csr_matrix:
    """Sparse prefix rows: ``Q[rows[e], items[e] - 1] = values[e]``.

    ``rows`` must be sorted and ``items`` ascending within a row (as in :class:`DistinctItems`).

    Shapes:
        rows, items, values: ``(D,)``; result: ``(num_rows, num_items)`` CSR of ``values.dtype``.
    """
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=num_rows))])
    return sparse.csr_matrix((values, items - 1, indptr), shape=(num_rows, num_items))
