"""``NeuralRecommender``: a :class:`~dmi_gnn.recommender.SessionRecommender` around a network.

The network (``self.net``, an ``nn.Module`` of the contract in ``dmi_gnn/nn/networks/``) maps a
:class:`~datamodules.batch.SessionBatch` to ``(B, N)`` scores, or to an output object with a
``scores`` field (DMI-GNN's :class:`~dmi_gnn.nn.NetworkOutput`). The loss of a batch is

    ``net.training_loss(batch)`` if the network defines it (FPMC's BPR, sampled softmax, ...),
    else the full cross-entropy of the scores against the targets,

plus the terms of :meth:`NeuralRecommender.auxiliary_losses` (DMI-GNN's interest regulariser),
each logged as ``train/<name>`` beside ``train/ce``. A network that declares the feature
``global_graph`` gets the global graph of the fit sessions through ``set_global_graph``; the
model then keeps it (it lives in the network's buffers, so in the checkpoint).

The option ``repeat`` (:mod:`dmi_gnn.repeat_scoring`; a model exposes it as a constructor
argument) puts a repeat-aware layer after the network, built here for every model: the scores
above (training CE, evaluation, ``recommend``, ``predict``) are then its output, and its weights
(``repeat_layer.*``) live in the checkpoint. With ``repeat: none`` there is no layer at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.batch import GLOBAL_GRAPH, SessionBatch
from datamodules.graph import GlobalGraph
from dmi_gnn.nn import RepeatMixture
from dmi_gnn.recommender import SessionRecommender
from dmi_gnn.repeat_scoring import build_repeat_layer, repeat_scores


def scores_of(output: Any) -> Tensor:
    """The ``(B, N)`` scores of a network output (a tensor, or an object with ``scores``)."""
    return output if isinstance(output, Tensor) else output.scores


class NeuralRecommender(SessionRecommender):
    """Base of the neural models: ``self.net`` scores the catalogue (module docstring).

    A subclass builds ``self.net`` in its ``__init__`` after ``super().__init__(...)`` and sets
    ``NETWORK`` (its ``FEATURES`` become the model's unless the subclass sets ``FEATURES``).
    """

    #: The network class (documentation, and the source of ``FEATURES``).
    NETWORK: ClassVar[type[nn.Module] | None] = None
    TRAINING_LOGS: ClassVar[tuple[str, ...]] = ("ce",)

    net: nn.Module
    #: The repeat-aware layer after the network (``repeat`` option), or None.
    repeat_layer: nn.Module | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.repeat_layer = build_repeat_layer(self.hparams, type(self).__name__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        network = cls.__dict__.get("NETWORK")
        if network is not None and "FEATURES" not in cls.__dict__:
            cls.FEATURES = frozenset(getattr(network, "FEATURES", frozenset()))

    def scores(self, batch: SessionBatch) -> Tensor:
        return self.forward_pass(batch)[1]

    def forward_pass(self, batch: SessionBatch) -> tuple[Any, Tensor]:
        """The network's output on a batch and the model's scores ``(B, N)`` of it.

        Without a repeat layer the scores are the network's. With one they are its output: the
        bonus reads the network's scores, the mixture also the interests ``(B, U, d)`` (from
        the output where the network's ``INTERESTS_IN_OUTPUT`` says it carries them, else as
        ``score(encode(batch))`` of the network contract) and the candidate embeddings.
        """
        layer = self.repeat_layer
        if layer is None or not isinstance(layer, RepeatMixture):
            output = self.net(batch)
            logits = scores_of(output)
            if layer is None:
                return output, logits
            return output, repeat_scores(layer, logits, batch.items, batch.mask)
        if getattr(self.net, "INTERESTS_IN_OUTPUT", False):
            output = self.net(batch)
            logits, interests = output.scores, output.interests
        else:
            interests = self.net.encode(batch)
            output = logits = self.net.score(interests)
        candidates = self.net.candidate_embeddings()
        return output, repeat_scores(layer, logits, batch.items, batch.mask, interests, candidates)

    def auxiliary_losses(self, batch: SessionBatch, output: Any) -> dict[str, Tensor]:
        """Extra weighted loss terms of a training batch, by name (default: none).

        Args:
            batch: the training batch.
            output: what ``self.net(batch)`` returned for it (computed once).
        """
        return {}

    def training_loss(self, batch: SessionBatch) -> Tensor | Mapping[str, Tensor]:
        custom = getattr(self.net, "training_loss", None)
        if custom is not None and self.repeat_layer is not None:
            raise ValueError(
                f"{type(self).__name__}: repeat={self.hparams.repeat!r} trains on the full "
                f"cross-entropy of the model's scores, but {type(self.net).__name__} trains with "
                "its own training_loss; use repeat: none or the network's full-CE training"
            )
        if custom is not None:
            base = custom(batch)
            output = None
        else:
            output, scores = self.forward_pass(batch)
            base = F.cross_entropy(scores, batch.targets - 1)
        extra = self.auxiliary_losses(batch, output)
        if not extra:
            return {"loss": base, "ce": base}
        return {"loss": base + sum(extra.values()), "ce": base, **extra}

    # ------------------------------------------------------------------ global graph (feature)
    @property
    def uses_global_graph(self) -> bool:
        """Whether the network reads the global graph (feature ``global_graph``)."""
        return GLOBAL_GRAPH in type(self).FEATURES

    def adopt_data(self, datamodule: Any) -> None:
        super().adopt_data(datamodule)
        if self.uses_global_graph:
            self.set_global_graph(datamodule.global_graph)

    def has_fit_data(self) -> bool:
        if self.uses_global_graph:
            neighbors = getattr(self.net, "global_neighbors", None)
            return neighbors is not None and bool(neighbors.any())
        return super().has_fit_data()

    def set_global_graph(self, graph: GlobalGraph) -> None:
        """Install the global item graph in the network (``net.set_global_graph``)."""
        self.net.set_global_graph(
            torch.as_tensor(graph.neighbors, dtype=torch.long),
            torch.as_tensor(graph.weights, dtype=torch.float32),
        )
