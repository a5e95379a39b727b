"""MGIR's incompatible-relation GNN cell: the mean of an item and its summed neighbourhoods."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["IncompatibleRelationLayer"]


class IncompatibleRelationLayer(nn.Module):
    r"""One layer over MGIR's incompatible item graph (Han et al., SIGIR 2022, Sec. 3.3).

    With the neighbour means :math:`\mathbf{n}^{in}_v` and :math:`\mathbf{n}^{out}_v` of the
    normalised graph and its transpose (equal for this symmetric graph):

    .. math::
        \mathbf{x}'_v = \mathrm{Dropout}\left(\tfrac{1}{2}\left(\mathbf{x}_v
            + \mathbf{n}^{in}_v + \mathbf{n}^{out}_v\right)\right).

    No parameters (as published).

    Args:
        dropout (float, optional): dropout on the output (``dropout_gcn``). (default: :obj:`0.0`)

    Shapes:
        - **input:** x, in_neighbours, out_neighbours :math:`(M, d)` each.
        - **output:** :math:`(M, d)`.
    """

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"IncompatibleRelationLayer: dropout must be in [0, 1], got {dropout}")
        self.dropout = float(dropout)

    def reset_parameters(self) -> None:
        """Nothing to reset (no parameters)."""

    def forward(self, x: Tensor, in_neighbours: Tensor, out_neighbours: Tensor) -> Tensor:
        """Average each item with its incompatible neighbourhood."""
        mixed = 0.5 * (x + in_neighbours + out_neighbours)
        return F.dropout(mixed, self.dropout, training=self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(dropout={self.dropout})"
