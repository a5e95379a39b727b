"""Session-graph attention over the four GCE-GNN edge types (the local branch)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["NON_EDGE_LOGIT", "LocalAggregator"]

#: Logit of a non-edge. Large and finite (not ``-inf``) so that a row with no edge at all (a
#: padding node) gets a uniform softmax instead of NaN; ``exp(-9e15 - m)`` is exactly 0 in
#: float32 next to any real edge, so non-edges never contribute where an edge exists. In float16
#: (whose range stops at 65504) the dtype's lowest value is used instead.
NON_EDGE_LOGIT = -9e15


class LocalAggregator(nn.Module):
    r"""The local (session-graph) aggregator of GCE-GNN, reused by DMI-GNN.

    From "Global Context Enhanced Graph Neural Networks for Session-based Recommendation"
    (Wang et al., SIGIR 2020), eqs. 1-3, which DMI-GNN (AAAI 2025) takes over unchanged as
    its local item representation. Each node :math:`i` of a session graph attends to its
    neighbours :math:`j \in \mathcal{N}(i)` (itself included) with one attention vector per
    edge type :math:`r_{ij} \in \{\text{self}, \text{in}, \text{out}, \text{in-out}\}`:

    .. math::
        e_{ij} = \mathrm{LeakyReLU}\left(\mathbf{a}_{r_{ij}}^\top
            (\mathbf{h}_i \odot \mathbf{h}_j)\right), \qquad
        \alpha_{ij} = \frac{\exp(e_{ij})}{\sum_{k \in \mathcal{N}(i)} \exp(e_{ik})}, \qquad
        \mathbf{h}^{l}_i = \sum_{j \in \mathcal{N}(i)} \alpha_{ij} \mathbf{h}_j .

    There is no weight matrix, bias or dropout (as in the published code). Non-edges get the
    logit :data:`NON_EDGE_LOGIT`, so padding rows (no edge) get a uniform, finite softmax.
    The four logits are computed as one batched matmul
    :math:`(\mathbf{h} \odot \mathbf{a}_r)\,\mathbf{h}^\top`; the
    :math:`B \times L \times L \times d` tensor of the published code is never built.

    Args:
        dim (int): embedding size :math:`d`.
        leaky_relu_slope (float, optional): negative slope of the LeakyReLU.
            (default: :obj:`0.2`)

    Shapes:
        - **input:** hidden :math:`(B, L, d)` (node embeddings), adjacency :math:`(B, L, L)`
          integer edge types (0 none, 1 self, 2 in, 3 out, 4 in-out; row = node :math:`i`,
          column = node :math:`j`).
        - **output:** :math:`(B, L, d)`.

    The parameter ``edge_attention`` has shape :math:`(4, d)`; row :math:`r - 1` is the vector
    of edge type :math:`r` (the published code's ``local_agg.a_{r-1}``).
    """

    def __init__(self, dim: int, leaky_relu_slope: float = 0.2) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"LocalAggregator: dim must be >= 1, got {dim}")
        self.dim = dim
        self.leaky_relu_slope = leaky_relu_slope
        self.edge_attention = nn.Parameter(torch.empty(4, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as the reference)."""
        bound = 1.0 / math.sqrt(self.dim)
        nn.init.uniform_(self.edge_attention, -bound, bound)

    def forward(self, hidden: Tensor, adjacency: Tensor) -> Tensor:
        """Aggregate each node's session-graph neighbourhood.

        Args:
            hidden: node embeddings ``(B, L, d)``.
            adjacency: edge types ``(B, L, L)``, any integer dtype.

        Returns:
            The local node representations ``(B, L, d)``.
        """
        batch, length, dim = hidden.shape
        # (B, 4, L, d): h_i ⊙ a_r for every edge type r, then one matmul against h^T.
        scaled = hidden.unsqueeze(1) * self.edge_attention.view(1, 4, 1, dim)
        logits = torch.matmul(scaled.reshape(batch, 4 * length, dim), hidden.transpose(1, 2))
        logits = F.leaky_relu(logits.view(batch, 4, length, length), self.leaky_relu_slope)
        edge = adjacency.long()
        # Pick, for every (i, j), the logit of its edge type (types 1..4 -> rows 0..3).
        chosen = logits.gather(1, (edge - 1).clamp_(min=0).unsqueeze(1)).squeeze(1)
        fill = max(NON_EDGE_LOGIT, torch.finfo(chosen.dtype).min)  # float16-safe
        chosen = chosen.masked_fill(edge == 0, fill)
        weights = torch.softmax(chosen, dim=-1)
        return torch.matmul(weights, hidden)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.dim}, leaky_relu_slope={self.leaky_relu_slope})"
