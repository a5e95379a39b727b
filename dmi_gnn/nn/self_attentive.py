"""The multi-head self-attentive interest extractor of ComiRec-SA."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dmi_gnn.nn.local_aggregator import NON_EDGE_LOGIT

__all__ = ["SelfAttentiveExtractor"]


class SelfAttentiveExtractor(nn.Module):
    r"""ComiRec-SA's interest extractor (Cen et al., KDD 2020, section 3.2.2, eqs. 5-6).

    ``K`` attention distributions over the real positions of a session, read off its item
    embeddings :math:`\mathbf{H} \in \mathbb{R}^{L \times d}` plus learned positional embeddings
    :math:`\mathbf{P}` (added to the attention input **only**, as in the published code):

    .. math::
        \mathbf{A} = \mathrm{softmax}_j\left(\mathbf{W}_2 \tanh\big(\mathbf{W}_1
            (\mathbf{H} + \mathbf{P})^\top + \mathbf{b}_1\big)\right)^\top
            \in \mathbb{R}^{L \times K}, \qquad
        \mathbf{V} = \mathbf{A}^\top \mathbf{H} \in \mathbb{R}^{K \times d}.

    :math:`\mathbf{W}_1` maps :math:`d \to` ``hidden_factor`` :math:`\cdot d` (4 in the paper's
    code) and :math:`\mathbf{W}_2` maps to the ``K`` heads. The softmax runs over the real
    positions of each session, per head (padding gets weight 0). The published second dense layer
    also has a bias; it is constant over positions, cancels in that softmax and is left out.

    Positions are those of the batch: position 0 is the most recent click (reversed prefixes;
    ComiRec counts from the oldest item of its window). The table has ``max_positions`` rows and a
    longer input is an error (truncate the prefix to its most recent items first).

    Args:
        dim (int): embedding size :math:`d`.
        num_interests (int): number of heads :math:`K`.
        max_positions (int, optional): rows of the positional table. (default: :obj:`50`)
        hidden_factor (int, optional): width of :math:`\mathbf{W}_1` in units of :math:`d`.
            (default: :obj:`4`)

    Shapes:
        - **input:** hidden :math:`(B, L, d)`, mask :math:`(B, L)` bool (True = real position).
        - **output:** interests :math:`(B, K, d)`, attention :math:`(B, L, K)` (0 at padding,
          each column sums to 1 over the real positions).

    Parameters: ``position_embedding`` :math:`(P, d)`, ``hidden`` a :class:`~torch.nn.Linear`
    :math:`d \to` ``hidden_factor`` :math:`d` (:math:`\mathbf{W}_1, \mathbf{b}_1`), ``heads`` a
    bias-free :class:`~torch.nn.Linear` to :math:`K` (:math:`\mathbf{W}_2`). Initialised as TF's
    defaults in the published code: Glorot-uniform weights and table, zero bias.
    """

    def __init__(
        self, dim: int, num_interests: int, max_positions: int = 50, hidden_factor: int = 4
    ) -> None:
        super().__init__()
        for name, value in (
            ("dim", dim),
            ("num_interests", num_interests),
            ("max_positions", max_positions),
            ("hidden_factor", hidden_factor),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"SelfAttentiveExtractor: {name} must be an integer >= 1, got {value!r}"
                )
        self.dim = dim
        self.num_interests = num_interests
        self.max_positions = max_positions
        self.hidden_factor = hidden_factor
        self.position_embedding = nn.Parameter(torch.empty(max_positions, dim))
        self.hidden = nn.Linear(dim, hidden_factor * dim)
        self.heads = nn.Linear(hidden_factor * dim, num_interests, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights and positional table, zero bias (TF defaults, as published)."""
        nn.init.xavier_uniform_(self.position_embedding)
        nn.init.xavier_uniform_(self.hidden.weight)
        nn.init.zeros_(self.hidden.bias)
        nn.init.xavier_uniform_(self.heads.weight)

    def forward(self, hidden: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Read ``K`` interest vectors off each session.

        Args:
            hidden: item embeddings ``(B, L, d)``.
            mask: ``(B, L)`` bool, True at real positions.

        Returns:
            ``(interests (B, K, d), attention (B, L, K))``.
        """
        _, length, dim = hidden.shape
        if length > self.max_positions:
            raise ValueError(
                f"SelfAttentiveExtractor: {length} positions exceed "
                f"max_positions={self.max_positions}; truncate the prefixes to their most "
                "recent max_positions items"
            )
        if dim != self.dim:
            raise ValueError(f"SelfAttentiveExtractor: hidden has size {dim}, expected {self.dim}")
        real = mask.to(torch.bool).unsqueeze(-1)  # (B, L, 1)
        hidden = hidden * real.to(hidden.dtype)
        logits = self.heads(torch.tanh(self.hidden(hidden + self.position_embedding[:length])))
        fill = max(NON_EDGE_LOGIT, torch.finfo(logits.dtype).min)
        attention = torch.softmax(logits.masked_fill(~real, fill), dim=1)
        attention = attention * real.to(attention.dtype)
        return torch.matmul(attention.transpose(1, 2), hidden), attention

    def extra_repr(self) -> str:
        return (
            f"{self.dim}, num_interests={self.num_interests}, "
            f"max_positions={self.max_positions}, hidden_factor={self.hidden_factor}"
        )
