"""MGIR's sequential-relation GNN cell: a gated in/out mix, then a 1 x 2 convolution."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SequentialRelationLayer"]


class SequentialRelationLayer(nn.Module):
    r"""One layer over MGIR's sequential item graph (Han et al., SIGIR 2022, Sec. 3.3).

    Item :math:`v` with embedding :math:`\mathbf{x}_v` has the in- and out-neighbour means
    :math:`\mathbf{n}^{in}_v = (\mathbf{D}_{row}^{-1}\mathbf{A})_v \mathbf{X}` and
    :math:`\mathbf{n}^{out}_v = (\mathbf{D}_{col}^{-1}\mathbf{A}^\top)_v \mathbf{X}`
    (computed by the caller). They are mixed by a softmax over two relevance scores, and the
    mix is fused with the item by a ``1 x 2`` convolution (two scalars and a bias):

    .. math::
        e^{dir}_v = \frac{1}{\sqrt{d}} \mathbf{1}^\top \mathrm{ReLU}\left(\mathbf{W}_{dir}
            (\mathbf{x}_v \odot \mathbf{n}^{dir}_v) + \mathbf{b}_{dir}\right), \qquad
        [\gamma^{in}_v, \gamma^{out}_v] = \mathrm{softmax}(e^{in}_v, e^{out}_v),

    .. math::
        \mathbf{n}_v = \gamma^{in}_v \mathbf{n}^{in}_v + \gamma^{out}_v \mathbf{n}^{out}_v,
        \qquad \mathbf{x}'_v = \mathrm{Dropout}(c_1 \mathbf{x}_v + c_2 \mathbf{n}_v + c_0).

    Args:
        dim (int): embedding size :math:`d`.
        dropout (float, optional): dropout on the output (``dropout_gcn``). (default: :obj:`0.0`)

    Shapes:
        - **input:** x, in_neighbours, out_neighbours :math:`(M, d)` each.
        - **output:** :math:`(M, d)`.

    Parameters: ``in_score`` / ``out_score`` (:class:`~torch.nn.Linear` :math:`d \to d`, the
    published ``W1`` / ``W2``), ``fuse_weight`` :math:`(2,)` = :math:`[c_1, c_2]` and
    ``fuse_bias`` :math:`(1,)` = :math:`c_0` (the published ``conv_layer``).
    """

    def __init__(self, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"SequentialRelationLayer: dim must be >= 1, got {dim}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"SequentialRelationLayer: dropout must be in [0, 1], got {dropout}")
        self.dim = dim
        self.dropout = float(dropout)
        self.in_score = nn.Linear(dim, dim)
        self.out_score = nn.Linear(dim, dim)
        self.fuse_weight = nn.Parameter(torch.empty(2))
        self.fuse_bias = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as published)."""
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, x: Tensor, in_neighbours: Tensor, out_neighbours: Tensor) -> Tensor:
        """Fuse each item with its direction-weighted sequential neighbourhood."""
        scale = 1.0 / math.sqrt(self.dim)
        e_in = F.relu(self.in_score(x * in_neighbours)).sum(-1) * scale
        e_out = F.relu(self.out_score(x * out_neighbours)).sum(-1) * scale
        gamma = torch.softmax(torch.stack((e_in, e_out), dim=-1), dim=-1)
        mixed = gamma[:, :1] * in_neighbours + gamma[:, 1:] * out_neighbours
        fused = self.fuse_weight[0] * x + self.fuse_weight[1] * mixed + self.fuse_bias
        return F.dropout(fused, self.dropout, training=self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.dim}, dropout={self.dropout})"
