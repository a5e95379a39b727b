"""``DMIGNN``: DMI-GNN (Lv, Liu and Xu, AAAI 2025) in the model family.

Only what is DMI-GNN's own lives here: the network :class:`dmi_gnn.nn.DMIGNNNet` and its
options (with the ``semantics`` presets), the interest regulariser added to the cross-entropy
(eqs. 9-10), the global graph's neighbour filling, and :meth:`DMIGNN.inspect_interests`.
Everything else (vocabulary, metrics, steps, ``recommend``, checkpoints, optimiser) comes from
:class:`~dmi_gnn.recommender.SessionRecommender` through
:class:`~dmi_gnn.neural_recommender.NeuralRecommender`, so
``DMIGNN.load_from_checkpoint(path)`` alone is enough to serve recommendations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from datamodules.batch import SessionBatch
from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN, sub_batch_bounds
from datamodules.graph import GlobalGraph, fill_neighbors_with_replacement
from dmi_gnn.losses import interest_regularizer
from dmi_gnn.neural_recommender import NeuralRecommender
from dmi_gnn.nn import DMIGNNNet
from dmi_gnn.repeat_scoring import RepeatOption
from dmi_gnn.semantics import resolve_semantics

log = logging.getLogger(__name__)

#: State-dict prefixes of the optional item-representation branches of :class:`DMIGNNNet`.
_BRANCH_PREFIXES = ("net.local_aggregator.", "net.global_aggregators.")


class DMIGNN(NeuralRecommender):
    """DMI-GNN (Lv, Liu and Xu, AAAI 2025) as a LightningModule.

    Loss per batch: ``CE(max_u scores, target) + beta * R`` where ``R`` is the DMI regulariser
    (eq. 10), the plain similarity regulariser (eq. 9) or nothing. Metrics: HR@K, MRR@K,
    NDCG@K and Cov@K over the full catalogue, logged as ``val/HR@20`` etc. (``test/...`` when
    the evaluation set is the test set, as in the paper protocol).

    ``semantics`` picks the preset of every option where the published code and the paper's
    equations differ (see :mod:`dmi_gnn.semantics`); each such option can also be set on its
    own, and ``None`` means "from the preset".

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        semantics: ``"reference"`` (as the published code computes) or ``"paper"``.
        embedding_dim: size d of item, position and interest vectors.
        num_interests: number of interest heads U.
        beta: weight of the interest regulariser.
        eta: the length threshold of the DMI regulariser (eq. 10).
        regularizer: ``"dmi"`` (eq. 10), ``"similarity"`` (eq. 9) or ``"none"``.
        regularizer_reduction: ``"sum"`` or ``"mean"`` of the regulariser over the batch.
        scoring: ``"max"`` over interests (eq. 6) or ``"sum"`` (Table 3 ablation).
        positional: ``"multi"`` positional patterns, or ``"single"`` (Table 3 ablation).
        scoring_chunk_size: candidate items per scoring block (``"auto"``: 8,192 on the CPU,
            one block on a GPU; None: one block). Bounds the ``U x B x N`` transient on huge
            catalogues; the scores do not change.
        hop: number of hops of the global aggregator.
        num_neighbors: neighbours per item in the global graph table (its top-k).
        dropout_local: dropout on the local-branch output.
        dropout_global: dropout on the global-branch output.
        dropout_gcn: dropout inside the global aggregator.
        leaky_relu_slope: negative slope of the attention LeakyReLUs.
        global_activation: activation of the global aggregator output.
        max_positions: rows of the reversed position table (longer prefixes reuse the last).
        normalize_embeddings: L2-normalise local-branch and candidate embeddings.
        attention: ``"raw"`` (un-normalised) or ``"softmax"`` interest attention.
        readout_bias: use the bias b3 of eq. 3.
        full_dropout: what a dropout rate of exactly 1 does to a branch.
        neighbor_padding: ``"resampled"`` (fill short neighbour lists with replacement) or
            ``"masked"`` (mask empty slots).
        use_global: keep the global branch at all.
        optimizer: ``"adam"`` (coupled L2, as the reference) or ``"adamw"`` (decoupled).
        lr: learning rate.
        weight_decay: L2 (adam) or decoupled (adamw) weight decay.
        lr_step: epochs between learning-rate decays (StepLR); 0 disables the schedule.
        lr_gamma: learning-rate decay factor.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        max_session_length: the longest prefix the model reads: training, evaluation,
            ``predict_step``, ``recommend`` and ``inspect_interests`` keep its most recent clicks
            of longer sessions. Saved in the checkpoint; the datamodule follows it (an
            explicit ``--data.max_len`` must agree). Default 200, the position table's rows.
        max_batch_cells: largest ``B * L * L`` (session-graph cells) run in one pass at
            evaluation, prediction and ``recommend``; larger batches are split into
            sub-batches with the same results. The local attention holds several ``B x L x L``
            float tensors (about 62 bytes per cell in an evaluation pass, measured); with the
            default 2**23 one evaluation pass stays near 1 GB (README, "Memory"). Training
            batches are not split (a warning says when
            ``batch_size * max_session_length**2`` exceeds it).
        metric_ks: the K values of the ranking metrics.
        neighbor_seed: seed of the with-replacement neighbour filling (``resampled``).
        repeat: beyond the paper (issue 14): ``"none"``, ``"bonus"`` or ``"mixture"``, the
            repeat-aware layer after the network (:mod:`dmi_gnn.repeat_scoring`). Neither
            ``semantics`` preset sets it: under ``reference`` and ``paper`` it stays ``"none"``
            (the published computation, state-dict keys included) unless set explicitly.
        repeat_positions: position buckets of the repeat layer (longer prefixes share the last).
        repeat_explore: the mixture's explore distribution, ``"all"`` or ``"unseen"``.
        repeat_prior: the mixture's initial repeat probability, in (0, 1).
        loss: ``"full"`` cross-entropy over every item (the paper) or ``"sampled"`` softmax
            with the logQ correction, for million-item catalogues
            (:class:`~dmi_gnn.neural_recommender.NeuralRecommender`).
        num_negatives: negatives per batch of ``"sampled"``; None = ten per example.
        sampler: ``"uniform"``, ``"popularity"`` (fit-split clicks) or ``"in_batch"``.
        sparse_gradients: with ``"sampled"``: row-sparse item-table gradients and a lazy Adam
            (:mod:`dmi_gnn.optim`), so a step costs what the batch reads, not ``N x d``.
    """

    NETWORK = DMIGNNNet
    TRAINING_LOGS = ("ce", "regularizer")

    def __init__(
        self,
        num_items: int = 0,
        semantics: Literal["reference", "paper"] = "reference",
        embedding_dim: int = 100,
        num_interests: int = 3,
        beta: float = 0.01,
        eta: float = 8.0,
        regularizer: Literal["none", "similarity", "dmi"] = "dmi",
        regularizer_reduction: Literal["sum", "mean"] | None = None,
        scoring: Literal["max", "sum"] = "max",
        positional: Literal["multi", "single"] = "multi",
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
        hop: int = 1,
        num_neighbors: int = 12,
        dropout_local: float = 0.0,
        dropout_global: float = 0.5,
        dropout_gcn: float = 0.0,
        leaky_relu_slope: float = 0.2,
        global_activation: Literal["relu", "tanh"] = "relu",
        max_positions: int = 200,
        normalize_embeddings: bool | None = None,
        attention: Literal["raw", "softmax"] | None = None,
        readout_bias: bool | None = None,
        full_dropout: Literal["zero", "drop_branch"] | None = None,
        neighbor_padding: Literal["resampled", "masked"] | None = None,
        use_global: bool = True,
        optimizer: Literal["adam", "adamw"] = "adam",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        lr_step: int = 3,
        lr_gamma: float = 0.1,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        neighbor_seed: int = 2024,
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
        repeat: RepeatOption = "none",
        repeat_positions: int = 32,
        repeat_explore: Literal["all", "unseen"] = "all",
        repeat_prior: float = 0.5,
        loss: Literal["full", "sampled"] = "full",
        num_negatives: int | None = None,
        sampler: Literal["uniform", "popularity", "in_batch"] = "uniform",
        sparse_gradients: bool = False,
    ) -> None:
        super().__init__(
            loss=loss,
            num_negatives=num_negatives,
            sampler=sampler,
            sparse_gradients=sparse_gradients,
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
        options = resolve_semantics(
            semantics,
            normalize_embeddings=normalize_embeddings,
            attention=attention,
            readout_bias=readout_bias,
            regularizer_reduction=regularizer_reduction,
            full_dropout=full_dropout,
            neighbor_padding=neighbor_padding,
        )
        self.regularizer_reduction: str = options.pop("regularizer_reduction")
        self.net = DMIGNNNet(
            num_items=num_items,
            embedding_dim=embedding_dim,
            num_interests=num_interests,
            hop=hop,
            num_neighbors=num_neighbors,
            dropout_local=dropout_local,
            dropout_global=dropout_global,
            dropout_gcn=dropout_gcn,
            leaky_relu_slope=leaky_relu_slope,
            global_activation=global_activation,
            max_positions=max_positions,
            positional=positional,
            scoring=scoring,
            scoring_chunk_size=scoring_chunk_size,
            use_global=use_global,
            **options,
        )

    def set_global_graph(self, graph: GlobalGraph) -> None:
        """Install the global item graph (filling short neighbour lists if ``resampled``)."""
        if graph.neighbors.shape[1] != self.hparams.num_neighbors:
            raise ValueError(
                f"the global graph keeps {graph.neighbors.shape[1]} neighbours per item but the "
                f"model expects num_neighbors={self.hparams.num_neighbors}"
            )
        if self.net.neighbor_padding == "resampled":
            graph = fill_neighbors_with_replacement(graph, seed=self.hparams.neighbor_seed)
        super().set_global_graph(graph)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Accept checkpoints that still hold the weights of a branch this network does not build.

        Development versions of 0.1.0 built a branch even when ``drop_branch`` dropout
        switched it off, so their checkpoints carry its (unused) weights. Those keys are
        dropped here, and only those: any other mismatch still fails the strict load.
        """
        state = checkpoint.get("state_dict", {})
        expected = self.state_dict().keys()
        unused = [key for key in state if key.startswith(_BRANCH_PREFIXES) and key not in expected]
        for key in unused:
            del state[key]
        if unused:
            log.info(
                "Checkpoint holds %d weights of a branch this model does not build (%s); ignored.",
                len(unused),
                ", ".join(sorted({key.split(".")[1] for key in unused})),
            )
        super().on_load_checkpoint(checkpoint)

    # ------------------------------------------------------------------------------- training
    def auxiliary_losses(self, batch: SessionBatch, output: Any) -> dict[str, Tensor]:
        """``beta * R``: the DMI (eq. 10) or similarity (eq. 9) regulariser of the interests."""
        regularizer = self.hparams.beta * interest_regularizer(
            self.hparams.regularizer,
            output.attention,
            batch.mask,
            batch.lengths,
            eta=self.hparams.eta,
            reduction=self.regularizer_reduction,
        )
        return {"regularizer": regularizer}

    def loss(self, batch: SessionBatch) -> tuple[Tensor, Tensor, Tensor]:
        """Cross-entropy and weighted interest regulariser of one batch.

        Returns:
            ``(total, cross_entropy, regularizer_term)``, scalars; the last already
            multiplied by ``beta``.
        """
        parts = self.training_loss(batch)
        return parts["loss"], parts["ce"], parts["regularizer"]

    @torch.no_grad()
    def inspect_interests(self, sessions: Sequence[Sequence[Any]]) -> list[dict[str, Tensor]]:
        """Per-position attention of every interest and the interests' pairwise similarity.

        The matrices behind the paper's Figure 3. Positions are reversed (0 = most recent).

        Returns:
            One dict per session: ``attention`` ``(l, U)`` over its ``l`` known items (at most
            the ``max_session_length`` most recent) and ``similarity`` ``(U, U)`` (cosine of the
            interest vectors).
        """
        was_training = self.training
        self.eval()
        try:
            encoded = []
            for index, session in enumerate(sessions):
                ids, _ = self.vocabulary.encode(session)
                if not ids:
                    raise ValueError(f"session {index} has no item known to the model")
                encoded.append(ids)
            kept = [min(len(ids), self.hparams.max_session_length) for ids in encoded]
            found = []
            for start, end in sub_batch_bounds(kept, self.hparams.max_batch_cells):
                batch = self.collate(encoded[start:end])
                attention, similarity = self.net.inspect(batch)
                found.extend(
                    {"attention": attention[i, :length].cpu(), "similarity": similarity[i].cpu()}
                    for i, length in enumerate(batch.lengths.tolist())
                )
            return found
        finally:
            self.train(was_training)
