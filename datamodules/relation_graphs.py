r"""MGIR's three item-relation graphs (Han et al., SIGIR 2022, Sec. 3.2), sparse and vectorised.

Construction (:func:`build_relation_graphs`), the published pipeline (``getdata1.py``,
``getSubGraph2.py``) without its dense ``N x N`` matrices:

1. **Ordered pair counts** :math:`W_{ij}`: the number of times item :math:`i` is clicked
   *before* item :math:`j` at any distance in a training sequence (each pair of positions
   counts once; an item repeated later in a session counts for :math:`W_{ii}`). With
   ``counting="prefixes"`` (the published code) the sequences are the augmented
   prefix + target samples ``s[:m]``, ``m = min_prefix_length + 1 .. n``, of each session, so a
   pair at positions ``a < b`` counts ``n - max(b, min_prefix_length)`` times; with
   ``counting="sessions"`` each session counts once. Item frequencies (for the cold items) count
   the clicks at non-last positions of the same sequences.
2. **Frequent pairs:** :math:`T_{ij} = W_{ij} + W_{ji} >` ``min_frequency``.
3. **Sequential graph** (directed): for frequent pairs with
   :math:`|W_{ij} - W_{ji}| >` ``seq_ratio`` :math:`\cdot \min(W_{ij}, W_{ji})`, the edge
   :math:`i \to j` of the dominant direction (:math:`W_{ij} > W_{ji}`) with weight
   :math:`W_{ij} - W_{ji}`.
4. **Co-occurrence graph** (symmetric): the other frequent pairs, weight
   :math:`\min(W_{ij}, W_{ji})`. As published, this keeps the diagonal: an item clicked again
   later in sessions (:math:`2 W_{ii} >` ``min_frequency``) is its own co-occurrence neighbour.
5. **Incompatible graph** (symmetric): pairs of distinct items that never co-occur
   (:math:`T_{ab} = 0`) but share a neighbour :math:`c` in the thresholded graph
   :math:`G = T \cdot [T > \text{min\_frequency}]` without its diagonal, with the strength
   :math:`\sum_{c:\,G_{ac} > 0,\,G_{bc} > 0} (G_{ac} + G_{bc})`. The ``ceil(cold_ratio * N)``
   least frequent items (ties by id) have no incompatible edge (they may still be bridges).

Every graph is ``(N + 1) x (N + 1)``; row and column 0 (padding) are empty. Build them from the
fit sessions only, never from validation or test sessions. The two-hop product is computed only
between non-cold items, as a sparse product.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

from datamodules.processed import Sessions

__all__ = ["RelationGraphs", "build_relation_graphs", "item_frequencies", "ordered_pair_counts"]


@dataclass
class RelationGraphs:
    """MGIR's relation graphs as ``(N + 1) x (N + 1)`` float32 CSR matrices (row 0 empty).

    Attributes:
        sequential: directed, ``sequential[i, j] > 0`` for an edge ``i -> j``.
        cooccurrence: symmetric (diagonal allowed).
        incompatible: symmetric, zero diagonal.
    """

    sequential: sp.csr_matrix
    cooccurrence: sp.csr_matrix
    incompatible: sp.csr_matrix

    @property
    def num_items(self) -> int:
        """``N``: the matrices have ``N + 1`` rows."""
        return self.sequential.shape[0] - 1

    def as_dict(self) -> dict[str, sp.csr_matrix]:
        """The three graphs by name (the keyword names of ``MGIRNet.set_relation_graphs``)."""
        return {
            "sequential": self.sequential,
            "cooccurrence": self.cooccurrence,
            "incompatible": self.incompatible,
        }

    def to_torch(self) -> dict[str, object]:
        """The three graphs as torch sparse COO tensors (float32), for ``set_relation_graphs``."""
        tensors = {}
        for name, matrix in self.as_dict().items():
            coo = matrix.tocoo()
            indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
            values = torch.from_numpy(coo.data.astype(np.float32))
            tensors[name] = torch.sparse_coo_tensor(
                indices, values, coo.shape, check_invariants=True
            ).coalesce()
        return tensors

    def edge_counts(self) -> dict[str, int]:
        """Stored non-zeros per graph."""
        return {name: int(matrix.nnz) for name, matrix in self.as_dict().items()}


def _as_sessions(sessions: Sessions | Sequence[Sequence[int]]) -> Sessions:
    return sessions if isinstance(sessions, Sessions) else Sessions.from_lists(sessions)


def _check(sessions: Sessions, num_items: int) -> None:
    if isinstance(num_items, bool) or not isinstance(num_items, int) or num_items < 1:
        raise ValueError(f"num_items must be an integer >= 1, got {num_items!r}")
    if len(sessions.items) and (sessions.items.min() < 1 or sessions.items.max() > num_items):
        raise ValueError(
            f"session item ids must lie in 1..{num_items}, got "
            f"{int(sessions.items.min())}..{int(sessions.items.max())}"
        )


def _positions(sessions: Sessions) -> tuple[np.ndarray, np.ndarray]:
    """For every click: its position in its session and its session's length."""
    lengths = sessions.lengths
    session_of_click = np.repeat(np.arange(len(sessions)), lengths)
    position = np.arange(len(sessions.items)) - sessions.offsets[:-1][session_of_click]
    return position, lengths[session_of_click]


