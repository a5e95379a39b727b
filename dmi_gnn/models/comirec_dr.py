"""``ComiRecDR``: ComiRec with dynamic routing (Cen et al., KDD 2020) as a model of the family
(baselines.md section 4.7; the network is :class:`~dmi_gnn.nn.networks.ComiRecDRNet`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from datamodules.batching import DEFAULT_MAX_BATCH_CELLS
from dmi_gnn.models.multi_interest import MultiInterestRecommender
from dmi_gnn.nn.networks import ComiRecDRNet


class ComiRecDR(MultiInterestRecommender):
    """ComiRec-DR on session prefixes, as ``Model_ComiRec_DR`` computes it.

    Capsule routing with one ``d x d`` map per position and interest (N(0, 1) initialisation),
    logits starting at 0, ``routing_iterations`` rounds, scored by the max over interests of the
    inner products. The per-position maps fix the length: ``max_session_length`` positions have
    maps (``max_session_length * K * d * d`` weights), older clicks are not read. Training: see
    :mod:`dmi_gnn.models.multi_interest`. Published set-up: d 64, K 4, lr **5e-3** (README; SA
    and MIND 1e-3), Adam without weight decay or schedule, maxlen 20/50.

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        embedding_dim: size d of item and interest vectors.
        num_interests: number of interests K.
        routing_iterations: rounds of dynamic routing.
        training: ``"reference"`` (label-aware sampled softmax, as published) or ``"aligned"``
            (full cross-entropy on the max over interests, as DMI-GNN).
        negative_sampler: ``"uniform"`` or ``"popularity"`` (counts of the fit split) negatives
            of the ``reference`` loss.
        num_negatives: negatives shared by a batch; None = 10 per example (as published).
        popularity_exponent: alpha of the popularity proposal ``(c_j + 1) ** alpha``.
        scoring_chunk_size: candidate items per scoring block (``"auto"``: 8,192 on the CPU,
            one block on a GPU; None: one block); the scores do not change.
        optimizer: ``"adam"`` (coupled L2) or ``"adamw"`` (decoupled).
        lr: learning rate (5e-3 as published for DR).
        weight_decay: L2 (adam) or decoupled (adamw) weight decay; 0 as published.
        lr_step: epochs between learning-rate decays (StepLR); 0 (as published) disables it.
        lr_gamma: learning-rate decay factor.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read (the published
            ``maxlen``); also the number of per-position maps.
        max_batch_cells: largest ``B * L * L`` run in one pass at evaluation, prediction and
            ``recommend``; larger batches are split into sub-batches with the same results.
    """

    NETWORK = ComiRecDRNet

    def __init__(
        self,
        num_items: int = 0,
        embedding_dim: int = 64,
        num_interests: int = 4,
        routing_iterations: int = 3,
        training: Literal["reference", "aligned"] = "reference",
        negative_sampler: Literal["uniform", "popularity"] = "uniform",
        num_negatives: int | None = None,
        popularity_exponent: float = 1.0,
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
        optimizer: Literal["adam", "adamw"] = "adam",
        lr: float = 5e-3,
        weight_decay: float = 0.0,
        lr_step: int = 0,
        lr_gamma: float = 0.1,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        max_session_length: int = 50,
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
        self.net = ComiRecDRNet(
            num_items=num_items,
            embedding_dim=embedding_dim,
            num_interests=num_interests,
            max_length=max_session_length,
            routing_iterations=routing_iterations,
            training=training,
            negative_sampler=negative_sampler,
            num_negatives=num_negatives,
            popularity_exponent=popularity_exponent,
            scoring_chunk_size=scoring_chunk_size,
        )
