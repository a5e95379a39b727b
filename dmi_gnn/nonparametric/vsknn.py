"""V-SKNN (session-rec's VMContextKNN): SKNN with position-weighted, decayed, idf-weighted votes."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from dmi_gnn.nonparametric.knn_index import SessionKNNIndex
from dmi_gnn.nonparametric.neighbours import keep_entries, row_of_entries, top_k_mask
from dmi_gnn.nonparametric.options import check_bool, check_choice, check_number
from dmi_gnn.nonparametric.prefixes import DistinctItems, prefix_rows

__all__ = ["SCORE_WEIGHTINGS", "VSKNN", "WEIGHTINGS", "position_weight", "step_decay"]

WEIGHTINGS = ("same", "linear", "div", "log", "quadratic")
SCORE_WEIGHTINGS = WEIGHTINGS

#: Recency positions resolved per sparse product when finding a neighbour's decay step. A sum
#: of at most 48 distinct powers of two ``2^-d`` is exact in float64, so its exponent is the
#: smallest shared ``d``; older positions are looked at block by block, only where needed.
RECENCY_BLOCK = 48
#: Marker of a shared item older than the first block: keeps the candidate entry non-zero
#: (its pattern is the candidate set) without touching the first block's exponent.
_OLD_MARK = 2.0**-60


def position_weight(weighting: str, recency: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    r"""Weight of a prefix item from the recency ``d`` of its latest click (0 = most recent).

    With :math:`L` the prefix length in clicks and :math:`p = L - d` the click's 1-based
    position in time order (session-rec's ``count``): same :math:`1`; linear
    :math:`\max(0, 1 - 0.1 d)`; div :math:`p / L`; log :math:`1 / \log_{10}(d + 1.7)`;
    quadratic :math:`(p / L)^2`. session-rec's linear goes negative past 10 clicks; here it
    stops at 0 (such items add nothing, rather than lowering the similarity).

    Shapes:
        recency, clicks: ``(D,)``; result ``(D,)`` float64.
    """
    d = recency.astype(np.float64)
    if weighting == "same":
        return np.ones_like(d)
    if weighting == "linear":
        return np.maximum(0.0, 1.0 - 0.1 * d)
    if weighting == "div":
        return (clicks - d) / clicks
    if weighting == "log":
        return 1.0 / np.log10(d + 1.7)
    if weighting == "quadratic":
        return ((clicks - d) / clicks) ** 2
    raise ValueError(f"unknown weighting {weighting!r}")


def step_decay(weighting: str, step: np.ndarray) -> np.ndarray:
    r"""Decay of a neighbour's vote from ``step``, the 1-based recency of the most recent
    prefix click whose item the neighbour holds (session-rec's ``weighting_score``).

    same :math:`1`; linear :math:`\max(0, 1 - 0.1 s)`; div :math:`1/s`; log
    :math:`1/\log_{10}(s + 1.7)`; quadratic :math:`1/s^2`.
    """
    s = step.astype(np.float64)
    if weighting == "same":
        return np.ones_like(s)
    if weighting == "linear":
        return np.maximum(0.0, 1.0 - 0.1 * s)
    if weighting == "div":
        return 1.0 / s
    if weighting == "log":
        return 1.0 / np.log10(s + 1.7)
    if weighting == "quadratic":
        return 1.0 / (s * s)
    raise ValueError(f"unknown weighting_score {weighting!r}")


class VSKNN(SessionKNNIndex):
    r"""Vector-multiplication session kNN (Ludewig & Jannach, UMUAI 2018; baselines.md 4.13).

    Candidates and the sample are SKNN's. Each prefix item :math:`i` carries the weight
    :math:`w(i)` of its latest click (:func:`position_weight`, option ``weighting``), and

    .. math::
        \mathrm{sim}(s, n) = \frac{1}{|s|} \sum_{i \in s \cap n} w(i), \qquad
        \mathrm{score}(i) = \sum_{n \in N_k} \mathrm{sim}(s, n)\,
            \mathrm{decay}(\mathrm{step}_n)\,(1 + \lambda\,\mathrm{idf}(i))\, 1[i \in n]

    with :math:`|s|` the number of distinct prefix items, :math:`N_k` the ``k`` candidates of
    largest positive similarity (ties: the more recent session), ``step_n`` the 1-based
    recency of the most recent prefix click whose item :math:`n` holds (:func:`step_decay`,
    option ``weighting_score``), :math:`\lambda` = ``idf_weighting`` and
    :math:`\mathrm{idf}(i) = \ln(S / \mathrm{clicks}_i)` over the :math:`S` training sessions
    (session-rec counts clicks, repeats included). ``remind=False`` drops the prefix's own
    items (score 0); ``remind=True`` keeps them, which matters for repeat-heavy data.

    Args:
        num_items: catalogue size ``N`` (ids ``1..N``).
        k: neighbours per prefix.
        sample_size: candidates kept per prefix (0 = all).
        sampling: ``"recent"`` or ``"random"``.
        weighting: prefix position weighting, one of :data:`WEIGHTINGS`.
        weighting_score: neighbour decay, one of :data:`SCORE_WEIGHTINGS`.
        idf_weighting: :math:`\lambda >= 0` (0 = off).
        remind: keep the prefix's items as candidates.
        normalize: divide each row by its maximum.
        seed: the permutation for ``sampling="random"``.
        chunk_size: prefixes per vectorised block (memory: ``chunk_size x N`` floats).

    Shapes:
        scores: items, mask ``(B, L)`` -> ``(B, N)`` float32.
    """

    name = "VSKNN"

    def __init__(
        self,
        num_items: int,
        k: int = 100,
        sample_size: int = 1000,
        sampling: str = "recent",
        weighting: str = "div",
        weighting_score: str = "div",
        idf_weighting: float = 0.0,
        remind: bool = True,
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
        self.weighting = check_choice(self.name, "weighting", weighting, WEIGHTINGS)
        self.weighting_score = check_choice(
            self.name, "weighting_score", weighting_score, SCORE_WEIGHTINGS
        )
        self.idf_weighting = check_number(self.name, "idf_weighting", idf_weighting, 0.0)
        self.remind = check_bool(self.name, "remind", remind)

    def options(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "sample_size": self.sample_size,
            "sampling": self.sampling,
            "weighting": self.weighting,
            "weighting_score": self.weighting_score,
            "idf_weighting": self.idf_weighting,
            "remind": self.remind,
            "normalize": self.normalize,
            "seed": self.seed,
            "chunk_size": self.chunk_size,
        }

    def fit(self, sessions) -> VSKNN:
        super().fit(sessions)
        idf = np.zeros(self.num_items)
        seen = self.clicks > 0
        idf[seen] = np.log(self.num_sessions / self.clicks[seen])
        self.item_factor = 1.0 + self.idf_weighting * idf
        return self

    def _neighbours(self, prefix: DistinctItems, num_rows: int) -> sparse.csr_matrix:
        weight = position_weight(self.weighting, prefix.recency, prefix.clicks[prefix.rows])
        first = prefix.recency < RECENCY_BLOCK
        mark = np.where(first, np.exp2(-np.minimum(prefix.recency, RECENCY_BLOCK)), _OLD_MARK)
        candidates, sampled = self._candidates(prefix, weight + 1j * mark, num_rows)
        candidates = keep_entries(candidates, sampled)
        rows = row_of_entries(candidates.indptr)
        similarity = candidates.data.real / prefix.distinct[rows]
        keep = top_k_mask(candidates.indptr, similarity, self.k)
        step = self._steps(prefix, rows[keep], candidates.indices[keep], candidates.data.imag[keep])
        vote = similarity[keep] * step_decay(self.weighting_score, step)
        return keep_entries(candidates, keep, vote)

    def _steps(
        self, prefix: DistinctItems, rows: np.ndarray, sessions: np.ndarray, marks: np.ndarray
    ) -> np.ndarray:
        """1 + the recency of the most recent prefix click held by each (prefix, session)."""
        step = np.zeros(len(rows), dtype=np.int64)
        found = marks >= 2.0 ** -(RECENCY_BLOCK - 1)
        step[found] = 2 - np.frexp(marks[found])[1]
        start = RECENCY_BLOCK
        while not found.all():
            if start > prefix.recency.max():  # every neighbour shares an item: unreachable
                raise RuntimeError(f"{self.name}: a neighbour shares no item with its prefix")
            todo = np.flatnonzero(~found)
            in_block = (prefix.recency >= start) & (prefix.recency < start + RECENCY_BLOCK)
            values = np.exp2(-(prefix.recency[in_block] - start).astype(np.float64))
            query = prefix_rows(
                prefix.rows[in_block],
                prefix.items[in_block],
                values,
                len(prefix.distinct),
                self.num_items,
            )
            block = np.asarray((query @ self.matrix_t)[rows[todo], sessions[todo]]).ravel()
            hit = block > 0
            step[todo[hit]] = start + 2 - np.frexp(block[hit])[1]
            found[todo[hit]] = True
            start += RECENCY_BLOCK
        return step

    def _adjust(self, rows, columns, values, prefix, ids, real, neighbours):
        if self.idf_weighting > 0:
            values = values * self.item_factor[columns]
        if not self.remind:
            own = prefix.rows * self.num_items + (prefix.items - 1)
            keep = ~np.isin(rows * self.num_items + columns, own)
            rows, columns, values = rows[keep], columns[keep], values[keep]
        return rows, columns, values