def ordered_pair_counts(
    sessions: Sessions | Sequence[Sequence[int]],
    num_items: int,
    counting: Literal["prefixes", "sessions"] = "prefixes",
    min_prefix_length: int = 1,
) -> sp.csr_matrix:
    """Step 1: :math:`W_{ij}`, the ordered "``i`` before ``j``" counts, ``(N + 1) x (N + 1)``.

    Args:
        sessions: the fit sessions (ids ``1..num_items``).
        num_items: ``N``.
        counting: ``"prefixes"`` (every augmented prefix + target sample counts, as published)
            or ``"sessions"`` (every session once).
        min_prefix_length: the shortest prefix of the augmentation (``"prefixes"`` only).

    Returns:
        Float64 CSR counts (canonical: sorted indices, no duplicates).
    """
    sessions = _as_sessions(sessions)
    _check(sessions, num_items)
    if counting not in ("prefixes", "sessions"):
        raise ValueError(f"counting must be 'prefixes' or 'sessions', got {counting!r}")
    if min_prefix_length < 1:
        raise ValueError(f"min_prefix_length must be >= 1, got {min_prefix_length}")
    position, length = _positions(sessions)
    # Click c at position b has b predecessors: pair it with each of them.
    later = np.repeat(np.arange(len(sessions.items)), position)
    first_of_group = np.cumsum(position) - position
    offset_in_group = np.arange(len(later)) - np.repeat(first_of_group, position)
    earlier = later - position[later] + offset_in_group
    if counting == "prefixes":
        weight = (length[later] - np.maximum(position[later], min_prefix_length)).clip(min=0)
    else:
        weight = np.ones(len(later), dtype=np.int64)
    rows = num_items + 1
    counts = sp.coo_matrix(
        (weight.astype(np.float64), (sessions.items[earlier], sessions.items[later])),
        shape=(rows, rows),
    ).tocsr()
    counts.sum_duplicates()
    counts.eliminate_zeros()
    counts.sort_indices()
    return counts


def item_frequencies(
    sessions: Sessions | Sequence[Sequence[int]],
    num_items: int,
    counting: Literal["prefixes", "sessions"] = "prefixes",
    min_prefix_length: int = 1,
) -> np.ndarray:
    """Clicks at non-last positions of the counted sequences, ``(N + 1,)`` (entry 0 unused)."""
    sessions = _as_sessions(sessions)
    _check(sessions, num_items)
    position, length = _positions(sessions)
    if counting == "prefixes":
        weight = (length - np.maximum(position + 1, min_prefix_length)).clip(min=0)
    else:
        weight = (position < length - 1).astype(np.int64)
    return np.bincount(sessions.items, weights=weight, minlength=num_items + 1)


