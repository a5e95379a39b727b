"""MGIR's co-occurrence-relation GNN cell: a 1 x 2 convolution of neighbours and item."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CooccurrenceRelationLayer"]


class CooccurrenceRelationLayer(nn.Module):
    r"""One layer over MGIR's co-occurrence item graph (Han et al., SIGIR 2022, Sec. 3.3).

    With the neighbour mean :math:`\mathbf{n}_v = (\mathbf{D}^{-1}\mathbf{A}_{co})_v
    \mathbf{X}` (computed by the caller):

    .. math::
        \mathbf{x}'_v = \mathrm{Dropout}(c_1 \mathbf{n}_v + c_2 \mathbf{x}_v + c_0).

    Args:
        dim (int): embedding size :math:`d` (sets the initialisation bound).
        dropout (float, optional): dropout on the output (``dropout_gcn``). (default: :obj:`0.0`)

    Shapes:
        - **input:** x, neighbours :math:`(M, d)`.
        - **output:** :math:`(M, d)`.

    Parameters: ``fuse_weight`` :math:`(2,)` = :math:`[c_1, c_2]` (neighbours first, as the
    published ``conv_layer`` stacks them) and ``fuse_bias`` :math:`(1,)`.
    """

    def __init__(self, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"CooccurrenceRelationLayer: dim must be >= 1, got {dim}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"CooccurrenceRelationLayer: dropout must be in [0, 1], got {dropout}")
        self.dim = dim
        self.dropout = float(dropout)
        self.fuse_weight = nn.Parameter(torch.empty(2))
        self.fuse_bias = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as published)."""
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, x: Tensor, neighbours: Tensor) -> Tensor:
        """Fuse each item with its co-occurrence neighbourhood."""
        fused = self.fuse_weight[0] * neighbours + self.fuse_weight[1] * x + self.fuse_bias
        return F.dropout(fused, self.dropout, training=self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.dim}, dropout={self.dropout})"
