"""MGIR's negative-session readout: LESSR's attention readout with a per-position BatchNorm."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.local_aggregator import NON_EDGE_LOGIT

__all__ = ["PositionNormAttentionReadout"]


class PositionNormAttentionReadout(nn.Module):
    r"""The attention readout MGIR (Han et al., SIGIR 2022, Sec. 3.4) takes from LESSR.

    Each reversed position :math:`i` (0 = the most recent click) is batch-normalised with its
    own statistics (the published ``BatchNorm1d(session_len)`` over the position axis, padding
    zeros included), masked and dropped out, then attended to with the most recent position's
    raw representation :math:`\mathbf{h}_0` as the query:

    .. math::
        \hat{\mathbf{h}}_i = \mathrm{Dropout}(\mathrm{BN}_i(\mathbf{h}_i)), \qquad
        e_i = \mathbf{w}_e^\top \sigma\left(\mathbf{W}_u \hat{\mathbf{h}}_i
            + \mathbf{W}_v \mathbf{h}_0 + \mathbf{b}_v\right),

    .. math::
        \beta = \mathrm{softmax}_{i \in \text{real}}(e_i), \qquad
        \mathbf{r} = \mathrm{PReLU}\left(\sum_i \beta_i \hat{\mathbf{h}}_i\right).

    Positions past ``max_positions`` share the last position's statistics.

    Args:
        dim (int): embedding size :math:`d`.
        max_positions (int, optional): positions with their own BatchNorm statistics.
            (default: :obj:`200`)
        dropout (float, optional): dropout on the normalised positions (``dropout_local``).
            (default: :obj:`0.0`)

    Shapes:
        - **input:** hidden :math:`(B, L, d)` (0 at padding), mask :math:`(B, L)` bool.
        - **output:** :math:`(B, d)`.
    """

    def __init__(self, dim: int, max_positions: int = 200, dropout: float = 0.0) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"PositionNormAttentionReadout: dim must be >= 1, got {dim}")
        if max_positions < 1:
            raise ValueError(
                f"PositionNormAttentionReadout: max_positions must be >= 1, got {max_positions}"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(
                f"PositionNormAttentionReadout: dropout must be in [0, 1], got {dropout}"
            )
        self.dim = dim
        self.max_positions = max_positions
        self.dropout = float(dropout)
        self.norm = nn.BatchNorm1d(max_positions)
        self.key = nn.Linear(dim, dim, bias=False)
        self.query = nn.Linear(dim, dim)
        self.energy = nn.Linear(dim, 1, bias=False)
        self.activation = nn.PReLU(dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter (BatchNorm's and PReLU's included) ``uniform(-1/sqrt(d), 1/sqrt(d))``.

        The published model re-draws all its parameters this way; running statistics restart.
        """
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)
        self.norm.reset_running_stats()

    def _normalise(self, hidden: Tensor) -> Tensor:
        length = hidden.shape[1]
        used = min(length, self.max_positions)
        norm = self.norm
        momentum = 0.0 if norm.momentum is None else norm.momentum
        track = self.training
        head = F.batch_norm(
            hidden[:, :used],
            norm.running_mean[:used],
            norm.running_var[:used],
            norm.weight[:used],
            norm.bias[:used],
            track,
            momentum,
            norm.eps,
        )
        if used == length:
            return head
        last = self.max_positions - 1
        tail = F.batch_norm(
            hidden[:, used:].reshape(hidden.shape[0], -1, 1).transpose(1, 2),
            norm.running_mean[last:],
            norm.running_var[last:],
            norm.weight[last:],
            norm.bias[last:],
            False,
            0.0,
            norm.eps,
        ).transpose(1, 2)
        return torch.cat([head, tail.reshape(hidden.shape[0], length - used, -1)], dim=1)

    def forward(self, hidden: Tensor, mask: Tensor) -> Tensor:
        """Read ``(B, d)`` off ``hidden`` ``(B, L, d)``; the query is position 0."""
        real = mask.to(hidden.dtype).unsqueeze(-1)
        normalised = F.dropout(self._normalise(hidden) * real, self.dropout, self.training) * real
        keys = self.key(normalised) * real
        energy = self.energy(torch.sigmoid(keys + self.query(hidden[:, 0]).unsqueeze(1)))
        fill = max(NON_EDGE_LOGIT, torch.finfo(energy.dtype).min)
        energy = energy.masked_fill(~mask.to(torch.bool).unsqueeze(-1), fill)
        beta = torch.softmax(energy, dim=1)
        return self.activation((normalised * beta).sum(1))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.dim}, max_positions={self.max_positions}, "
            f"dropout={self.dropout})"
        )
