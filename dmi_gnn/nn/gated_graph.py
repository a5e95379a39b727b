"""SR-GNN's gated graph layer: GRU-style node updates over the normalised in/out adjacency."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["GatedGraphLayer"]


class GatedGraphLayer(nn.Module):
    r"""The session-graph propagation of SR-GNN (Wu et al., AAAI 2019), eqs. 1-5.

    For node :math:`i` with state :math:`\mathbf{v}_i`, each of the ``steps`` propagation
    steps reads its in- and out-neighbours through the normalised matrices
    :math:`\mathbf{A}^{in}, \mathbf{A}^{out}` (see
    :func:`~dmi_gnn.nn.normalized_graph.normalized_session_graph`) and updates the node with a
    GRU cell:

    .. math::
        \mathbf{a}_i = \left[\sum_j A^{in}_{ij} (\mathbf{W}_{in} \mathbf{v}_j + \mathbf{b}_{in})
            + \mathbf{b}_{iah} \;;\;
            \sum_j A^{out}_{ij} (\mathbf{W}_{out} \mathbf{v}_j + \mathbf{b}_{out})
            + \mathbf{b}_{oah}\right] \quad \text{(eq. 1)},

    .. math::
        \mathbf{z}_i = \sigma(\mathbf{W}_z \mathbf{a}_i + \mathbf{U}_z \mathbf{v}_i), \quad
        \mathbf{r}_i = \sigma(\mathbf{W}_r \mathbf{a}_i + \mathbf{U}_r \mathbf{v}_i), \quad
        \tilde{\mathbf{v}}_i = \tanh(\mathbf{W}_o \mathbf{a}_i
            + \mathbf{r}_i \odot \mathbf{U}_o \mathbf{v}_i), \quad
        \mathbf{v}'_i = (1 - \mathbf{z}_i) \odot \tilde{\mathbf{v}}_i
            + \mathbf{z}_i \odot \mathbf{v}_i

    (eqs. 2-5, with the biases of :class:`torch.nn.GRUCell`, whose conventions they are).

    Args:
        dim (int): embedding size :math:`d`.
        steps (int, optional): propagation steps (the published default is 1).
            (default: :obj:`1`)

    Shapes:
        - **input:** hidden :math:`(B, M, d)` node states, in/out adjacency :math:`(B, M, M)`.
        - **output:** :math:`(B, M, d)`.

    Parameters: ``edge_in`` / ``edge_out`` (:class:`~torch.nn.Linear` :math:`d \to d`),
    ``bias_in`` / ``bias_out`` (:math:`\mathbf{b}_{iah}, \mathbf{b}_{oah}`), ``cell``
    (:class:`~torch.nn.GRUCell` with input size :math:`2d`).
    """

    def __init__(self, dim: int, steps: int = 1) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"GatedGraphLayer: dim must be >= 1, got {dim}")
        if steps < 1:
            raise ValueError(f"GatedGraphLayer: steps must be >= 1, got {steps}")
        self.dim = dim
        self.steps = steps
        self.edge_in = nn.Linear(dim, dim)
        self.edge_out = nn.Linear(dim, dim)
        self.bias_in = nn.Parameter(torch.empty(dim))
        self.bias_out = nn.Parameter(torch.empty(dim))
        self.cell = nn.GRUCell(2 * dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as the reference)."""
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, hidden: Tensor, in_adjacency: Tensor, out_adjacency: Tensor) -> Tensor:
        """Run ``steps`` propagation steps.

        Args:
            hidden: node states ``(B, M, d)``.
            in_adjacency: ``(B, M, M)`` normalised incoming edges (row = receiving node).
            out_adjacency: ``(B, M, M)`` normalised outgoing edges (row = sending node).

        Returns:
            The new node states ``(B, M, d)``.
        """
        batch, nodes, dim = hidden.shape
        in_adjacency = in_adjacency.to(hidden.dtype)
        out_adjacency = out_adjacency.to(hidden.dtype)
        for _ in range(self.steps):
            incoming = torch.matmul(in_adjacency, self.edge_in(hidden)) + self.bias_in
            outgoing = torch.matmul(out_adjacency, self.edge_out(hidden)) + self.bias_out
            message = torch.cat([incoming, outgoing], dim=-1)
            hidden = self.cell(message.reshape(-1, 2 * dim), hidden.reshape(-1, dim))
            hidden = hidden.view(batch, nodes, dim)
        return hidden

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.dim}, steps={self.steps})"
