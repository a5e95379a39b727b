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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.batch import GLOBAL_GRAPH, SessionBatch
from datamodules.graph import GlobalGraph
from dmi_gnn.recommender import SessionRecommender


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        network = cls.__dict__.get("NETWORK")
        if network is not None and "FEATURES" not in cls.__dict__:
            cls.FEATURES = frozenset(getattr(network, "FEATURES", frozenset()))

    def scores(self, batch: SessionBatch) -> Tensor:
        return scores_of(self.net(batch))

    def auxiliary_losses(self, batch: SessionBatch, output: Any) -> dict[str, Tensor]:
        """Extra weighted loss terms of a training batch, by name (default: none).

        Args:
            batch: the training batch.
            output: what ``self.net(batch)`` returned for it (computed once).
        """
        return {}

    def training_loss(self, batch: SessionBatch) -> Tensor | Mapping[str, Tensor]:
        custom = getattr(self.net, "training_loss", None)
        if custom is not None:
            base = custom(batch)
            output = None
        else:
            output = self.net(batch)
            base = F.cross_entropy(scores_of(output), batch.targets - 1)
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
