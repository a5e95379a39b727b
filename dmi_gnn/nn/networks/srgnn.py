"""SR-GNN (Wu et al., AAAI 2019): a gated GNN over the session graph, hybrid readout."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from torch import Tensor, nn

from dmi_gnn.nn.gated_graph import GatedGraphLayer
from dmi_gnn.nn.last_item_attention import LastItemAttention
from dmi_gnn.nn.networks.common import (
    check_bool,
    check_chunk_size,
    check_positive_int,
    score_candidates,
    uniform_,
)
from dmi_gnn.nn.normalized_graph import normalized_session_graph

if TYPE_CHECKING:
    from datamodules.batch import SessionBatch

__all__ = ["SRGNNNet"]

_OWNER = "SRGNNNet"


class SRGNNNet(nn.Module):
    r"""SR-GNN ("Session-based Recommendation with Graph Neural Networks", Wu et al., AAAI 2019)
    as a plain :class:`torch.nn.Module`.

    1. **Session graph** (:func:`~dmi_gnn.nn.normalized_graph.normalized_session_graph`):
       unique items of each prefix, degree-normalised in/out adjacency, built from
       ``items``/``mask`` in torch (so the network needs no batch feature).
    2. **Node vectors** (:class:`~dmi_gnn.nn.GatedGraphLayer`, eqs. 1-5): ``steps`` gated
       propagation steps from the item embeddings, gathered back to the prefix positions.
    3. **Readout** (eqs. 6-7): :math:`\mathbf{s}_l = \mathbf{v}_n` (the most recent click),
       :math:`\mathbf{s}_g` by :class:`~dmi_gnn.nn.LastItemAttention` (un-normalised), and
       :math:`\mathbf{s}_h = \mathbf{W}_3 [\mathbf{s}_g ; \mathbf{s}_l] + \mathbf{b}_3`
       (``hybrid``; otherwise :math:`\mathbf{s}_h = \mathbf{s}_g`, the paper's "SR-GNN-NGC").
    4. **Scores** (eq. 8): :math:`\hat{y}_j = \mathbf{s}_h^\top \mathbf{v}_j` over items
       ``1..N`` (raw embeddings); trained with full cross-entropy (eq. 9).

    Published defaults: ``d = 100``, one propagation step, hybrid readout; every parameter from
    ``uniform(-1/sqrt(d), 1/sqrt(d))``; Adam lr 1e-3, L2 1e-5, StepLR(3, 0.1), batch 100.

    Args:
        num_items (int): ``N``, items are ``1..N`` and 0 is padding.
        embedding_dim (int): ``d``.
        steps (int): GNN propagation steps.
        hybrid (bool): the hybrid readout :math:`\mathbf{W}_3 [\mathbf{s}_g ; \mathbf{s}_l]`.
        scoring_chunk_size (int, str or None): candidate items per scoring block.

    Shapes:
        - **input:** a :class:`~datamodules.batch.SessionBatch` (``items``, ``mask`` only).
        - **output:** :meth:`encode` :math:`(B, 1, d)`; :meth:`forward` :math:`(B, N)`.
    """

    FEATURES: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 100,
        steps: int = 1,
        hybrid: bool = True,
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_items", num_items),
            ("embedding_dim", embedding_dim),
            ("steps", steps),
        ):
            check_positive_int(_OWNER, name, value)
        check_bool(_OWNER, "hybrid", hybrid)
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.representation_dim = embedding_dim
        self.steps = steps
        self.hybrid = hybrid
        check_chunk_size(_OWNER, scoring_chunk_size)
        self.scoring_chunk_size = scoring_chunk_size
        self.embedding = nn.Embedding(num_items + 1, embedding_dim)
        self.gnn = GatedGraphLayer(embedding_dim, steps)
        self.readout = LastItemAttention(embedding_dim, bias=True, normalization="none")
        self.transform = nn.Linear(2 * embedding_dim, embedding_dim) if hybrid else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as the reference)."""
        uniform_(self.parameters(), self.embedding_dim)

    def item_representations(self, batch: SessionBatch) -> Tensor:
        """Node vectors after the GNN, at the prefix positions: ``(B, L, d)``."""
        graph = normalized_session_graph(batch.items, batch.mask, self.embedding.weight.dtype)
        hidden = self.gnn(self.embedding(graph.nodes), graph.in_adjacency, graph.out_adjacency)
        index = graph.alias.unsqueeze(-1).expand(-1, -1, self.embedding_dim)
        return hidden.gather(1, index)

    def encode(self, batch: SessionBatch) -> Tensor:
        """The session vector :math:`\\mathbf{s}_h`, shape ``(B, 1, d)``."""
        hidden = self.item_representations(batch)
        session, _ = self.readout(hidden, batch.mask)
        if self.transform is not None:
            session = self.transform(torch.cat([session, hidden[:, 0]], dim=-1))
        return session.unsqueeze(1)

    def candidate_embeddings(self) -> Tensor:
        """The raw embeddings of items ``1..N``, ``(N, d)``; row ``j - 1`` is item ``j``."""
        return self.embedding.weight[1:]

    def score(self, interests: Tensor) -> Tensor:
        """``(B, 1, d)`` -> ``(B, N)`` scores over items ``1..N``."""
        return score_candidates(interests, self.candidate_embeddings(), self.scoring_chunk_size)

    def forward(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)`` of every item for every prefix."""
        return self.score(self.encode(batch))

    def extra_repr(self) -> str:
        return (
            f"num_items={self.num_items}, embedding_dim={self.embedding_dim}, "
            f"steps={self.steps}, hybrid={self.hybrid}"
        )
