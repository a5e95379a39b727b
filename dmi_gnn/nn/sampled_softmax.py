"""Sampled softmax with the logQ correction, for uniform or popularity negatives."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SampledSoftmaxLoss", "log_expected_counts", "popularity_proposal", "sampled_softmax"]

#: Logit of a sampled negative that is the example's own target ("accidental hit").
ACCIDENTAL_HIT_LOGIT = -1e30


def popularity_proposal(counts: Tensor, exponent: float = 1.0) -> Tensor:
    r"""A popularity proposal :math:`Q(j) \propto (c_j + 1)^{\alpha}` over items ``1..N``.

    Add-one smoothing keeps every item samplable and its :math:`\log Q` finite, so an item
    unseen in the fit split can still be a target (or a negative).

    Args:
        counts: ``(N,)`` non-negative counts, entry ``j - 1`` for item ``j``.
        exponent: :math:`\alpha \geq 0` (1 = popularity, 0 = uniform; word2vec uses 0.75).

    Returns:
        ``(N,)`` probabilities summing to 1 (float64 for an exact logQ).
    """
    weights = (counts.to(torch.float64) + 1.0).pow(exponent)
    return weights / weights.sum()


def log_expected_counts(
    ids: Tensor, count: int, num_items: int, proposal: Tensor | None, dtype: torch.dtype
) -> Tensor:
    r""":math:`\log(S\,Q(j))` of items ``ids`` (``1..N``) for ``S = count`` draws from ``Q``.

    ``proposal=None`` is uniform, :math:`\log(S / N)` for every item.
    """
    if proposal is None:
        return torch.full(ids.shape, math.log(count / num_items), dtype=dtype, device=ids.device)
    return torch.log(count * proposal.to(ids.device)[ids - 1]).to(dtype)


def sampled_softmax(
    user: Tensor,
    targets: Tensor,
    negatives: Tensor,
    target_rows: Tensor,
    negative_rows: Tensor,
    log_q_target: Tensor,
    log_q_negative: Tensor,
    remove_accidental_hits: bool = True,
) -> Tensor:
    r"""The mean sampled-softmax loss from the rows of the target and negative items only.

    A single user vector per example, or ``U`` interests scored by the max over them (eq. 6 of
    DMI-GNN, :math:`\max_u \mathbf{s}_u^\top \mathbf{x}_j`, the gradient flowing to the best
    interest as in full-softmax training):

    .. math::
        o_j = \max_u \mathbf{s}_u^\top \mathbf{x}_j - \log\big(S\,Q(j)\big), \qquad
        \mathcal{L} = -\log \frac{\exp o_t}{\exp o_t + \sum_{s=1}^{S} \exp o_{n_s}} .

    Args:
        user: ``(B, d)``, or ``(B, U, d)`` interests.
        targets: ``(B,)`` item ids; negatives: ``(S,)`` item ids (shared by the batch).
        target_rows: ``(B, d)`` embeddings of the targets; negative_rows: ``(S, d)``.
        log_q_target: ``(B,)``; log_q_negative: ``(S,)`` (:func:`log_expected_counts`).
        remove_accidental_hits: give a negative equal to the row's target the logit
            :data:`ACCIDENTAL_HIT_LOGIT`.

    Returns:
        The scalar mean loss.
    """
    interests = user if user.dim() == 3 else user.unsqueeze(1)
    positive = (interests * target_rows.unsqueeze(1)).sum(-1).max(1).values - log_q_target
    negative = torch.matmul(interests, negative_rows.t()).max(1).values - log_q_negative
    if remove_accidental_hits:
        hits = negatives.unsqueeze(0) == targets.unsqueeze(1)
        negative = negative.masked_fill(hits, ACCIDENTAL_HIT_LOGIT)
    logits = torch.cat([positive.unsqueeze(1), negative], dim=1)
    return F.cross_entropy(logits, logits.new_zeros(logits.shape[0], dtype=torch.long))


class SampledSoftmaxLoss(nn.Module):
    r"""Sampled softmax cross-entropy (Jean et al., ACL 2015; TF's ``sampled_softmax_loss``), as
    MIND and ComiRec train, with a proposal that is correct for any item ids.

    For a user vector :math:`\mathbf{v}`, target :math:`t` and :math:`S` negatives
    :math:`n_1..n_S` drawn with replacement from a proposal :math:`Q` over items ``1..N``
    (shared by the whole batch, as published), every logit is corrected by the log of the
    item's expected count in the sample:

    .. math::
        o_j = \mathbf{v}^\top \mathbf{e}_j - \log\big(S\,Q(j)\big), \qquad
        \mathcal{L} = -\log \frac{\exp o_t}{\exp o_t + \sum_{s=1}^{S} \exp o_{n_s}} .

    A negative equal to the target gets the logit :data:`ACCIDENTAL_HIT_LOGIT`
    (``remove_accidental_hits``, TF's default). ``Q`` is uniform (``proposal=None``; the
    correction is then one constant and cancels) or given, e.g. :func:`popularity_proposal`.
    The published code uses TF's log-uniform sampler, which assumes ids sorted by frequency;
    the session splits' ids are not, so it is not offered. The output bias of TF's loss is a
    fixed zero in the published code and is left out.

    Args:
        num_negatives (int, optional): :math:`S`; ``None`` = ten per example, :math:`10 B`, as
            published. (default: :obj:`None`)
        remove_accidental_hits (bool, optional): mask negatives equal to the target.
            (default: :obj:`True`)

    Shapes:
        - **input:** user :math:`(B, d)`, targets :math:`(B,)` ids ``1..N``, candidates
          :math:`(N, d)` (row ``j - 1`` = item ``j``), proposal :math:`(N,)` or ``None``,
          negatives :math:`(S,)` ids ``1..N`` or ``None`` (drawn here).
        - **output:** scalar mean loss.
    """

    def __init__(self, num_negatives: int | None = None, remove_accidental_hits: bool = True):
        super().__init__()
        if num_negatives is not None and (
            isinstance(num_negatives, bool) or not isinstance(num_negatives, int)
        ):
            raise ValueError(
                f"SampledSoftmaxLoss: num_negatives must be an integer >= 1 or None, "
                f"got {num_negatives!r}"
            )
        if num_negatives is not None and num_negatives < 1:
            raise ValueError(
                f"SampledSoftmaxLoss: num_negatives must be >= 1 or None, got {num_negatives}"
            )
        self.num_negatives = num_negatives
        self.remove_accidental_hits = bool(remove_accidental_hits)

    def sample(self, batch: int, num_items: int, proposal: Tensor | None, device) -> Tensor:
        """Draw the ``S`` shared negatives (item ids ``1..N``) with replacement."""
        count = 10 * batch if self.num_negatives is None else self.num_negatives
        if proposal is None:
            return torch.randint(1, num_items + 1, (count,), device=device)
        return torch.multinomial(proposal.to(device), count, replacement=True) + 1

    def forward(
        self,
        user: Tensor,
        targets: Tensor,
        candidates: Tensor,
        proposal: Tensor | None = None,
        negatives: Tensor | None = None,
    ) -> Tensor:
        """The mean sampled-softmax loss of a batch (see the class docstring)."""
        num_items = candidates.shape[0]
        if user.dim() != 2 or user.shape[1] != candidates.shape[1]:
            raise ValueError(
                f"SampledSoftmaxLoss: user must be (B, {candidates.shape[1]}), "
                f"got {tuple(user.shape)}"
            )
        if targets.shape != (user.shape[0],):
            raise ValueError(
                f"SampledSoftmaxLoss: targets must be ({user.shape[0]},), "
                f"got {tuple(targets.shape)}"
            )
        if bool(((targets < 1) | (targets > num_items)).any()):
            raise ValueError(f"SampledSoftmaxLoss: targets must be item ids in 1..{num_items}")
        if proposal is not None and proposal.shape != (num_items,):
            raise ValueError(
                f"SampledSoftmaxLoss: proposal must be ({num_items},), got {tuple(proposal.shape)}"
            )
        if negatives is None:
            negatives = self.sample(user.shape[0], num_items, proposal, user.device)
        count = negatives.shape[0]
        return sampled_softmax(
            user,
            targets,
            negatives,
            candidates[targets - 1],
            candidates[negatives - 1],
            log_expected_counts(targets, count, num_items, proposal, user.dtype),
            log_expected_counts(negatives, count, num_items, proposal, user.dtype),
            self.remove_accidental_hits,
        )

    def extra_repr(self) -> str:
        return (
            f"num_negatives={self.num_negatives}, "
            f"remove_accidental_hits={self.remove_accidental_hits}"
        )
