"""GRU4Rec (Hidasi et al., ICLR 2016), the prefix full-cross-entropy variant."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.gru_encoder import GRUEncoder
from dmi_gnn.nn.networks.common import (
    check_chunk_size,
    check_positive_int,
    check_rate,
    score_candidates,
)

if TYPE_CHECKING:
    from datamodules.batch import SessionBatch

__all__ = ["GRU4RecNet"]

_OWNER = "GRU4RecNet"


class GRU4RecNet(nn.Module):
    r"""GRU4Rec ("Session-based Recommendations with Recurrent Neural Networks", Hidasi et al.,
    ICLR 2016) in its **prefix full-cross-entropy** variant, as a plain :class:`torch.nn.Module`.

    .. math::
        \mathbf{h} = \mathrm{GRU}\left(\mathrm{Dropout}_{emb}(\mathbf{E}[v_1]), \ldots,
            \mathrm{Dropout}_{emb}(\mathbf{E}[v_l])\right)_l, \qquad
        \hat{y}_j = \left(\mathbf{P}\,\mathrm{Dropout}_{hid}(\mathbf{h})\right)^\top
            \mathbf{E}_j,

    the final state of a GRU (:class:`~dmi_gnn.nn.GRUEncoder`) run over each training prefix
    from a zero state, scored against the **input** embeddings (tied input/output embeddings,
    the official code's "constrained embedding"; :math:`\mathbf{P}` is the identity when
    ``hidden_size == embedding_dim`` and a learnt :math:`d_h \to d` map otherwise), trained with
    full softmax cross-entropy over the catalogue like every other network here.

    **How this differs from the official GRU4Rec** (hidasib/GRU4Rec, Hidasi & Karatzoglou,
    CIKM 2018): the official training is *session-parallel*: mini-batches of parallel session
    streams, one event per step, the hidden state carried across events and reset at session
    end (no back-propagation through time), a loss over *sampled* negatives (the other targets
    of the mini-batch plus popularity-sampled extras: BPR-max, TOP1-max or cross-entropy with
    logQ correction) and Adagrad with momentum. Here every prefix is an independent sample
    (as in NARM, SR-GNN and GCE-GNN), the GRU is back-propagated through the whole prefix and
    the loss is exact full cross-entropy. At evaluation both compute the same thing (a prefix
    encoded from a zero state), so only training differs; the official variant is not shipped.

    Published defaults: one GRU layer; the official parameter files use 100-512 units and
    embedding/hidden dropouts 0.0-0.5 per dataset (none for Tmall). Here ``hidden_size``
    defaults to ``embedding_dim`` (tied, no projection), ``dropout_embedding = 0.3`` (RecBole's
    full-CE GRU4Rec), ``dropout_hidden = 0``. Initialisation: Glorot-uniform matrices (each GRU
    gate block on its own) and zero biases, embedding included: the Glorot-style scheme of the
    official code as its documentation describes it (not checked against that code here).

    Args:
        num_items (int): ``N``, items are ``1..N`` and 0 is padding.
        embedding_dim (int): ``d``.
        hidden_size (int or None): GRU state size :math:`d_h`; None means ``embedding_dim``.
        num_layers (int): stacked GRU layers.
        dropout_embedding (float): dropout on the input embeddings.
        dropout_hidden (float): dropout on the final state (and between stacked layers).
        scoring_chunk_size (int, str or None): candidate items per scoring block.

    Shapes:
        - **input:** a :class:`~datamodules.batch.SessionBatch` (``items``, ``lengths``).
        - **output:** :meth:`encode` :math:`(B, 1, d)`; :meth:`forward` :math:`(B, N)`.
    """

    FEATURES: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 100,
        hidden_size: int | None = None,
        num_layers: int = 1,
        dropout_embedding: float = 0.3,
        dropout_hidden: float = 0.0,
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
    ) -> None:
        super().__init__()
        hidden_size = embedding_dim if hidden_size is None else hidden_size
        for name, value in (
            ("num_items", num_items),
            ("embedding_dim", embedding_dim),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            check_positive_int(_OWNER, name, value)
        for name, value in (
            ("dropout_embedding", dropout_embedding),
            ("dropout_hidden", dropout_hidden),
        ):
            check_rate(_OWNER, name, value)
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.representation_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout_embedding = float(dropout_embedding)
        self.dropout_hidden = float(dropout_hidden)
        check_chunk_size(_OWNER, scoring_chunk_size)
        self.scoring_chunk_size = scoring_chunk_size
        self.embedding = nn.Embedding(num_items + 1, embedding_dim)
        self.encoder = GRUEncoder(embedding_dim, hidden_size, num_layers, self.dropout_hidden)
        self.projection = (
            nn.Linear(hidden_size, embedding_dim) if hidden_size != embedding_dim else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform matrices (per gate block for the GRU), zero biases."""
        nn.init.xavier_uniform_(self.embedding.weight)
        hidden = self.hidden_size
        for name, parameter in self.encoder.gru.named_parameters():
            if name.startswith("bias"):
                nn.init.zeros_(parameter)
            else:
                for block in parameter.split(hidden):  # reset, update, new gate
                    nn.init.xavier_uniform_(block)
        if self.projection is not None:
            nn.init.xavier_uniform_(self.projection.weight)
            nn.init.zeros_(self.projection.bias)

    def encode(self, batch: SessionBatch) -> Tensor:
        """The projected final GRU state, shape ``(B, 1, d)``."""
        inputs = F.dropout(
            self.embedding(batch.items), self.dropout_embedding, training=self.training
        )
        final = self.encoder(inputs, batch.lengths)[:, 0]
        final = F.dropout(final, self.dropout_hidden, training=self.training)
        if self.projection is not None:
            final = self.projection(final)
        return final.unsqueeze(1)

    def candidate_embeddings(self) -> Tensor:
        """The (tied) embeddings of items ``1..N``, ``(N, d)``; row ``j - 1`` is item ``j``."""
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
            f"dropout_embedding={self.dropout_embedding}, dropout_hidden={self.dropout_hidden}"
        )
