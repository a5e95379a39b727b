"""ComiRec-SA (Cen et al., KDD 2020) on session prefixes."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from dmi_gnn.nn.networks.multi_interest import MultiInterestNetwork, check_positive_int
from dmi_gnn.nn.self_attentive import SelfAttentiveExtractor

__all__ = ["ComiRecSANet"]


class ComiRecSANet(MultiInterestNetwork):
    r"""ComiRec with the self-attentive extractor (ComiRec-SA), as ``Model_ComiRec_SA`` codes it.

    1. Embed the most recent ``max_length`` items of the prefix (position 0 = most recent).
    2. ``K`` attention heads over the positions
       (:class:`~dmi_gnn.nn.self_attentive.SelfAttentiveExtractor`, eqs. 5-6): learned positions
       added to the attention input only, :math:`d \to 4d \to K` with tanh, softmax over the real
       positions, interests :math:`\mathbf{V} = \mathbf{A}^\top \mathbf{H}` over raw embeddings.

    Training modes and scoring: see
    :class:`~dmi_gnn.nn.networks.multi_interest.MultiInterestNetwork`.
    It is DMI-GNN's multiple-positional-patterns readout over raw embeddings, with added (not
    concatenated) positions, a tanh-linear gate and a softmax (baselines.md section 5).

    Args:
        num_items (int): catalogue size :math:`N` (ids ``1..N``).
        embedding_dim (int, optional): :math:`d`. (default: :obj:`64`)
        num_interests (int, optional): :math:`K`. (default: :obj:`4`)
        max_length (int, optional): most recent positions kept (rows of the positional table).
            (default: :obj:`50`)
        hidden_factor (int, optional): attention width in units of :math:`d`. (default: :obj:`4`)
        training, negative_sampler, num_negatives, popularity_exponent, scoring_chunk_size: as
            :class:`~dmi_gnn.nn.networks.mind.MINDNet`.

    Shapes:
        - **encode:** :math:`(B, K, d)`; **forward:** :math:`(B, N)`.
    """

    NAME = "ComiRecSANet"

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 64,
        num_interests: int = 4,
        max_length: int = 50,
        hidden_factor: int = 4,
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
        check_positive_int(self.NAME, "hidden_factor", hidden_factor)
        self.extractor = SelfAttentiveExtractor(
            embedding_dim, num_interests, max_positions=max_length, hidden_factor=hidden_factor
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform embeddings and weights, zero bias (TF defaults, as published)."""
        super().reset_parameters()
        self.extractor.reset_parameters()

    def extract(self, hidden: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        return self.extractor(hidden, mask)[0]
