"""Atten-Mixer (Zhang et al., WSDM 2023) on session prefixes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.multi_level_attention import MultiLevelAttention
from dmi_gnn.nn.networks.multi_interest import check_positive_int
from dmi_gnn.nn.scoring import InterestScorer

if TYPE_CHECKING:
    from datamodules.batch import SessionBatch

__all__ = ["AttenMixerNet", "chronological"]


def chronological(hidden: Tensor, lengths: Tensor) -> Tensor:
    """Reverse the real positions of each row: ``(B, L, d)`` reversed prefixes -> oldest first.

    Position ``j < lengths[b]`` takes position ``lengths[b] - 1 - j``; padding stays in place
    (at the end), the layout of the published loader.
    """
    positions = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0)
    flipped = lengths.unsqueeze(1) - 1 - positions
    index = torch.where(flipped >= 0, flipped, positions)
    return hidden.gather(1, index.unsqueeze(-1).expand_as(hidden))


class AttenMixerNet(nn.Module):
    r"""Atten-Mixer (A-Mixer), the multi-level intent attention network, as its published code
    computes it (``SessionGraphAttn`` / ``LastAttenion``), with no GNN.

    1. **Embeddings** (NISER): :math:`\mathbf{h}_j = \mathrm{Dropout}(\mathbf{e}_j /
       \|\mathbf{e}_j\|)`; padding positions are zero.
    2. **Level queries** for :math:`i = 1..k`: :math:`\mathbf{q}_i = \mathbf{W}_i
       [\mathbf{h}_{l}; \mathbf{h}_{l-1}; \dots; \mathbf{h}_{l-i+1}] + \mathbf{b}_i`, the
       concatenation of the last :math:`i` items, most recent first (zeros past the start of a
       short session); then L2-normalised **across the levels** (each coordinate over
       :math:`i`, as published).
    3. **Multi-level attention** (:class:`~dmi_gnn.nn.multi_level_attention.MultiLevelAttention`)
       over the positions in chronological order (the published layout; the corrected attention
       does not depend on the order), giving :math:`\mathbf{a}`.
    4. **Output**: :math:`\mathbf{s} = \mathbf{W}_o[\mathbf{a}; \mathbf{h}_l] + \mathbf{b}_o`,
       scores :math:`\hat{y}_j = \tau\,\langle \mathbf{s}/\|\mathbf{s}\|,
       \mathrm{Dropout}(\mathbf{e}_j/\|\mathbf{e}_j\|)\rangle` with the published scale
       :math:`\tau = 16`; :meth:`encode` returns :math:`\tau\,\mathbf{s}/\|\mathbf{s}\|` as the one
       interest (:math:`U = 1`), :meth:`candidate_embeddings` the (dropped-out in training)
       normalised table. Trained with full cross-entropy (no ``training_loss``).

    ``semantics``: ``"corrected"`` (default) or ``"reference"`` (the published ``.view`` head
    split and unmasked first softmax); see the attention layer. Other published bugs are not
    reproduced: ``squeeze()`` crashing on a batch of one, the hard-coded data path, selection on
    the test split.

    Padding positions are zero vectors here. If the published table has no padding row (as the
    SR-GNN code it builds on; unverified), its padded positions carry the normalised embedding of
    item 0, which matters only to the unmasked first softmax of ``"reference"``.

    Initialisation: every parameter :math:`\mathcal{U}(-1/\sqrt{d}, 1/\sqrt{d})`, the SR-GNN
    code's ``reset_parameters`` it builds on (LayerNorm included; unverified for this repository);
    the padding row is then zeroed.

    Args:
        num_items (int): catalogue size :math:`N` (ids ``1..N``).
        embedding_dim (int, optional): :math:`d`. (default: :obj:`256`)
        heads (int, optional): attention heads. (default: :obj:`8`)
        levels (int, optional): :math:`k` (``last_k``). (default: :obj:`7`)
        lp_norm (float, optional): :math:`p` of the pooling over levels (``l_p``).
            (default: :obj:`4.0`)
        dropout (float, optional): dropout of the normalised embeddings, inputs and candidates.
            (default: :obj:`0.1`)
        attention_dropout (float, optional): dropout of the attention weights.
            (default: :obj:`0.1`)
        scale (float, optional): :math:`\tau`. (default: :obj:`16.0`)
        semantics (str, optional): ``"corrected"`` or ``"reference"``.
            (default: :obj:`"corrected"`)
        max_length (int or None, optional): keep only the most recent positions.
            (default: :obj:`None`, all)
        scoring_chunk_size (int or str, optional): see :class:`~dmi_gnn.nn.scoring.InterestScorer`.
            (default: :obj:`"auto"`)

    Shapes:
        - **encode:** :math:`(B, 1, d)`; **forward:** :math:`(B, N)`.
    """

    FEATURES: ClassVar[frozenset[str]] = frozenset()
    NAME: ClassVar[str] = "AttenMixerNet"

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 256,
        heads: int = 8,
        levels: int = 7,
        lp_norm: float = 4.0,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        scale: float = 16.0,
        semantics: Literal["corrected", "reference"] = "corrected",
        max_length: int | None = None,
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
    ) -> None:
        super().__init__()
        check_positive_int(self.NAME, "num_items", num_items)
        check_positive_int(self.NAME, "embedding_dim", embedding_dim)
        check_positive_int(self.NAME, "heads", heads)
        check_positive_int(self.NAME, "levels", levels)
        if max_length is not None:
            check_positive_int(self.NAME, "max_length", max_length)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{self.NAME}: dropout must be in [0, 1), got {dropout!r}")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"{self.NAME}: scale must be a finite number > 0, got {scale!r}")
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.levels = levels
        self.dropout = float(dropout)
        self.scale = float(scale)
        self.max_length = max_length
        self.embedding = nn.Embedding(num_items + 1, embedding_dim, padding_idx=0)
        self.level_queries = nn.ModuleList(
            nn.Linear(i * embedding_dim, embedding_dim) for i in range(1, levels + 1)
        )
        self.attention = MultiLevelAttention(
            embedding_dim,
            heads=heads,
            levels=levels,
            lp_norm=lp_norm,
            attention_dropout=attention_dropout,
            semantics=semantics,
        )
        self.output = nn.Linear(2 * embedding_dim, embedding_dim)
        self.scorer = InterestScorer("max", scoring_chunk_size)
        self.reset_parameters()

    @property
    def semantics(self) -> str:
        return self.attention.semantics

    def reset_parameters(self) -> None:
        """Every parameter U(-1/sqrt(d), 1/sqrt(d)) (as published), then a zero padding row."""
        bound = 1.0 / math.sqrt(self.embedding_dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)
        with torch.no_grad():
            self.embedding.weight[0].zero_()

    def queries(self, hidden: Tensor) -> Tensor:
        """The level queries ``(B, k, d)`` from reversed positions ``(B, L, d)`` (0 at padding)."""
        batch, length, dim = hidden.shape
        if length < self.levels:
            hidden = torch.cat([hidden, hidden.new_zeros(batch, self.levels - length, dim)], 1)
        levels = [
            layer(hidden[:, :i].reshape(batch, i * dim))
            for i, layer in enumerate(self.level_queries, start=1)
        ]
        return F.normalize(torch.stack(levels, dim=1), dim=1)

    def encode(self, batch: SessionBatch) -> Tensor:
        """The scaled, normalised session vector ``tau s / ||s||``, shape ``(B, 1, d)``."""
        items, mask, lengths = batch.items, batch.mask.to(torch.bool), batch.lengths
        if self.max_length is not None:
            items, mask = items[:, : self.max_length], mask[:, : self.max_length]
            lengths = lengths.clamp(max=self.max_length)
        embedded = F.normalize(self.embedding(items), dim=-1)  # the zero padding row stays 0
        hidden = F.dropout(embedded, self.dropout, training=self.training)
        hidden = hidden * mask.unsqueeze(-1).to(hidden.dtype)
        summary, _ = self.attention(self.queries(hidden), chronological(hidden, lengths), mask)
        session = self.output(torch.cat([summary, hidden[:, 0]], dim=-1))
        return (self.scale * F.normalize(session, dim=-1)).unsqueeze(1)

    def candidate_embeddings(self) -> Tensor:
        """``(N, d)`` L2-normalised item embeddings (with dropout in training)."""
        candidates = F.normalize(self.embedding.weight[1:], dim=-1)
        return F.dropout(candidates, self.dropout, training=self.training)

    def score(self, interests: Tensor) -> Tensor:
        """``(B, 1, d) -> (B, N)``."""
        return self.scorer(interests, self.candidate_embeddings())

    def forward(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)`` over the catalogue (column ``j`` = item ``j + 1``)."""
        return self.score(self.encode(batch))

    def extra_repr(self) -> str:
        return (
            f"num_items={self.num_items}, embedding_dim={self.embedding_dim}, "
            f"levels={self.levels}, dropout={self.dropout}, scale={self.scale}, "
            f"max_length={self.max_length}"
        )
