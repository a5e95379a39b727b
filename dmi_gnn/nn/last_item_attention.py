"""Attention over a prefix with the most recent item as query (SR-GNN's and NARM's readout)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from dmi_gnn.nn.local_aggregator import NON_EDGE_LOGIT

__all__ = ["LastItemAttention"]


class LastItemAttention(nn.Module):
    r"""Last-item attention readout, shared by SR-GNN (AAAI 2019, eq. 6) and NARM (CIKM 2017,
    §3.3, the local encoder).

    With :math:`\mathbf{h}_1` the representation of the most recent position (position 0 of a
    reversed prefix) and :math:`\mathbf{h}_i` those of every position:

    .. math::
        e_i = \mathbf{q}^\top \sigma\left(\mathbf{W}_1 \mathbf{h}_1 + \mathbf{W}_2 \mathbf{h}_i
            + \mathbf{c}\right), \qquad
        \mathbf{s} = \sum_{i=1}^{l} \alpha_i \mathbf{h}_i,

    with :math:`\alpha_i = e_i` (``normalization="none"``: SR-GNN, zeroed at padding only) or
    :math:`\alpha = \operatorname{softmax}(e)` over the real positions (``"softmax"``: the
    published NARM code; the NARM paper writes no normalisation). NARM's
    :math:`\mathbf{A}_1, \mathbf{A}_2` are :math:`\mathbf{W}_1, \mathbf{W}_2` here and it has
    no :math:`\mathbf{c}` (``bias=False``).

    Args:
        dim (int): size :math:`d` of the position representations.
        bias (bool, optional): learn :math:`\mathbf{c}`. (default: :obj:`True`)
        normalization (str, optional): ``"none"`` or ``"softmax"``. (default: :obj:`"none"`)

    Shapes:
        - **input:** hidden :math:`(B, L, d)`, mask :math:`(B, L)` bool (True = real position;
          position 0 must be real).
        - **output:** session vector :math:`(B, d)`, attention :math:`\alpha` :math:`(B, L)`
          (0 at padding).

    Parameters: ``last_weight`` :class:`~torch.nn.Linear` without bias (:math:`\mathbf{W}_1`),
    ``item_weight`` :class:`~torch.nn.Linear` (:math:`\mathbf{W}_2, \mathbf{c}`),
    ``query`` :math:`(d,)`.
    """

    def __init__(
        self, dim: int, bias: bool = True, normalization: Literal["none", "softmax"] = "none"
    ) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"LastItemAttention: dim must be >= 1, got {dim}")
        if normalization not in ("none", "softmax"):
            raise ValueError(
                "LastItemAttention: normalization must be 'none' or 'softmax', "
                f"got {normalization!r}"
            )
        self.dim = dim
        self.normalization = normalization
        self.last_weight = nn.Linear(dim, dim, bias=False)
        self.item_weight = nn.Linear(dim, dim, bias=bias)
        self.query = nn.Parameter(torch.empty(dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as SR-GNN's code)."""
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, hidden: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Attend over each prefix with its most recent position as query.

        Args:
            hidden: position representations ``(B, L, d)``, position 0 = most recent.
            mask: ``(B, L)`` bool, True at real positions.

        Returns:
            ``(session (B, d), attention (B, L))``; attention is 0 at padding.
        """
        real = mask.to(torch.bool)
        query = self.last_weight(hidden[:, 0]).unsqueeze(1)
        logits = torch.matmul(torch.sigmoid(query + self.item_weight(hidden)), self.query)
        if self.normalization == "softmax":
            fill = max(NON_EDGE_LOGIT, torch.finfo(logits.dtype).min)
            weights = torch.softmax(logits.masked_fill(~real, fill), dim=1)
        else:
            weights = logits
        weights = weights * real.to(weights.dtype)
        return torch.matmul(weights.unsqueeze(1), hidden).squeeze(1), weights

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.dim}, bias={self.item_weight.bias is not None}, "
            f"normalization={self.normalization!r})"
        )
