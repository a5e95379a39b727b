"""In-session features of each position's item: count, last and first click, and which
position stands for the item (shared by the repeat-aware layers)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["SessionItemFeatures", "check_session_inputs", "session_item_features"]


class SessionItemFeatures(NamedTuple):
    r"""Per-position features of the item clicked there, over the real positions of its prefix.

    For the item :math:`x_t` at reversed position :math:`t` (0 = most recent click) of a prefix
    of length :math:`l`, with :math:`T(t) = \{s < l : x_s = x_t\}` its occurrences:

    .. math::
        c_t = |T(t)|, \qquad r_t = \min T(t), \qquad f_t = \max T(t),

    and :math:`t` *represents* its item when :math:`t = r_t` (its most recent occurrence), so
    that each unique item of a prefix has exactly one representative position.

    Shapes (all :math:`(B, L)`; 0 / False at padding):
        - **count:** int64 :math:`c_t`.
        - **last:** int64 :math:`r_t`, the reversed position of the item's most recent click.
        - **first:** int64 :math:`f_t`, the reversed position of the item's first click.
        - **representative:** bool, True at :math:`t = r_t`.
        - **same:** bool :math:`(B, L, L)`, ``same[b, t, s]``: real positions ``t`` and ``s``
          hold the same item.
    """

    count: Tensor
    last: Tensor
    first: Tensor
    representative: Tensor
    same: Tensor


def check_session_inputs(name: str, logits: Tensor, items: Tensor, mask: Tensor) -> None:
    """Raise a ValueError naming what is wrong with logits ``(B, N)``, items / mask ``(B, L)``."""
    if logits.dim() != 2:
        raise ValueError(f"{name}: logits must be (B, N), got shape {tuple(logits.shape)}")
    if items.dim() != 2 or mask.shape != items.shape:
        raise ValueError(
            f"{name}: items and mask must both be (B, L), got {tuple(items.shape)} and "
            f"{tuple(mask.shape)}"
        )
    if items.shape[0] != logits.shape[0]:
        raise ValueError(
            f"{name}: logits has {logits.shape[0]} rows but items has {items.shape[0]}"
        )
    if items.dtype.is_floating_point or items.dtype == torch.bool:
        raise ValueError(f"{name}: items must be an integer tensor, got {items.dtype}")
    real = items[mask.to(torch.bool)]
    if real.numel() and (int(real.min()) < 1 or int(real.max()) > logits.shape[1]):
        raise ValueError(
            f"{name}: item ids at real positions must lie in 1..N = 1..{logits.shape[1]}, "
            f"got {int(real.min())}..{int(real.max())}"
        )


def session_item_features(items: Tensor, mask: Tensor) -> SessionItemFeatures:
    """Count, last and first click and representative position of each position's item.

    Built from the ``(B, L, L)`` equality of positions (``L`` is the prefix length, small),
    without any loop over sessions and without a ``(B, N)`` temporary.

    Args:
        items: reversed prefixes ``(B, L)`` (position 0 = most recent click), 0-padded.
        mask: ``(B, L)`` bool, True at real positions.

    Returns:
        :class:`SessionItemFeatures`.
    """
    real = mask.to(torch.bool)
    length = items.shape[1]
    same = (items.unsqueeze(2) == items.unsqueeze(1)) & real.unsqueeze(2) & real.unsqueeze(1)
    positions = torch.arange(length, device=items.device)
    count = same.sum(-1)
    # Positions where the item does not occur are pushed past either end before min / max.
    last = torch.where(same, positions, length).amin(-1)
    first = torch.where(same, positions, -1).amax(-1)
    last = torch.where(real, last, 0)
    first = torch.where(real, first, 0)
    representative = real & (last == positions)
    return SessionItemFeatures(count, last, first, representative, same)
