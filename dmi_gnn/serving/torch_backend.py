"""A checkpoint as a serving backend: the interest encoder runs in PyTorch.

The model is read once through :func:`dmi_gnn.serving.adapter.serving_parts`; batches are built
by :func:`datamodules.batching.collate_sessions` and run in sub-batches of at most the model's
``max_batch_cells`` graph cells, as :meth:`dmi_gnn.DMIGNN.recommend` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from datamodules.batching import collate_sessions, sub_batch_bounds
from dmi_gnn.serving.adapter import ServingParts, encoder_inputs, load_model, serving_parts


class TorchBackend:
    """Serve a loaded model (see :class:`dmi_gnn.serving.recommender.Backend`).

    Args:
        parts: what :func:`~dmi_gnn.serving.adapter.serving_parts` returned.
        source: where the model came from (for the description).
    """

    def __init__(self, parts: ServingParts, source: str = "") -> None:
        self.parts = parts
        self.vocabulary = parts.vocabulary
        self.num_items = int(parts.candidates.shape[0])
        self.max_session_length = parts.max_session_length
        self.top_k = parts.top_k
        self.table_t = np.ascontiguousarray(parts.candidates.numpy().T)
        self.description = f"{parts.description} from {source}" if source else parts.description

    @classmethod
    def from_checkpoint(cls, ckpt_path: str) -> TorchBackend:
        return cls(serving_parts(load_model(ckpt_path)), source=str(ckpt_path))

    @torch.no_grad()
    def interests(self, sessions: Sequence[Sequence[int]]) -> np.ndarray:
        """Interest vectors ``(B, U, d)`` of sessions of model ids (already cut to length)."""
        max_len = self.max_session_length
        kept = [min(len(s), max_len) for s in sessions]
        parts = []
        for start, end in sub_batch_bounds(kept, self.parts.max_batch_cells):
            batch = collate_sessions(sessions[start:end], max_len=max_len)
            parts.append(self.parts.encoder(*encoder_inputs(batch)).numpy())
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
