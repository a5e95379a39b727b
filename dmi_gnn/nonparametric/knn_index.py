"""What SKNN and V-SKNN share: the fitted session x item index, sampling order, batched scoring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import sparse

from dmi_gnn.nonparametric.neighbours import latest_mask, row_of_entries
from dmi_gnn.nonparametric.options import check_bool, check_choice, check_int
from dmi_gnn.nonparametric.prefixes import (
    DistinctItems,
    distinct_items,
    prefix_arrays,
    prefix_rows,
)
from dmi_gnn.nonparametric.sessions import (
    flat_sessions,
    session_item_matrix,
    sessions_from_state,
    sessions_state,
)

__all__ = ["SAMPLINGS", "SessionKNNIndex"]

SAMPLINGS = ("recent", "random")


class SessionKNNIndex:
    """Base of the session-kNN indexes (Ludewig & Jannach, UMUAI 2018).

    ``fit`` stores the training sessions as a binary session x item CSR matrix ``X`` whose rows
    are in *priority order*: chronological for ``sampling="recent"`` (the list order of the
    training sessions is taken as their time order), a fixed permutation drawn from ``seed``
    for ``sampling="random"``. A prefix's candidates are the training sessions sharing an item
    with it; the ``sample_size`` of highest priority form the sample (0 = all candidates). For
    ``"random"`` the permutation is fixed at fit time, so every prefix's sample is a uniform
    random subset of its candidates, drawn reproducibly (session-rec redraws per prediction).

    Subclasses define the neighbour weights (:meth:`_neighbours`) and the final adjustments
    (:meth:`_adjust`); scores are ``neighbours @ X``, normalised by each row's maximum when
    ``normalize`` (a row without neighbours stays all 0).
    """

    name = "SessionKNNIndex"

    def __init__(
        self,
        num_items: int,
        *,
        k: int,
        sample_size: int,
        sampling: str,
        normalize: bool,
        seed: int,
        chunk_size: int,
    ) -> None:
        self.num_items = check_int(self.name, "num_items", num_items, 1)
        self.k = check_int(self.name, "k", k, 1)
        self.sample_size = check_int(self.name, "sample_size", sample_size, 0)
        self.sampling = check_choice(self.name, "sampling", sampling, SAMPLINGS)
        self.normalize = check_bool(self.name, "normalize", normalize)
        self.seed = check_int(self.name, "seed", seed, 0)
        self.chunk_size = check_int(self.name, "chunk_size", chunk_size, 1)
        self._flat: np.ndarray | None = None

    # -- fitting and state ------------------------------------------------------------------

    def options(self) -> dict[str, Any]:
        """The constructor's keyword options (``from_state`` takes them back)."""
        raise NotImplementedError

    def fit(self, sessions: Sequence[Sequence[int] | np.ndarray]) -> SessionKNNIndex:
        """Index the training sessions (chronological order; ids ``1..N``). Returns ``self``."""
        flat, offsets = flat_sessions(sessions, self.num_items, self.name)
        num_sessions = len(offsets) - 1
        if self.sampling == "random":
            order = np.random.default_rng(self.seed).permutation(num_sessions)
        else:
            order = np.arange(num_sessions)
        self._flat, self._offsets = flat, offsets
        self.matrix = session_item_matrix(flat, offsets, self.num_items, order)  # (S, N)
        self.matrix_t = self.matrix.T.tocsr()  # (N, S)
        self.session_sizes = np.diff(self.matrix.indptr)  # distinct items per row of X
        self.clicks = np.bincount(flat - 1, minlength=self.num_items)
        self.num_sessions = num_sessions
        return self

    def state(self) -> dict[str, torch.Tensor]:
        """The fitted state (the training sessions, chronological), for a checkpoint."""
        self._check_fitted()
        return sessions_state(self._flat, self._offsets, self.num_items)

    @classmethod
    def from_state(
        cls, state: dict[str, torch.Tensor], options: dict[str, Any] | None = None
    ) -> SessionKNNIndex:
        """Rebuild a fitted index from :meth:`state` and the constructor's ``options``."""
        num_items, sessions = sessions_from_state(state, cls.name)
        return cls(num_items, **(options or {})).fit(sessions)

    def _check_fitted(self) -> None:
        if self._flat is None:
            raise RuntimeError(f"{self.name}: call fit(sessions) before scoring")

    # -- scoring ----------------------------------------------------------------------------

    def scores(self, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Score every item for each prefix.

        Args:
            items: reversed prefixes (position 0 = most recent click), 0-padded.
            mask: True at real clicks.

        Shapes:
            items, mask: ``(B, L)``; result: ``(B, N)`` float32, column ``j`` = item ``j + 1``.
        """
        self._check_fitted()
        ids, real = prefix_arrays(items, mask, self.num_items, self.name)
        out = torch.zeros((ids.shape[0], self.num_items), dtype=torch.float32)
        dense = out.numpy()
        for start in range(0, ids.shape[0], self.chunk_size):
            stop = start + self.chunk_size
            rows, columns, values = self._sparse_scores(ids[start:stop], real[start:stop])
            dense[start + rows, columns] = values
        return out

    def _sparse_scores(
        self, ids: np.ndarray, real: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The non-zero scores of a block of prefixes as ``(rows, columns, values)``.

        Everything stays sparse (a prefix's neighbours hold a few hundred items), so the only
        dense pass over ``B x N`` is writing the result.
        """
        prefix = distinct_items(ids, real, self.num_items)
        neighbours = self._neighbours(prefix, ids.shape[0])  # (B, S), votes
        product = neighbours @ self.matrix  # (B, N)
        rows = row_of_entries(product.indptr)
        rows, columns, values = self._adjust(
            rows, product.indices, product.data, prefix, ids, real, neighbours
        )
        if self.normalize and len(values):
            top = np.zeros(ids.shape[0])
            np.maximum.at(top, rows, values)
            scale = np.divide(1.0, top, out=np.ones_like(top), where=top > 0)
            values = values * scale[rows]
        return rows, columns, values

    def _candidates(self, prefix: DistinctItems, values: np.ndarray, num_rows: int):
        """``Q @ X^T`` for prefix rows with ``values``, sorted, with the sample's entry mask."""
        query = prefix_rows(prefix.rows, prefix.items, values, num_rows, self.num_items)
        candidates = query @ self.matrix_t  # (B, S)
        candidates.sort_indices()
        return candidates, latest_mask(candidates.indptr, self.sample_size)

    def _neighbours(self, prefix: DistinctItems, num_rows: int) -> sparse.csr_matrix:
        raise NotImplementedError

    def _adjust(
        self,
        rows: np.ndarray,
        columns: np.ndarray,
        values: np.ndarray,
        prefix: DistinctItems,
        ids: np.ndarray,
        real: np.ndarray,
        neighbours: sparse.csr_matrix,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Changes to the raw sparse scores before normalisation (none by default).

        ``(rows, columns, values)`` hold each row's scored items once (``columns`` = item - 1);
        ``neighbours`` is the ``(B, S)`` vote matrix they came from.
        """
        return rows, columns, values
