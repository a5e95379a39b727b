"""Label-aware interest selection: the training readout of MIND and ComiRec."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["label_aware_interest"]


def label_aware_interest(interests: Tensor, target_embeddings: Tensor) -> Tensor:
    r"""The interest that best matches the target (MIND eq. 8 with :math:`p \to \infty`;
    ComiRec's hard readout):

    .. math::
        \mathbf{v} = \mathbf{u}_{k^*}, \qquad
        k^* = \arg\max_k \mathbf{u}_k^\top \mathbf{e}_t .

    Training only: it reads the label. The gradient flows to the selected interest alone; ties
    go to the lowest ``k`` (so duplicated inactive interests, see
    :class:`~dmi_gnn.nn.capsule_routing.CapsuleRouting`, never change the choice).

    Args:
        interests: ``(B, K, d)``.
        target_embeddings: ``(B, d)``, the embedding of each example's target item.

    Returns:
        ``(B, d)``.
    """
    if interests.dim() != 3 or target_embeddings.shape != (interests.shape[0], interests.shape[2]):
        raise ValueError(
            "label_aware_interest: expected interests (B, K, d) and target_embeddings (B, d), "
            f"got {tuple(interests.shape)} and {tuple(target_embeddings.shape)}"
        )
    affinity = (interests * target_embeddings.unsqueeze(1)).sum(-1)  # (B, K)
    best = affinity.argmax(dim=1)
    return interests[torch.arange(interests.shape[0], device=best.device), best]
