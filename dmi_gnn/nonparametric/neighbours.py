"""Row-wise selections on a prefix x session candidate matrix: the sample and the top k.

The candidate matrix is CSR with sorted column indices, and columns are training sessions in
priority order (the most recent, or the highest random priority, last). Both selections are
vectorised over all rows and deterministic.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["keep_entries", "latest_mask", "row_of_entries", "top_k_mask"]


def row_of_entries(indptr: np.ndarray) -> np.ndarray:
    """The row of every stored entry of a CSR matrix, shape ``(nnz,)``."""
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


def _slot_from_end(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rank of each entry from its row's end (0 = the last column of the row)."""
    return indptr[rows + 1] - 1 - np.arange(indptr[-1])


def latest_mask(indptr: np.ndarray, sample_size: int) -> np.ndarray:
    """Keep at most ``sample_size`` entries per row, those in the last columns (0 keeps all).

    This is session-rec's candidate sample: of the training sessions sharing an item with the
    prefix, the ``sample_size`` with the highest priority.

    Shapes:
        indptr: ``(B + 1,)`` of a CSR matrix with sorted indices; result: ``(nnz,)`` bool.
    """
    if sample_size == 0:
        return np.ones(indptr[-1], dtype=bool)
    return _slot_from_end(indptr, row_of_entries(indptr)) < sample_size


def top_k_mask(indptr: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Keep per row the ``k`` entries of largest positive value; ties favour later columns.

    Entries with a value <= 0 are never kept (session-rec keeps only neighbours with a positive
    similarity). Among equal values at the k-th place, the entries in the latest columns (the
    most recent sessions) win, so the result is deterministic.

    Shapes:
        indptr: ``(B + 1,)`` (sorted indices); values: ``(nnz,)``; result: ``(nnz,)`` bool.
    """
    positive = values > 0
    counts = np.diff(indptr)
    if counts.size == 0 or counts.max() <= k:
        return positive
    rows = row_of_entries(indptr)
    slot = _slot_from_end(indptr, rows)
    crowded = counts > k  # only these rows need a selection
    index = np.cumsum(crowded) - 1
    in_crowded = crowded[rows]
    dense = np.full((int(crowded.sum()), int(counts.max())), -np.inf)
    dense_rows = index[rows[in_crowded]]
    dense[dense_rows, slot[in_crowded]] = np.where(
        positive[in_crowded], values[in_crowded], -np.inf
    )
    kth = -np.partition(-dense, k - 1, axis=1)[:, k - 1 : k]
    greater = dense > kth
    # slots run from the latest column on, so a running count of ties prefers recent sessions
    tied = (dense == kth) & np.isfinite(dense)
    room = k - greater.sum(1, keepdims=True)
    chosen = greater | (tied & (np.cumsum(tied, axis=1) <= room))
    keep = positive.copy()
    keep[in_crowded] &= chosen[dense_rows, slot[in_crowded]]
    return keep


def keep_entries(matrix: sparse.csr_matrix, keep: np.ndarray, values=None) -> sparse.csr_matrix:
    """The CSR matrix of the kept entries (with ``values`` in place of its data if given)."""
    rows = row_of_entries(matrix.indptr)[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=matrix.shape[0]))])
    data = matrix.data[keep] if values is None else values
    return sparse.csr_matrix((data, matrix.indices[keep], indptr), shape=matrix.shape)
