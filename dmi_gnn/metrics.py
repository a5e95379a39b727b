r"""Full-ranking metrics HR@K, MRR@K, NDCG@K and Coverage@K as DDP-safe torchmetrics.

Conventions (shared by every metric here):

* ``scores`` is ``(B, N)`` over the candidate items ``1..N``: column ``j`` is item ``j + 1``.
  The padding item 0 is not a column, so it can never be recommended.
* ``targets`` is ``(B,)`` with item ids in ``1..N`` (one target per prefix).
* **Pessimistic ties.** The rank of the target is

  .. math::
      \mathrm{rank} = 1 + \#\{j : y_j > y_t\} + \#\{j \neq t : y_j = y_t\}
                    = \#\{j : y_j \geq y_t\},

  i.e. a target tied with other items takes the worst of their ranks (a constant score vector
  ranks every target last, so it scores no better than chance). A target is a hit at ``K`` iff
  ``rank <= K``. A NaN target score is never a hit.
* HR@K (the papers' P@K / "Recall@20") is the share of hits; MRR@K the mean of ``1/rank`` over
  hits (0 otherwise); NDCG@K, with one relevant item, the mean of ``1/log2(rank + 1)`` over hits.
* Cov@K is ``|union of the top-K lists| / N`` over every evaluated prefix, the whole catalogue
  as denominator (the paper's definition). Top-K lists come from :func:`torch.topk`; which of
  several items tied at the K-th place enters the list is therefore torch's choice.
* ``K`` larger than ``N`` is allowed: every target is then a hit and a top-K list is the whole
  catalogue.

The rank metrics keep only scalar ``sum`` states (a running total and a count, never the
predictions), Coverage a ``bool[N]`` mask reduced with ``max``; all of them reduce correctly
across processes. Totals are float32 (no float64, so the metrics also live on devices without
it); with per-batch partial sums the error stays far below the 1e-4 of a two-decimal
percentage. Values are fractions in ``[0, 1]`` (multiply by 100 for the papers' tables).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

__all__ = [
    "MRR",
    "NDCG",
    "Coverage",
    "HitRate",
    "RankingMetrics",
    "SampleCount",
    "SampleMean",
    "pessimistic_rank",
]


def _check_scores(scores: Tensor, targets: Tensor | None, num_items: int | None = None) -> None:
    if scores.dim() != 2:
        raise ValueError(f"scores must be (B, N), got shape {tuple(scores.shape)}")
    if num_items is not None and scores.shape[1] != num_items:
        raise ValueError(f"scores have {scores.shape[1]} item columns, expected {num_items}")
    if targets is None:
        return
    if targets.shape != scores.shape[:1]:
        raise ValueError(
            f"targets must be (B,) = ({scores.shape[0]},), got shape {tuple(targets.shape)}"
        )
    if targets.numel() and (int(targets.min()) < 1 or int(targets.max()) > scores.shape[1]):
        raise ValueError(
            f"targets must be item ids in 1..{scores.shape[1]}, got "
            f"{int(targets.min())}..{int(targets.max())}"
        )


def pessimistic_rank(scores: Tensor, targets: Tensor) -> Tensor:
    """The 1-based rank of each target among all items, ties counted against it.

    Args:
        scores: ``(B, N)``, column ``j`` is item ``j + 1``.
        targets: ``(B,)`` item ids in ``1..N``.

    Returns:
        ``(B,)`` int64 ``#{j : scores[j] >= scores[target]}``; the int64 maximum where the
        target's score is NaN.
    """
    target_scores = scores.gather(1, (targets - 1).unsqueeze(1))
    ranks = (scores >= target_scores).sum(1)
    return ranks.masked_fill(target_scores.squeeze(1).isnan(), torch.iinfo(torch.int64).max)


class _CutoffRankMetric(Metric):
    """Mean over prefixes of a gain of the target's rank, 0 beyond the cut-off ``k``."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    total: Tensor
    count: Tensor

    def __init__(self, k: int, validate_args: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"{self.__class__.__name__}: k must be an integer >= 1, got {k!r}")
        self.k = k
        self.validate_args = validate_args
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def _gain(self, ranks: Tensor) -> Tensor:
        raise NotImplementedError

    def update(
        self,
        scores: Tensor | None = None,
        targets: Tensor | None = None,
        *,
        ranks: Tensor | None = None,
    ) -> None:
        """Add a batch, from ``scores (B, N)`` and ``targets (B,)`` or precomputed ``ranks``."""
        if ranks is None:
            if scores is None or targets is None:
                raise ValueError("pass scores and targets, or ranks")
            if self.validate_args:
                _check_scores(scores, targets)
            ranks = pessimistic_rank(scores, targets)
        hit = ranks <= self.k
        gain = torch.where(hit, self._gain(ranks.clamp(max=self.k).to(torch.float32)), 0.0)
        self.total += gain.sum()
        self.count += ranks.numel()

    def compute(self) -> Tensor:
        """The mean gain (0 before any update)."""
        return self.total / self.count.clamp_min(1)

    def extra_repr(self) -> str:
        return f"k={self.k}"


