"""Multiple positional patterns: U attention heads read U interest vectors off a session."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from dmi_gnn.nn.local_aggregator import NON_EDGE_LOGIT

__all__ = ["MultiInterestExtractor"]


class MultiInterestExtractor(nn.Module):
    r"""The multi-interest readout of DMI-GNN (AAAI 2025), eqs. 2-5.

    Position :math:`i` of a (reversed) session, with representation :math:`\mathbf{h}_i` and a
    learnable reversed positional embedding :math:`\mathbf{p}_i` (position 0 = the most recent
    click), is first mixed with its position (eq. 3), then each interest head :math:`u` reads
    it through its own gate (eq. 4) and query:

    .. math::
        \mathbf{z}_i = \tanh\left(\mathbf{W}_3 [\mathbf{p}_i \,;\, \mathbf{h}_i]
            + \mathbf{b}_3\right), \qquad
        \mathbf{g}^{(u)}_i = \sigma\left(\mathbf{W}^{(u)}_4 \mathbf{z}_i
            + \mathbf{b}^{(u)}_4\right), \qquad
        \alpha^{(u)}_i = \mathbf{q}_u^\top \mathbf{g}^{(u)}_i,

    .. math::
        \mathbf{s}_u = \sum_{i=1}^{l} \alpha^{(u)}_i \mathbf{h}_i \qquad (u = 1..U).

    With ``attention="raw"`` (the published code) :math:`\alpha` is only zeroed at padding: it
    is not normalised and can be negative. With ``attention="softmax"`` (the paper) it is a
    softmax over the real positions, per head. ``positional="single"`` is the Table-3 ablation
    "w/o multiple positional patterns": one gate :math:`\mathbf{W}_4, \mathbf{b}_4` shared by
    all heads, which then differ only by their query :math:`\mathbf{q}_u`.

    Positions beyond the table (:math:`i \geq` ``max_positions``) reuse its last row (the
    published code crashes there).

    Args:
        dim (int): embedding size :math:`d`.
        num_interests (int): number of heads :math:`U \geq 1`.
        max_positions (int, optional): rows of the positional table. (default: :obj:`200`)
        positional (str, optional): ``"multi"`` (one gate per head) or ``"single"`` (one shared
            gate). (default: :obj:`"multi"`)
        attention (str, optional): ``"raw"`` or ``"softmax"``. (default: :obj:`"raw"`)
        readout_bias (bool, optional): learn :math:`\mathbf{b}_3` (absent from the published
            code). (default: :obj:`False`)

    Shapes:
        - **input:** hidden :math:`(B, L, d)`, mask :math:`(B, L)` bool (True = real position).
        - **output:** interests :math:`(B, U, d)`, attention :math:`(B, L, U)` (0 at padding).

    Parameter layout (chosen so the published code's parameters load without reshaping):
    ``position_embedding`` :math:`(P, d)` (``pos_embedding``); ``readout_weight``
    :math:`(2d, d)` applied as ``[p ; h] @ W`` with the **positional half first**, i.e.
    :math:`\mathbf{W}_3 = ` ``readout_weight.T`` (``w_1``); ``readout_bias`` :math:`(d,)` or
    ``None``; ``gate`` a :class:`~torch.nn.Linear` :math:`d \to U d` whose output chunk
    :math:`u` (rows :math:`ud..(u+1)d-1` of its weight) is head :math:`u` (``glu1``), or
    :math:`d \to d` for ``positional="single"``; ``query`` :math:`(d, U)`, column :math:`u` is
    :math:`\mathbf{q}_u` (``w_2``).
    """

    def __init__(
        self,
        dim: int,
        num_interests: int,
        max_positions: int = 200,
        positional: Literal["multi", "single"] = "multi",
        attention: Literal["raw", "softmax"] = "raw",
        readout_bias: bool = False,
    ) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"MultiInterestExtractor: dim must be >= 1, got {dim}")
        if num_interests < 1:
            raise ValueError(
                f"MultiInterestExtractor: num_interests must be >= 1, got {num_interests}"
            )
        if max_positions < 1:
            raise ValueError(
                f"MultiInterestExtractor: max_positions must be >= 1, got {max_positions}"
            )
        if positional not in ("multi", "single"):
            raise ValueError(
                f"MultiInterestExtractor: positional must be 'multi' or 'single', "
                f"got {positional!r}"
            )
        if attention not in ("raw", "softmax"):
            raise ValueError(
                f"MultiInterestExtractor: attention must be 'raw' or 'softmax', got {attention!r}"
            )
        self.dim = dim
        self.num_interests = num_interests
        self.max_positions = max_positions
        self.positional = positional
        self.attention = attention
        self.position_embedding = nn.Embedding(max_positions, dim)
        self.readout_weight = nn.Parameter(torch.empty(2 * dim, dim))
        if readout_bias:
            self.readout_bias = nn.Parameter(torch.empty(dim))
        else:
            self.register_parameter("readout_bias", None)
        gate_heads = num_interests if positional == "multi" else 1
        self.gate = nn.Linear(dim, gate_heads * dim)
        self.query = nn.Parameter(torch.empty(dim, num_interests))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``uniform(-1/sqrt(d), 1/sqrt(d))`` (as the reference)."""
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def positions(self, length: int) -> Tensor:
        """The positional embeddings of reversed positions ``0..length-1``, shape ``(L, d)``.

        Positions past the end of the table reuse its last row.
        """
        index = torch.arange(length, device=self.position_embedding.weight.device)
        return self.position_embedding(index.clamp_(max=self.max_positions - 1))

    def forward(self, hidden: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Read ``U`` interest vectors off each session.

        Args:
            hidden: position representations ``(B, L, d)``.
            mask: ``(B, L)`` bool, True at real positions.

        Returns:
            ``(interests (B, U, d), attention (B, L, U))``; attention is 0 at padding.
        """
        batch, length, dim = hidden.shape
        heads = self.num_interests
        # eq. 3: [p ; h] @ W = p @ W[:d] + h @ W[d:]; the positional half is per position only.
        mixed = torch.matmul(hidden, self.readout_weight[dim:])
        mixed = mixed + torch.matmul(self.positions(length), self.readout_weight[:dim])
        if self.readout_bias is not None:
            mixed = mixed + self.readout_bias
        gates = torch.sigmoid(self.gate(torch.tanh(mixed)))  # eq. 4, all heads in one matmul
        if self.positional == "multi":
            scores = (gates.view(batch, length, heads, dim) * self.query.t()).sum(-1)
        else:
            scores = torch.matmul(gates, self.query)  # (B, L, U)
        real = mask.to(torch.bool).unsqueeze(-1)
        if self.attention == "raw":
            weights = scores * real.to(scores.dtype)
        else:
            fill = max(NON_EDGE_LOGIT, torch.finfo(scores.dtype).min)
            weights = torch.softmax(scores.masked_fill(~real, fill), dim=1)
            weights = weights * real.to(weights.dtype)
        interests = torch.matmul(weights.transpose(1, 2), hidden)  # eq. 5, (B, U, d)
        return interests, weights

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.dim}, num_interests={self.num_interests}, "
            f"max_positions={self.max_positions}, positional={self.positional!r}, "
            f"attention={self.attention!r}, readout_bias={self.readout_bias is not None})"
        )
