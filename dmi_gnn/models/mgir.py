"""``MGIR``: Multi-faceted Global Item Relation learning (Han et al., SIGIR 2022) as a model of
the family (baselines.md section 4.8; the network is :class:`~dmi_gnn.nn.networks.MGIRNet`).

The model declares the feature ``"relation_graphs"``: when fitting, :meth:`MGIR.adopt_data`
builds the sequential, co-occurrence and incompatible graphs from the **fit** sessions only
(``datamodule.fit_sessions``; no validation or test click,
:func:`datamodules.relation_graphs.build_relation_graphs`) and installs them with
``net.set_relation_graphs``. They live in the network's buffers, so in the checkpoint:
``predict`` and ``recommend`` need the checkpoint alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN
from datamodules.relation_graphs import RelationGraphs, build_relation_graphs
from dmi_gnn.neural_recommender import NeuralRecommender
from dmi_gnn.nn.networks import MGIRNet

logger = logging.getLogger(__name__)


class MGIR(NeuralRecommender):
    r"""MGIR on session prefixes, trained with full cross-entropy (as published).

    Relation GNNs over three global item graphs, gated fusion with the item embeddings, a
    positive (target-token) and a negative (position-normalised attention) readout, scored as
    :math:`\mathbf{s}^{+\top}\mathbf{e}_j - \mathrm{LeakyReLU}_\alpha(\mathbf{s}^{-\top}
    \mathbf{e}_j)` (equations in :class:`~dmi_gnn.nn.networks.MGIRNet`). Published set-up
    (zc-97/MGIR README and ``main.py``): d 100, batch 100 (LastFM 512), 50 epochs, Adam lr 1e-3,
    StepLR(3, 0.1), L2 1e-5 (RetailRocket and LastFM 1e-6), seed 2021; per dataset
    (Tmall / RetailRocket / LastFM) ``dropout_gcn`` 0.2 / 0.1 / 0.2, ``dropout_local``
    0.2 / 0.5 / 0.3, ``leaky_relu_slope`` 0.2 / 0.8 / 0.4, ``min_frequency`` 10 / 10 / 70,
    ``cold_ratio`` 0.85 / 0.9 / 0.95, ``seq_ratio`` 1.0.

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        embedding_dim: size d of the item embeddings and session vectors.
        gnn_layers: layers of each relation GNN (published 1).
        dropout_gcn: dropout on each GNN layer's output.
        dropout_local: dropout in the negative readout and before its fusion.
        leaky_relu_slope: slope alpha of the negative score.
        max_positions: positions with their own positional row and BatchNorm statistics;
            longer prefixes reuse the last.
        gnn_weights: ``"trained"`` (the GNN weights are learned) or ``"reference"`` (as the
            published code, which rebuilds its GNN modules inside ``forward``: re-drawn at every
            training step and never optimised; baselines.md section 4.8 bug a).
        min_frequency: a pair of items is frequent when its two ordered counts sum above this.
        cold_ratio: fraction of the items, least frequent first, without incompatible edges.
        seq_ratio: a frequent pair is sequential when its count excess exceeds ``seq_ratio``
            times its smaller count.
        graph_counting: ``"prefixes"`` (every augmented prefix + target sample counts, as
            published) or ``"sessions"`` (every fit session once).
        scoring_chunk_size: candidate items per scoring block (``"auto"``: 8,192 on the CPU,
            one block on a GPU; None: one block); the scores do not change.
        optimizer: ``"adam"`` (coupled L2, as published) or ``"adamw"`` (decoupled).
        lr: learning rate.
        weight_decay: L2 (adam) or decoupled (adamw) weight decay.
        lr_step: epochs between learning-rate decays (StepLR); 0 disables it.
        lr_gamma: learning-rate decay factor.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read.
        max_batch_cells: largest ``B * L * L`` run in one pass at evaluation, prediction and
            ``recommend``; larger batches are split into sub-batches with the same results.

    Raises:
        ValueError: a graph option out of range (named), or a network option (see
            :class:`~dmi_gnn.nn.networks.MGIRNet`).
    """

    NETWORK = MGIRNet

    def __init__(
        self,
        num_items: int = 0,
        embedding_dim: int = 100,
        gnn_layers: int = 1,
        dropout_gcn: float = 0.2,
        dropout_local: float = 0.2,
        leaky_relu_slope: float = 0.2,
        max_positions: int = 200,
        gnn_weights: Literal["trained", "reference"] = "trained",
        min_frequency: float = 10.0,
        cold_ratio: float = 0.85,
        seq_ratio: float = 1.0,
        graph_counting: Literal["prefixes", "sessions"] = "prefixes",
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
        optimizer: Literal["adam", "adamw"] = "adam",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        lr_step: int = 3,
        lr_gamma: float = 0.1,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
    ) -> None:
        _check_graph_options(min_frequency, cold_ratio, seq_ratio, graph_counting)
        super().__init__(
            num_items=num_items,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            lr_step=lr_step,
            lr_gamma=lr_gamma,
            top_k=top_k,
            metric_ks=metric_ks,
            max_session_length=max_session_length,
            max_batch_cells=max_batch_cells,
        )
        self.net = MGIRNet(
            num_items=max(num_items, 1),
            embedding_dim=embedding_dim,
            gnn_layers=gnn_layers,
            dropout_gcn=dropout_gcn,
            dropout_local=dropout_local,
            leaky_relu_slope=leaky_relu_slope,
            max_positions=max_positions,
            gnn_weights=gnn_weights,
            scoring_chunk_size=scoring_chunk_size,
        )

    # ------------------------------------------------------------ relation graphs (feature)
    def adopt_data(self, datamodule: Any) -> None:
        """The vocabulary and the relation graphs of the fit sessions (nothing else)."""
        super().adopt_data(datamodule)
        min_prefix_length = int(getattr(datamodule, "min_prefix_length", 1))
        self.set_relation_graphs(
            self.relation_graphs_of(datamodule.fit_sessions, min_prefix_length)
        )

    def relation_graphs_of(self, sessions: Any, min_prefix_length: int = 1) -> RelationGraphs:
        """The three graphs of ``sessions`` (fit sessions) under this model's graph options."""
        hp = self.hparams
        return build_relation_graphs(
            sessions,
            hp.num_items,
            min_frequency=hp.min_frequency,
            cold_ratio=hp.cold_ratio,
            seq_ratio=hp.seq_ratio,
            counting=hp.graph_counting,
            min_prefix_length=min_prefix_length,
        )

    def set_relation_graphs(self, graphs: RelationGraphs) -> None:
        """Install the graphs in the network (its buffers, hence the checkpoint)."""
        if graphs.num_items != self.hparams.num_items:
            raise ValueError(
                f"the relation graphs are over {graphs.num_items} items but the model was built "
                f"for num_items={self.hparams.num_items}"
            )
        edges = graphs.edge_counts()
        if not any(edges.values()):
            logger.warning(
                "MGIR: the fit sessions give no relation edge at min_frequency=%s; the relation "
                "GNNs see only the item embeddings",
                self.hparams.min_frequency,
            )
        else:
            logger.info("MGIR relation graphs of the fit sessions: %s edges", edges)
        self.net.set_relation_graphs(**graphs.to_torch())


def _check_graph_options(
    min_frequency: float, cold_ratio: float, seq_ratio: float, graph_counting: str
) -> None:
    for name, value in (("min_frequency", min_frequency), ("seq_ratio", seq_ratio)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"MGIR: {name} must be a number >= 0, got {value!r}")
        if value == float("inf"):
            raise ValueError(f"MGIR: {name} must be finite, got {value!r}")
    if isinstance(cold_ratio, bool) or not isinstance(cold_ratio, int | float):
        raise ValueError(f"MGIR: cold_ratio must be a number in [0, 1], got {cold_ratio!r}")
    if not 0.0 <= cold_ratio <= 1.0:
        raise ValueError(f"MGIR: cold_ratio must be in [0, 1], got {cold_ratio!r}")
    if graph_counting not in ("prefixes", "sessions"):
        raise ValueError(
            f"MGIR: graph_counting must be 'prefixes' or 'sessions', got {graph_counting!r}"
        )
