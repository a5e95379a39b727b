"""``SPop`` as a model of the family.

S-POP (session-rec, baselines.md section 4.11): the prefix's own click counts first, then
popularity among the ``top_n`` most supported fit items.

The index (:class:`dmi_gnn.nonparametric.SPop`) is built from the fit sessions only and lives
in the checkpoint; ``fit`` builds it, validates and tests once (no gradient steps).
"""

from __future__ import annotations

from collections.abc import Sequence

from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN
from dmi_gnn.index_recommender import IndexRecommender
from dmi_gnn.nonparametric import SPop as SPopIndex


class SPop(IndexRecommender):
    """SPop as a model of the family (module docstring).

    Args:
        top_n: items with a popularity term (0 = all); session-rec's default 100.
        support: ``"clicks"`` or ``"sessions"``: what popularity counts.
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read.
        max_batch_cells: largest ``B * L * L`` per evaluation pass.
    """

    INDEX = SPopIndex

    def __init__(
        self,
        top_n: int = 100,
        support: str = "clicks",
        num_items: int = 0,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
    ) -> None:
        super().__init__(
            top_n=top_n,
            support=support,
            num_items=num_items,
            top_k=top_k,
            metric_ks=metric_ks,
            max_session_length=max_session_length,
            max_batch_cells=max_batch_cells,
        )
