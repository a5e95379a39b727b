"""MGIR's positive-session readout: positional soft attention queried by a target token."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["TargetTokenReadout"]


class TargetTokenReadout(nn.Module):
    r"""The positive session representation of MGIR (Han et al., SIGIR 2022, Sec. 3.4).

    GCE-GNN's reversed-position soft attention, whose query is a learned "target" token
    :math:`\mathbf{t}` placed at its own position :math:`\mathbf{p}_0`. Position :math:`i`
    (reversed: 0 = the most recent click) uses the positional row :math:`\mathbf{p}_{i+1}`:

    .. math::
        \mathbf{q} = \tanh\left(\mathbf{W}_1 [\mathbf{p}_0 ; \mathbf{t}]\right), \qquad
        \mathbf{z}_i = \tanh\left(\mathbf{W}_1 [\mathbf{p}_{i+1} ; \mathbf{h}_i]\right),

    .. math::
        \beta_i = \mathbf{w}_2^\top \sigma\left(\mathbf{G}_1 \mathbf{z}_i + \mathbf{g}_1
            + \mathbf{G}_2 \mathbf{q}\right), \qquad
        \mathbf{s}^{+} = \sum_{i} \beta_i \mathbf{h}_i .

    As published, :math:`\beta` has no softmax (it is only zeroed at padding). Positions past
    the table reuse its last row.

    Args:
        dim (int): embedding size :math:`d`.
        max_positions (int, optional): session positions with their own row (the table has
            ``max_positions + 1`` rows, row 0 being the target's). (default: :obj:`200`)

    Shapes:
        - **input:** hidden :math:`(B, L, d)`, mask :math:`(B, L)` bool.
        - **output:** :math:`(B, d)`.

    Parameters: ``position_embedding`` :math:`(P + 1, d)`, ``target_token`` :math:`(d,)`,
    ``readout_weight`` :math:`(2d, d)` applied as ``[p ; h] @ W`` (``w_1``), ``gate`` (``glu1``,
    with bias), ``query_gate`` (``glu2``, no bias), ``query`` :math:`(d,)` (``w_2``).
    """

    def __init__(self, dim: int, max_positions: int = 200) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"TargetTokenReadout: dim must be >= 1, got {dim}")
        if max_positions < 1:
            raise ValueError(f"TargetTokenReadout: max_positions must be >= 1, got {max_positions}")
        self.dim = dim
        self.max_positions = max_positions
        self.position_embedding = nn.Embedding(max_positions + 1, dim)
        self.target_token = nn.Parameter(torch.empty(dim))
        self.readout_weight = nn.Parameter(torch.empty(2 * dim, dim))
        self.gate = nn.Linear(dim, dim)
        self.query_gate = nn.Linear(dim, dim, bias=False)
        self.query = nn.Parameter(torch.empty(dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as published)."""
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, hidden: Tensor, mask: Tensor) -> Tensor:
        """Read the positive session vector ``(B, d)`` off ``hidden`` ``(B, L, d)``."""
        length, dim = hidden.shape[1], self.dim
        index = torch.arange(1, length + 1, device=hidden.device).clamp_(max=self.max_positions)
        positions = self.position_embedding(index)  # (L, d)
        w_position, w_hidden = self.readout_weight[:dim], self.readout_weight[dim:]
        target = torch.tanh(
            self.position_embedding.weight[0] @ w_position + self.target_token @ w_hidden
        )
        z = torch.tanh(torch.matmul(hidden, w_hidden) + positions @ w_position)
        gates = torch.sigmoid(self.gate(z) + self.query_gate(target))
        beta = (gates @ self.query) * mask.to(hidden.dtype)  # (B, L)
        return torch.einsum("bl,bld->bd", beta, hidden)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.dim}, max_positions={self.max_positions})"
