"""DMIGNNNet: the whole DMI-GNN network (pure torch; no Lightning)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.global_aggregator import GlobalAggregator
from dmi_gnn.nn.global_graph import check_global_graph, global_pyramid
from dmi_gnn.nn.interest_extractor import MultiInterestExtractor
from dmi_gnn.nn.local_aggregator import LocalAggregator
from dmi_gnn.nn.scoring import InterestScorer

if TYPE_CHECKING:
    from datamodules.batch import SessionBatch

__all__ = ["DMIGNNNet", "NetworkOutput"]


class NetworkOutput(NamedTuple):
    """What :meth:`DMIGNNNet.forward` returns.

    Shapes:
        scores: ``(B, N)``, column ``j`` is item ``j + 1`` (item 0, padding, is never scored).
        interests: ``(B, U, d)``, the interest vectors ``s_u``.
        attention: ``(B, L, U)``, the position weights ``alpha_i^(u)`` (0 at padding).
    """

    scores: Tensor
    interests: Tensor
    attention: Tensor


def _check_choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        raise ValueError(f"DMIGNNNet: {name} must be one of {choices}, got {value!r}")


def _same_bits(first: Tensor, second: Tensor) -> bool:
    """Whether two tensors hold exactly the same bytes (same shape, dtype and device).

    Compared as int64 words where the size allows: a memory-bound pass about twice as fast as a
    float comparison on the CPU (and NaN compares equal to itself, as it should here).
    """
    if (first.shape, first.dtype, first.device) != (second.shape, second.dtype, second.device):
        return False
    first, second = first.reshape(-1), second.reshape(-1)
    if (first.numel() * first.element_size()) % 8 == 0:
        try:
            return torch.equal(first.view(torch.int64), second.view(torch.int64))
        except RuntimeError:  # a view that cannot change dtype (unaligned storage)
            pass
    return torch.equal(first, second)


class DMIGNNNet(nn.Module):
    r"""DMI-GNN (Dynamic Multi-Interest GNN, AAAI 2025) as a plain :class:`torch.nn.Module`.

    GCE-GNN context layer, then multiple positional patterns, then max-over-interests scoring:

    1. **Local branch** (:class:`LocalAggregator`): attention over the session graph of the
       unique items of each prefix, on (optionally L2-normalised) item embeddings.
    2. **Global branch** (:class:`GlobalAggregator`, ``hop`` levels): session-aware attention
       over each item's ``num_neighbors`` fixed neighbours in the global co-occurrence graph
       (buffers ``global_neighbors`` / ``global_weights``, set with :meth:`set_global_graph`),
       on raw embeddings, conditioned on the masked mean :math:`\mathbf{s}` of the raw
       embeddings of the prefix positions (repeats included). For ``hop > 1`` it is the
       GraphSAGE-style pyramid of the published code: neighbours of neighbours come from the
       same table, and iteration ``t`` applies aggregator ``t`` to every remaining level.
    3. **Combination:** :math:`\mathbf{h}_v = \mathrm{Dropout}_{local}(\mathbf{h}^l_v) +
       \mathrm{Dropout}_{global}(\mathbf{h}^g_v)`, gathered to the prefix positions.
    4. **Readout** (:class:`MultiInterestExtractor`, eqs. 2-5): ``U`` interest vectors.
    5. **Scoring** (:class:`InterestScorer`, eq. 6): :math:`\hat{y}_j = \max_u
       \mathbf{s}_u^\top \mathbf{x}_j` over items ``1..N`` (candidates L2-normalised when
       ``normalize_embeddings``).

    ``scoring_chunk_size`` bounds the transient ``U x B x N`` block of scoring on huge
    catalogues (items per block; same result, see :func:`score_items`).

    Every parameter (embeddings and biases included) starts from
    ``uniform(-1/sqrt(d), 1/sqrt(d))``, like the published code. ``nn.Embedding`` has no
    ``padding_idx``: item 0 has a trainable vector (it is never a candidate).

    Args:
        num_items (int): ``N``, items are ``1..N`` and 0 is padding.
        embedding_dim (int): ``d``.
        num_interests (int): ``U >= 1``.
        hop (int): global-graph hops (>= 1).
        num_neighbors (int): slots per item in the global neighbour table.
        dropout_local (float): dropout on the local branch output.
        dropout_global (float): dropout on the global branch output.
        dropout_gcn (float): dropout inside each global aggregator.
        leaky_relu_slope (float): LeakyReLU slope of both aggregators.
        global_activation (str): ``"relu"`` or ``"tanh"`` in the global aggregator.
        max_positions (int): rows of the positional table; longer sessions reuse the last row.
        positional (str): ``"multi"`` (a gate per head) or ``"single"`` (Table-3 ablation).
        scoring (str): ``"max"`` over interests (the paper) or ``"sum"`` (Table-3 ablation).
        scoring_chunk_size (int, str or None): candidate items per scoring block; ``"auto"``
            (8,192 on the CPU, one block on a GPU) or None (one block). Same scores either way.
        normalize_embeddings (bool): L2-normalise the local-branch node embeddings and the
            candidate embeddings (reference semantics).
        attention (str): ``"raw"`` (reference) or ``"softmax"`` (paper) position weights.
        readout_bias (bool): learn ``b3`` of eq. 3 (paper) or not (reference).
        full_dropout (str): a rate of exactly 1 on a branch: ``"zero"`` (PyTorch: zeros in
            training, identity at evaluation) or ``"drop_branch"`` (the branch is removed in
            training and evaluation; ``dropout_gcn = 1`` removes the global branch too, since
            it zeroes that branch's whole input).
        neighbor_padding (str): ``"resampled"`` (attend all ``k`` slots, zeros included, as the
            reference) or ``"masked"`` (slots holding item 0 are excluded; no neighbour means
            ``h_N = 0``).
        use_global (bool): keep the global branch (False: a "w/o global" variant; not one of
            the paper's Table-3 ablations; ``DMIGNN(use_global=False)``).
        use_local (bool): keep the local branch (False: a "w/o local" variant, network only).

    Shapes:
        - **input:** a :class:`~datamodules.batch.SessionBatch` with ``B`` prefixes padded to
          ``L``.
        - **output:** :class:`NetworkOutput` with scores ``(B, N)``, interests ``(B, U, d)``,
          attention ``(B, L, U)``.
    """

    #: Batch features read (the contract of ``dmi_gnn/nn/networks``): the session graph's
    #: fields, and the global graph installed with :meth:`set_global_graph`.
    FEATURES: ClassVar[frozenset[str]] = frozenset({"session_graph", "global_graph"})
    #: ``forward`` returns the interests beside the scores (read by the repeat mixture).
    INTERESTS_IN_OUTPUT: ClassVar[bool] = True

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 100,
        num_interests: int = 3,
        hop: int = 1,
        num_neighbors: int = 12,
        dropout_local: float = 0.0,
        dropout_global: float = 0.5,
        dropout_gcn: float = 0.0,
        leaky_relu_slope: float = 0.2,
        global_activation: Literal["relu", "tanh"] = "relu",
        max_positions: int = 200,
        positional: Literal["multi", "single"] = "multi",
        scoring: Literal["max", "sum"] = "max",
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
        normalize_embeddings: bool = True,
        attention: Literal["raw", "softmax"] = "raw",
        readout_bias: bool = False,
        full_dropout: Literal["zero", "drop_branch"] = "zero",
        neighbor_padding: Literal["resampled", "masked"] = "resampled",
        use_global: bool = True,
        use_local: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_items", num_items),
            ("embedding_dim", embedding_dim),
            ("num_interests", num_interests),
            ("hop", hop),
            ("num_neighbors", num_neighbors),
            ("max_positions", max_positions),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DMIGNNNet: {name} must be an integer >= 1, got {value!r}")
        for name, value in (
            ("dropout_local", dropout_local),
            ("dropout_global", dropout_global),
            ("dropout_gcn", dropout_gcn),
        ):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"DMIGNNNet: {name} must be in [0, 1], got {value!r}")
        if not math.isfinite(leaky_relu_slope):
            raise ValueError(f"DMIGNNNet: leaky_relu_slope must be finite, got {leaky_relu_slope}")
        _check_choice("global_activation", global_activation, ("relu", "tanh"))
        _check_choice("positional", positional, ("multi", "single"))
        _check_choice("scoring", scoring, ("max", "sum"))
        _check_choice("attention", attention, ("raw", "softmax"))
        _check_choice("full_dropout", full_dropout, ("zero", "drop_branch"))
        _check_choice("neighbor_padding", neighbor_padding, ("resampled", "masked"))
        for name, value in (
            ("normalize_embeddings", normalize_embeddings),
            ("readout_bias", readout_bias),
            ("use_global", use_global),
            ("use_local", use_local),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"DMIGNNNet: {name} must be a bool, got {value!r}")

        drop_whole = full_dropout == "drop_branch"
        self.local_active = use_local and not (drop_whole and dropout_local == 1.0)
        self.global_active = use_global and not (
            drop_whole and (dropout_global == 1.0 or dropout_gcn == 1.0)
        )
        if not (self.local_active or self.global_active):
            raise ValueError(
                "DMIGNNNet: no item representation left: the local branch is "
                f"{'off' if not use_local else 'dropped (dropout_local=1, drop_branch)'} and the "
                "global branch is "
                f"{'off' if not use_global else 'dropped (dropout 1, drop_branch)'}"
            )

        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.num_interests = num_interests
        self.hop = hop
        self.num_neighbors = num_neighbors
        self.dropout_local = float(dropout_local)
        self.dropout_global = float(dropout_global)
        self.dropout_gcn = float(dropout_gcn)
        self.normalize_embeddings = normalize_embeddings
        self.full_dropout = full_dropout
        self.neighbor_padding = neighbor_padding
        self.use_global = use_global
        self.use_local = use_local

        self.embedding = nn.Embedding(num_items + 1, embedding_dim)
        # A switched-off branch is not built at all: no parameters without gradients (which
        # DDP rejects), nothing for an optimiser to decay.
        self.local_aggregator = (
            LocalAggregator(embedding_dim, leaky_relu_slope) if self.local_active else None
        )
        self.global_aggregators = nn.ModuleList(
            GlobalAggregator(embedding_dim, self.dropout_gcn, global_activation, leaky_relu_slope)
            for _ in range(hop if self.global_active else 0)
        )
        self.interest_extractor = MultiInterestExtractor(
            embedding_dim,
            num_interests,
            max_positions=max_positions,
            positional=positional,
            attention=attention,
            readout_bias=readout_bias,
        )
        self.scorer = InterestScorer(scoring, chunk_size=scoring_chunk_size)
        #: ``(copy of the embedding weights, their normalised candidate rows)``, see
        #: :meth:`candidate_embeddings`.
        self._candidate_cache: tuple[Tensor, Tensor] | None = None
        self.register_buffer(
            "global_neighbors", torch.zeros(num_items + 1, num_neighbors, dtype=torch.int64)
        )
        self.register_buffer(
            "global_weights", torch.zeros(num_items + 1, num_neighbors, dtype=torch.float32)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as the reference)."""
        bound = 1.0 / math.sqrt(self.embedding_dim)
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        if self.local_aggregator is not None:
            self.local_aggregator.reset_parameters()
        for aggregator in self.global_aggregators:
            aggregator.reset_parameters()
        self.interest_extractor.reset_parameters()
        self.scorer.reset_parameters()

    @torch.no_grad()
    def set_global_graph(self, neighbors: Tensor, weights: Tensor) -> None:
        """Copy the global neighbour table into the buffers.

        Args:
            neighbors: ``(num_items + 1, num_neighbors)`` integer item ids in ``0..num_items``
                (row ``v`` lists the neighbours of item ``v``; 0 marks an empty slot).
            weights: ``(num_items + 1, num_neighbors)`` co-occurrence weights, finite.

        Raises:
            ValueError: on a wrong shape or dtype, an id out of range or a non-finite weight.
        """
        neighbors, weights = check_global_graph(
            neighbors, weights, tuple(self.global_neighbors.shape), self.num_items
        )
        self.global_neighbors.copy_(neighbors)
        self.global_weights.copy_(weights)

    @property
    def _global_dead_in_training(self) -> bool:
        """Whether a dropout of exactly 1 zeroes the global branch's output in training."""
        return self.full_dropout == "zero" and 1.0 in (self.dropout_global, self.dropout_gcn)

    def _with_zero_gradients(self, hidden: Tensor | None, nodes: Tensor) -> Tensor:
        """``hidden`` (or zeros) plus ``0 *`` the global parameters: gradients of exactly 0."""
        touch = sum(parameter.sum() for parameter in self.global_aggregators.parameters())
        if hidden is None:
            hidden = nodes.new_zeros(*nodes.shape, self.embedding_dim, dtype=touch.dtype)
        return hidden + 0.0 * touch

    def _branch_dropout(self, x: Tensor, p: float) -> Tensor:
        return F.dropout(x, p, training=self.training)

    def _session_vector(self, items: Tensor, mask: Tensor) -> Tensor:
        """Masked mean of the raw embeddings of the prefix positions, repeats included."""
        weights = mask.to(self.embedding.weight.dtype).unsqueeze(-1)
        total = (self.embedding(items) * weights).sum(1)
        return total / weights.sum(1).clamp_min(1.0)

    def _global_branch(self, nodes: Tensor, session: Tensor) -> Tensor:
        """The ``hop``-level pyramid of the published code, for the ``L`` node slots."""
        return global_pyramid(
            self.embedding,
            self.global_aggregators,
            self.global_neighbors,
            self.global_weights,
            nodes,
            session,
            masked=self.neighbor_padding == "masked",
        )

    def encode(self, batch: SessionBatch) -> Tensor:
        """Item representations at the prefix positions (local + global, gathered via alias).

        Args:
            batch: the :class:`~datamodules.batch.SessionBatch`.

        Returns:
            ``(B, L, d)``; rows at padded positions are arbitrary (they are masked later).
        """
        nodes = batch.nodes
        node_hidden: Tensor | None = None
        if self.local_aggregator is not None:
            local_input = self.embedding(nodes)
            if self.normalize_embeddings:
                local_input = F.normalize(local_input, p=2.0, dim=-1)
            h_local = self.local_aggregator(local_input, batch.adjacency)
            node_hidden = self._branch_dropout(h_local, self.dropout_local)
        if self.global_active and self.training and self._global_dead_in_training:
            # Dropout 1 ("zero") makes the branch output exactly 0 in training: skip computing
            # it, but give its parameters the exactly-zero gradient PyTorch would (coupled-L2
            # Adam still decays them, as in the reference).
            node_hidden = self._with_zero_gradients(node_hidden, nodes)
        elif self.global_active:
            session = self._session_vector(batch.items, batch.mask)
            h_global = self._branch_dropout(
                self._global_branch(nodes, session), self.dropout_global
            )
            node_hidden = h_global if node_hidden is None else node_hidden + h_global
        assert node_hidden is not None  # guaranteed by __init__
        index = batch.alias.unsqueeze(-1).expand(-1, -1, self.embedding_dim)
        return node_hidden.gather(1, index)

    def extract_interests(self, hidden: Tensor, batch: SessionBatch) -> tuple[Tensor, Tensor]:
        """Eqs. 2-5: ``(interests (B, U, d), attention (B, L, U))`` from ``encode``'s output."""
        return self.interest_extractor(hidden, batch.mask)

    def candidate_embeddings(self) -> Tensor:
        """The embeddings ``x_j`` of the candidate items ``1..N``, shape ``(N, d)``.

        L2-normalised when ``normalize_embeddings``. Without autograd (evaluation, serving) the
        normalised table is cached, with a copy of the weights it was computed from; it is
        reused only while the weights equal that copy bit for bit. The version counter alone is
        not enough: edits through ``weight.data`` (``weight.data.copy_(...)``) do not bump it.
        The check reads the table once (about 1 ms for Tmall's 40,728 x 100 on one CPU thread,
        less than normalising it again). Row ``j - 1`` is item ``j``.
        """
        weight = self.embedding.weight
        if not self.normalize_embeddings:
            return weight[1:]
        if torch.is_grad_enabled() and weight.requires_grad:
            return F.normalize(weight[1:], p=2.0, dim=-1)
        current = weight.detach()
        cache = self._candidate_cache
        if cache is not None and _same_bits(cache[0], current):
            return cache[1]
        normalised = F.normalize(current[1:], p=2.0, dim=-1)
        self._candidate_cache = (current.clone(), normalised)
        return normalised

    def candidate_rows(self, ids: Tensor) -> Tensor:
        """``candidate_embeddings()[ids - 1]`` without touching the other rows (sampled loss).

        Shapes: ids ``(...)`` item ids ``1..N`` -> ``(..., d)``.
        """
        rows = self.embedding(ids)
        return F.normalize(rows, p=2.0, dim=-1) if self.normalize_embeddings else rows

    def score(self, interests: Tensor) -> Tensor:
        """Eq. 6 over all items ``1..N``: ``(B, U, d)`` -> ``(B, N)``.

        Without autograd (evaluation, serving) scoring runs in float32 even under bf16/fp16
        autocast: low-precision scores tie often, and ranking needs them apart.
        """
        candidates = self.candidate_embeddings()
        if torch.is_grad_enabled():
            return self.scorer(interests, candidates)
        with torch.autocast(interests.device.type, enabled=False):
            return self.scorer(interests.float(), candidates.float())

    def forward(self, batch: SessionBatch) -> NetworkOutput:
        """Scores of every item for every prefix, with the interests and their attention."""
        interests, attention = self.extract_interests(self.encode(batch), batch)
        return NetworkOutput(self.score(interests), interests, attention)

    def inspect(self, batch: SessionBatch) -> tuple[Tensor, Tensor]:
        """For a Figure-3-style case study: attention and interest similarity.

        Call it in ``eval()`` mode and under :func:`torch.no_grad` for plots.

        Returns:
            ``(attention (B, L, U), interest_similarity (B, U, U))`` where the similarity is the
            cosine similarity of the interest vectors ``s_u``.
        """
        interests, attention = self.extract_interests(self.encode(batch), batch)
        unit = F.normalize(interests, p=2.0, dim=-1)
        return attention, torch.matmul(unit, unit.transpose(1, 2))

    def extra_repr(self) -> str:
        return (
            f"num_items={self.num_items}, embedding_dim={self.embedding_dim}, "
            f"num_interests={self.num_interests}, hop={self.hop}, "
            f"num_neighbors={self.num_neighbors}, dropout_local={self.dropout_local}, "
            f"dropout_global={self.dropout_global}, dropout_gcn={self.dropout_gcn}, "
            f"normalize_embeddings={self.normalize_embeddings}, "
            f"full_dropout={self.full_dropout!r}, neighbor_padding={self.neighbor_padding!r}, "
            f"use_local={self.use_local}, use_global={self.use_global}"
        )
