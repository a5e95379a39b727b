r"""A faiss index over the candidate table: the approximate top items of ONE interest vector.

Eq. 6 ranks items by :math:`\max_u \mathbf{s}_u^\top \mathbf{x}_j`; each interest alone is a
maximum-inner-product search (MIPS). The index answers it for every interest of a batch at once;
:mod:`dmi_gnn.serving.retrieval` merges the ``U`` lists by the max over interests.

Kinds:

* ``"ivf"`` (the default): an inverted file (``IndexIVFFlat``). k-means cuts the table into
  ``nlist`` cells; a query scans the ``nprobe`` nearest cells with exact distances. Chosen over
  HNSW because it builds in seconds at a million items (HNSW: minutes on two cores, measured
  about 30 s per 100,000 items with M = 32), stores nothing beyond the vectors (HNSW adds a graph
  of ``2 M`` links per item), and its one knob, ``nprobe``, trades recall for latency
  predictably.
* ``"hnsw"``: a navigable small-world graph (``IndexHNSWFlat``, ``hnsw_m`` links per item,
  ``ef_search`` at query time), for catalogues rebuilt rarely where the fastest queries matter.
* ``"flat"``: exhaustive exact inner products (``IndexFlatIP``); the ANN code path with exact
  search, so its results equal :func:`dmi_gnn.serving.topk.top_k` (tests, small catalogues).

Inner products as distances: ``ivf`` and ``hnsw`` search with the Euclidean metric on vectors
augmented by one coordinate (Bachrach et al., RecSys 2014), which makes the L2 order the
inner-product order whatever the norms, so k-means cells and graph links mean the same as the
ranking (the candidate table of DMI-GNN is L2-normalised, the baselines' is not):

.. math::
    \tilde{\mathbf{x}}_j = [\mathbf{x}_j;\ \sqrt{M^2 - \lVert\mathbf{x}_j\rVert^2}], \quad
    \tilde{\mathbf{q}} = [\mathbf{q};\ 0], \quad
    \lVert\tilde{\mathbf{q}} - \tilde{\mathbf{x}}_j\rVert^2 =
    \lVert\mathbf{q}\rVert^2 + M^2 - 2\,\mathbf{q}^\top\mathbf{x}_j,

with :math:`M = \max_j \lVert\mathbf{x}_j\rVert`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

KINDS = ("ivf", "hnsw", "flat")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"ANN option {name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class AnnOptions:
    """How the index is built and searched.

    Attributes:
        kind: ``"ivf"``, ``"hnsw"`` or ``"flat"`` (module docstring).
        nlist: IVF cells; None = :math:`4\\sqrt{N}` rounded, at most ``N / 39`` (faiss wants
            39 training points per cell).
        nprobe: IVF cells scanned per query.
        train_size: IVF k-means training points (a seeded sample of the table).
        hnsw_m: HNSW links per item.
        ef_construction: HNSW candidate list while building.
        ef_search: HNSW candidate list per query (at least the depth searched).
        seed: the training sample's seed.

    Raises:
        ValueError: an unknown kind, or a size that is not an integer >= 1 (named).
    """

    kind: str = "ivf"
    nlist: int | None = None
    nprobe: int = 64
    train_size: int = 100_000
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"ANN option kind must be one of {KINDS}, got {self.kind!r}")
        if self.nlist is not None:
            _positive_int("nlist", self.nlist)
        for name in ("nprobe", "train_size", "hnsw_m", "ef_construction", "ef_search"):
            _positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"ANN option seed must be an integer >= 0, got {self.seed!r}")

    def cells(self, num_items: int) -> int:
        """The IVF cell count for ``num_items`` items."""
        if self.nlist is not None:
            return max(1, min(self.nlist, num_items))
        return max(1, min(round(4 * math.sqrt(num_items)), num_items // 39))


def augment_items(table: np.ndarray) -> np.ndarray:
    """``(N, d) -> (N, d + 1)``: the extra coordinate :math:`\\sqrt{M^2 - \\lVert x\\rVert^2}`."""
    squared = np.einsum("nd,nd->n", table, table, dtype=np.float64)
    extra = np.sqrt(np.maximum(squared.max() - squared, 0.0)).astype(np.float32)
    return np.ascontiguousarray(np.hstack([table, extra[:, None]]), dtype=np.float32)


def augment_queries(queries: np.ndarray) -> np.ndarray:
    """``(Q, d) -> (Q, d + 1)``: a zero extra coordinate."""
    zeros = np.zeros((queries.shape[0], 1), dtype=np.float32)
    return np.ascontiguousarray(np.hstack([queries, zeros]), dtype=np.float32)


class AnnIndex:
    """A faiss index over the candidate table; :meth:`search` gives each query's best ids.

    Args:
        table: the candidate table, row ``j - 1`` is item ``j``.
        options: :class:`AnnOptions`.

    Attributes:
        build_seconds: wall time of the build (training included).
        memory_bytes: the vectors, ids and coarse centroids or links the index holds.

    Shapes:
        table: ``(N, d)`` float32.
    """

    def __init__(self, table: np.ndarray, options: AnnOptions | None = None) -> None:
        import faiss

        self.options = options or AnnOptions()
        if table.ndim != 2 or table.shape[0] < 1:
            raise ValueError(f"AnnIndex: table must be (N, d) with N >= 1, got {table.shape}")
        table = np.ascontiguousarray(table, dtype=np.float32)
        self.num_items, self.dim = table.shape
        started = time.perf_counter()
        kind = self.options.kind
        if kind == "flat":
            self.index = faiss.IndexFlatIP(self.dim)
            self.index.add(table)
            self.memory_bytes = table.nbytes
        else:
            vectors = augment_items(table)
            if kind == "hnsw":
                self.index = faiss.IndexHNSWFlat(self.dim + 1, self.options.hnsw_m)
                self.index.hnsw.efConstruction = self.options.ef_construction
                self.index.add(vectors)
                links = self.num_items * 2 * self.options.hnsw_m * 4
                self.memory_bytes = vectors.nbytes + links
            else:
                cells = self.options.cells(self.num_items)
                quantizer = faiss.IndexFlatL2(self.dim + 1)
                self.index = faiss.IndexIVFFlat(quantizer, self.dim + 1, cells)
                rng = np.random.default_rng(self.options.seed)
                size = min(self.options.train_size, self.num_items)
                sample = vectors[np.sort(rng.choice(self.num_items, size, replace=False))]
                self.index.cp.seed = self.options.seed
                self.index.train(sample)
                self.index.add(vectors)
                self.index.nprobe = min(self.options.nprobe, cells)
                self.quantizer = quantizer  # the IVF index does not own it
                self.memory_bytes = (
                    vectors.nbytes + self.num_items * 8 + cells * vectors.itemsize * (self.dim + 1)
                )
        self.build_seconds = time.perf_counter() - started

    def search(self, queries: np.ndarray, depth: int) -> np.ndarray:
        """Model ids ``1..N`` of each query's ``depth`` best items (``0`` where none found).

        Shapes:
            queries: ``(Q, d)`` float32; output ``(Q, depth)`` int64.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.options.kind != "flat":
            queries = augment_queries(queries)
        if self.options.kind == "hnsw":
            self.index.hnsw.efSearch = max(self.options.ef_search, depth)
        _, found = self.index.search(queries, depth)
        return found + 1  # faiss marks "none" with -1, so 0 (the padding id) here

    def describe(self) -> str:
        """One line: the kind and its search knobs."""
        kind = self.options.kind
        if kind == "ivf":
            return f"ivf(nlist={self.index.nlist}, nprobe={self.index.nprobe})"
        if kind == "hnsw":
            return f"hnsw(M={self.options.hnsw_m}, ef_search={self.options.ef_search})"
        return "flat(exact)"