def _lookup(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``matrix[rows[k], cols[k]]`` for every ``k`` (0 where absent), vectorised."""
    if len(rows) == 0:
        return np.zeros(0)
    coo = matrix.tocoo()
    width = matrix.shape[1]
    stored = coo.row.astype(np.int64) * width + coo.col
    order = np.argsort(stored, kind="stable")
    stored = stored[order]
    wanted = rows.astype(np.int64) * width + cols
    at = np.searchsorted(stored, wanted).clip(max=max(len(stored) - 1, 0))
    found = (len(stored) > 0) & (stored[at] == wanted)
    return np.where(found, coo.data[order][at], 0.0)


def _csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, size: int) -> sp.csr_matrix:
    matrix = sp.csr_matrix(
        (values.astype(np.float32), (rows, cols)), shape=(size, size), dtype=np.float32
    )
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def build_relation_graphs(
    sessions: Sessions | Sequence[Sequence[int]],
    num_items: int,
    *,
    min_frequency: float = 10,
    cold_ratio: float = 0.85,
    seq_ratio: float = 1.0,
    counting: Literal["prefixes", "sessions"] = "prefixes",
    min_prefix_length: int = 1,
) -> RelationGraphs:
    """Build MGIR's sequential, co-occurrence and incompatible graphs (see the module docstring).

    Args:
        sessions: the fit sessions, ids ``1..num_items`` (a :class:`Sessions` or lists).
        num_items: ``N``.
        min_frequency: a pair is frequent when :math:`W_{ij} + W_{ji} >` this (published
            ``--freq``: Tmall 10, RetailRocket 10, LastFM 70).
        cold_ratio: fraction of the items, least frequent first, without incompatible edges
            (published: Tmall 0.85, RetailRocket 0.9, LastFM 0.95).
        seq_ratio: a frequent pair is sequential when its excess exceeds ``seq_ratio`` times
            its minimum count (published 1.0).
        counting: ``"prefixes"`` (as published) or ``"sessions"``; see :func:`ordered_pair_counts`.
        min_prefix_length: the augmentation's shortest prefix (``"prefixes"`` only).

    Returns:
        The three graphs, float32 CSR, ``(N + 1) x (N + 1)``.
    """
    if not (math.isfinite(min_frequency) and min_frequency >= 0):
        raise ValueError(f"min_frequency must be finite and >= 0, got {min_frequency!r}")
    if not 0.0 <= cold_ratio <= 1.0:
        raise ValueError(f"cold_ratio must be in [0, 1], got {cold_ratio!r}")
    if not (math.isfinite(seq_ratio) and seq_ratio >= 0):
        raise ValueError(f"seq_ratio must be finite and >= 0, got {seq_ratio!r}")
    sessions = _as_sessions(sessions)
    counts = ordered_pair_counts(sessions, num_items, counting, min_prefix_length)
    size = num_items + 1
    total = (counts + counts.T).tocsr()
    total.sum_duplicates()
    total.eliminate_zeros()

    # Steps 2-4 over the frequent pairs (both orientations are visited).
    coo = total.tocoo()
    frequent = coo.data > min_frequency
    i, j, pair_total = coo.row[frequent], coo.col[frequent], coo.data[frequent]
    forward = _lookup(counts, i, j)
    backward = pair_total - forward
    smaller = np.minimum(forward, backward)
    is_sequential = np.abs(forward - backward) > seq_ratio * smaller
    keep_seq = is_sequential & (forward > backward)
    sequential = _csr(i[keep_seq], j[keep_seq], (forward - backward)[keep_seq], size)
    keep_co = ~is_sequential
    cooccurrence = _csr(i[keep_co], j[keep_co], smaller[keep_co], size)

    # Step 5: the thresholded graph G (no diagonal), two hops between non-cold items.
    off_diagonal = i != j
    strong = _csr(i[off_diagonal], j[off_diagonal], pair_total[off_diagonal], size)
    frequency = item_frequencies(sessions, num_items, counting, min_prefix_length)
    cold = np.zeros(size, dtype=bool)
    cold[0] = True
    by_frequency = np.argsort(frequency[1:], kind="stable") + 1
    cold[by_frequency[: math.ceil(num_items * cold_ratio)]] = True
    warm = sp.diags((~cold).astype(np.float32))
    strong_warm = (warm @ strong).tocsr()
    binary_warm = strong_warm.copy()
    binary_warm.data[:] = 1.0
    half = (strong_warm @ binary_warm.T).tocsr()  # sum over bridges c of G[a, c]
    strength = (half + half.T).tocoo()
    a, b, value = strength.row, strength.col, strength.data
    never_together = _lookup(total, a, b) == 0
    keep_in = never_together & (a != b) & (value > 0)
    incompatible = _csr(a[keep_in], b[keep_in], value[keep_in], size)
    return RelationGraphs(sequential, cooccurrence, incompatible)
