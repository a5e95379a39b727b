"""SKNN (session-rec's ContextKNN): the prefix's k most similar training sessions vote."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from dmi_gnn.nonparametric.knn_index import SessionKNNIndex
from dmi_gnn.nonparametric.neighbours import keep_entries, row_of_entries, top_k_mask
from dmi_gnn.nonparametric.options import check_bool, check_choice, check_number
from dmi_gnn.nonparametric.prefixes import DistinctItems

__all__ = ["SIMILARITIES", "SKNN"]

#: Set similarities of the prefix's item set ``a`` and a session's item set ``b``.
SIMILARITIES = ("cosine", "jaccard", "dice")

#: session-rec's reminder constants: the last 3 clicks, score ``(s + 5) * 5 + cnt / 100``.
REMIND_LAST, REMIND_SCORE = 3, 5.0


class SKNN(SessionKNNIndex):
    r"""Session-based kNN (Ludewig & Jannach, UMUAI 2018, "ContextKNN"; baselines.md 4.12).

    For a prefix with item set :math:`a`, the candidates are the training sessions sharing an
    item with it, cut to the ``sample_size`` most recent (or a random sample); among them the
    ``k`` of largest positive similarity are the neighbours :math:`N_k` (ties: the more recent
    session), with

    .. math::
        \mathrm{cosine} = \frac{|a \cap b|}{\sqrt{|a|\,|b|}}, \quad
        \mathrm{jaccard} = \frac{|a \cap b|}{|a \cup b|}, \quad
        \mathrm{dice} = \frac{2\,|a \cap b|}{|a| + |b|}

    over item *sets* (repeats count once), and :math:`\mathrm{score}(i) =
    \sum_{n \in N_k} \mathrm{sim}(a, n)\, 1[i \in n]`.

    Options beyond the base's: ``remind`` (session-rec's reminder: for the last
    ``min(3, |prefix|)`` clicks in time order, ``cnt = 1, 2, ...``, each click's item gets
    ``s <- (s + 5) * 5 + cnt / 100``, applied click by click so a repeated item is boosted
    twice) and then ``pop_boost`` (adds ``pop_boost * c_i / max_j c_j``, ``c_i`` the number of
    neighbours holding ``i``, so only items of a neighbour get it). Both apply before the
    normalisation by the row maximum.

    Args:
        num_items: catalogue size ``N`` (ids ``1..N``).
        k: neighbours per prefix.
        sample_size: candidates kept per prefix (0 = all).
        sampling: ``"recent"`` or ``"random"``.
        similarity: ``"cosine"``, ``"jaccard"`` or ``"dice"``.
        remind, pop_boost: see above (default off).
        normalize: divide each row by its maximum.
        seed: the permutation for ``sampling="random"``.
        chunk_size: prefixes per vectorised block (memory: ``chunk_size x N`` floats).

    Shapes:
        scores: items, mask ``(B, L)`` -> ``(B, N)`` float32.
    """

    name = "SKNN"

    def __init__(
        self,
        num_items: int,
        k: int = 50,
        sample_size: int = 500,
        sampling: str = "recent",
        similarity: str = "cosine",
        remind: bool = False,
        pop_boost: float = 0.0,
        normalize: bool = True,
        seed: int = 0,
        chunk_size: int = 512,
    ) -> None:
        super().__init__(
            num_items,
            k=k,
            sample_size=sample_size,
            sampling=sampling,
            normalize=normalize,
            seed=seed,
            chunk_size=chunk_size,
        )
        self.similarity = check_choice(self.name, "similarity", similarity, SIMILARITIES)
        self.remind = check_bool(self.name, "remind", remind)
        self.pop_boost = check_number(self.name, "pop_boost", pop_boost, 0.0)

    def options(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "sample_size": self.sample_size,
            "sampling": self.sampling,
            "similarity": self.similarity,
            "remind": self.remind,
            "pop_boost": self.pop_boost,
            "normalize": self.normalize,
            "seed": self.seed,
            "chunk_size": self.chunk_size,
        }

    def _neighbours(self, prefix: DistinctItems, num_rows: int) -> sparse.csr_matrix:
        ones = np.ones(len(prefix.rows))
        candidates, sampled = self._candidates(prefix, ones, num_rows)
        candidates = keep_entries(candidates, sampled)
        shared = candidates.data  # |a & b|
        size_a = prefix.distinct[row_of_entries(candidates.indptr)]
        size_b = self.session_sizes[candidates.indices]
        if self.similarity == "cosine":
            similarity = shared / np.sqrt(size_a * size_b)
        elif self.similarity == "jaccard":
            similarity = shared / (size_a + size_b - shared)
        else:
            similarity = 2 * shared / (size_a + size_b)
        keep = top_k_mask(candidates.indptr, similarity, self.k)
        return keep_entries(candidates, keep, similarity[keep])

    def _adjust(self, rows, columns, values, prefix, ids, real, neighbours):
        if not (self.remind or self.pop_boost > 0):
            return rows, columns, values
        width = self.num_items
        keys = rows * width + columns
        taken = np.minimum(real.sum(1), REMIND_LAST)
        reminded = []  # per reminder step, oldest of the last clicks first: (keys, cnt)
        if self.remind:
            for position in range(min(REMIND_LAST, ids.shape[1]) - 1, -1, -1):
                hit = np.flatnonzero(position < taken)
                reminded.append((hit * width + ids[hit, position] - 1, taken[hit] - position))
        every = np.unique(np.concatenate([keys, *(k for k, _ in reminded)]))
        scores = np.zeros(len(every))
        scores[np.searchsorted(every, keys)] = values
        for step_keys, count in reminded:  # one key per row per step: sequential over steps
            at = np.searchsorted(every, step_keys)
            scores[at] = (scores[at] + REMIND_SCORE) * REMIND_SCORE + count / 100
        if self.pop_boost > 0:
            holders = neighbours.copy()
            holders.data = np.ones_like(holders.data)
            counts = holders @ self.matrix
            count_rows = row_of_entries(counts.indptr)
            top = np.zeros(len(taken))
            np.maximum.at(top, count_rows, counts.data)
            at = np.searchsorted(every, count_rows * width + counts.indices)
            scores[at] += self.pop_boost * counts.data / top[count_rows]
        return every // width, every % width, scores
