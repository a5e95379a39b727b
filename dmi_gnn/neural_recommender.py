"""``NeuralRecommender``: a :class:`~dmi_gnn.recommender.SessionRecommender` around a network.

The network (``self.net``, an ``nn.Module`` of the contract in ``dmi_gnn/nn/networks/``) maps a
:class:`~datamodules.batch.SessionBatch` to ``(B, N)`` scores, or to an output object with a
``scores`` field (DMI-GNN's :class:`~dmi_gnn.nn.NetworkOutput`). The loss of a batch is

    ``net.training_loss(batch)`` if the network defines it (FPMC's BPR, sampled softmax, ...),
    else the full cross-entropy of the scores against the targets (``loss="full"``), or,
    with ``loss="sampled"``, a sampled softmax over ``num_negatives`` negatives with the logQ
    correction (:func:`dmi_gnn.nn.sampled_softmax.sampled_softmax`), the max over interests,

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
from types import SimpleNamespace
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datamodules.batch import GLOBAL_GRAPH, SessionBatch
from datamodules.graph import GlobalGraph
from dmi_gnn.nn import RepeatMixture
from dmi_gnn.nn.sampled_softmax import log_expected_counts, popularity_proposal, sampled_softmax
from dmi_gnn.optim import LazyAdam
from dmi_gnn.recommender import SessionRecommender
from dmi_gnn.repeat_scoring import build_repeat_layer, repeat_scores

LOSSES = ("full", "sampled")
SAMPLERS = ("uniform", "popularity", "in_batch")


def scores_of(output: Any) -> Tensor:
    """The ``(B, N)`` scores of a network output (a tensor, or an object with ``scores``)."""
    return output if isinstance(output, Tensor) else output.scores


class NeuralRecommender(SessionRecommender):
    r"""Base of the neural models: ``self.net`` scores the catalogue (module docstring).

    A subclass builds ``self.net`` in its ``__init__`` after ``super().__init__(...)`` and sets
    ``NETWORK`` (its ``FEATURES`` become the model's unless the subclass sets ``FEATURES``).

    The training loss at large catalogues (a subclass exposes these three in its signature to
    offer them; the others train with ``"full"``):

    Args:
        loss: ``"full"`` (cross-entropy over every item, the default) or ``"sampled"``.
        num_negatives: ``"sampled"`` with ``"uniform"`` or ``"popularity"``: negatives ``S``
            shared by the batch, drawn with replacement; None = ten per example.
        sampler: ``"uniform"``; ``"popularity"``: :math:`Q(j) \propto c_j + 1` with
            :math:`c_j` the clicks of item ``j`` in the fit split; ``"in_batch"``: the batch's
            own targets are the negatives (``S = B``), corrected with the same popularity
            :math:`Q` (targets are drawn from the clicks). Every logit is corrected by
            :math:`\log(S\,Q(j))`; a negative equal to the row's target is masked.
        sparse_gradients: with ``"sampled"``: the network's item table (``net.embedding``)
            gets row-sparse gradients and the optimiser is :class:`~dmi_gnn.optim.LazyAdam`,
            which updates only the rows a step read (``optimizer="adamw"``: its decoupled
            decay); a step then costs what the batch reads, not ``N x d``. Weight decay and
            momentum reach a row only when it is read (the documented difference).
        **base: the arguments of :class:`~dmi_gnn.recommender.SessionRecommender`.
    """

    #: The network class (documentation, and the source of ``FEATURES``).
    NETWORK: ClassVar[type[nn.Module] | None] = None
    TRAINING_LOGS: ClassVar[tuple[str, ...]] = ("ce",)

    net: nn.Module
    #: The repeat-aware layer after the network (``repeat`` option), or None.
    repeat_layer: nn.Module | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        network = cls.__dict__.get("NETWORK")
        if network is not None and "FEATURES" not in cls.__dict__:
            cls.FEATURES = frozenset(getattr(network, "FEATURES", frozenset()))

    def __init__(
        self,
        *args: Any,
        loss: str = "full",
        num_negatives: int | None = None,
        sampler: str = "uniform",
        sparse_gradients: bool = False,
        **base: Any,
    ) -> None:
        super().__init__(*args, **base)
        self.repeat_layer = build_repeat_layer(self.hparams, type(self).__name__)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        if num_negatives is not None and (
            isinstance(num_negatives, bool)
            or not isinstance(num_negatives, int)
            or num_negatives < 1
        ):
            raise ValueError(
                f"num_negatives must be an integer >= 1 or None, got {num_negatives!r}"
            )
        if sparse_gradients and loss != "sampled":
            raise ValueError(
                "sparse_gradients=True needs loss='sampled': full cross-entropy reads every "
                f"item's row, so its gradient is dense (got loss={loss!r})"
            )
        self.sparse_gradients = bool(sparse_gradients)
        self.loss_mode = loss
        self.sampler = sampler
        self.num_negatives = num_negatives
        if loss == "sampled" and sampler != "uniform":
            self.register_buffer("negative_counts", torch.zeros(self.hparams.num_items + 1))

    def scores(self, batch: SessionBatch) -> Tensor:
        return self.forward_pass(batch)[1]

    def build_optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        """The base's optimiser, or :class:`~dmi_gnn.optim.LazyAdam` over a sparse item table."""
        if not self.sparse_gradients:
            return super().build_optimizer(params)
        table = getattr(self.net, "embedding", None)
        if not isinstance(table, nn.Embedding):
            raise ValueError(
                f"sparse_gradients=True: {type(self.net).__name__} has no item table "
                "`embedding` (an nn.Embedding) to give sparse gradients"
            )
        table.sparse = True  # its lookups now return row-sparse gradients
        hp = self.hparams
        decoupled = hp.optimizer == "adamw"
        return LazyAdam(params, lr=hp.lr, weight_decay=hp.weight_decay, decoupled=decoupled)

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
        if self.loss_mode == "sampled":
            if custom is not None or self.repeat_layer is not None:
                raise ValueError(
                    f"{type(self).__name__}: loss='sampled' replaces full cross-entropy, but "
                    "this model trains with its own training_loss or a repeat layer"
                )
            base, output = self.sampled_loss(batch)
        elif custom is not None:
            base = custom(batch)
            output = None
        else:
            output, scores = self.forward_pass(batch)
            base = F.cross_entropy(scores, batch.targets - 1)
        extra = self.auxiliary_losses(batch, output)
        if not extra:
            return {"loss": base, "ce": base}
        return {"loss": base + sum(extra.values()), "ce": base, **extra}

    # ----------------------------------------------------------------------- sampled softmax
    def interests_for_training(self, batch: SessionBatch) -> tuple[Tensor, Any]:
        r"""Interest vectors ``(B, U, d)`` of a batch without scoring the catalogue, and the
        output handed to :meth:`auxiliary_losses` (``scores`` None; DMI-GNN's ``attention``).

        ``scoring="sum"`` is one interest :math:`\sum_u \mathbf{s}_u`, as in serving.
        """
        net = self.net
        if hasattr(net, "extract_interests"):  # DMI-GNN: encode gives per-position states
            interests, attention = net.extract_interests(net.encode(batch), batch)
            output = SimpleNamespace(scores=None, interests=interests, attention=attention)
        else:  # the network contract: encode gives (B, U, d)
            interests = net.encode(batch)
            output = SimpleNamespace(scores=None, interests=interests)
        if self.hparams.get("scoring", "max") == "sum":
            interests = interests.sum(1, keepdim=True)
        return interests, output

    def proposal(self) -> Tensor | None:
        """The negatives' distribution :math:`Q` over items ``1..N`` (None: uniform)."""
        if self.sampler == "uniform":
            return None
        counts = self.negative_counts[1:]
        if not bool((counts > 0).any()):
            raise ValueError(
                f"sampler={self.sampler!r} needs the fit split's click counts; fit the model "
                "(or call adopt_data(datamodule)) first"
            )
        return popularity_proposal(counts, 1.0)

    def candidate_rows(self, ids: Tensor) -> Tensor:
        """Rows of the candidate table for item ids (only those rows are computed)."""
        rows = getattr(self.net, "candidate_rows", None)
        return rows(ids) if rows is not None else self.net.candidate_embeddings()[ids - 1]

    def sampled_loss(self, batch: SessionBatch) -> tuple[Tensor, Any]:
        """The sampled softmax of a batch (class docstring), and the network output."""
        interests, output = self.interests_for_training(batch)
        targets = batch.targets
        num_items = self.hparams.num_items
        proposal = self.proposal()
        if self.sampler == "in_batch":
            negatives = targets
        else:
            count = self.num_negatives or 10 * targets.shape[0]
            if proposal is None:
                negatives = torch.randint(1, num_items + 1, (count,), device=targets.device)
            else:
                negatives = torch.multinomial(proposal, count, replacement=True) + 1
        count = negatives.shape[0]
        dtype = interests.dtype
        loss = sampled_softmax(
            interests,
            targets,
            negatives,
            self.candidate_rows(targets),
            self.candidate_rows(negatives),
            log_expected_counts(targets, count, num_items, proposal, dtype),
            log_expected_counts(negatives, count, num_items, proposal, dtype),
        )
        return loss, output

    # ------------------------------------------------------------------ global graph (feature)
    @property
    def uses_global_graph(self) -> bool:
        """Whether the network reads the global graph (feature ``global_graph``)."""
        return GLOBAL_GRAPH in type(self).FEATURES

    def adopt_data(self, datamodule: Any) -> None:
        super().adopt_data(datamodule)
        if self.loss_mode == "sampled" and self.sampler != "uniform":
            from dmi_gnn.models.multi_interest import fit_click_counts

            counts = fit_click_counts(datamodule, self.hparams.num_items)
            self.negative_counts.copy_(counts.to(self.negative_counts))
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
