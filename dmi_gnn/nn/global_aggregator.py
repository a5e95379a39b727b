"""Session-aware attention over an item's global-graph neighbours (one hop of the global branch)."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.local_aggregator import NON_EDGE_LOGIT

__all__ = ["GlobalAggregator"]

_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


class GlobalAggregator(nn.Module):
    r"""One hop of the global-graph aggregator of GCE-GNN, reused by DMI-GNN.

    From "Global Context Enhanced Graph Neural Networks for Session-based Recommendation"
    (Wang et al., SIGIR 2020), eqs. 4-7 as coded after the 2021-01-22 fix. An item
    :math:`v` with neighbours :math:`n_1..n_k` (co-occurrence counts :math:`w_1..w_k`) in the
    global graph attends to them, conditioned on the session vector :math:`\mathbf{s}`:

    .. math::
        \pi_k = \operatorname{softmax}_k\left(\mathbf{w}_2^\top \mathrm{LeakyReLU}\left(
            \mathbf{W}_1^\top [\mathbf{s} \odot \mathbf{h}_{n_k} \,;\, w_k]\right)\right),
        \qquad
        \mathbf{h}_{\mathcal{N}} = \sum_k \pi_k \mathbf{h}_{n_k},

    .. math::
        \mathbf{h}^{g}_v = \sigma\left(\mathbf{W}_3^\top \,
            \mathrm{Dropout}([\mathbf{h}_v \,;\, \mathbf{h}_{\mathcal{N}}])\right),

    with :math:`\sigma` = ReLU (or tanh) and no biases (the published code declares a bias and
    never uses it). With a neighbour mask, masked slots are excluded from the softmax and a node
    without any unmasked neighbour gets :math:`\mathbf{h}_{\mathcal{N}} = 0`.

    Args:
        dim (int): embedding size :math:`d`.
        dropout (float, optional): dropout rate on :math:`[\mathbf{h}_v ; \mathbf{h}_{\mathcal{N}}]`
            (the reference's ``dropout_gcn``). (default: :obj:`0.`)
        activation (str, optional): ``"relu"`` or ``"tanh"``. (default: :obj:`"relu"`)
        leaky_relu_slope (float, optional): negative slope of the LeakyReLU (the reference
            hard-codes 0.2 here). (default: :obj:`0.2`)

    Shapes:
        - **input:** self vectors :math:`(B, M, d)`, neighbour vectors :math:`(B, M, k, d)`,
          neighbour weights :math:`(B, M, k)`, session vector :math:`(B, d)`, optional
          neighbour mask :math:`(B, M, k)` bool (True = attend).
        - **output:** :math:`(B, M, d)`.

    Parameters keep the published code's layout (``agg_gcn_i.w_1/w_2/w_3``):
    ``attention_weight`` :math:`(d + 1, d)` applied as ``[s ⊙ h_n ; w] @ W1`` (the count is
    the last row), ``attention_vector`` :math:`(d,)`, ``output_weight`` :math:`(2d, d)`
    applied as ``[h_v ; h_N] @ W3``.
    """

    def __init__(
        self,
        dim: int,
        dropout: float = 0.0,
        activation: Literal["relu", "tanh"] = "relu",
        leaky_relu_slope: float = 0.2,
    ) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"GlobalAggregator: dim must be >= 1, got {dim}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"GlobalAggregator: dropout must be in [0, 1], got {dropout}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"GlobalAggregator: activation must be one of {sorted(_ACTIVATIONS)}, "
                f"got {activation!r}"
            )
        self.dim = dim
        self.dropout = dropout
        self.activation = activation
        self.leaky_relu_slope = leaky_relu_slope
        self.attention_weight = nn.Parameter(torch.empty(dim + 1, dim))
        self.attention_vector = nn.Parameter(torch.empty(dim))
        self.output_weight = nn.Parameter(torch.empty(2 * dim, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as the reference)."""
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in (self.attention_weight, self.attention_vector, self.output_weight):
            nn.init.uniform_(parameter, -bound, bound)

    def forward(
        self,
        self_vectors: Tensor,
        neighbor_vectors: Tensor,
        neighbor_weights: Tensor,
        session: Tensor,
        neighbor_mask: Tensor | None = None,
    ) -> Tensor:
        """Aggregate the neighbours of ``M`` nodes per session.

        Args:
            self_vectors: embeddings of the nodes themselves ``(B, M, d)``.
            neighbor_vectors: embeddings of their neighbours ``(B, M, k, d)``.
            neighbor_weights: co-occurrence weights ``(B, M, k)``.
            session: the session vector ``(B, d)`` (broadcast to every node and slot).
            neighbor_mask: optional ``(B, M, k)`` bool, True for slots to attend.

        Returns:
            The new node representations ``(B, M, d)``.
        """
        dim = self.dim
        conditioned = session[:, None, None, :] * neighbor_vectors  # (B, M, k, d)
        # [s ⊙ h_n ; w] @ W1 without building the concatenation.
        hidden = torch.matmul(conditioned, self.attention_weight[:dim])
        hidden = (
            hidden + neighbor_weights.unsqueeze(-1).to(hidden.dtype) * self.attention_weight[dim]
        )
        hidden = F.leaky_relu(hidden, self.leaky_relu_slope)
        logits = torch.matmul(hidden, self.attention_vector)  # (B, M, k)
        if neighbor_mask is not None:
            fill = max(NON_EDGE_LOGIT, torch.finfo(logits.dtype).min)
            logits = logits.masked_fill(~neighbor_mask, fill)
        weights = torch.softmax(logits, dim=-1)
        if neighbor_mask is not None:
            # All-masked rows had a uniform softmax: zero them so that h_N = 0 there.
            weights = weights * neighbor_mask.to(weights.dtype)
        neighborhood = torch.matmul(weights.unsqueeze(-2), neighbor_vectors).squeeze(-2)
        combined = torch.cat([self_vectors, neighborhood], dim=-1)
        combined = F.dropout(combined, self.dropout, training=self.training)
        return _ACTIVATIONS[self.activation](torch.matmul(combined, self.output_weight))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.dim}, dropout={self.dropout}, "
            f"activation={self.activation!r}, leaky_relu_slope={self.leaky_relu_slope})"
        )
