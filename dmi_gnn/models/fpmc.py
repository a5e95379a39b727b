"""``FPMC`` as a model of the family.

FPMC (Rendle et al., WWW 2010; baselines.md section 4.1), session adaptation: the mean of the
session's item factors replaces the user factor, plus the factorised Markov chain from the
last click. Objective ``ce`` (default) or the paper's S-BPR (``objective: bpr``).

The network is :class:`dmi_gnn.nn.networks.FPMCNet` (equations, shapes and published defaults in
its docstring); vocabulary, metrics, steps, ``recommend``, checkpoints and the optimiser come
from :class:`~dmi_gnn.neural_recommender.NeuralRecommender`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN
from dmi_gnn.neural_recommender import NeuralRecommender
from dmi_gnn.nn.networks import FPMCNet


class FPMC(NeuralRecommender):
    """FPMC (module docstring). Loss: full cross-entropy over the catalogue unless the network
    defines ``training_loss``.

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        objective: ``"ce"`` (full cross-entropy) or ``"bpr"`` (S-BPR, one uniform negative per
            prefix): the network's ``loss`` (named ``objective`` here, as ``loss`` is the
            family's full/sampled softmax option).
        ``embedding_dim``, ``init_std``, ``scoring_chunk_size``: the network's
            options (:class:`~dmi_gnn.nn.networks.FPMCNet`).
        optimizer: ``adam`` (coupled L2, as the published GNN code) or ``adamw``.
        lr: learning rate.
        weight_decay: L2 (adam) or decoupled (adamw) weight decay.
        lr_step: epochs between learning-rate decays (StepLR); 0 disables it.
        lr_gamma: learning-rate decay factor.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read.
        max_batch_cells: largest ``B * L * L`` per evaluation pass.
    """

    NETWORK = FPMCNet

    def __init__(
        self,
        num_items: int = 0,
        embedding_dim: int = 100,
        objective: Literal["ce", "bpr"] = "ce",
        init_std: float = 0.01,
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        lr_step: int = 3,
        lr_gamma: float = 0.1,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
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
        self.net = FPMCNet(
            num_items=max(num_items, 1),
            embedding_dim=embedding_dim,
            loss=objective,
            init_std=init_std,
            scoring_chunk_size=scoring_chunk_size,
        )
