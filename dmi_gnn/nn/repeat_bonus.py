"""A learned score bonus for the items of the session, from in-session features of each."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dmi_gnn.nn.session_items import check_session_inputs, session_item_features

__all__ = ["RepeatBonus"]


class RepeatBonus(nn.Module):
    r"""Add a learned bonus to the logits of the items already in the prefix.

    Beyond the paper (issue 14): DMI-GNN has no explicit way to say "the user returns to an
    item of this session". For each unique item :math:`j` of a prefix of length :math:`l`,
    with :math:`c_j` clicks, the reversed position :math:`r_j` of its most recent click and
    :math:`f_j` of its first (0 = the most recent click of the prefix), the features

    .. math::
        \boldsymbol{\phi}_j = \left[\log(1 + c_j) \,;\, c_j / l \,;\,
            \mathbf{E}_r[\min(r_j, P - 1)] \,;\, \mathbf{E}_f[\min(f_j, P - 1)]\right]

    (:math:`\mathbf{E}_f` only with ``first_position``) give a bonus through a small MLP

    .. math::
        \beta_j = \mathbf{w}_2^\top \mathrm{ReLU}(\mathbf{W}_1 \boldsymbol{\phi}_j
            + \mathbf{b}_1) + b_2 \quad (\texttt{hidden} > 0), \qquad
        \beta_j = \mathbf{w}^\top \boldsymbol{\phi}_j + b \quad (\texttt{hidden} = 0),

    added to the base scores at the session's items only:

    .. math::
        \hat{y}'_j = \hat{y}_j + \mathbb{1}[j \in S]\, \beta_j .

    The output layer (:math:`\mathbf{w}_2, b_2` or :math:`\mathbf{w}, b`) starts at zero, so a
    freshly switched-on bonus returns the base scores bit for bit. The output is logits: the
    training loss is cross-entropy on it, exactly as on the base scores. The bonus is computed
    on the ``(B, L)`` positions (one per unique item, its most recent click) and
    scatter-added into the logits; no ``(B, N)`` feature tensor is built.

    Args:
        max_positions (int, optional): position buckets :math:`P`; positions
            :math:`\geq P - 1` share the last one. (default: :obj:`32`)
        position_dim (int, optional): size of the position embeddings
            :math:`\mathbf{E}_r, \mathbf{E}_f`. (default: :obj:`8`)
        hidden (int, optional): hidden units of the MLP; 0 for a linear map.
            (default: :obj:`16`)
        first_position (bool, optional): add the first-click position :math:`f_j`.
            (default: :obj:`False`)

    Shapes:
        - **input:** logits :math:`(B, N)` (column :math:`j - 1` = item :math:`j`), items
          :math:`(B, L)` reversed prefixes (ids :math:`1..N`, 0 = padding), mask :math:`(B, L)`
          bool.
        - **output:** logits :math:`(B, N)`.
    """

    def __init__(
        self,
        max_positions: int = 32,
        position_dim: int = 8,
        hidden: int = 16,
        first_position: bool = False,
    ) -> None:
        super().__init__()
        if max_positions < 1:
            raise ValueError(f"RepeatBonus: max_positions must be >= 1, got {max_positions}")
        if position_dim < 1:
            raise ValueError(f"RepeatBonus: position_dim must be >= 1, got {position_dim}")
        if hidden < 0:
            raise ValueError(f"RepeatBonus: hidden must be >= 0, got {hidden}")
        self.max_positions = max_positions
        self.position_dim = position_dim
        self.hidden = hidden
        self.first_position = first_position
        self.last_embedding = nn.Embedding(max_positions, position_dim)
        if first_position:
            self.first_embedding = nn.Embedding(max_positions, position_dim)
        else:
            self.register_module("first_embedding", None)
        features = 2 + position_dim * (2 if first_position else 1)
        if hidden:
            self.mlp = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        else:
            self.mlp = nn.Sequential(nn.Linear(features, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Default (PyTorch) initialisation everywhere but the output layer, which is zero."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        nn.init.normal_(self.last_embedding.weight, std=0.1)
        if self.first_embedding is not None:
            nn.init.normal_(self.first_embedding.weight, std=0.1)
        output = self.mlp[-1]
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)

    def features(self, items: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        r"""The features :math:`\boldsymbol{\phi}` of each position's item and the positions
        that represent an item.

        Returns:
            ``(phi (B, L, F), representative (B, L) bool)``; ``phi`` is meaningful at
            representative positions only.
        """
        stats = session_item_features(items, mask)
        count = stats.count.to(self.last_embedding.weight.dtype)
        length = mask.to(count.dtype).sum(1, keepdim=True).clamp_(min=1.0)
        parts = [
            torch.log1p(count).unsqueeze(-1),
            (count / length).unsqueeze(-1),
            self.last_embedding(stats.last.clamp(max=self.max_positions - 1)),
        ]
        if self.first_embedding is not None:
            parts.append(self.first_embedding(stats.first.clamp(max=self.max_positions - 1)))
        return torch.cat(parts, dim=-1), stats.representative

    def bonus(self, items: Tensor, mask: Tensor) -> Tensor:
        r"""The bonus :math:`\beta` at each representative position, 0 elsewhere: ``(B, L)``."""
        phi, representative = self.features(items, mask)
        return self.mlp(phi).squeeze(-1) * representative.to(phi.dtype)

    def forward(self, logits: Tensor, items: Tensor, mask: Tensor) -> Tensor:
        """Add the bonus to the logits of the prefix's items.

        Args:
            logits: base scores ``(B, N)``.
            items: reversed prefixes ``(B, L)``, 0-padded.
            mask: ``(B, L)`` bool, True at real positions.

        Returns:
            Logits ``(B, N)``.
        """
        check_session_inputs("RepeatBonus", logits, items, mask)
        bonus = self.bonus(items, mask).to(logits.dtype)
        # Padding and non-representative positions add 0 (to column 0, harmlessly).
        return logits.scatter_add(1, (items - 1).clamp(min=0), bonus)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(max_positions={self.max_positions}, "
            f"position_dim={self.position_dim}, hidden={self.hidden}, "
            f"first_position={self.first_position})"
        )
