"""MIND (Li et al., CIKM 2019) on session prefixes."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.capsule_routing import CapsuleRouting, dynamic_interest_count
from dmi_gnn.nn.networks.multi_interest import MultiInterestNetwork, check_positive_int

__all__ = ["MINDNet"]


class MINDNet(MultiInterestNetwork):
    r"""Multi-Interest Network with Dynamic routing (MIND), as ComiRec's ``Model_MIND`` codes it.

    1. Embed the most recent ``max_length`` items of the prefix (position 0 = most recent).
    2. Behaviour-to-interest routing (:class:`~dmi_gnn.nn.capsule_routing.CapsuleRouting`,
       eqs. 3-7): **one** bilinear map :math:`\mathbf{S}` shared by all positions and interests,
       ``routing_iterations`` rounds, initial logits :math:`\mathrm{TruncN}(0,1)` drawn per batch
       in training (a fixed draw in evaluation, see the layer).
    3. Optional :math:`\mathrm{ReLU}(\mathbf{W}\mathbf{u}_k + \mathbf{b})` projection
       (``relu_projection``; ComiRec enables it on Book only).
    4. ``dynamic_interests``: the paper's :math:`K'_s = \max(1, \min(K, \lfloor\log_2|s|\rfloor))`
       interests for a prefix of :math:`|s|` positions (after the ``max_length`` cut, repeats
       counted); the remaining slots repeat interest 0, so the max over interests is over
       :math:`K'_s` of them. ComiRec's MIND uses a fixed ``K``.

    ``routing_init="zeros"`` with the shared map is degenerate (every interest is the same
    vector: nothing breaks the symmetry); it is offered for ComiRec-DR's layer, not for MIND.

    Training modes and scoring: see
    :class:`~dmi_gnn.nn.networks.multi_interest.MultiInterestNetwork`.
    The user-profile features and the deep layers of the paper's full model have no counterpart
    on anonymous sessions and are absent.

    Args:
        num_items (int): catalogue size :math:`N` (ids ``1..N``).
        embedding_dim (int, optional): :math:`d`. (default: :obj:`64`)
        num_interests (int, optional): :math:`K`. (default: :obj:`4`)
        max_length (int, optional): most recent positions kept. (default: :obj:`50`)
        routing_iterations (int, optional): (default: :obj:`3`)
        routing_init (str, optional): ``"normal"``, ``"fixed"`` or ``"zeros"``, see
            :class:`~dmi_gnn.nn.capsule_routing.CapsuleRouting`. (default: :obj:`"normal"`)
        dynamic_interests (bool, optional): (default: :obj:`False`)
        relu_projection (bool, optional): (default: :obj:`False`)
        training (str, optional): ``"reference"`` or ``"aligned"``. (default: :obj:`"reference"`)
        negative_sampler (str, optional): ``"uniform"`` or ``"popularity"``.
            (default: :obj:`"uniform"`)
        num_negatives (int, optional): shared negatives per batch; ``None`` = 10 per example.
            (default: :obj:`None`)
        popularity_exponent (float, optional): :math:`\alpha`. (default: :obj:`1.0`)
        scoring_chunk_size (int or str, optional): see :class:`~dmi_gnn.nn.scoring.InterestScorer`.
            (default: :obj:`"auto"`)

    Shapes:
        - **encode:** :math:`(B, K, d)`; **forward:** :math:`(B, N)`.
    """

    NAME = "MINDNet"

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 64,
        num_interests: int = 4,
        max_length: int = 50,
        routing_iterations: int = 3,
        routing_init: Literal["normal", "fixed", "zeros"] = "normal",
        dynamic_interests: bool = False,
        relu_projection: bool = False,
        training: Literal["reference", "aligned"] = "reference",
        negative_sampler: Literal["uniform", "popularity"] = "uniform",
        num_negatives: int | None = None,
        popularity_exponent: float = 1.0,
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
    ) -> None:
        super().__init__(
            num_items=num_items,
            embedding_dim=embedding_dim,
            num_interests=num_interests,
            max_length=max_length,
            training=training,
            negative_sampler=negative_sampler,
            num_negatives=num_negatives,
            popularity_exponent=popularity_exponent,
            scoring_chunk_size=scoring_chunk_size,
        )
        check_positive_int(self.NAME, "routing_iterations", routing_iterations)
        if routing_init not in ("normal", "fixed", "zeros"):
            raise ValueError(
                f"{self.NAME}: routing_init must be 'normal', 'fixed' or 'zeros', "
                f"got {routing_init!r}"
            )
        self.dynamic_interests = bool(dynamic_interests)
        self.routing = CapsuleRouting(
            embedding_dim,
            num_interests,
            max_positions=max_length,
            bilinear="shared",
            iterations=routing_iterations,
            logit_init=routing_init,
        )
        self.projection = nn.Linear(embedding_dim, embedding_dim) if relu_projection else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform embeddings and maps, zero biases (TF defaults, as published)."""
        super().reset_parameters()
        self.routing.reset_parameters()
        if self.projection is not None:
            nn.init.xavier_uniform_(self.projection.weight)
            nn.init.zeros_(self.projection.bias)

    def extract(self, hidden: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        interest_mask = None
        if self.dynamic_interests:
            counts = dynamic_interest_count(lengths, self.num_interests)
            slots = torch.arange(self.num_interests, device=counts.device)
            interest_mask = slots < counts.unsqueeze(-1)
        interests, _ = self.routing(hidden, mask, interest_mask)
        if self.projection is not None:
            interests = F.relu(self.projection(interests))
        return interests

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dynamic_interests={self.dynamic_interests}"
