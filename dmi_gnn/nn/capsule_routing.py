"""Behaviour-to-interest dynamic routing with squash: the capsule layer of MIND and ComiRec-DR."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["CapsuleRouting", "dynamic_interest_count", "squash"]

#: Logit of an inactive interest in the softmax over interests (exactly 0 weight in float32).
_INACTIVE_LOGIT = -1e30


def squash(vectors: Tensor, dim: int = -1, eps: float = 1e-9) -> Tensor:
    r"""The capsule non-linearity (MIND eq. 5, Sabour et al. 2017):

    .. math::
        \mathrm{squash}(\mathbf{z}) = \frac{\|\mathbf{z}\|^2}{1 + \|\mathbf{z}\|^2}
            \frac{\mathbf{z}}{\sqrt{\|\mathbf{z}\|^2 + \epsilon}}

    It keeps the direction and maps the norm into :math:`[0, 1)`; ``eps`` keeps the zero vector
    (an interest with no routed position) at zero with a finite gradient.
    """
    square = vectors.square().sum(dim, keepdim=True)
    return vectors * (square / (1.0 + square) / torch.sqrt(square + eps))


def dynamic_interest_count(lengths: Tensor, num_interests: int) -> Tensor:
    r"""MIND's adaptive number of interests,
    :math:`K'_s = \max(1, \min(K, \lfloor\log_2 |s|\rfloor))`.

    Computed exactly in integers (:math:`\lfloor\log_2 n\rfloor` counts the powers
    :math:`2^p \leq n`). A one-item prefix gets one interest, 4-7 items two, 8-15 three.

    Args:
        lengths: ``(B,)`` prefix lengths :math:`|s| \geq 1`.
        num_interests: the cap :math:`K \geq 1`.

    Returns:
        ``(B,)`` int64 interest counts in ``1..K``.
    """
    powers = 2 ** torch.arange(1, num_interests + 1, device=lengths.device)
    return (lengths.unsqueeze(-1) >= powers).sum(-1).clamp_(min=1)


class CapsuleRouting(nn.Module):
    r"""Dynamic routing from behaviour capsules to interest capsules (MIND, CIKM 2019, eqs. 3-7;
    ComiRec-DR, KDD 2020, section 3.2).

    Each real position :math:`j` of a session, with embedding :math:`\mathbf{e}_j`, is first mapped
    to one prediction vector per interest :math:`k` by a bilinear map:

    .. math::
        \hat{\mathbf{u}}_{k|j} = \mathbf{S}\,\mathbf{e}_j \quad (\texttt{"shared"}, \text{MIND}),
        \qquad
        \hat{\mathbf{u}}_{k|j} = \mathbf{W}_{j,k}\,\mathbf{e}_j \quad
            (\texttt{"per_position"}, \text{ComiRec-DR}),

    then ``iterations`` rounds of routing update the logits :math:`b_{kj}`:

    .. math::
        w_{kj} = \frac{\exp b_{kj}}{\sum_{k'} \exp b_{k'j}} \;(0 \text{ at padding}), \qquad
        \mathbf{u}_k = \mathrm{squash}\Big(\sum_j w_{kj}\,\hat{\mathbf{u}}_{k|j}\Big), \qquad
        b_{kj} \leftarrow b_{kj} + \hat{\mathbf{u}}_{k|j}^\top \mathbf{u}_k .

    With ``stop_gradient`` (the published code) every round but the last reads a detached
    :math:`\hat{\mathbf{u}}`, so the routing weights are constants for back-propagation and only
    the last round's :math:`\sum_j w_{kj}\hat{\mathbf{u}}_{k|j}` carries gradients.

    Initial logits (``logit_init``):

    - ``"normal"`` (MIND): in training, fresh :math:`\mathrm{TruncN}(0, 1)` (cut at 2) for every
      batch, as published. A shared map gives every interest the same
      :math:`\hat{\mathbf{u}}`, so this draw is all that separates the interests. In evaluation
      mode the layer reads the fixed draw ``fixed_logits`` instead (a persistent buffer, drawn at
      :meth:`reset_parameters`), so that predictions are deterministic and do not depend on the
      batch; the published code draws afresh at test time too.
    - ``"fixed"``: the buffer ``fixed_logits`` in training and evaluation alike (initialised
      once, as some ports do).
    - ``"zeros"`` (ComiRec-DR): all zero; per-position maps separate the interests.

    ``interest_mask`` switches interests off per session (MIND's dynamic count, see
    :func:`dynamic_interest_count`): an inactive interest takes no part in the softmax over
    interests and is returned as a **copy of interest 0** (always active), so that a max over
    interests, or a label-aware argmax, is the same as over the active ones alone.

    Positions are those of the batch: position 0 is the most recent click (reversed prefixes);
    the per-position maps and ``fixed_logits`` cover ``max_positions`` positions, and a longer
    input is an error (truncate the prefix to its most recent ``max_positions`` items first).

    Args:
        dim (int): embedding size :math:`d`.
        num_interests (int): number of interest capsules :math:`K`.
        max_positions (int, optional): positions covered by the per-position maps and the fixed
            logits. (default: :obj:`50`)
        bilinear (str, optional): ``"shared"`` (one :math:`d \times d` map, MIND) or
            ``"per_position"`` (one map per position and interest, ComiRec-DR).
            (default: :obj:`"shared"`)
        iterations (int, optional): routing rounds. (default: :obj:`3`)
        logit_init (str, optional): ``"normal"``, ``"fixed"`` or ``"zeros"``.
            (default: :obj:`"normal"`)
        stop_gradient (bool, optional): detach :math:`\hat{\mathbf{u}}` in all rounds but the
            last. (default: :obj:`True`)

    Shapes:
        - **input:** hidden :math:`(B, L, d)` with :math:`L \leq` ``max_positions``, mask
          :math:`(B, L)` bool (True = real position), interest_mask :math:`(B, K)` bool or
          ``None`` (all active).
        - **output:** interests :math:`(B, K, d)`, routing weights :math:`(B, L, K)` of the last
          round (0 at padding and at inactive interests).

    Parameters: ``weight`` :math:`(d, d)` applied as :math:`\mathbf{S}\mathbf{e}` (``"shared"``,
    Glorot-uniform as TF's dense layer) or :math:`(P, K, d, d)` with
    ``weight[j, k]`` :math:`= \mathbf{W}_{j,k}` (``"per_position"``, :math:`\mathcal{N}(0, 1)` as
    published); buffer ``fixed_logits`` :math:`(P, K)`.
    """

    def __init__(
        self,
        dim: int,
        num_interests: int,
        max_positions: int = 50,
        bilinear: Literal["shared", "per_position"] = "shared",
        iterations: int = 3,
        logit_init: Literal["normal", "fixed", "zeros"] = "normal",
        stop_gradient: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (
            ("dim", dim),
            ("num_interests", num_interests),
            ("max_positions", max_positions),
            ("iterations", iterations),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CapsuleRouting: {name} must be an integer >= 1, got {value!r}")
        if bilinear not in ("shared", "per_position"):
            raise ValueError(
                f"CapsuleRouting: bilinear must be 'shared' or 'per_position', got {bilinear!r}"
            )
        if logit_init not in ("normal", "fixed", "zeros"):
            raise ValueError(
                f"CapsuleRouting: logit_init must be 'normal', 'fixed' or 'zeros', "
                f"got {logit_init!r}"
            )
        self.dim = dim
        self.num_interests = num_interests
        self.max_positions = max_positions
        self.bilinear = bilinear
        self.iterations = iterations
        self.logit_init = logit_init
        self.stop_gradient = bool(stop_gradient)
        if bilinear == "shared":
            self.weight = nn.Parameter(torch.empty(dim, dim))
        else:
            self.weight = nn.Parameter(torch.empty(max_positions, num_interests, dim, dim))
        self.register_buffer("fixed_logits", torch.zeros(max_positions, num_interests))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform ``S`` or N(0, 1) ``W`` (as published); redraw ``fixed_logits``."""
        if self.bilinear == "shared":
            nn.init.xavier_uniform_(self.weight)
        else:
            nn.init.normal_(self.weight, 0.0, 1.0)
        with torch.no_grad():
            nn.init.trunc_normal_(self.fixed_logits, 0.0, 1.0, -2.0, 2.0)

    def predictions(self, hidden: Tensor) -> Tensor:
        r"""The prediction vectors :math:`\hat{\mathbf{u}}_{k|j}`, shape ``(B, K, L, d)``."""
        batch, length, dim = hidden.shape
        if self.bilinear == "shared":
            mapped = torch.matmul(hidden, self.weight.t())  # S e_j, shared by every interest
            return mapped.unsqueeze(1).expand(batch, self.num_interests, length, dim)
        return torch.einsum("lkoi,bli->bklo", self.weight[:length], hidden)

    def initial_logits(self, batch: int, length: int, like: Tensor) -> Tensor:
        """The starting logits :math:`b_{kj}`, shape ``(B, K, L)`` (see the class docstring)."""
        shape = (batch, self.num_interests, length)
        if self.logit_init == "zeros":
            return like.new_zeros(shape)
        if self.logit_init == "normal" and self.training:
            return nn.init.trunc_normal_(like.new_empty(shape), 0.0, 1.0, -2.0, 2.0)
        fixed = self.fixed_logits[:length].t().to(like.dtype)
        return fixed.unsqueeze(0).expand(shape).clone()

    def forward(
        self, hidden: Tensor, mask: Tensor, interest_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Route the positions of each session to ``K`` interest capsules.

        Args:
            hidden: position embeddings ``(B, L, d)``.
            mask: ``(B, L)`` bool, True at real positions.
            interest_mask: ``(B, K)`` bool, True at active interests (interest 0 must be
                active), or None for all.

        Returns:
            ``(interests (B, K, d), weights (B, L, K))``.
        """
        batch, length, dim = hidden.shape
        if length > self.max_positions:
            raise ValueError(
                f"CapsuleRouting: {length} positions exceed max_positions={self.max_positions}; "
                "truncate the prefixes to their most recent max_positions items"
            )
        if dim != self.dim:
            raise ValueError(f"CapsuleRouting: hidden has size {dim}, expected {self.dim}")
        predictions = self.predictions(hidden)
        detached = predictions.detach() if self.stop_gradient else predictions
        logits = self.initial_logits(batch, length, hidden)
        real = mask.to(torch.bool).unsqueeze(1).to(hidden.dtype)  # (B, 1, L)
        inactive = None
        if interest_mask is not None:
            if interest_mask.shape != (batch, self.num_interests):
                raise ValueError(
                    f"CapsuleRouting: interest_mask must have shape {(batch, self.num_interests)}"
                    f", got {tuple(interest_mask.shape)}"
                )
            if not bool(interest_mask[:, 0].all()):
                raise ValueError("CapsuleRouting: interest 0 must be active in every session")
            inactive = ~interest_mask.to(torch.bool).unsqueeze(-1)  # (B, K, 1)
        for step in range(self.iterations):
            last = step == self.iterations - 1
            if inactive is not None:
                logits = logits.masked_fill(inactive, _INACTIVE_LOGIT)
            weights = torch.softmax(logits, dim=1) * real  # over interests, 0 at padding
            source = predictions if last else detached
            interests = squash(torch.einsum("bkl,bkld->bkd", weights, source))
            if not last:
                logits = logits + torch.einsum("bkld,bkd->bkl", source, interests)
        if inactive is not None:
            interests = torch.where(inactive, interests[:, :1], interests)
        return interests, weights.transpose(1, 2)

    def extra_repr(self) -> str:
        return (
            f"{self.dim}, num_interests={self.num_interests}, max_positions={self.max_positions}, "
            f"bilinear={self.bilinear!r}, iterations={self.iterations}, "
            f"logit_init={self.logit_init!r}, stop_gradient={self.stop_gradient}"
        )
