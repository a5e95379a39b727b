r"""Retrieval for serving: exact blocked scoring, or ``U`` ANN searches merged by the max.

``retrieval``:

* ``"exact"``: :func:`dmi_gnn.serving.topk.top_k`, every item scored (eq. 6);
* ``"ann"``: each interest :math:`\mathbf{s}_u` searches the :class:`~dmi_gnn.serving.ann_index.
  AnnIndex` for its best items (``k``, or ``refine * k`` from compressed codes); the union of
  the ``U`` lists is rescored exactly, :math:`\hat{y}_j = \max_u \mathbf{s}_u^\top
  \mathbf{x}_j`, and its best ``k`` kept;
* ``"auto"`` (the default): ``"exact"`` below :data:`AUTO_THRESHOLD` items, else ``"ann"``.

The merge is exact when the searches are: an item of the true top-``k`` under the max has its
best interest :math:`u^*`, and every item ranked above it by :math:`u^*` alone also beats it
under the max, so fewer than ``k`` do and it is in :math:`u^*`'s list. Rows are sorted by score,
best first, ties by the lower id, as the exact top-K.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from dmi_gnn.serving.ann_index import AnnIndex, AnnOptions
from dmi_gnn.serving.topk import _best, top_k

MODES = ("exact", "ann", "auto")

#: ``"auto"`` switches to ANN from this many items: exact scoring costs ``N U d`` multiply-adds
#: per session, ~1e8 at 200,000 items with U = 5, d = 100, i.e. about the 5 ms budget of one
#: CPU core; below it, exact is both exact and fast enough (Tmall: 40,727 items).
AUTO_THRESHOLD = 200_000


class Retrieval(Protocol):
    """What :func:`dmi_gnn.serving.recommender.recommend` asks of a retrieval."""

    description: str

    def top_k(self, interests: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, scores)`` ``(B, k)`` of interests ``(B, U, d)``, best first."""
        ...


class ExactRetrieval:
    """Every item scored: :func:`~dmi_gnn.serving.topk.top_k` over ``table_t`` ``(d, N)``."""

    def __init__(self, table_t: np.ndarray) -> None:
        self.table_t = table_t
        self.description = "exact"

    def top_k(self, interests: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return top_k(interests, self.table_t, k)


def merge_by_max(
    interests: np.ndarray, table_t: np.ndarray, found: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rescore the union of each session's ``U`` lists by the max over interests; keep ``k``.

    Args:
        interests: ``(B, U, d)``.
        table_t: ``(d, N)``, column ``j - 1`` is item ``j``.
        found: ``(B, C)`` candidate ids ``1..N`` (the ``U`` lists side by side), ``0`` = none;
            repeats allowed.
        k: items kept per session.

    Returns:
        ``(ids, scores, short)``: ``(B, k)`` best first (ties by the lower id), and a ``(B,)``
        mask of the sessions with fewer than ``k`` distinct candidates (their rows are padded
        with id ``0`` and score ``-inf``; the caller redoes them exactly).
    """
    batch = found.shape[0]
    ids = np.sort(found, axis=1)
    repeated = np.zeros(ids.shape, dtype=bool)
    repeated[:, 1:] = ids[:, 1:] == ids[:, :-1]
    invalid = repeated | (ids == 0)
    columns = table_t[:, np.maximum(ids, 1) - 1]  # (d, B, C)
    scores = np.einsum("bud,dbc->buc", interests, columns, optimize=True).max(axis=1)
    scores = np.where(invalid, -np.inf, scores).astype(np.float32)
    ids = np.where(invalid, 0, ids)
    short = (~invalid).sum(axis=1) < k
    if ids.shape[1] < k:
        pad = k - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, pad)))
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    best_ids, best_scores = _best(scores, ids.astype(np.int64), k)
    return best_ids.reshape(batch, k), best_scores.reshape(batch, k), short


class AnnRetrieval:
    """``U`` index searches per session, merged by the max over interests (module docstring).

    Args:
        table_t: the candidate table transposed, ``(d, N)`` float32.
        options: :class:`~dmi_gnn.serving.ann_index.AnnOptions`.
    """

    def __init__(self, table_t: np.ndarray, options: AnnOptions | None = None) -> None:
        self.table_t = table_t
        self.index = AnnIndex(np.ascontiguousarray(table_t.T), options)
        self.description = f"ann {self.index.describe()}"

    def top_k(self, interests: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        batch, heads, dim = interests.shape
        total = self.table_t.shape[1]
        if not 1 <= k <= total:
            raise ValueError(f"k must be in 1..{total}, got {k}")
        interests = np.ascontiguousarray(interests, dtype=np.float32)
        depth = min(self.index.options.depth(k), total)
        found = self.index.search(interests.reshape(batch * heads, dim), depth)
        ids, scores, short = merge_by_max(
            interests, self.table_t, found.reshape(batch, heads * depth), k
        )
        if short.any():  # an IVF probe with fewer than k items: those sessions exactly
            rows = np.flatnonzero(short)
            ids[rows], scores[rows] = top_k(interests[rows], self.table_t, k)
        return ids, scores


def make_retrieval(
    table_t: np.ndarray,
    mode: str = "auto",
    options: AnnOptions | None = None,
    threshold: int = AUTO_THRESHOLD,
) -> ExactRetrieval | AnnRetrieval:
    """The retrieval of ``mode`` over ``table_t`` ``(d, N)`` (module docstring).

    Raises:
        ValueError: an unknown mode or a threshold that is not an integer >= 1 (named).
    """
    if mode not in MODES:
        raise ValueError(f"retrieval must be one of {MODES}, got {mode!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ValueError(f"the ANN threshold must be an integer >= 1, got {threshold!r}")
    if mode == "exact" or (mode == "auto" and table_t.shape[1] < threshold):
        return ExactRetrieval(table_t)
    return AnnRetrieval(table_t, options)
