"""``Pop``: recommend the most clicked items of the fit sessions to everyone.

The floor every session model must beat (session-rec's ``Pop``, baselines.md section 4.10):
the score of item ``j`` is the number of its clicks in the fit sessions, whatever the prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from datamodules.batch import SessionBatch
from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN
from datamodules.processed import Sessions
from dmi_gnn.nonparametric_recommender import NonparametricRecommender


class Pop(NonparametricRecommender):
    """Popularity: ``score(j) = clicks of j in the fit sessions`` for every prefix.

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read (unused by Pop).
        max_batch_cells: largest ``B * L * L`` per evaluation pass.
    """

    def __init__(
        self,
        num_items: int = 0,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
    ) -> None:
        super().__init__(
            num_items=num_items,
            top_k=top_k,
            metric_ks=metric_ks,
            max_session_length=max_session_length,
            max_batch_cells=max_batch_cells,
        )
        self.register_buffer("clicks", torch.zeros(num_items), persistent=False)

    def build_index(self, sessions: Sessions) -> dict[str, Tensor]:
        """Click counts ``(N,)`` of items 1..N over ``sessions``."""
        counts = np.bincount(sessions.items, minlength=self.hparams.num_items + 1)[1:]
        return {"clicks": torch.as_tensor(counts, dtype=torch.float32)}

    def load_index(self, index: Mapping[str, Tensor]) -> None:
        clicks = index["clicks"]
        if clicks.shape != (self.hparams.num_items,):
            raise ValueError(
                f"Pop index holds {tuple(clicks.shape)} counts for {self.hparams.num_items} items"
            )
        self.clicks = clicks.to(self.clicks.device, torch.float32)

    def index_state(self) -> dict[str, Tensor]:
        return {"clicks": self.clicks.detach().cpu()}

    def scores(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)``: the click counts, the same row for every prefix."""
        self.require_index()
        return self.clicks.unsqueeze(0).expand(batch.batch_size, -1)