class HitRate(_CutoffRankMetric):
    """HR@K: the share of prefixes whose target ranks within the top K (= P@K of the papers).

    Args:
        k: the cut-off ``K >= 1``.
        validate_args: check shapes and target range (one host sync per batch).
    """

    def _gain(self, ranks: Tensor) -> Tensor:
        return torch.ones_like(ranks)


class MRR(_CutoffRankMetric):
    """MRR@K: the mean of ``1 / rank`` where ``rank <= K``, 0 otherwise.

    Args:
        k: the cut-off ``K >= 1``.
        validate_args: check shapes and target range (one host sync per batch).
    """

    def _gain(self, ranks: Tensor) -> Tensor:
        return ranks.reciprocal()


class NDCG(_CutoffRankMetric):
    """NDCG@K with one relevant item: the mean of ``1 / log2(rank + 1)`` where ``rank <= K``.

    Args:
        k: the cut-off ``K >= 1``.
        validate_args: check shapes and target range (one host sync per batch).
    """

    def _gain(self, ranks: Tensor) -> Tensor:
        return torch.log2(ranks + 1.0).reciprocal()


class Coverage(Metric):
    """Cov@K: the share of the catalogue that appears in at least one top-K list.

    Args:
        k: the cut-off ``K >= 1`` (``K > N`` means the whole catalogue per list).
        num_items: the catalogue size ``N`` (the denominator).
        validate_args: check shapes (no host sync).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    recommended: Tensor

    def __init__(self, k: int, num_items: int, validate_args: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"Coverage: k must be an integer >= 1, got {k!r}")
        if isinstance(num_items, bool) or not isinstance(num_items, int) or num_items < 1:
            raise ValueError(f"Coverage: num_items must be an integer >= 1, got {num_items!r}")
        self.k = k
        self.num_items = num_items
        self.validate_args = validate_args
        self.add_state(
            "recommended", torch.zeros(num_items, dtype=torch.bool), dist_reduce_fx="max"
        )

    def update(
        self,
        scores: Tensor | None = None,
        targets: Tensor | None = None,
        *,
        top_items: Tensor | None = None,
    ) -> None:
        """Add the top-K lists of a batch, from ``scores (B, N)`` or precomputed ``top_items``.

        ``targets`` is accepted (and ignored) so that every metric here has the same
        ``update(scores, targets)``. ``top_items`` are 0-based column indices ``(B, K')``.
        """
        if top_items is None:
            if scores is None:
                raise ValueError("pass scores, or top_items")
            if self.validate_args:
                _check_scores(scores, None, self.num_items)
            top_items = scores.topk(min(self.k, scores.shape[1]), dim=1).indices
        self.recommended[top_items.reshape(-1)] = True

    def compute(self) -> Tensor:
        """``|union of top-K lists| / N`` as float32."""
        return self.recommended.sum().to(torch.float32) / self.num_items

    def extra_repr(self) -> str:
        return f"k={self.k}, num_items={self.num_items}"


class SampleCount(Metric):
    """How many prefixes were evaluated (summed across processes).

    Worth logging: under DDP with a padding sampler it exceeds the split size.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    count: Tensor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, scores: Tensor, targets: Tensor | None = None) -> None:
        """Count the rows of ``scores``."""
        self.count += scores.shape[0]

    def compute(self) -> Tensor:
        """The count, as int64."""
        return self.count.clone()


