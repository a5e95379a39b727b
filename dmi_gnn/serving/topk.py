r"""Exact top-K of eq. 6 in numpy: :math:`\hat{y}_j = \max_u \mathbf{s}_u^\top \mathbf{x}_j`.

Blocked over the candidate table, so the transient is ``B x U x block`` whatever the catalogue
size: each block is one ``(B U, d) @ (d, block)`` matmul, a max over the interests and a
partial sort keeping each row's best ``K``; the blocks' survivors are merged at the end. Rows
are sorted by score, best first, ties by the lower item id (deterministic).
"""

from __future__ import annotations

import numpy as np

#: Candidate items per block: 65,536 x 32 sessions x 3 interests x 4 bytes = 25 MB transient.
DEFAULT_BLOCK = 65_536


def _best(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns of each row, sorted (score descending, id ascending).

    A partial sort picks any of the items tied at the ``k``-th score; rows where such a tie
    straddles the cut (rare with float scores) are redone with all the tied items, so the lower
    ids win there too.
    """
    if k < scores.shape[1]:
        keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        kept = np.take_along_axis(scores, keep, axis=1)
        threshold = kept.min(axis=1, keepdims=True)
        straddling = np.flatnonzero((scores >= threshold).sum(axis=1) > k)
        for row in straddling.tolist():
            columns = np.flatnonzero(scores[row] >= threshold[row, 0])
            order = np.lexsort((ids[row, columns], -scores[row, columns]))[:k]
            keep[row] = columns[order]
        scores = np.take_along_axis(scores, keep, axis=1)
        ids = np.take_along_axis(ids, keep, axis=1)
    order = np.lexsort((ids, -scores), axis=1)
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(scores, order, axis=1)


def top_k(
    interests: np.ndarray, table_t: np.ndarray, k: int, block: int = DEFAULT_BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items of each session under max-over-interests scoring.

    Args:
        interests: the interest vectors ``s_u`` of each session.
        table_t: the candidate table transposed, column ``j - 1`` is item ``j``.
        k: items per session, ``1 <= k <= N``.
        block: candidate items per block.

    Returns:
        ``(ids, scores)``: model ids ``1..N`` and their scores, best first.

    Shapes:
        interests: ``(B, U, d)`` float32; table_t: ``(d, N)`` float32.
        ids: ``(B, k)`` int64; scores: ``(B, k)`` float32.
    """
    batch, heads, dim = interests.shape
    total = table_t.shape[1]
    if not 1 <= k <= total:
        raise ValueError(f"k must be in 1..{total}, got {k}")
    flat = np.ascontiguousarray(interests.reshape(batch * heads, dim), dtype=np.float32)
    kept_ids, kept_scores = [], []
    for start in range(0, total, block):
        end = min(start + block, total)
        scores = (flat @ table_t[:, start:end]).reshape(batch, heads, end - start).max(axis=1)
        ids = np.broadcast_to(np.arange(start + 1, end + 1, dtype=np.int64), scores.shape)
        best_ids, best_scores = _best(scores, ids, min(k, end - start))
        kept_ids.append(best_ids)
        kept_scores.append(best_scores)
    if len(kept_ids) == 1:
        return kept_ids[0], kept_scores[0]
    return _best(np.concatenate(kept_scores, axis=1), np.concatenate(kept_ids, axis=1), k)
