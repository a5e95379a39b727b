"""NARM (Li et al., CIKM 2017): GRU encoder, global + local attention, bilinear decoder."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.gru_encoder import GRUEncoder
from dmi_gnn.nn.last_item_attention import LastItemAttention
from dmi_gnn.nn.networks.common import (
    check_chunk_size,
    check_positive_int,
    check_rate,
    score_candidates,
    uniform_,
)

if TYPE_CHECKING:
    from datamodules.batch import SessionBatch

__all__ = ["NARMNet"]

_OWNER = "NARMNet"


class NARMNet(nn.Module):
    r"""NARM ("Neural Attentive Session-based Recommendation", Li et al., CIKM 2017) as a plain
    :class:`torch.nn.Module`.

    1. **Embedding** :math:`\mathbf{x}_t = \mathrm{Dropout}_{emb}(\mathbf{E}[v_t])`.
    2. **Encoder** (:class:`~dmi_gnn.nn.GRUEncoder`): GRU states :math:`\mathbf{h}_1..\mathbf{h}_t`
       over the prefix in chronological order.
    3. **Global encoder:** :math:`\mathbf{c}_g = \mathbf{h}_t` (the final state).
    4. **Local encoder** (:class:`~dmi_gnn.nn.LastItemAttention`, no bias, softmax as in the
       published code): :math:`\alpha_j \propto \exp(\mathbf{v}^\top \sigma(\mathbf{A}_1
       \mathbf{h}_t + \mathbf{A}_2 \mathbf{h}_j))`, :math:`\mathbf{c}_l = \sum_j \alpha_j
       \mathbf{h}_j`.
    5. **Bilinear decoder:** :math:`\mathbf{c} = \mathrm{Dropout}_{ctx}([\mathbf{c}_l ;
       \mathbf{c}_g])`, :math:`\hat{y}_i = \mathbf{E}_i^\top \mathbf{B} \mathbf{c}` with
       :math:`\mathbf{B} \in \mathbb{R}^{d \times 2 d_h}`; :meth:`encode` returns
       :math:`\mathbf{B} \mathbf{c}` so that scoring is a dot product with the item
       embeddings. Trained with full cross-entropy (Adam, lr 1e-3).

    Published defaults: embeddings 50-d (``dim_proj``), GRU 100 units, dropouts 0.25 (embedding)
    and 0.5 (context), one GRU layer; the package defaults to ``embedding_dim = 100`` (the
    DMI-GNN set-up) and keeps the rest. The published Theano code uses ``hard_sigmoid`` for the
    attention and the GRU gates; this uses the logistic sigmoid of the paper. Initialisation:
    ``uniform(-1/sqrt(d), 1/sqrt(d))`` for the embedding and decoder,
    ``uniform(-1/sqrt(d_h), 1/sqrt(d_h))`` for the GRU and the attention (the Theano code's
    initialisation was not reproduced).

    Args:
        num_items (int): ``N``, items are ``1..N`` and 0 is padding.
        embedding_dim (int): ``d`` (item embeddings and the score space).
        hidden_size (int): GRU state size :math:`d_h`.
        num_layers (int): stacked GRU layers.
        dropout_embedding (float): dropout on the input embeddings.
        dropout_context (float): dropout on :math:`[\mathbf{c}_l ; \mathbf{c}_g]`.
        scoring_chunk_size (int, str or None): candidate items per scoring block.

    Shapes:
        - **input:** a :class:`~datamodules.batch.SessionBatch` (``items``, ``mask``,
          ``lengths``).
        - **output:** :meth:`encode` :math:`(B, 1, d)`; :meth:`forward` :math:`(B, N)`.
    """

    FEATURES: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 100,
        hidden_size: int = 100,
        num_layers: int = 1,
        dropout_embedding: float = 0.25,
        dropout_context: float = 0.5,
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_items", num_items),
            ("embedding_dim", embedding_dim),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            check_positive_int(_OWNER, name, value)
        for name, value in (
            ("dropout_embedding", dropout_embedding),
            ("dropout_context", dropout_context),
        ):
            check_rate(_OWNER, name, value)
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.representation_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout_embedding = float(dropout_embedding)
        self.dropout_context = float(dropout_context)
        check_chunk_size(_OWNER, scoring_chunk_size)
        self.scoring_chunk_size = scoring_chunk_size
        self.embedding = nn.Embedding(num_items + 1, embedding_dim)
        self.encoder = GRUEncoder(embedding_dim, hidden_size, num_layers)
        self.attention = LastItemAttention(hidden_size, bias=False, normalization="softmax")
        self.decoder = nn.Linear(2 * hidden_size, embedding_dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform initialisation (see the class docstring)."""
        uniform_([self.embedding.weight, self.decoder.weight], self.embedding_dim)
        self.encoder.reset_parameters()
        self.attention.reset_parameters()

    def encode(self, batch: SessionBatch) -> Tensor:
        """:math:`\\mathbf{B} \\mathbf{c}`, shape ``(B, 1, d)``."""
        inputs = F.dropout(
            self.embedding(batch.items), self.dropout_embedding, training=self.training
        )
        states = self.encoder(inputs, batch.lengths)
        local, _ = self.attention(states, batch.mask)
        context = torch.cat([local, states[:, 0]], dim=-1)
        context = F.dropout(context, self.dropout_context, training=self.training)
        return self.decoder(context).unsqueeze(1)

    def candidate_embeddings(self) -> Tensor:
        """The embeddings of items ``1..N``, ``(N, d)``; row ``j - 1`` is item ``j``."""
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
            f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
            f"dropout_embedding={self.dropout_embedding}, "
            f"dropout_context={self.dropout_context}"
        )
