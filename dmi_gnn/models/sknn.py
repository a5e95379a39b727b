"""``SKNN`` as a model of the family.

SKNN, session-rec's ContextKNN (baselines.md section 4.12): the prefix's ``k`` most similar fit
sessions among its ``sample_size`` most recent (or random) candidates vote for their items.

The index (:class:`dmi_gnn.nonparametric.SKNN`) is built from the fit sessions only and lives
in the checkpoint; ``fit`` builds it, validates and tests once (no gradient steps).
"""

from __future__ import annotations

from collections.abc import Sequence

from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN
from dmi_gnn.index_recommender import IndexRecommender
from dmi_gnn.nonparametric import SKNN as SKNNIndex


class SKNN(IndexRecommender):
    """SKNN as a model of the family (module docstring).

    Args:
        k: neighbours per prefix.
        sample_size: candidate sessions per prefix (0 = all).
        sampling: ``"recent"`` or ``"random"`` candidate sessions.
        similarity: ``"cosine"``, ``"jaccard"`` or ``"dice"``.
        remind: boost the prefix's own items (session-rec's remind).
        pop_boost: weight of a popularity boost (0 = off).
        normalize: divide each score row by its maximum.
        sample_seed: permutation seed of ``sampling="random"``.
        chunk_size: prefixes per vectorised block (memory ``chunk_size x N`` floats).
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read.
        max_batch_cells: largest ``B * L * L`` per evaluation pass.
    """

    INDEX = SKNNIndex

    def __init__(
        self,
        k: int = 50,
        sample_size: int = 500,
        sampling: str = "recent",
        similarity: str = "cosine",
        remind: bool = False,
        pop_boost: float = 0.0,
        normalize: bool = True,
        sample_seed: int = 0,
        chunk_size: int = 512,
        num_items: int = 0,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
    ) -> None:
        super().__init__(
            k=k,
            sample_size=sample_size,
            sampling=sampling,
            similarity=similarity,
            remind=remind,
            pop_boost=pop_boost,
            normalize=normalize,
            sample_seed=sample_seed,
            chunk_size=chunk_size,
            num_items=num_items,
            top_k=top_k,
            metric_ks=metric_ks,
            max_session_length=max_session_length,
            max_batch_cells=max_batch_cells,
        )
