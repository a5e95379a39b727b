"""A RepeatNet-style repeat/explore mixture over the base model's catalogue scores."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.local_aggregator import NON_EDGE_LOGIT
from dmi_gnn.nn.session_items import (
    SessionItemFeatures,
    check_session_inputs,
    session_item_features,
)

__all__ = ["RepeatMixture"]


class RepeatMixture(nn.Module):
    r"""Repeat or explore: a learned mixture of a distribution over the session's own items and
    the base model's distribution over the catalogue.

    After RepeatNet (Ren et al., "RepeatNet: A Repeat Aware Neural Recommendation Machine for
    Session-based Recommendation", AAAI 2019, eqs. 1-10), on top of any network's scores
    :math:`\hat{y}` (issue 14). With the session vector :math:`\bar{\mathbf{s}}` (the caller's
    ``(B, d)`` vector, or the mean of its ``U`` interests), the position representations
    :math:`\mathbf{h}_t` of the reversed prefix (:math:`t = 0` the most recent click), its
    length :math:`l` and its set of items :math:`S`:

    *Repeat probability* (RepeatNet eq. 5), with two session statistics
    :math:`\boldsymbol{\psi} = [\log(1 + l) \,;\, 1 - |S| / l]` (length and share of repeated
    clicks so far):

    .. math::
        p_r = \sigma\left(\mathbf{w}_g^\top [\bar{\mathbf{s}} \,;\, \boldsymbol{\psi}]
            + b_g\right).

    *Repeat distribution* (RepeatNet eqs. 6-7, plus a learned recency prior :math:`\pi`):

    .. math::
        e_t = \mathbf{v}^\top \tanh(\mathbf{W}_h \mathbf{h}_t + \mathbf{W}_s \bar{\mathbf{s}}
            + \mathbf{b}_s) + \pi_{\min(t, P - 1)}, \qquad
        \alpha_t = \operatorname{softmax}_{t < l}(e_t), \qquad
        P_r(j) = \sum_{t < l,\ x_t = j} \alpha_t .

    *Explore distribution* (RepeatNet eq. 10 with the base model as the explore decoder):
    :math:`P_e = \operatorname{softmax}(\hat{y})` over the catalogue (``explore="all"``) or
    over the items not in :math:`S` only (``explore="unseen"``, as RepeatNet).

    *Output* (RepeatNet eq. 1), in log space:

    .. math::
        \log P(j) = \operatorname{logaddexp}\left(\log p_r + \log P_r(j),\
            \log(1 - p_r) + \log P_e(j)\right),

    with :math:`\log p_r`, :math:`\log(1 - p_r)` as log-sigmoids, :math:`\log P_r(j)` as a
    log-sum-exp over the occurrences of :math:`j`, and :math:`\log P_e` a log-softmax, so no
    probability is ever rounded to 0 before its log. Items outside :math:`S` get
    :math:`\log(1 - p_r) + \log P_e(j)` directly. The output is **log-probabilities**
    (they log-sum-exp to 0 per row), so cross-entropy on it is the negative log-likelihood of
    the mixture, and ranking on it ranks by :math:`P(j)`. With ``explore="unseen"`` and no unseen
    item left (:math:`S` = the whole catalogue) the explore part becomes uniform.

    :math:`\mathbf{w}_g` and :math:`\pi` start at 0 and :math:`b_g = \operatorname{logit}`
    (``repeat_prior``), so every session starts at :math:`p_r =` ``repeat_prior``; the rest is
    drawn from :math:`\mathcal{U}(-1/\sqrt{d}, 1/\sqrt{d})`.

    Args:
        dim (int): size :math:`d` of the session vector and the position representations.
        max_positions (int, optional): entries :math:`P` of the recency prior :math:`\pi`.
            (default: :obj:`32`)
        explore (str, optional): ``"all"`` or ``"unseen"``. (default: :obj:`"all"`)
        repeat_prior (float, optional): initial :math:`p_r`, in :math:`(0, 1)`.
            (default: :obj:`0.5`)

    Shapes:
        - **input:** logits :math:`(B, N)` (column :math:`j - 1` = item :math:`j`), items
          :math:`(B, L)` reversed prefixes (ids :math:`1..N`, 0 = padding), mask :math:`(B, L)`
          bool (every row with a real position), session :math:`(B, d)` or :math:`(B, U, d)`,
          hidden :math:`(B, L, d)` (e.g. the candidate embeddings of ``items``, or the
          network's position states).
        - **output:** log-probabilities :math:`(B, N)`.
    """

    def __init__(
        self,
        dim: int,
        max_positions: int = 32,
        explore: Literal["all", "unseen"] = "all",
        repeat_prior: float = 0.5,
    ) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"RepeatMixture: dim must be >= 1, got {dim}")
        if max_positions < 1:
            raise ValueError(f"RepeatMixture: max_positions must be >= 1, got {max_positions}")
        if explore not in ("all", "unseen"):
            raise ValueError(f"RepeatMixture: explore must be 'all' or 'unseen', got {explore!r}")
        if not 0.0 < repeat_prior < 1.0:
            raise ValueError(f"RepeatMixture: repeat_prior must lie in (0, 1), got {repeat_prior}")
        self.dim = dim
        self.max_positions = max_positions
        self.explore = explore
        self.repeat_prior = repeat_prior
        self.gate = nn.Linear(dim + 2, 1)
        self.hidden_weight = nn.Linear(dim, dim, bias=False)
        self.session_weight = nn.Linear(dim, dim)
        self.attention_vector = nn.Parameter(torch.empty(dim))
        self.position_prior = nn.Parameter(torch.empty(max_positions))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Attention from :math:`\mathcal{U}(-1/\sqrt{d}, 1/\sqrt{d})`; gate and prior as above."""
        bound = 1.0 / math.sqrt(self.dim)
        for parameter in (
            self.hidden_weight.weight,
            self.session_weight.weight,
            self.session_weight.bias,
            self.attention_vector,
        ):
            nn.init.uniform_(parameter, -bound, bound)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, math.log(self.repeat_prior / (1 - self.repeat_prior)))
        nn.init.zeros_(self.position_prior)

    def _session_vector(self, session: Tensor, batch: int) -> Tensor:
        if session.dim() == 3:
            session = session.mean(1)
        if session.dim() != 2 or session.shape != (batch, self.dim):
            raise ValueError(
                f"RepeatMixture: session must be (B, d) or (B, U, d) with B = {batch}, "
                f"d = {self.dim}, got {tuple(session.shape)}"
            )
        return session

    def gate_logit(
        self, session: Tensor, items: Tensor, mask: Tensor, stats: SessionItemFeatures | None = None
    ) -> Tensor:
        r"""The logit of :math:`p_r`, shape ``(B,)``; ``session`` is ``(B, d)`` or ``(B, U, d)``."""
        session = self._session_vector(session, items.shape[0])
        if stats is None:
            stats = session_item_features(items, mask)
        length = mask.to(session.dtype).sum(1)
        unique = stats.representative.to(session.dtype).sum(1)
        psi = torch.stack([torch.log1p(length), 1.0 - unique / length.clamp(min=1.0)], dim=1)
        return self.gate(torch.cat([session, psi], dim=1)).squeeze(1)

    def repeat_attention(self, hidden: Tensor, session: Tensor, mask: Tensor) -> Tensor:
        r""":math:`\log \alpha_t` over the positions, shape ``(B, L)``; padding gets a huge
        negative (finite) value."""
        batch, length = mask.shape
        session = self._session_vector(session, batch)
        if hidden.shape != (batch, length, self.dim):
            raise ValueError(
                f"RepeatMixture: hidden must be (B, L, d) = {(batch, length, self.dim)}, "
                f"got {tuple(hidden.shape)}"
            )
        mixed = torch.tanh(self.hidden_weight(hidden) + self.session_weight(session).unsqueeze(1))
        positions = torch.arange(length, device=hidden.device).clamp_(max=self.max_positions - 1)
        energy = mixed @ self.attention_vector + self.position_prior[positions]
        fill = max(NON_EDGE_LOGIT, torch.finfo(energy.dtype).min)
        return torch.log_softmax(energy.masked_fill(~mask.to(torch.bool), fill), dim=1)

    def forward(
        self, logits: Tensor, items: Tensor, mask: Tensor, session: Tensor, hidden: Tensor
    ) -> Tensor:
        """Mix the repeat and explore distributions.

        Args:
            logits: base scores ``(B, N)``.
            items: reversed prefixes ``(B, L)``, 0-padded.
            mask: ``(B, L)`` bool, True at real positions.
            session: ``(B, d)`` session vector or ``(B, U, d)`` interests.
            hidden: ``(B, L, d)`` position representations.

        Returns:
            Log-probabilities ``(B, N)``.
        """
        check_session_inputs("RepeatMixture", logits, items, mask)
        real = mask.to(torch.bool)
        if not bool(real.any(1).all()):
            raise ValueError("RepeatMixture: every prefix needs at least one real position")
        fill = max(NON_EDGE_LOGIT, torch.finfo(logits.dtype).min)
        stats = session_item_features(items, mask)
        # One (row, column) per unique item of each prefix (its most recent click): no
        # duplicate index, so the writes below are deterministic.
        rows, positions = stats.representative.nonzero(as_tuple=True)
        columns = items[rows, positions] - 1
        if self.explore == "unseen":
            logits = logits.index_put((rows, columns), logits.new_tensor(fill))
        gate = self.gate_logit(session, items, mask, stats).to(logits.dtype)
        # log(1 - p_r) + log P_e: the answer for every item outside the prefix.
        base = torch.log_softmax(logits, dim=1) + F.logsigmoid(-gate).unsqueeze(1)
        log_alpha = self.repeat_attention(hidden, session, mask).to(logits.dtype)
        # log P_r(x_t): log-sum-exp of log alpha over the occurrences of position t's item.
        log_repeat = torch.where(stats.same, log_alpha.unsqueeze(1), fill).logsumexp(-1)
        repeat = F.logsigmoid(gate)[rows] + log_repeat[rows, positions]
        mixed = torch.logaddexp(repeat, base[rows, columns])
        return base.index_put((rows, columns), mixed)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.dim}, max_positions={self.max_positions}, "
            f"explore={self.explore!r}, repeat_prior={self.repeat_prior})"
        )
