"""FPMC (Rendle et al., WWW 2010) adapted to anonymous sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dmi_gnn.nn.networks.common import (
    check_choice,
    check_chunk_size,
    check_positive_int,
    masked_mean,
    score_candidates,
)

if TYPE_CHECKING:
    from datamodules.batch import SessionBatch

__all__ = ["FPMCNet"]

_OWNER = "FPMCNet"


class FPMCNet(nn.Module):
    r"""FPMC ("Factorizing Personalized Markov Chains for Next-Basket Recommendation", Rendle,
    Freudenthaler & Schmidt-Thieme, WWW 2010), session adaptation, as a plain
    :class:`torch.nn.Module`.

    FPMC scores item :math:`i` for user :math:`u` after basket :math:`l` by an MF term plus a
    factorised Markov-chain term (eq. 4 with baskets of one item):
    :math:`x(u, l, i) = \langle \mathbf{v}^{UI}_u, \mathbf{v}^{IU}_i \rangle +
    \langle \mathbf{v}^{IL}_i, \mathbf{v}^{LI}_l \rangle`. Test sessions are unseen users, so
    a user factor would be an untrained vector (the likely cause of the 2.59 HR@20 of DMI-GNN's
    Table 2); as in session-rec's adapter, the **mean of the session's item factors** replaces
    it:

    .. math::
        \hat{y}_j = \Big\langle \frac{1}{l} \sum_{t=1}^{l} \mathbf{v}^{IU}_{v_t},
            \mathbf{v}^{IU}_j \Big\rangle + \langle \mathbf{v}^{LI}_{v_l}, \mathbf{v}^{IL}_j
            \rangle,

    (the mean over the prefix positions, repeats included; :math:`v_l` the most recent click).
    Both terms are one dot product: :meth:`encode` returns
    :math:`[\bar{\mathbf{v}}^{IU} ; \mathbf{v}^{LI}_{v_l}]` and
    :meth:`candidate_embeddings` :math:`[\mathbf{v}^{IU}_j ; \mathbf{v}^{IL}_j]`, so the
    representation size is ``2 * embedding_dim`` (``representation_dim``).

    Loss: ``"ce"`` (default), full softmax cross-entropy over the catalogue like the other
    networks; ``"bpr"``, the paper's S-BPR :math:`-\ln \sigma(\hat{y}_{target} - \hat{y}_{neg})`
    with one negative per prefix drawn uniformly from the other ``N - 1`` items, in
    :meth:`training_loss` (regularisation comes from the optimiser's weight decay). No
    exclusion of already-clicked items (repeats are frequent on Tmall and LastFM).

    Published defaults: session-rec ``k_cf = k_mc = 100`` (one ``embedding_dim`` for both);
    factors drawn from :math:`\mathcal{N}(0, 0.01^2)` (the paper draws them from a zero-mean
    normal).

    Args:
        num_items (int): ``N``, items are ``1..N`` and 0 is padding.
        embedding_dim (int): factor size of each of the three tables.
        loss (str): ``"ce"`` or ``"bpr"``.
        init_std (float): standard deviation of the initial factors.
        scoring_chunk_size (int, str or None): candidate items per scoring block.

    Shapes:
        - **input:** a :class:`~datamodules.batch.SessionBatch` (``items``, ``mask``).
        - **output:** :meth:`encode` :math:`(B, 1, 2k)`; :meth:`forward` :math:`(B, N)`.

    Parameters: ``item_factors`` (:math:`\mathbf{V}^{IU}`), ``next_factors``
    (:math:`\mathbf{V}^{IL}`), ``last_factors`` (:math:`\mathbf{V}^{LI}`), each an
    :class:`~torch.nn.Embedding` of ``N + 1`` rows (row 0 is padding, never read by a score).
    """

    FEATURES: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        num_items: int,
        embedding_dim: int = 100,
        loss: Literal["ce", "bpr"] = "ce",
        init_std: float = 0.01,
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
    ) -> None:
        super().__init__()
        check_positive_int(_OWNER, "num_items", num_items)
        check_positive_int(_OWNER, "embedding_dim", embedding_dim)
        check_choice(_OWNER, "loss", loss, ("ce", "bpr"))
        if loss == "bpr" and num_items < 2:
            raise ValueError(f"{_OWNER}: loss='bpr' needs num_items >= 2, got {num_items}")
        if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) or init_std <= 0:
            raise ValueError(f"{_OWNER}: init_std must be a number > 0, got {init_std!r}")
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.representation_dim = 2 * embedding_dim
        self.loss = loss
        self.init_std = float(init_std)
        check_chunk_size(_OWNER, scoring_chunk_size)
        self.scoring_chunk_size = scoring_chunk_size
        self.item_factors = nn.Embedding(num_items + 1, embedding_dim)
        self.next_factors = nn.Embedding(num_items + 1, embedding_dim)
        self.last_factors = nn.Embedding(num_items + 1, embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every factor from ``normal(0, init_std^2)``."""
        for table in (self.item_factors, self.next_factors, self.last_factors):
            nn.init.normal_(table.weight, 0.0, self.init_std)

    def encode(self, batch: SessionBatch) -> Tensor:
        """:math:`[\\bar{\\mathbf{v}}^{IU} ; \\mathbf{v}^{LI}_{last}]`, shape ``(B, 1, 2k)``."""
        session = masked_mean(self.item_factors(batch.items), batch.mask)
        last = self.last_factors(batch.items[:, 0])
        return torch.cat([session, last], dim=-1).unsqueeze(1)

    def candidate_embeddings(self) -> Tensor:
        """:math:`[\\mathbf{v}^{IU}_j ; \\mathbf{v}^{IL}_j]` of items ``1..N``, ``(N, 2k)``."""
        return torch.cat([self.item_factors.weight[1:], self.next_factors.weight[1:]], dim=-1)

    def score(self, interests: Tensor) -> Tensor:
        """``(B, 1, 2k)`` -> ``(B, N)`` scores over items ``1..N``."""
        return score_candidates(interests, self.candidate_embeddings(), self.scoring_chunk_size)

    def forward(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)`` of every item for every prefix."""
        return self.score(self.encode(batch))

    def item_scores(self, representation: Tensor, items: Tensor) -> Tensor:
        """Scores of chosen items: representation ``(B, 2k)``, items ``(B,)`` in ``1..N``."""
        candidates = torch.cat([self.item_factors(items), self.next_factors(items)], dim=-1)
        return (representation * candidates).sum(-1)

    def training_loss(self, batch: SessionBatch) -> Tensor:
        """The training objective (scalar): full CE (``loss="ce"``) or S-BPR (``"bpr"``).

        With ``"ce"`` this is ``cross_entropy(forward(batch), targets - 1)``, what the model
        wrapper computes for a network without ``training_loss``.

        Raises:
            ValueError: when a target is not an item ``1..N``.
        """
        targets = batch.targets
        if targets.numel() and (int(targets.min()) < 1 or int(targets.max()) > self.num_items):
            raise ValueError(
                f"FPMCNet.training_loss: targets must be items 1..{self.num_items}, got "
                f"{int(targets.min())}..{int(targets.max())}"
            )
        if self.loss == "ce":
            return F.cross_entropy(self.forward(batch), targets - 1)
        representation = self.encode(batch).squeeze(1)
        # Uniform over the N - 1 items other than the target: draw 1..N-1, skip the target.
        negatives = torch.randint(
            1, self.num_items, targets.shape, device=targets.device, dtype=targets.dtype
        )
        negatives = negatives + (negatives >= targets).to(negatives.dtype)
        margin = self.item_scores(representation, targets) - self.item_scores(
            representation, negatives
        )
        return -F.logsigmoid(margin).mean()

    def extra_repr(self) -> str:
        return (
            f"num_items={self.num_items}, embedding_dim={self.embedding_dim}, "
            f"loss={self.loss!r}, init_std={self.init_std}"
        )
