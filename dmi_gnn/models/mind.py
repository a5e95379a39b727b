"""``MIND``: Multi-Interest Network with Dynamic routing (Li et al., CIKM 2019) as a model of
the family (baselines.md section 4.6; the network is :class:`~dmi_gnn.nn.networks.MINDNet`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from datamodules.batching import DEFAULT_MAX_BATCH_CELLS
from dmi_gnn.models.multi_interest import MultiInterestRecommender
from dmi_gnn.nn.networks import MINDNet


class MIND(MultiInterestRecommender):
    """MIND on session prefixes, as ComiRec's ``Model_MIND`` computes it.

    Behaviour-to-interest capsule routing (eqs. 3-7 of the paper: one shared bilinear map,
    ``routing_iterations`` rounds, TruncN(0, 1) initial logits per training batch), scored by the
    max over interests of the inner products. Training: see
    :mod:`dmi_gnn.models.multi_interest` (``reference``: label-aware interest + sampled softmax;
    ``aligned``: full cross-entropy). Published set-up (ComiRec repository): d 64, K 4, lr 1e-3,
    Adam without weight decay or schedule, maxlen 20/50.

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        embedding_dim: size d of item and interest vectors.
        num_interests: number of interests K.
        routing_iterations: rounds of dynamic routing.
        routing_init: initial routing logits: ``"normal"`` (fresh per training batch, as
            published), ``"fixed"`` (one stored draw) or ``"zeros"`` (degenerate for MIND).
        dynamic_interests: the paper's ``K'_s = max(1, min(K, floor(log2 |s|)))`` interests per
            prefix instead of a fixed K (ComiRec's MIND uses a fixed K).
        relu_projection: ``ReLU(W u_k + b)`` after routing (ComiRec: Book data only).
        training: ``"reference"`` (label-aware sampled softmax, as published) or ``"aligned"``
            (full cross-entropy on the max over interests, as DMI-GNN).
        negative_sampler: ``"uniform"`` or ``"popularity"`` (counts of the fit split) negatives
            of the ``reference`` loss.
        num_negatives: negatives shared by a batch; None = 10 per example (as published).
        popularity_exponent: alpha of the popularity proposal ``(c_j + 1) ** alpha``.
        scoring_chunk_size: candidate items per scoring block (``"auto"``: 8,192 on the CPU,
            one block on a GPU; None: one block); the scores do not change.
        optimizer: ``"adam"`` (coupled L2) or ``"adamw"`` (decoupled).
        lr: learning rate.
        weight_decay: L2 (adam) or decoupled (adamw) weight decay; 0 as published.
        lr_step: epochs between learning-rate decays (StepLR); 0 (as published) disables it.
        lr_gamma: learning-rate decay factor.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read (the published
            ``maxlen``); also the rows of the fixed routing-logit table.
        max_batch_cells: largest ``B * L * L`` run in one pass at evaluation, prediction and
            ``recommend``; larger batches are split into sub-batches with the same results.
    """

    NETWORK = MINDNet

    def __init__(
        self,
        num_items: int = 0,
        embedding_dim: int = 64,
        num_interests: int = 4,
        routing_iterations: int = 3,
        routing_init: Literal["normal", "fixed", "zeros"] = "normal",
        dynamic_interests: bool = False,
        relu_projection: bool = False,
        training: Literal["reference", "aligned"] = "reference",
        negative_sampler: Literal["uniform", "popularity"] = "uniform",
        num_negatives: int | None = None,
        popularity_exponent: float = 1.0,
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
        optimizer: Literal["adam", "adamw"] = "adam",
        lr: float = 1e-3,
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
        self.net = MINDNet(
            num_items=num_items,
            embedding_dim=embedding_dim,
            num_interests=num_interests,
            max_length=max_session_length,
            routing_iterations=routing_iterations,
            routing_init=routing_init,
            dynamic_interests=dynamic_interests,
            relu_projection=relu_projection,
            training=training,
            negative_sampler=negative_sampler,
            num_negatives=num_negatives,
            popularity_exponent=popularity_exponent,
            scoring_chunk_size=scoring_chunk_size,
        )
