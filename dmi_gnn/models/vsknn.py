"""``VSKNN`` as a model of the family.

V-SKNN, session-rec's VMContextKNN (baselines.md section 4.13): SKNN with the prefix's clicks
weighted by recency, neighbour scores decayed by the step of their last match, optional idf.

The index (:class:`dmi_gnn.nonparametric.VSKNN`) is built from the fit sessions only and lives
in the checkpoint; ``fit`` builds it, validates and tests once (no gradient steps).
"""

from __future__ import annotations

from collections.abc import Sequence

from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN
from dmi_gnn.index_recommender import IndexRecommender
from dmi_gnn.nonparametric import VSKNN as VSKNNIndex


class VSKNN(IndexRecommender):
    """VSKNN as a model of the family (module docstring).

    Args:
        k: neighbours per prefix.
        sample_size: candidate sessions per prefix (0 = all).
        sampling: ``"recent"`` or ``"random"`` candidate sessions.
        weighting: prefix position weighting (``linear``, ``same``, ``div``,
            ``log``, ``quadratic``).
        weighting_score: neighbour decay by the step of its latest match.
        idf_weighting: idf weight lambda >= 0 (0 = off).
        remind: keep the prefix's own items as candidates.
        normalize: divide each score row by its maximum.
        sample_seed: permutation seed of ``sampling="random"``.
        chunk_size: prefixes per vectorised block (memory ``chunk_size x N`` floats).
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read.
        max_batch_cells: largest ``B * L * L`` per evaluation pass.
    """

    INDEX = VSKNNIndex

    def __init__(
        self,
        k: int = 100,
        sample_size: int = 1000,
        sampling: str = "recent",
        weighting: str = "div",
        weighting_score: str = "div",
        idf_weighting: float = 0.0,
        remind: bool = True,
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
            weighting=weighting,
            weighting_score=weighting_score,
            idf_weighting=idf_weighting,
            remind=remind,
            normalize=normalize,
            sample_seed=sample_seed,
            chunk_size=chunk_size,
            num_items=num_items,
            top_k=top_k,
            metric_ks=metric_ks,
            max_session_length=max_session_length,
            max_batch_cells=max_batch_cells,
        )
