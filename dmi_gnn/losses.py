r"""Losses of DMI-GNN: full cross-entropy over the catalogue and the interest regularisers.

The regularisers act on the *attention weights* of the interest heads, not on the interest
vectors: for session :math:`b`, column :math:`\alpha_{\cdot u} \in \mathbb{R}^{L}` holds the
weights head :math:`u` gives to the positions (0 at padding). Their similarity is the mean
absolute cosine over head pairs (eq. 9 as coded)

.. math::
    \mathrm{sim}_b = \frac{2}{U(U-1)} \sum_{u < u'}
        \left|\cos(\alpha_{\cdot u}, \alpha_{\cdot u'})\right| ,

and the dynamic (DMI) regulariser of eq. 10, as the published code computes it, is
:math:`\sigma(\mathrm{sim}_b \, (l_b - \eta))` with :math:`l_b` the prefix length: longer
sessions than :math:`\eta` push the heads apart, shorter ones pull them together. The
published code *sums* it over the batch (reduction ``"sum"``, quirk 8: the effective weight is
:math:`\beta B` against the mean cross-entropy); ``"mean"`` averages it per session, our reading
of the paper, whose loss is written per session.

With a single head (:math:`U = 1`) there is no pair: the similarity is defined as 0 and every
regulariser is 0 (the published code divides by :math:`U(U-1) = 0` and returns NaN).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "dmi_regularizer",
    "interest_regularizer",
    "item_cross_entropy",
    "pairwise_abs_cosine",
    "similarity_regularizer",
]

Reduction = Literal["sum", "mean"]


def item_cross_entropy(
    scores: Tensor, targets: Tensor, reduction: Literal["mean", "sum", "none"] = "mean"
) -> Tensor:
    """Cross-entropy of the scores over all items ``1..N`` (eq. 7/8, full softmax).

    Args:
        scores: ``(B, N)``, column ``j`` is item ``j + 1``.
        targets: ``(B,)`` item ids in ``1..N``.
        reduction: as :func:`torch.nn.functional.cross_entropy`.

    Returns:
        The loss (a scalar unless ``reduction="none"``).
    """
    return F.cross_entropy(scores, targets - 1, reduction=reduction)


def pairwise_abs_cosine(attention: Tensor, mask: Tensor) -> Tensor:
    """Mean over head pairs ``u < u'`` of ``|cos(alpha_u, alpha_u')|`` per session.

    Each attention column (over positions, padding set to 0) is L2-normalised like
    :func:`torch.nn.functional.normalize` (eps ``1e-12``, so an all-zero column stays 0); the
    cosines come from one Gram matrix per session (no loop over pairs).

    Args:
        attention: ``(B, L, U)`` position weights.
        mask: ``(B, L)`` bool, True at real positions.

    Returns:
        ``(B,)``; zeros when ``U = 1``.
    """
    batch, _, heads = attention.shape
    if heads < 2:
        return attention.new_zeros(batch)
    columns = attention * mask.to(attention.dtype).unsqueeze(-1)
    unit = F.normalize(columns, p=2.0, dim=1, eps=1e-12)
    gram = torch.matmul(unit.transpose(1, 2), unit)  # (B, U, U)
    rows, cols = torch.triu_indices(heads, heads, offset=1, device=attention.device)
    return gram[:, rows, cols].abs().mean(-1)


def _reduce(values: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "sum":
        return values.sum()
    if reduction == "mean":
        return values.mean()
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def similarity_regularizer(attention: Tensor, mask: Tensor, reduction: Reduction) -> Tensor:
    """Eq. 9: the mean pairwise ``|cos|`` of the heads' attention, reduced over the batch.

    Args:
        attention: ``(B, L, U)``.
        mask: ``(B, L)`` bool.
        reduction: ``"sum"`` or ``"mean"`` over the batch.

    Returns:
        A scalar (0 when ``U = 1``).
    """
    return _reduce(pairwise_abs_cosine(attention, mask), reduction)


def dmi_regularizer(
    attention: Tensor,
    mask: Tensor,
    lengths: Tensor,
    eta: float,
    reduction: Reduction,
) -> Tensor:
    """Eq. 10 as coded: ``sigmoid(sim_b * (l_b - eta))`` per session, reduced over the batch.

    Args:
        attention: ``(B, L, U)``.
        mask: ``(B, L)`` bool.
        lengths: ``(B,)`` prefix lengths ``l_b``.
        eta: the length threshold ``eta``.
        reduction: ``"sum"`` (the published code) or ``"mean"`` over the batch.

    Returns:
        A scalar; 0 when ``U = 1`` (no pair; the published code returns NaN there).
    """
    if attention.shape[-1] < 2:
        return attention.new_zeros(())
    similarity = pairwise_abs_cosine(attention, mask)
    offset = lengths.to(similarity.dtype) - eta
    return _reduce(torch.sigmoid(similarity * offset), reduction)


def interest_regularizer(
    kind: Literal["none", "similarity", "dmi"],
    attention: Tensor,
    mask: Tensor,
    lengths: Tensor,
    eta: float,
    reduction: Reduction,
) -> Tensor:
    """Dispatch to the configured regulariser (``beta`` is applied by the caller).

    Args:
        kind: ``"none"``, ``"similarity"`` (eq. 9) or ``"dmi"`` (eq. 10).
        attention: ``(B, L, U)``.
        mask: ``(B, L)`` bool.
        lengths: ``(B,)`` prefix lengths.
        eta: length threshold of the DMI regulariser (unused otherwise).
        reduction: ``"sum"`` or ``"mean"`` over the batch.

    Returns:
        A scalar; 0 for ``"none"`` and for ``U = 1``.
    """
    if kind not in ("none", "similarity", "dmi"):
        raise ValueError(f"regularizer must be 'none', 'similarity' or 'dmi', got {kind!r}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    if kind == "none" or attention.shape[-1] < 2:
        return attention.new_zeros(())
    if kind == "similarity":
        return similarity_regularizer(attention, mask, reduction)
    return dmi_regularizer(attention, mask, lengths, eta, reduction)
