"""What MIND, ComiRec-SA and ComiRec-DR share: embedding, max-over-interests scoring, and the
two training modes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from torch import Tensor, nn

from dmi_gnn.nn.label_aware import label_aware_interest
from dmi_gnn.nn.sampled_softmax import SampledSoftmaxLoss, popularity_proposal
from dmi_gnn.nn.scoring import InterestScorer

if TYPE_CHECKING:
    from collections.abc import Callable

    from datamodules.batch import SessionBatch

__all__ = ["MultiInterestNetwork", "check_positive_int"]


def check_positive_int(owner: str, name: str, value: object) -> None:
    """Raise a ValueError naming ``owner.name`` unless ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}")


class MultiInterestNetwork(nn.Module):
    r"""Base of the label-aware multi-interest baselines (MIND, ComiRec-SA, ComiRec-DR).

    A subclass supplies :meth:`extract` (``K`` interests from the embedded prefix). This class
    embeds the prefix (keeping its most recent ``max_length`` items, as the published
    ``maxlen``), scores the catalogue by the max over interests, and trains in one of two modes:

    - ``training="reference"`` (as the published code): :attr:`training_loss` selects one
      interest per example with the target (:func:`~dmi_gnn.nn.label_aware.label_aware_interest`)
      and returns a sampled softmax (:class:`~dmi_gnn.nn.sampled_softmax.SampledSoftmaxLoss`)
      over ``num_negatives`` negatives (``None`` = 10 per example) drawn uniformly
      (``negative_sampler="uniform"``) or by popularity :math:`(c_j + 1)^{\alpha}`
      (``"popularity"``, ``popularity_exponent`` :math:`\alpha`, counts from
      :meth:`set_item_counts`), with the logQ correction.
    - ``training="aligned"`` (as DMI-GNN trains): there is **no** ``training_loss`` attribute
      (``hasattr(net, "training_loss")`` is False), so the trainer applies full cross-entropy to
      :meth:`forward`, the max over interests.

    Evaluation is the same in both: :meth:`forward` ranks the catalogue by
    :math:`\max_k \mathbf{u}_k^\top \mathbf{e}_j`, which equals the published merge of the
    per-interest top-N lists by score. Scores are raw inner products (no normalisation).

    Item embeddings: a table of ``num_items + 1`` rows, row 0 the zero padding row,
    Glorot-uniform as TF's default variable initialiser in the published code.
    """

    FEATURES: ClassVar[frozenset[str]] = frozenset()
    NAME: ClassVar[str] = "MultiInterestNetwork"

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int,
        num_interests: int,
        max_length: int,
        training: Literal["reference", "aligned"],
        negative_sampler: Literal["uniform", "popularity"],
        num_negatives: int | None,
        popularity_exponent: float,
        scoring_chunk_size: int | Literal["auto"] | None,
    ) -> None:
        super().__init__()
        owner = self.NAME
        check_positive_int(owner, "num_items", num_items)
        check_positive_int(owner, "embedding_dim", embedding_dim)
        check_positive_int(owner, "num_interests", num_interests)
        check_positive_int(owner, "max_length", max_length)
        if training not in ("reference", "aligned"):
            raise ValueError(
                f"{owner}: training must be 'reference' or 'aligned', got {training!r}"
            )
        if negative_sampler not in ("uniform", "popularity"):
            raise ValueError(
                f"{owner}: negative_sampler must be 'uniform' or 'popularity', "
                f"got {negative_sampler!r}"
            )
        if isinstance(popularity_exponent, bool) or not (
            isinstance(popularity_exponent, (int, float))
            and math.isfinite(popularity_exponent)
            and popularity_exponent >= 0.0
        ):
            raise ValueError(
                f"{owner}: popularity_exponent must be a finite number >= 0, "
                f"got {popularity_exponent!r}"
            )
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.num_interests = num_interests
        self.max_length = max_length
        self.training_mode = training
        self.negative_sampler = negative_sampler
        self.popularity_exponent = float(popularity_exponent)
        self.embedding = nn.Embedding(num_items + 1, embedding_dim, padding_idx=0)
        self.sampled_softmax = SampledSoftmaxLoss(num_negatives)
        self.scorer = InterestScorer("max", scoring_chunk_size)
        self.register_buffer("item_counts", torch.zeros(num_items + 1))

    def reset_parameters(self) -> None:
        """Glorot-uniform item embeddings (zero padding row); the subclass resets its layers."""
        nn.init.xavier_uniform_(self.embedding.weight)
        with torch.no_grad():
            self.embedding.weight[0].zero_()

    def set_item_counts(self, counts: Tensor) -> None:
        """Set the item counts of the fit split, for ``negative_sampler="popularity"``.

        Args:
            counts: ``(num_items + 1,)`` non-negative, finite, indexed by item id (entry 0, the
                padding, is ignored).
        """
        counts = torch.as_tensor(counts)
        if counts.shape != (self.num_items + 1,):
            raise ValueError(
                f"set_item_counts: counts must have shape ({self.num_items + 1},) "
                f"(indexed by item id, entry 0 ignored), got {tuple(counts.shape)}"
            )
        counts = counts.to(self.item_counts.dtype)
        if not bool(torch.isfinite(counts).all()) or bool((counts < 0).any()):
            raise ValueError("set_item_counts: counts must be finite and >= 0")
        self.item_counts.copy_(counts)
        self.item_counts[0] = 0

    def proposal(self) -> Tensor | None:
        """The negative sampler's distribution over items ``1..N`` (None = uniform)."""
        if self.negative_sampler == "uniform":
            return None
        if not bool((self.item_counts[1:] > 0).any()):
            raise ValueError(
                f"{self.NAME}: negative_sampler='popularity' needs item counts; call "
                "set_item_counts(counts) with the fit split's counts first"
            )
        return popularity_proposal(self.item_counts[1:], self.popularity_exponent)

    def recent(self, batch: SessionBatch) -> tuple[Tensor, Tensor, Tensor]:
        """``(items, mask, lengths)`` cut to the most recent ``max_length`` positions."""
        items = batch.items[:, : self.max_length]
        mask = batch.mask[:, : self.max_length].to(torch.bool)
        return items, mask, batch.lengths.clamp(max=self.max_length)

    def extract(self, hidden: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        """``K`` interests ``(B, K, d)`` from embeddings ``(B, L, d)`` (by the subclass)."""
        raise NotImplementedError

    def encode(self, batch: SessionBatch) -> Tensor:
        """The ``K`` interest vectors of each prefix, ``(B, K, d)``."""
        items, mask, lengths = self.recent(batch)
        hidden = self.embedding(items) * mask.unsqueeze(-1).to(self.embedding.weight.dtype)
        return self.extract(hidden, mask, lengths)

    def candidate_embeddings(self) -> Tensor:
        """``(N, d)``, row ``j - 1`` = item ``j``."""
        return self.embedding.weight[1:]

    def score(self, interests: Tensor) -> Tensor:
        """``(B, K, d) -> (B, N)``: the max over interests of the inner products."""
        return self.scorer(interests, self.candidate_embeddings())

    def forward(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)`` over the catalogue (column ``j`` = item ``j + 1``)."""
        return self.score(self.encode(batch))

    @property
    def training_loss(self) -> Callable[[SessionBatch], Tensor]:
        """The ``reference`` loss; absent (AttributeError) with ``training="aligned"``."""
        if self.training_mode != "reference":
            raise AttributeError(
                f"{self.NAME} with training='aligned' has no training_loss: train it with "
                "full cross-entropy on forward()"
            )
        return self.reference_loss

    def reference_loss(self, batch: SessionBatch) -> Tensor:
        """Label-aware interest + sampled softmax with logQ correction (scalar)."""
        targets = batch.targets
        if bool(((targets < 1) | (targets > self.num_items)).any()):
            raise ValueError(
                f"{self.NAME}.training_loss: targets must be item ids in 1..{self.num_items}"
            )
        interests = self.encode(batch)
        user = label_aware_interest(interests, self.embedding(targets))
        return self.sampled_softmax(user, targets, self.candidate_embeddings(), self.proposal())

    def extra_repr(self) -> str:
        return (
            f"num_items={self.num_items}, embedding_dim={self.embedding_dim}, "
            f"num_interests={self.num_interests}, max_length={self.max_length}, "
            f"training={self.training_mode!r}, negative_sampler={self.negative_sampler!r}, "
            f"popularity_exponent={self.popularity_exponent}"
        )
