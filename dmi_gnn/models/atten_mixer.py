"""``AttenMixer``: the multi-level intent attention network A-Mixer (Zhang et al., WSDM 2023)
as a model of the family (baselines.md section 4.9; the network is
:class:`~dmi_gnn.nn.networks.AttenMixerNet`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN
from dmi_gnn.neural_recommender import NeuralRecommender
from dmi_gnn.nn.networks import AttenMixerNet


class AttenMixer(NeuralRecommender):
    """Atten-Mixer on session prefixes, as its published code computes it (no GNN).

    Level queries from the last ``1..levels`` items, multi-level attention over the positions
    (sigmoid-softmax, L_p pooling over levels, masked softmax, LayerNorm), the output
    ``W[a; h_last]`` scored as ``scale * cos`` against the L2-normalised item embeddings.
    Trained with full cross-entropy, as published; there is one interest (U = 1). Published
    set-up: d 256, 8 heads, 7 levels, p 4, dropout 0.1, Adam lr 1e-3 with L2 1e-5,
    StepLR(3, 0.1), batch 100, 10 epochs, early stopping on MRR@20 with patience 3, seed 123.

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        embedding_dim: size d of item and session vectors.
        heads: attention heads (must divide ``embedding_dim``).
        levels: number k of level queries (``last_k``).
        lp_norm: p of the L_p pooling over levels.
        dropout: dropout of the normalised embeddings, inputs and candidates.
        attention_dropout: dropout of the attention weights.
        scale: the scale tau of the cosine scores (16 as published).
        attention_semantics: ``"corrected"`` (a true per-head split, masked softmaxes) or
            ``"reference"`` (the published ``.view`` head split and unmasked first softmax;
            baselines.md section 4.9 bugs a-b).
        scoring_chunk_size: candidate items per scoring block (``"auto"``: 8,192 on the CPU,
            one block on a GPU; None: one block); the scores do not change.
        optimizer: ``"adam"`` (coupled L2, as published) or ``"adamw"`` (decoupled).
        lr: learning rate.
        weight_decay: L2 (adam) or decoupled (adamw) weight decay.
        lr_step: epochs between learning-rate decays (StepLR); 0 disables the schedule.
        lr_gamma: learning-rate decay factor.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read.
        max_batch_cells: largest ``B * L * L`` run in one pass at evaluation, prediction and
            ``recommend``; larger batches are split into sub-batches with the same results.
    """

    NETWORK = AttenMixerNet

    def __init__(
        self,
        num_items: int = 0,
        embedding_dim: int = 256,
        heads: int = 8,
        levels: int = 7,
        lp_norm: float = 4.0,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        scale: float = 16.0,
        attention_semantics: Literal["corrected", "reference"] = "corrected",
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
        self.net = AttenMixerNet(
            num_items=num_items,
            embedding_dim=embedding_dim,
            heads=heads,
            levels=levels,
            lp_norm=lp_norm,
            dropout=dropout,
            attention_dropout=attention_dropout,
            scale=scale,
            semantics=attention_semantics,
            max_length=max_session_length,
            scoring_chunk_size=scoring_chunk_size,
        )
