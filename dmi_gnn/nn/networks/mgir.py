"""MGIRNet: Multi-faceted Global Item Relation learning (Han et al., SIGIR 2022), pure torch."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.cooccurrence_relation_layer import CooccurrenceRelationLayer
from dmi_gnn.nn.incompatible_relation_layer import IncompatibleRelationLayer
from dmi_gnn.nn.position_norm_attention_readout import PositionNormAttentionReadout
from dmi_gnn.nn.scoring import resolve_chunk_size
from dmi_gnn.nn.sequential_relation_layer import SequentialRelationLayer
from dmi_gnn.nn.sparse_rows import row_normalised_csr, sparse_rows_matmul
from dmi_gnn.nn.target_token_readout import TargetTokenReadout

if TYPE_CHECKING:
    from datamodules.batch import SessionBatch

__all__ = ["RELATIONS", "MGIRNet"]

#: The three relation graphs, in the keyword order of :meth:`MGIRNet.set_relation_graphs`.
RELATIONS = ("sequential", "cooccurrence", "incompatible")
#: Normalised operators: ``(name, relation, transpose)``; ``_in`` = D_row^-1 A,
#: ``_out`` = D_col^-1 A^T (the published ``graph_in`` / ``graph_out``).
_OPERATORS = (
    ("sequential_in", "sequential", False),
    ("sequential_out", "sequential", True),
    ("cooccurrence_in", "cooccurrence", False),
    ("incompatible_in", "incompatible", False),
    ("incompatible_out", "incompatible", True),
)


class MGIRNet(nn.Module):
    r"""MGIR as a plain :class:`torch.nn.Module`, on sparse item-relation graphs.

    From "Multi-Faceted Global Item Relation Learning for Session-Based Recommendation"
    (Han et al., SIGIR 2022), as the published code computes it (baselines.md §4.8):

    1. **Relation GNNs** over three global item graphs built from the fit sessions
       (:func:`datamodules.relation_graphs.build_relation_graphs`; buffers set with
       :meth:`set_relation_graphs`): :class:`SequentialRelationLayer` (directed, in/out),
       :class:`CooccurrenceRelationLayer` and :class:`IncompatibleRelationLayer`, each
       ``gnn_layers`` times on the raw item embeddings :math:`\mathbf{E}`.
    2. **Gated fusion** per position, scalar gates:
       :math:`\mathbf{x}^{+} = g(\mathbf{x}^{seq} + \mathbf{x}^{co}) + (1 - g)\mathbf{x}^{id}`,
       :math:`g = \sigma((\mathbf{x}^{seq} + \mathbf{x}^{co})^\top \mathbf{w}_{seq}
       + \mathbf{x}^{id\top} \mathbf{w}_{id})`, and
       :math:`\mathbf{x}^{-} = g'\mathbf{x}^{in} + (1 - g')\mathbf{x}^{id}`,
       :math:`g' = \sigma(\mathbf{x}^{in\top} \mathbf{w}_{in} + \mathbf{x}^{id\top}
       \mathbf{w}_{id})`.
    3. **Readouts:** :math:`\mathbf{s}^{+}` by :class:`TargetTokenReadout`;
       :math:`\mathbf{s}^{-} = \mathbf{W}_{n}\,\mathrm{Dropout}([\mathbf{r} ;
       \mathbf{x}^{id}_0]) + \mathbf{b}_n` with :math:`\mathbf{r}` from
       :class:`PositionNormAttentionReadout` and :math:`\mathbf{x}^{id}_0` the most recent
       item's embedding.
    4. **Scoring:** :math:`\hat{y}_j = \mathbf{s}^{+\top}\mathbf{e}_j -
       \mathrm{LeakyReLU}_\alpha(\mathbf{s}^{-\top}\mathbf{e}_j)` over raw embeddings.
       :meth:`encode` returns ``(B, 2, d)`` = :math:`[\mathbf{s}^{+}; \mathbf{s}^{-}]`; this
       is **not** a max over interests, so always score with :meth:`score`.

    With ``gnn_layers = 1`` (published default) only the graph rows of the batch's items are
    propagated (same values as propagating all items, a fraction of the cost); with more layers
    every item is propagated with sparse products. No dense ``N x N`` matrix exists anywhere.

    ``gnn_weights``: ``"trained"`` (default) learns the GNN weights; ``"reference"`` emulates the
    published code, which rebuilds its GNN modules inside ``forward``: their weights are
    re-drawn from ``uniform(-1/sqrt(d), 1/sqrt(d))`` at every training forward and never
    optimised (``requires_grad=False``; evaluation uses the last draw). Dropout is off at
    evaluation in both modes (the published modules keep it on at test time). Not emulated:
    ``max_norm=1`` on the embedding (without effect in the published code) and its unused
    GRU/RNN/self-attention modules.

    Args:
        num_items (int): ``N``; items are ``1..N``, 0 is padding.
        embedding_dim (int): ``d``. (default: :obj:`100`)
        gnn_layers (int): layers of each relation GNN (published ``--layers`` 1).
        dropout_gcn (float): dropout on each GNN layer's output (Tmall 0.2, RR 0.1, LastFM 0.2).
        dropout_local (float): dropout in the negative readout and before its fusion
            (Tmall 0.2, RR 0.5, LastFM 0.3).
        leaky_relu_slope (float): :math:`\alpha` of the negative score (Tmall 0.2, RR 0.8,
            LastFM 0.4).
        max_positions (int): positions with their own positional row and BatchNorm statistics;
            longer sessions reuse the last.
        gnn_weights (str): ``"trained"`` or ``"reference"``.
        scoring_chunk_size (int, str or None): candidates per scoring block, ``"auto"`` (8,192 on
            the CPU, one block elsewhere) or None. Same scores either way.

    Shapes:
        - **input:** a :class:`~datamodules.batch.SessionBatch` (items, mask).
        - **output:** scores ``(B, N)``, column ``j`` is item ``j + 1``.
    """

    FEATURES: ClassVar[frozenset[str]] = frozenset({"relation_graphs"})

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 100,
        gnn_layers: int = 1,
        dropout_gcn: float = 0.2,
        dropout_local: float = 0.2,
        leaky_relu_slope: float = 0.2,
        max_positions: int = 200,
        gnn_weights: Literal["trained", "reference"] = "trained",
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_items", num_items),
            ("embedding_dim", embedding_dim),
            ("gnn_layers", gnn_layers),
            ("max_positions", max_positions),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MGIRNet: {name} must be an integer >= 1, got {value!r}")
        for name, value in (("dropout_gcn", dropout_gcn), ("dropout_local", dropout_local)):
            if isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"MGIRNet: {name} must be in [0, 1], got {value!r}")
        if not math.isfinite(leaky_relu_slope):
            raise ValueError(f"MGIRNet: leaky_relu_slope must be finite, got {leaky_relu_slope}")
        if gnn_weights not in ("trained", "reference"):
            raise ValueError(
                f"MGIRNet: gnn_weights must be 'trained' or 'reference', got {gnn_weights!r}"
            )
        if scoring_chunk_size not in (None, "auto") and (
            isinstance(scoring_chunk_size, bool)
            or not isinstance(scoring_chunk_size, int)
            or scoring_chunk_size < 1
        ):
            raise ValueError(
                "MGIRNet: scoring_chunk_size must be an integer >= 1, 'auto' or None, "
                f"got {scoring_chunk_size!r}"
            )
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.gnn_layers = gnn_layers
        self.dropout_gcn = float(dropout_gcn)
        self.dropout_local = float(dropout_local)
        self.leaky_relu_slope = float(leaky_relu_slope)
        self.gnn_weights = gnn_weights
        self.scoring_chunk_size = scoring_chunk_size

        d = embedding_dim
        self.embedding = nn.Embedding(num_items + 1, d)
        self.sequential_layers = nn.ModuleList(
            SequentialRelationLayer(d, self.dropout_gcn) for _ in range(gnn_layers)
        )
        self.cooccurrence_layers = nn.ModuleList(
            CooccurrenceRelationLayer(d, self.dropout_gcn) for _ in range(gnn_layers)
        )
        self.incompatible_layers = nn.ModuleList(
            IncompatibleRelationLayer(self.dropout_gcn) for _ in range(gnn_layers)
        )
        self.gate_sequential = nn.Parameter(torch.empty(d))
        self.gate_incompatible = nn.Parameter(torch.empty(d))
        self.gate_id = nn.Parameter(torch.empty(d))
        self.positive_readout = TargetTokenReadout(d, max_positions)
        self.negative_readout = PositionNormAttentionReadout(d, max_positions, self.dropout_local)
        self.negative_fusion = nn.Linear(2 * d, d)
        for relation in RELATIONS:
            self.register_buffer(f"{relation}_indices", torch.zeros(2, 0, dtype=torch.int64))
            self.register_buffer(f"{relation}_weights", torch.zeros(0, dtype=torch.float32))
        self._rebuild_operators()
        self.register_load_state_dict_post_hook(lambda module, _: module._rebuild_operators())
        if gnn_weights == "reference":
            for parameter in self._gnn_parameters():
                parameter.requires_grad_(False)
        self.reset_parameters()

    # ----------------------------------------------------------------------------- parameters
    def _gnn_parameters(self) -> list[nn.Parameter]:
        layers = (self.sequential_layers, self.cooccurrence_layers, self.incompatible_layers)
        return [p for group in layers for p in group.parameters()]

    def _reset_gnn(self) -> None:
        for group in (self.sequential_layers, self.cooccurrence_layers, self.incompatible_layers):
            for layer in group:
                layer.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Every parameter ``uniform(-1/sqrt(d), 1/sqrt(d))``, as the published model."""
        bound = 1.0 / math.sqrt(self.embedding_dim)
        for parameter in (
            self.embedding.weight,
            self.gate_sequential,
            self.gate_incompatible,
            self.gate_id,
            *self.negative_fusion.parameters(),
        ):
            nn.init.uniform_(parameter, -bound, bound)
        self._reset_gnn()
        self.positive_readout.reset_parameters()
        self.negative_readout.reset_parameters()

    # ----------------------------------------------------------------------------- graphs
    @torch.no_grad()
    def set_relation_graphs(self, sequential: Tensor, cooccurrence: Tensor, incompatible: Tensor):
        """Copy the three raw relation graphs into the buffers (saved in the state dict).

        Args:
            sequential, cooccurrence, incompatible: ``(N + 1, N + 1)`` torch sparse tensors
                (COO or CSR) with positive finite weights, row and column 0 empty; e.g.
                ``RelationGraphs.to_torch()`` of
                :func:`datamodules.relation_graphs.build_relation_graphs`.

        Raises:
            ValueError: on a dense or wrongly shaped tensor, an edge touching item 0 or a
                weight that is not positive and finite.
        """
        size = self.num_items + 1
        for name, graph in zip(RELATIONS, (sequential, cooccurrence, incompatible), strict=True):
            if not isinstance(graph, Tensor) or graph.layout == torch.strided:
                raise ValueError(f"set_relation_graphs: {name} must be a torch sparse tensor")
            if tuple(graph.shape) != (size, size):
                raise ValueError(
                    f"set_relation_graphs: {name} must have shape (num_items + 1, num_items + 1)"
                    f" = {(size, size)}, got {tuple(graph.shape)}"
                )
            coo = graph.to_sparse_coo().coalesce()
            indices, weights = coo.indices(), coo.values().to(torch.float32)
            if indices.numel() and bool((indices == 0).any()):
                raise ValueError(f"set_relation_graphs: {name} has an edge touching item 0")
            if not bool(torch.isfinite(weights).all()) or bool((weights <= 0).any()):
                raise ValueError(f"set_relation_graphs: {name} weights must be positive, finite")
            device = self.embedding.weight.device
            setattr(self, f"{name}_indices", indices.to(device))
            setattr(self, f"{name}_weights", weights.to(device))
        self._rebuild_operators()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for relation in RELATIONS:  # the graphs' sizes vary: adopt the incoming ones
            for part in ("indices", "weights"):
                key = f"{prefix}{relation}_{part}"
                if key in state_dict:
                    current = getattr(self, f"{relation}_{part}")
                    setattr(
                        self,
                        f"{relation}_{part}",
                        torch.empty_like(state_dict[key]).to(current.device),
                    )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _rebuild_operators(self) -> None:
        """Normalised CSR operators (non-persistent buffers, so they follow ``.to(device)``)."""
        size = self.num_items + 1
        for name, relation, transpose in _OPERATORS:
            crow, col, values = row_normalised_csr(
                getattr(self, f"{relation}_indices"),
                getattr(self, f"{relation}_weights"),
                size,
                transpose,
            )
            for part, tensor in (("crow", crow), ("col", col), ("values", values)):
                self.register_buffer(f"_{name}_{part}", tensor, persistent=False)

    def _propagate(self, name: str, x: Tensor, rows: Tensor | None) -> Tensor:
        return sparse_rows_matmul(
            getattr(self, f"_{name}_crow"),
            getattr(self, f"_{name}_col"),
            getattr(self, f"_{name}_values"),
            x,
            rows,
        )

    def relation_embeddings(self, items: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Step 1: the sequential, co-occurrence and incompatible item embeddings.

        Args:
            items: ``(M,)`` item ids (with ``gnn_layers == 1`` only their graph rows are
                propagated), or None for all ``N + 1`` rows.

        Returns:
            Three ``(M, d)`` (or ``(N + 1, d)``) tensors, row ``k`` = ``items[k]``.
        """
        table = self.embedding.weight
        if self.gnn_layers == 1 and items is not None:
            x = table[items]
            seq = self.sequential_layers[0](
                x,
                self._propagate("sequential_in", table, items),
                self._propagate("sequential_out", table, items),
            )
            co = self.cooccurrence_layers[0](x, self._propagate("cooccurrence_in", table, items))
            inc = self.incompatible_layers[0](
                x,
                self._propagate("incompatible_in", table, items),
                self._propagate("incompatible_out", table, items),
            )
            return seq, co, inc
        seq = co = inc = table
        for layer in range(self.gnn_layers):
            seq = self.sequential_layers[layer](
                seq,
                self._propagate("sequential_in", seq, None),
                self._propagate("sequential_out", seq, None),
            )
            co = self.cooccurrence_layers[layer](co, self._propagate("cooccurrence_in", co, None))
            inc = self.incompatible_layers[layer](
                inc,
                self._propagate("incompatible_in", inc, None),
                self._propagate("incompatible_out", inc, None),
            )
        if items is None:
            return seq, co, inc
        return seq[items], co[items], inc[items]

    # ----------------------------------------------------------------------------- contract
    def encode(self, batch: SessionBatch) -> Tensor:
        """``(B, 2, d)``: the positive and negative session vectors ``[s+ ; s-]``."""
        if self.training and self.gnn_weights == "reference":
            with torch.no_grad():
                self._reset_gnn()
        items, mask = batch.items, batch.mask.to(torch.bool)
        unique, inverse = torch.unique(items, return_inverse=True)
        seq, co, inc = (t[inverse] for t in self.relation_embeddings(unique))
        real = mask.to(self.embedding.weight.dtype).unsqueeze(-1)
        x_id = self.embedding(items) * real
        seq, co, inc = seq * real, co * real, inc * real
        related = seq + co
        gate = torch.sigmoid(related @ self.gate_sequential + x_id @ self.gate_id).unsqueeze(-1)
        positive = gate * related + (1 - gate) * x_id
        gate_neg = torch.sigmoid(inc @ self.gate_incompatible + x_id @ self.gate_id).unsqueeze(-1)
        negative = gate_neg * inc + (1 - gate_neg) * x_id
        s_pos = self.positive_readout(positive, mask)
        long_term = self.negative_readout(negative, mask)
        fused = torch.cat([long_term, x_id[:, 0]], dim=-1)
        s_neg = self.negative_fusion(F.dropout(fused, self.dropout_local, self.training))
        return torch.stack([s_pos, s_neg], dim=1)

    def candidate_embeddings(self) -> Tensor:
        """The raw item embeddings of items ``1..N``, ``(N, d)`` (row ``j - 1`` = item ``j``)."""
        return self.embedding.weight[1:]

    def score(self, interests: Tensor) -> Tensor:
        r"""``(B, 2, d)`` -> ``(B, N)``: :math:`\mathbf{s}^{+\top}\mathbf{e}_j -
        \mathrm{LeakyReLU}_\alpha(\mathbf{s}^{-\top}\mathbf{e}_j)`, in candidate blocks.

        Without autograd, scoring runs in float32 even under autocast (ranking needs it).
        """
        if interests.dim() != 3 or interests.shape[1] != 2:
            raise ValueError(
                f"MGIRNet.score: expected (B, 2, d) = [s+ ; s-], got {tuple(interests.shape)}"
            )
        candidates = self.candidate_embeddings()
        if not torch.is_grad_enabled():
            with torch.autocast(interests.device.type, enabled=False):
                return self._score(interests.float(), candidates.float())
        return self._score(interests, candidates)

    def _score(self, interests: Tensor, candidates: Tensor) -> Tensor:
        batch = interests.shape[0]
        flat = interests.transpose(0, 1).reshape(2 * batch, -1)  # [s+ rows ; s- rows]
        chunk = resolve_chunk_size(self.scoring_chunk_size, candidates.device)
        blocks = [candidates] if chunk is None else candidates.split(chunk)
        out = []
        for block in blocks:
            both = torch.matmul(flat, block.t())
            out.append(both[:batch] - F.leaky_relu(both[batch:], self.leaky_relu_slope))
        return out[0] if len(out) == 1 else torch.cat(out, dim=1)

    def forward(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)`` of every item for every prefix."""
        return self.score(self.encode(batch))

    def extra_repr(self) -> str:
        edges = ", ".join(f"{r}={getattr(self, f'{r}_weights').numel()}" for r in RELATIONS)
        return (
            f"num_items={self.num_items}, embedding_dim={self.embedding_dim}, "
            f"gnn_layers={self.gnn_layers}, dropout_gcn={self.dropout_gcn}, "
            f"dropout_local={self.dropout_local}, leaky_relu_slope={self.leaky_relu_slope}, "
            f"gnn_weights={self.gnn_weights!r}, edges: {edges}"
        )
