"""S-POP: the prefix's own click counts, with training popularity to break ties."""

from __future__ import annotations

import torch

from dmi_gnn.nonparametric.pop import Pop
from dmi_gnn.nonparametric.prefixes import prefix_arrays

__all__ = ["SPop"]


class SPop(Pop):
    r"""Session popularity (Ludewig & Jannach, UMUAI 2018; baselines.md 4.11).

    :math:`\mathrm{score}(s, i) = \#\{t : s_t = i\} + r_i`, with :math:`r_i` Pop's term (the
    ``top_n`` most supported items only). Since :math:`r_i < 1`, items are ranked by their
    count in the prefix first; the training data enters only through :math:`r_i`.

    Args:
        num_items: catalogue size ``N`` (ids ``1..N``).
        top_n: items with a popularity term (0 = all). session-rec's default is 100.
        support: ``"clicks"`` or ``"sessions"``.

    Shapes:
        scores: items, mask ``(B, L)`` -> ``(B, N)`` float32, column ``j`` = item ``j + 1``.
    """

    name = "SPop"

    def scores(self, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Prefix counts plus the popularity term, ``(B, N)`` float32."""
        out = super().scores(items, mask)
        prefix_arrays(items, mask, self.num_items, self.name)
        column = (items.to(torch.int64) - 1).clamp(min=0)
        out.scatter_add_(1, column, mask.to(torch.float32))
        return out
