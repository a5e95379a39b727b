r"""The ONE place that knows a model's internals: what serving needs from a loaded checkpoint.

Serving scores with interest vectors against an item table, eq. 6 of DMI-GNN:
:math:`\hat{y}_j = \max_u \mathbf{s}_u^\top \mathbf{x}_j`. Everything else in
:mod:`dmi_gnn.serving` (the HTTP service, the ONNX export, the numpy top-K) only sees
:class:`ServingParts`. A model family whose models score that way plugs in by changing
:func:`serving_parts` alone.

The ``"sum"`` scoring ablation (:math:`\sum_u \mathbf{s}_u^\top \mathbf{x}_j`) is served as one
interest :math:`\sum_u \mathbf{s}_u`, so max-over-interests scoring gives its scores exactly.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from datamodules.batch import SessionBatch


class InterestEncoder(nn.Module):
    """A session batch -> its interest vectors; the module exported to ONNX.

    Inputs are the fields of a :class:`~datamodules.batch.SessionBatch` (targets aside), as
    plain tensors, so the exported graph has named array inputs.

    Shapes:
        - **input:** items, mask, nodes, node_mask, alias ``(B, L)``; lengths ``(B,)``;
          adjacency ``(B, L, L)`` int8.
        - **output:** interests ``(B, U, d)`` float32 (``U = 1`` for ``"sum"`` scoring).
    """

    def __init__(self, net: nn.Module, sum_interests: bool) -> None:
        super().__init__()
        self.net = net
        self.sum_interests = sum_interests

    def forward(
        self,
        items: Tensor,
        mask: Tensor,
        lengths: Tensor,
        nodes: Tensor,
        node_mask: Tensor,
        alias: Tensor,
        adjacency: Tensor,
    ) -> Tensor:
        batch = SessionBatch(
            items=items,
            mask=mask,
            lengths=lengths,
            targets=lengths,
            nodes=nodes,
            node_mask=node_mask,
            alias=alias,
            adjacency=adjacency,
        )
        if hasattr(self.net, "extract_interests"):  # DMI-GNN: encode gives per-position states
            interests, _ = self.net.extract_interests(self.net.encode(batch), batch)
        else:  # the network contract: encode gives (B, U, d)
            interests = self.net.encode(batch)
        if self.sum_interests:
            interests = interests.sum(1, keepdim=True)
        return interests.float()


#: The encoder's inputs, in its argument order (the ONNX graph's input names).
ENCODER_INPUTS = ("items", "mask", "lengths", "nodes", "node_mask", "alias", "adjacency")


def encoder_inputs(batch: SessionBatch) -> tuple[Tensor, ...]:
    """The fields of ``batch`` that :class:`InterestEncoder` takes, by name, in its order."""
    return tuple(getattr(batch, name) for name in ENCODER_INPUTS)


class ServingParts(NamedTuple):
    """What serving needs from a loaded model.

    Attributes:
        encoder: :class:`InterestEncoder`, in ``eval()`` mode.
        candidates: the candidate table ``(N, d)`` float32, row ``j - 1`` is item ``j``.
        vocabulary: raw ids <-> ``1..N`` (:class:`datamodules.vocab.Vocabulary`).
        max_session_length: the most recent clicks the model reads.
        max_batch_cells: the ``B x L x L`` budget of one encoder pass.
        top_k: the model's default K.
        description: the model in one line.
        metadata: plain data describing the model (hyper-parameters, training data).
    """

    encoder: InterestEncoder
    candidates: Tensor
    vocabulary: Any
    max_session_length: int
    max_batch_cells: int
    top_k: int
    description: str
    metadata: dict[str, Any]


#: Models whose scores are not the max over interests of dot products with an item table.
_NOT_SERVABLE = {"MGIR": "scores s+.e - LeakyReLU(s-.e), not a max of dot products"}


def load_model(ckpt_path: str) -> Any:
    """The model of a checkpoint (weights-only, on the CPU), in ``eval()`` mode, any class."""
    from dmi_gnn.errors import CheckpointError
    from dmi_gnn.models import load_model as load_any
    from dmi_gnn.neural_recommender import NeuralRecommender

    model = load_any(ckpt_path, map_location="cpu").eval()
    name = type(model).__name__
    if not isinstance(model, NeuralRecommender) or name in _NOT_SERVABLE:
        why = _NOT_SERVABLE.get(name, "it has no interest vectors and item table")
        raise CheckpointError(f"{ckpt_path}: {name} cannot be served or exported ({why})")
    if model.hparams.get("repeat", "none") != "none":
        raise CheckpointError(
            f"{ckpt_path}: {name} with repeat={model.hparams['repeat']!r} cannot be served or "
            "exported (its repeat layer rescores the prefix's items: the scores are not a max "
            "of dot products with an item table); use model.recommend() in Python"
        )
    return model


@torch.no_grad()
def serving_parts(model: Any) -> ServingParts:
    """Interest encoder, candidate table and vocabulary of a loaded model."""
    model = model.eval()
    hparams = dict(model.hparams)
    net = model.net
    sum_interests = hparams.get("scoring", "max") == "sum"
    candidates = net.candidate_embeddings().detach().float().contiguous().clone()
    plain = {k: v for k, v in hparams.items() if isinstance(v, (int, float, str, bool, type(None)))}
    interests = 1 if sum_interests else int(hparams.get("num_interests", 1))
    return ServingParts(
        encoder=InterestEncoder(net, sum_interests).eval(),
        candidates=candidates,
        vocabulary=model.vocabulary,
        max_session_length=int(hparams["max_session_length"]),
        max_batch_cells=int(hparams["max_batch_cells"]),
        top_k=int(hparams["top_k"]),
        description=(
            f"{type(model).__name__} N={candidates.shape[0]} d={candidates.shape[1]} "
            f"U={hparams.get('num_interests', 1)} scoring={hparams.get('scoring', 'max')}"
        ),
        metadata={
            "model_class": type(model).__name__,
            "hyperparameters": plain,
            "served_interests": interests,
            "data": getattr(model, "data_identity", None),
        },
    )
