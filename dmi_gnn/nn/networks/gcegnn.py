"""GCE-GNN (Wang et al., SIGIR 2020): DMI-GNN's context network with a one-vector readout."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.global_aggregator import GlobalAggregator
from dmi_gnn.nn.global_graph import check_global_graph, global_pyramid
from dmi_gnn.nn.local_aggregator import LocalAggregator
from dmi_gnn.nn.networks.common import (
    check_choice,
    check_chunk_size,
    check_positive_int,
    check_rate,
    masked_mean,
    score_candidates,
    uniform_,
)
from dmi_gnn.nn.positional_readout import PositionalAttentionReadout

if TYPE_CHECKING:
    from datamodules.batch import SessionBatch

__all__ = ["GCEGNNNet"]

_OWNER = "GCEGNNNet"


class GCEGNNNet(nn.Module):
    r"""GCE-GNN ("Global Context Enhanced Graph Neural Networks for Session-based
    Recommendation", Wang et al., SIGIR 2020) as a plain :class:`torch.nn.Module`.

    1. **Local branch** (:class:`~dmi_gnn.nn.LocalAggregator`, eqs. 1-3) over the session
       graph of each prefix, on the raw item embeddings (GCE-GNN normalises nothing).
    2. **Global branch** (:class:`~dmi_gnn.nn.GlobalAggregator`, eqs. 4-7, ``hop`` levels of
       :func:`~dmi_gnn.nn.global_graph.global_pyramid`) over each item's ``num_neighbors``
       fixed global neighbours, conditioned on the mean raw embedding of the prefix positions.
    3. **Combination:** :math:`\mathbf{h}_v = \mathrm{Dropout}_{local}(\mathbf{h}^l_v) +
       \mathrm{Dropout}_{global}(\mathbf{h}^g_v)`, gathered to the prefix positions.
    4. **Readout** (:class:`~dmi_gnn.nn.PositionalAttentionReadout`): one session vector
       :math:`\mathbf{S}` with reversed position embeddings and a session-mean-conditioned,
       un-normalised soft attention.
    5. **Scores:** :math:`\hat{y}_j = \mathbf{S}^\top \mathbf{x}_j` for items ``1..N`` (raw
       embeddings, no normalisation); trained with full cross-entropy.

    Defaults are the published Tmall setting (the split of this package's Table 2): ``d = 100``,
    ``hop = 1``, 12 neighbours, ``dropout_local = 0.5``, ``dropout_global = 0.5``,
    ``dropout_gcn = 0.6``. The published code's other presets: Diginetica ``hop = 2``, dropouts
    ``0 / 0.5 / 0.2``; Nowplaying ``hop = 1``, ``0 / 0.5 / 0``. Every parameter starts from
    ``uniform(-1/sqrt(d), 1/sqrt(d))``; item 0 (padding) has a trainable vector that is never a
    candidate.

    Args:
        num_items (int): ``N``, items are ``1..N`` and 0 is padding.
        embedding_dim (int): ``d``.
        hop (int): global-graph hops (>= 1).
        num_neighbors (int): slots per item in the global neighbour table.
        dropout_local (float): dropout on the local branch output.
        dropout_global (float): dropout on the global branch output.
        dropout_gcn (float): dropout inside each global aggregator.
        leaky_relu_slope (float): LeakyReLU slope of both aggregators.
        global_activation (str): ``"relu"`` or ``"tanh"`` in the global aggregator.
        max_positions (int): rows of the positional table; longer prefixes reuse the last row.
        neighbor_padding (str): ``"resampled"`` (attend all ``k`` slots, as the reference) or
            ``"masked"`` (slots holding item 0 are excluded).
        scoring_chunk_size (int, str or None): candidate items per scoring block (``"auto"``:
            8,192 on the CPU, one block elsewhere); same scores either way.

    Shapes:
        - **input:** a :class:`~datamodules.batch.SessionBatch` (its session-graph fields).
        - **output:** :meth:`encode` :math:`(B, 1, d)`; :meth:`forward` :math:`(B, N)`.
    """

    FEATURES: ClassVar[frozenset[str]] = frozenset({"session_graph", "global_graph"})

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 100,
        hop: int = 1,
        num_neighbors: int = 12,
        dropout_local: float = 0.5,
        dropout_global: float = 0.5,
        dropout_gcn: float = 0.6,
        leaky_relu_slope: float = 0.2,
        global_activation: Literal["relu", "tanh"] = "relu",
        max_positions: int = 200,
        neighbor_padding: Literal["resampled", "masked"] = "resampled",
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_items", num_items),
            ("embedding_dim", embedding_dim),
            ("hop", hop),
            ("num_neighbors", num_neighbors),
            ("max_positions", max_positions),
        ):
            check_positive_int(_OWNER, name, value)
        for name, value in (
            ("dropout_local", dropout_local),
            ("dropout_global", dropout_global),
            ("dropout_gcn", dropout_gcn),
        ):
            check_rate(_OWNER, name, value)
        check_choice(_OWNER, "global_activation", global_activation, ("relu", "tanh"))
        check_choice(_OWNER, "neighbor_padding", neighbor_padding, ("resampled", "masked"))
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.representation_dim = embedding_dim
        self.hop = hop
        self.num_neighbors = num_neighbors
        self.dropout_local = float(dropout_local)
        self.dropout_global = float(dropout_global)
        self.dropout_gcn = float(dropout_gcn)
        self.neighbor_padding = neighbor_padding
        check_chunk_size(_OWNER, scoring_chunk_size)
        self.scoring_chunk_size = scoring_chunk_size

        self.embedding = nn.Embedding(num_items + 1, embedding_dim)
        self.local_aggregator = LocalAggregator(embedding_dim, leaky_relu_slope)
        self.global_aggregators = nn.ModuleList(
            GlobalAggregator(embedding_dim, self.dropout_gcn, global_activation, leaky_relu_slope)
            for _ in range(hop)
        )
        self.readout = PositionalAttentionReadout(embedding_dim, max_positions)
        self.register_buffer(
            "global_neighbors", torch.zeros(num_items + 1, num_neighbors, dtype=torch.int64)
        )
        self.register_buffer(
            "global_weights", torch.zeros(num_items + 1, num_neighbors, dtype=torch.float32)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as the reference)."""
        uniform_(self.parameters(), self.embedding_dim)

    @torch.no_grad()
    def set_global_graph(self, neighbors: Tensor, weights: Tensor) -> None:
        """Copy the global neighbour table into the buffers (as :class:`~dmi_gnn.nn.DMIGNNNet`).

        Args:
            neighbors: ``(num_items + 1, num_neighbors)`` integer ids in ``0..num_items``.
            weights: ``(num_items + 1, num_neighbors)`` finite co-occurrence weights.

        Raises:
            ValueError: on a wrong shape or dtype, an id out of range or a non-finite weight.
        """
        neighbors, weights = check_global_graph(
            neighbors, weights, tuple(self.global_neighbors.shape), self.num_items
        )
        self.global_neighbors.copy_(neighbors)
        self.global_weights.copy_(weights)

    def item_representations(self, batch: SessionBatch) -> Tensor:
        """Local + global item representations at the prefix positions, ``(B, L, d)``."""
        nodes = batch.nodes
        h_local = self.local_aggregator(self.embedding(nodes), batch.adjacency)
        session = masked_mean(self.embedding(batch.items), batch.mask)
        h_global = global_pyramid(
            self.embedding,
            self.global_aggregators,
            self.global_neighbors,
            self.global_weights,
            nodes,
            session,
            masked=self.neighbor_padding == "masked",
        )
        hidden = F.dropout(h_local, self.dropout_local, training=self.training) + F.dropout(
            h_global, self.dropout_global, training=self.training
        )
        index = batch.alias.unsqueeze(-1).expand(-1, -1, self.embedding_dim)
        return hidden.gather(1, index)

    def encode(self, batch: SessionBatch) -> Tensor:
        """The session vector :math:`\\mathbf{S}`, shape ``(B, 1, d)``."""
        session, _ = self.readout(self.item_representations(batch), batch.mask)
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
            f"num_items={self.num_items}, embedding_dim={self.embedding_dim}, hop={self.hop}, "
            f"num_neighbors={self.num_neighbors}, dropout_local={self.dropout_local}, "
            f"dropout_global={self.dropout_global}, dropout_gcn={self.dropout_gcn}, "
            f"neighbor_padding={self.neighbor_padding!r}"
        )
