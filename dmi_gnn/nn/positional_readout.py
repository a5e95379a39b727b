"""GCE-GNN's position-aware soft-attention readout: one session vector per prefix."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["PositionalAttentionReadout"]


class PositionalAttentionReadout(nn.Module):
    r"""The session-representation layer of GCE-GNN (Wang et al., SIGIR 2020, §3.5).

    Position :math:`i` of a reversed prefix (0 = the most recent click), with representation
    :math:`\mathbf{h}_i` and reversed positional embedding :math:`\mathbf{p}_i`, is mixed with
    its position, then weighted by a gate conditioned on the session mean
    :math:`\bar{\mathbf{s}} = \frac{1}{l}\sum_{i=1}^{l} \mathbf{h}_i`:

    .. math::
        \mathbf{z}_i = \tanh\left(\mathbf{W}_1 [\mathbf{p}_i \,;\, \mathbf{h}_i]\right),
        \qquad
        \beta_i = \mathbf{q}^\top \sigma\left(\mathbf{W}_2 \mathbf{z}_i
            + \mathbf{W}_3 \bar{\mathbf{s}} + \mathbf{b}_2\right),
        \qquad
        \mathbf{S} = \sum_{i=1}^{l} \beta_i \mathbf{h}_i .

    As in the published code: no bias :math:`\mathbf{b}_1` in :math:`\mathbf{z}_i` (the paper
    writes one), the positional half first in the concatenation, and :math:`\beta` is **not**
    normalised (zeroed at padding only; it can be negative). DMI-GNN's
    :class:`~dmi_gnn.nn.MultiInterestExtractor` is this layer with ``U`` gates and queries and
    without the :math:`\mathbf{W}_3 \bar{\mathbf{s}}` term. Positions beyond the table reuse
    its last row.

    Args:
        dim (int): embedding size :math:`d`.
        max_positions (int, optional): rows of the positional table. (default: :obj:`200`)

    Shapes:
        - **input:** hidden :math:`(B, L, d)`, mask :math:`(B, L)` bool (True = real position).
        - **output:** session vector :math:`(B, d)`, attention :math:`\beta` :math:`(B, L)`
          (0 at padding).

    Parameter layout (as the published code's ``pos_embedding``, ``w_1``, ``glu1``, ``glu2``,
    ``w_2``): ``position_embedding`` :math:`(P, d)`; ``readout_weight`` :math:`(2d, d)`
    applied as ``[p ; h] @ W``; ``gate`` :class:`~torch.nn.Linear` :math:`d \to d`
    (:math:`\mathbf{W}_2, \mathbf{b}_2`); ``mean_gate`` :class:`~torch.nn.Linear` without bias
    (:math:`\mathbf{W}_3`); ``query`` :math:`(d,)`.
    """

    def __init__(self, dim: int, max_positions: int = 200) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"PositionalAttentionReadout: dim must be >= 1, got {dim}")
        if max_positions < 1:
            raise ValueError(
                f"PositionalAttentionReadout: max_positions must be >= 1, got {max_positions}"
            )
        self.dim = dim
        self.max_positions = max_positions
        self.position_embedding = nn.Embedding(max_positions, dim)
        self.readout_weight = nn.Parameter(torch.empty(2 * dim, dim))
        self.gate = nn.Linear(dim, dim)
        self.mean_gate = nn.Linear(dim, dim, bias=False)
        self.query = nn.Parameter(torch.empty(dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as the reference)."""
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, hidden: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Read one session vector off each prefix.

        Args:
            hidden: position representations ``(B, L, d)``.
            mask: ``(B, L)`` bool, True at real positions.

        Returns:
            ``(session (B, d), attention (B, L))``; attention is 0 at padding.
        """
        length, dim = hidden.shape[1], self.dim
        real = mask.to(hidden.dtype).unsqueeze(-1)
        mean = (hidden * real).sum(1) / real.sum(1).clamp_min(1.0)
        index = torch.arange(length, device=hidden.device).clamp_(max=self.max_positions - 1)
        mixed = torch.matmul(hidden, self.readout_weight[dim:])
        mixed = mixed + torch.matmul(self.position_embedding(index), self.readout_weight[:dim])
        gates = torch.sigmoid(self.gate(torch.tanh(mixed)) + self.mean_gate(mean).unsqueeze(1))
        weights = torch.matmul(gates, self.query) * real.squeeze(-1)
        return torch.matmul(weights.unsqueeze(1), hidden).squeeze(1), weights

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.dim}, max_positions={self.max_positions})"
