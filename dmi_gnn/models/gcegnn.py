"""``GCEGNN`` as a model of the family.

GCE-GNN (Wang et al., SIGIR 2020; baselines.md section 4.5): local session graph + global
item graph, reversed position embedding and soft-attention readout to one session vector.

The network is :class:`dmi_gnn.nn.networks.GCEGNNNet` (equations, shapes and published
defaults in its docstring); vocabulary, metrics, steps, ``recommend``, checkpoints and the
optimiser come from :class:`~dmi_gnn.neural_recommender.NeuralRecommender`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN
from datamodules.graph import GlobalGraph, fill_neighbors_with_replacement
from dmi_gnn.neural_recommender import NeuralRecommender
from dmi_gnn.nn.networks import GCEGNNNet
from dmi_gnn.repeat_scoring import RepeatOption


class GCEGNN(NeuralRecommender):
    """GCEGNN (module docstring). Loss: full cross-entropy over the catalogue unless the network
    defines ``training_loss``.

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        ``embedding_dim``, ``hop``, ``num_neighbors``, ``dropout_local``,
            ``dropout_global``, ``dropout_gcn``, ``leaky_relu_slope``,
            ``global_activation``, ``max_positions``, ``neighbor_padding``,
            ``scoring_chunk_size``: the network's options
            (:class:`~dmi_gnn.nn.networks.GCEGNNNet`).
        neighbor_seed: seed of the with-replacement neighbour filling (``resampled``).
        optimizer: ``adam`` (coupled L2, as the published GNN code) or ``adamw``.
        lr: learning rate.
        weight_decay: L2 (adam) or decoupled (adamw) weight decay.
        lr_step: epochs between learning-rate decays (StepLR); 0 disables it.
        lr_gamma: learning-rate decay factor.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read.
        max_batch_cells: largest ``B * L * L`` per evaluation pass.
        repeat: ``"none"``, ``"bonus"`` or ``"mixture"``, the repeat-aware layer after the
            network (:mod:`dmi_gnn.repeat_scoring`, issue 14).
        ``repeat_positions``, ``repeat_explore``, ``repeat_prior``: the repeat layer's options
            (:mod:`dmi_gnn.repeat_scoring`).
    """

    NETWORK = GCEGNNNet

    def __init__(
        self,
        num_items: int = 0,
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
        neighbor_seed: int = 2024,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        lr_step: int = 3,
        lr_gamma: float = 0.1,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
        repeat: RepeatOption = "none",
        repeat_positions: int = 32,
        repeat_explore: Literal["all", "unseen"] = "all",
        repeat_prior: float = 0.5,
    ) -> None:
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
        self.net = GCEGNNNet(
            num_items=max(num_items, 1),
            embedding_dim=embedding_dim,
            hop=hop,
            num_neighbors=num_neighbors,
            dropout_local=dropout_local,
            dropout_global=dropout_global,
            dropout_gcn=dropout_gcn,
            leaky_relu_slope=leaky_relu_slope,
            global_activation=global_activation,
            max_positions=max_positions,
            neighbor_padding=neighbor_padding,
            scoring_chunk_size=scoring_chunk_size,
        )

    def set_global_graph(self, graph: GlobalGraph) -> None:
        """Install the global item graph (filling short neighbour lists if ``resampled``)."""
        if graph.neighbors.shape[1] != self.hparams.num_neighbors:
            raise ValueError(
                f"the global graph keeps {graph.neighbors.shape[1]} neighbours per item but the "
                f"model expects num_neighbors={self.hparams.num_neighbors}"
            )
        if self.hparams.neighbor_padding == "resampled":
            graph = fill_neighbors_with_replacement(graph, seed=self.hparams.neighbor_seed)
        super().set_global_graph(graph)
