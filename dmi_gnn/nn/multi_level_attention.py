"""Atten-Mixer's multi-level intent attention, with its published quirks as an option."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.local_aggregator import NON_EDGE_LOGIT

__all__ = ["MultiLevelAttention"]


class MultiLevelAttention(nn.Module):
    r"""The multi-level attention readout of Atten-Mixer (Zhang et al., WSDM 2023, section 4).

    ``k`` level queries :math:`\mathbf{q}_1..\mathbf{q}_k` (one per intent level) attend to the
    ``L`` positions of a session over ``H`` heads of size :math:`d_h = d/H`. With projections
    :math:`\mathbf{Q} = \mathbf{W}_Q \mathbf{q} + \mathbf{b}_Q`,
    :math:`\mathbf{K} = \mathbf{W}_K \mathbf{h} + \mathbf{b}_K`,
    :math:`\mathbf{V} = \mathbf{W}_V \mathbf{h} + \mathbf{b}_V`, for head :math:`c`, level
    :math:`i` and position :math:`j`:

    .. math::
        \beta^{(c)}_{ij} = \mathrm{softmax}_j\left(2\,\sigma\big(
            \mathbf{Q}^{(c)\top}_i \mathbf{K}^{(c)}_j\big)\right), \qquad
        \gamma^{(c)}_j = \Big(\sum_{i=1}^{k} \big(\beta^{(c)}_{ij}\big)^{p}\Big)^{1/p}
            \quad (\text{LPPool}_p \text{ over the levels}),

    .. math::
        \alpha^{(c)}_j = \mathrm{Dropout}\big(\mathrm{softmax}_j(2\,\gamma^{(c)}_j)\big)
            \;(\text{real } j \text{ only}), \qquad
        \mathbf{a} = \mathrm{LayerNorm}\Big(\big\Vert_{c=1}^{H}
            \sum_j \alpha^{(c)}_j \mathbf{V}^{(c)}_j\Big).

    ``semantics="corrected"`` (default) is the computation above. ``semantics="reference"``
    keeps two quirks of the published code:

    - the head split of :math:`\mathbf{Q}` and :math:`\mathbf{K}` is ``.view(-1, rows, d/H)`` of
      the contiguous :math:`(B, \text{rows}, d)` tensor, so "head :math:`c`, row :math:`r`" of the
      logits reads slice :math:`(cR + r) \bmod H` of row :math:`\lfloor (cR + r)/H \rfloor`
      (positions and levels mix across heads), while :math:`\alpha^{(c)}_j` is still applied to
      :math:`\mathbf{V}^{(c)}_j` at the true position :math:`j`;
    - the first softmax (:math:`\beta`) runs over **all** ``L`` positions, padding included.

    The second softmax is masked in both.

    Args:
        dim (int): :math:`d`, divisible by ``heads``.
        heads (int, optional): :math:`H`. (default: :obj:`8`)
        levels (int, optional): :math:`k`, the number of queries. (default: :obj:`7`)
        lp_norm (float, optional): :math:`p` of the pooling over levels. (default: :obj:`4`)
        attention_dropout (float, optional): dropout on :math:`\alpha`. (default: :obj:`0.1`)
        semantics (str, optional): ``"corrected"`` or ``"reference"``.
            (default: :obj:`"corrected"`)
        layer_norm_eps (float, optional): (default: :obj:`1e-8`)

    Shapes:
        - **input:** queries :math:`(B, k, d)`, hidden :math:`(B, L, d)`, mask :math:`(B, L)`
          bool (True = real position).
        - **output:** :math:`\mathbf{a}` :math:`(B, d)`, attention :math:`\alpha` :math:`(B, L, H)`
          (0 at padding before dropout).

    Parameters: ``query``, ``key``, ``value`` (:class:`~torch.nn.Linear` :math:`d \to d`), head
    :math:`c` = output features :math:`c d_h .. (c+1) d_h - 1`; ``layer_norm``.
    """

    def __init__(
        self,
        dim: int,
        heads: int = 8,
        levels: int = 7,
        lp_norm: float = 4.0,
        attention_dropout: float = 0.1,
        semantics: Literal["corrected", "reference"] = "corrected",
        layer_norm_eps: float = 1e-8,
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("heads", heads), ("levels", levels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"MultiLevelAttention: {name} must be an integer >= 1, got {value!r}"
                )
        if dim % heads:
            raise ValueError(f"MultiLevelAttention: dim {dim} is not divisible by heads {heads}")
        if not lp_norm > 0:
            raise ValueError(f"MultiLevelAttention: lp_norm must be > 0, got {lp_norm!r}")
        if not 0.0 <= attention_dropout < 1.0:
            raise ValueError(
                "MultiLevelAttention: attention_dropout must be in [0, 1), "
                f"got {attention_dropout!r}"
            )
        if semantics not in ("corrected", "reference"):
            raise ValueError(
                f"MultiLevelAttention: semantics must be 'corrected' or 'reference', "
                f"got {semantics!r}"
            )
        self.dim = dim
        self.heads = heads
        self.levels = levels
        self.lp_norm = float(lp_norm)
        self.attention_dropout = float(attention_dropout)
        self.semantics = semantics
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.layer_norm = nn.LayerNorm(dim, eps=layer_norm_eps)

    def reset_parameters(self) -> None:
        """PyTorch's defaults (the network redraws every parameter as published)."""
        for module in (self.query, self.key, self.value, self.layer_norm):
            module.reset_parameters()

    def split_heads(self, x: Tensor) -> Tensor:
        """``(B, R, d) -> (B, H, R, d_h)``: correct split, or the published ``.view``."""
        batch, rows, _ = x.shape
        size = self.dim // self.heads
        if self.semantics == "reference":
            return x.reshape(batch, self.heads, rows, size)
        return x.view(batch, rows, self.heads, size).transpose(1, 2)

    def forward(self, queries: Tensor, hidden: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Read the session vector :math:`\\mathbf{a}` off the positions.

        Args:
            queries: level queries ``(B, k, d)``.
            hidden: position representations ``(B, L, d)``.
            mask: ``(B, L)`` bool, True at real positions.

        Returns:
            ``(a (B, d), attention (B, L, H))``.
        """
        batch, levels, dim = queries.shape
        length = hidden.shape[1]
        if levels != self.levels or dim != self.dim or hidden.shape[2] != self.dim:
            raise ValueError(
                f"MultiLevelAttention: expected queries (B, {self.levels}, {self.dim}) and hidden "
                f"(B, L, {self.dim}), got {tuple(queries.shape)} and {tuple(hidden.shape)}"
            )
        heads = self.heads
        real = mask.to(torch.bool)  # (B, L)
        q = self.split_heads(self.query(queries))  # (B, H, k, d_h)
        k = self.split_heads(self.key(hidden))  # (B, H, L, d_h)
        logits = 2.0 * torch.sigmoid(torch.matmul(q, k.transpose(-1, -2)))  # (B, H, k, L)
        fill = max(NON_EDGE_LOGIT, torch.finfo(logits.dtype).min)
        by_position = real.view(batch, 1, 1, length)
        if self.semantics == "corrected":
            logits = logits.masked_fill(~by_position, fill)
        beta = torch.softmax(logits, dim=-1)
        if self.semantics == "corrected":
            # beta is 0 at padding; keep pow(., 1/p) away from 0 there (those rows are masked).
            beta = torch.where(by_position, beta, torch.ones_like(beta))
        gamma = beta.pow(self.lp_norm).sum(2).pow(1.0 / self.lp_norm)  # (B, H, L)
        gamma = (2.0 * gamma).masked_fill(~real.unsqueeze(1), fill)
        alpha = torch.softmax(gamma, dim=-1) * real.unsqueeze(1).to(gamma.dtype)
        alpha = F.dropout(alpha, self.attention_dropout, training=self.training)
        v = self.value(hidden).view(batch, length, heads, dim // heads)
        heads_out = torch.einsum("bhl,blhe->bhe", alpha, v)
        return self.layer_norm(heads_out.reshape(batch, dim)), alpha.transpose(1, 2)

    def extra_repr(self) -> str:
        return (
            f"{self.dim}, heads={self.heads}, levels={self.levels}, lp_norm={self.lp_norm}, "
            f"attention_dropout={self.attention_dropout}, semantics={self.semantics!r}"
        )