class SampleMean(Metric):
    """The mean of per-sample values (e.g. losses), exact across batches and processes.

    States are the sum of the values and their count, both reduced with ``sum``, so under DDP
    the result is the mean over every sample of every rank (not a mean of per-rank means, which
    weights a rank's samples by ``1 / its count``). A NaN value makes the mean NaN.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    total: Tensor
    count: Tensor

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, values: Tensor) -> None:
        """Add the per-sample ``values`` ``(B,)``."""
        values = values.detach()
        self.total += values.sum().to(self.total.dtype)
        self.count += values.numel()

    def compute(self) -> Tensor:
        """``sum / count`` (NaN when nothing was added)."""
        return self.total / self.count


class RankingMetrics(nn.Module):
    """HR, MRR, NDCG and Cov at several cut-offs, ranks and top-K computed once per batch.

    Per batch it computes the pessimistic ranks once and ``topk(max(ks))`` once, then feeds
    every metric (``top[:, :k]`` for Cov@k). The metrics are child modules, so the collection
    moves with its parent and each metric syncs across processes in ``compute()``.

    Args:
        ks: the cut-offs, e.g. ``(10, 20)``.
        num_items: the catalogue size ``N`` (the number of score columns).
        prefix: prepended to every name, e.g. ``"val/"``.
        validate_args: check shapes and target range (one host sync per batch).

    ``compute()`` returns ``{prefix}HR@k``, ``{prefix}MRR@k``, ``{prefix}NDCG@k`` and
    ``{prefix}Cov@k`` for every ``k`` (float32 fractions), and ``{prefix}count`` (int64).
    """

    def __init__(
        self,
        ks: Iterable[int] = (10, 20),
        *,
        num_items: int,
        prefix: str = "val/",
        validate_args: bool = True,
    ) -> None:
        super().__init__()
        ks = tuple(ks)
        if not ks:
            raise ValueError("RankingMetrics: ks must not be empty")
        if len(set(ks)) != len(ks):
            raise ValueError(f"RankingMetrics: ks must be distinct, got {ks}")
        self.ks = ks
        self.num_items = num_items
        self.prefix = prefix
        self.validate_args = validate_args
        self.metrics = nn.ModuleDict()
        for k in ks:
            self.metrics[f"HR@{k}"] = HitRate(k, validate_args=False)
            self.metrics[f"MRR@{k}"] = MRR(k, validate_args=False)
            self.metrics[f"NDCG@{k}"] = NDCG(k, validate_args=False)
            self.metrics[f"Cov@{k}"] = Coverage(k, num_items, validate_args=False)
        self.metrics["count"] = SampleCount()

    @torch.no_grad()
    def update(self, scores: Tensor, targets: Tensor) -> None:
        """Add a batch: ``scores (B, N)`` and ``targets (B,)`` in ``1..N``."""
        if self.validate_args:
            _check_scores(scores, targets, self.num_items)
        ranks = pessimistic_rank(scores, targets)
        top = scores.topk(min(max(self.ks), scores.shape[1]), dim=1).indices
        for metric in self.metrics.values():
            if isinstance(metric, Coverage):
                metric.update(top_items=top[:, : metric.k])
            elif isinstance(metric, SampleCount):
                metric.update(scores)
            else:
                metric.update(ranks=ranks)

    def compute(self) -> dict[str, Tensor]:
        """Every metric under ``{prefix}{name}``."""
        return {f"{self.prefix}{name}": metric.compute() for name, metric in self.metrics.items()}

    def reset(self) -> None:
        """Reset every metric."""
        for metric in self.metrics.values():
            metric.reset()

    def extra_repr(self) -> str:
        return f"ks={self.ks}, num_items={self.num_items}, prefix={self.prefix!r}"
