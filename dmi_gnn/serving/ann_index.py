r"""A faiss index over the candidate table: the approximate top items of ONE interest vector.

Eq. 6 ranks items by :math:`\max_u \mathbf{s}_u^\top \mathbf{x}_j`; each interest alone is a
maximum-inner-product search (MIPS). The index answers it for every interest of a batch at once;
:mod:`dmi_gnn.serving.retrieval` merges the ``U`` lists by the max over interests.

Kinds:

* ``"ivfpq"`` (the default): an inverted file over 4-bit product-quantised codes
  (``IndexIVFPQFastScan``, two dimensions per sub-quantiser). k-means cuts the table into
  ``nlist`` cells; a query scans the ``nprobe`` nearest cells with approximate distances from
  the codes (SIMD table look-ups, an order of magnitude cheaper per item than exact distances)
  and returns ``refine * depth`` candidates, which :mod:`~dmi_gnn.serving.retrieval` rescores
  exactly from the full table. Cheap codes let a query scan many more cells for the same time,
  which is what recall needs on a catalogue whose items are spread around their topics: at 1M
  items it reaches recall@20 0.99 where ``"ivf"`` at the same latency stays near 0.93 (README).
* ``"ivf"``: the same inverted file with exact distances (``IndexIVFFlat``); fewer cells scanned
  for the same time, no rescoring needed.
* ``"hnsw"``: a navigable small-world graph (``IndexHNSWFlat``, ``hnsw_m`` links per item,
  ``ef_search`` at query time), for catalogues rebuilt rarely; its build takes minutes at a
  million items on two cores (about 30 s per 100,000 items with M = 32), the inverted files
  seconds.
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

KINDS = ("ivfpq", "ivf", "hnsw", "flat")

#: ``"ivfpq"`` trains 16 code words per sub-quantiser by k-means; below this it has too few points.
MIN_PQ_ITEMS = 256

#: ``nprobe`` when none is given: ``"ivfpq"`` scans cheap codes, so it can afford more cells.
DEFAULT_NPROBE = {"ivfpq": 512, "ivf": 64}


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"ANN option {name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class AnnOptions:
    """How the index is built and searched.

    Attributes:
        kind: ``"ivfpq"``, ``"ivf"``, ``"hnsw"`` or ``"flat"`` (module docstring).
        nlist: IVF cells; None = :math:`4\\sqrt{N}` rounded, at most ``N / 39`` (faiss wants
            39 training points per cell).
        nprobe: IVF cells scanned per query; None = :data:`DEFAULT_NPROBE` of the kind.
        refine: ``"ivfpq"``: candidates per query, as a multiple of the depth asked for, that
            the codes pass on to exact rescoring (the other kinds' distances are exact: 1).
        train_size: IVF k-means training points (a seeded sample of the table).
        hnsw_m: HNSW links per item.
        ef_construction: HNSW candidate list while building.
        ef_search: HNSW candidate list per query (at least the depth searched).
        seed: the training sample's seed.

    Raises:
        ValueError: an unknown kind, or a size that is not an integer >= 1 (named).
    """

    kind: str = "ivfpq"
    nlist: int | None = None
    nprobe: int | None = None
    refine: int = 4
    train_size: int = 100_000
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"ANN option kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("nlist", "nprobe"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        for name in ("refine", "train_size", "hnsw_m", "ef_construction", "ef_search"):
            _positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"ANN option seed must be an integer >= 0, got {self.seed!r}")

    def probes(self) -> int:
        """IVF cells scanned per query (``nprobe``, or the kind's default)."""
        return self.nprobe if self.nprobe is not None else DEFAULT_NPROBE.get(self.kind, 64)

    def depth(self, k: int) -> int:
        """Candidates to ask the index for when ``k`` items are wanted."""
        return k * self.refine if self.kind == "ivfpq" else k

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


def augment_queries(queries: np.ndarray, width: int | None = None) -> np.ndarray:
    """``(Q, d) -> (Q, width)``: zero extra coordinates (``width`` None = ``d + 1``)."""
    width = queries.shape[1] + 1 if width is None else width
    zeros = np.zeros((queries.shape[0], width - queries.shape[1]), dtype=np.float32)
    return np.ascontiguousarray(np.hstack([queries, zeros]), dtype=np.float32)


def pad_columns(vectors: np.ndarray, width: int) -> np.ndarray:
    """``(N, w) -> (N, width)`` with zero columns, which leave every L2 distance unchanged
    (product quantisation with two dimensions per sub-quantiser needs an even width)."""
    if vectors.shape[1] == width:
        return vectors
    zeros = np.zeros((vectors.shape[0], width - vectors.shape[1]), dtype=np.float32)
    return np.ascontiguousarray(np.hstack([vectors, zeros]), dtype=np.float32)


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
        if self.options.kind == "ivfpq" and table.shape[0] < MIN_PQ_ITEMS:
            raise ValueError(
                f"ANN index ivfpq needs at least {MIN_PQ_ITEMS} items to train its codes, got "
                f"{table.shape[0]}; use kind 'ivf' or 'flat' for a catalogue this small"
            )
        table = np.ascontiguousarray(table, dtype=np.float32)
        self.num_items, self.dim = table.shape
        self.width = self.dim + 1  # the searched vectors' width (augmented, padded for PQ)
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
                self._build_ivf(faiss, vectors)
        self.build_seconds = time.perf_counter() - started

    def _build_ivf(self, faiss, vectors: np.ndarray) -> None:
        """``"ivf"`` / ``"ivfpq"`` over the augmented ``vectors`` ``(N, d + 1)``."""
        cells = self.options.cells(self.num_items)
        if self.options.kind == "ivfpq":
            self.width = vectors.shape[1] + vectors.shape[1] % 2
            vectors = pad_columns(vectors, self.width)
            quantizer = faiss.IndexFlatL2(self.width)
            self.index = faiss.IndexIVFPQFastScan(quantizer, self.width, cells, self.width // 2, 4)
            stored = self.num_items * self.width // 4  # 4 bits per pair of dimensions
        else:
            quantizer = faiss.IndexFlatL2(self.width)
            self.index = faiss.IndexIVFFlat(quantizer, self.width, cells)
            stored = vectors.nbytes
        rng = np.random.default_rng(self.options.seed)
        size = min(self.options.train_size, self.num_items)
        sample = vectors[np.sort(rng.choice(self.num_items, size, replace=False))]
        self.index.cp.seed = self.options.seed
        self.index.train(sample)
        self.index.add(vectors)
        self.index.nprobe = min(self.options.probes(), cells)
        self.quantizer = quantizer  # the IVF index does not own it
        self.memory_bytes = stored + self.num_items * 8 + cells * 4 * self.width

    def search(self, queries: np.ndarray, depth: int) -> np.ndarray:
        """Model ids ``1..N`` of each query's ``depth`` best items (``0`` where none found).

        Shapes:
            queries: ``(Q, d)`` float32; output ``(Q, depth)`` int64.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.options.kind != "flat":
            queries = augment_queries(queries, self.width)
        if self.options.kind == "hnsw":
            self.index.hnsw.efSearch = max(self.options.ef_search, depth)
        _, found = self.index.search(queries, depth)
        return found + 1  # faiss marks "none" with -1, so 0 (the padding id) here

    def describe(self) -> str:
        """One line: the kind and its search knobs."""
        kind = self.options.kind
        if kind == "ivfpq":
            return (
                f"ivfpq(nlist={self.index.nlist}, nprobe={self.index.nprobe}, "
                f"pq={self.index.pq.M}x4, refine={self.options.refine})"
            )
        if kind == "ivf":
            return f"ivf(nlist={self.index.nlist}, nprobe={self.index.nprobe})"
        if kind == "hnsw":
            return f"hnsw(M={self.options.hnsw_m}, ef_search={self.options.ef_search})"
        return "flat(exact)"
