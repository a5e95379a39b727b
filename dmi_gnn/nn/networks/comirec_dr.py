"""ComiRec-DR (Cen et al., KDD 2020) on session prefixes."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from dmi_gnn.nn.capsule_routing import CapsuleRouting
from dmi_gnn.nn.networks.multi_interest import MultiInterestNetwork, check_positive_int

__all__ = ["ComiRecDRNet"]


class ComiRecDRNet(MultiInterestNetwork):
    r"""ComiRec with dynamic routing (ComiRec-DR), as ``Model_ComiRec_DR`` codes it.

    1. Embed the most recent ``max_length`` items of the prefix (position 0 = most recent; the
       published window counts from its oldest item).
    2. Capsule routing (:class:`~dmi_gnn.nn.capsule_routing.CapsuleRouting`) with one
       :math:`d \times d` map :math:`\mathbf{W}_{j,k}` **per position and interest**
       (:math:`\mathcal{N}(0, 1)` initialisation), routing logits starting at 0,
       ``routing_iterations`` rounds, no projection. The per-position maps are why the length
       must be fixed: ``max_length`` positions have maps, older items are dropped.

    Training modes and scoring: see
    :class:`~dmi_gnn.nn.networks.multi_interest.MultiInterestNetwork`.
    The published README trains DR with learning rate 5e-3 (SA and MIND: 1e-3).

    Args:
        num_items (int): catalogue size :math:`N` (ids ``1..N``).
        embedding_dim (int, optional): :math:`d`. (default: :obj:`64`)
        num_interests (int, optional): :math:`K`. (default: :obj:`4`)
        max_length (int, optional): most recent positions kept (one map each).
            (default: :obj:`50`)
        routing_iterations (int, optional): (default: :obj:`3`)
        training, negative_sampler, num_negatives, popularity_exponent, scoring_chunk_size: as
            :class:`~dmi_gnn.nn.networks.mind.MINDNet`.

    Shapes:
        - **encode:** :math:`(B, K, d)`; **forward:** :math:`(B, N)`.
    """

    NAME = "ComiRecDRNet"

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 64,
        num_interests: int = 4,
        max_length: int = 50,
        routing_iterations: int = 3,
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
        self.routing = CapsuleRouting(
            embedding_dim,
            num_interests,
            max_positions=max_length,
            bilinear="per_position",
            iterations=routing_iterations,
            logit_init="zeros",
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform embeddings, N(0, 1) per-position maps (as published)."""
        super().reset_parameters()
        self.routing.reset_parameters()

    def extract(self, hidden: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        return self.routing(hidden, mask)[0]
