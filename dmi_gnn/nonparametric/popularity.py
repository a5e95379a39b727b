"""Item supports from the training sessions and the popularity term Pop and S-POP share."""

from __future__ import annotations

import numpy as np
import torch

from dmi_gnn.nonparametric.options import check_choice, check_int
from dmi_gnn.nonparametric.sessions import flat_sessions

__all__ = ["SUPPORTS", "popularity_term", "support_state"]

#: ``"clicks"``: every click counts (session-rec's default); ``"sessions"``: the number of
#: sessions holding the item (session-rec's ``support_by_key`` = the session key).
SUPPORTS = ("clicks", "sessions")


def support_state(sessions, num_items: int, owner: str) -> dict[str, torch.Tensor]:
    """Both supports of every item, shape ``(N,)`` int64 each, plus ``num_items``."""
    flat, offsets = flat_sessions(sessions, num_items, owner)
    session_of_click = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    distinct = np.unique(session_of_click * (num_items + 1) + flat) % (num_items + 1)
    return {
        "num_items": torch.tensor(num_items, dtype=torch.int64),
        "clicks": torch.from_numpy(np.bincount(flat - 1, minlength=num_items)),
        "sessions": torch.from_numpy(np.bincount(distinct - 1, minlength=num_items)),
    }


def popularity_term(support: torch.Tensor, top_n: int) -> torch.Tensor:
    r"""session-rec's popularity score :math:`r_i = \mathrm{supp}_i / (1 + \mathrm{supp}_i)`,
    kept for the ``top_n`` most supported items and 0 elsewhere (``top_n = 0`` keeps all).

    Ties at the ``top_n`` boundary go to the smaller item id (a stable sort).

    Shapes:
        support: ``(N,)`` int64; result ``(N,)`` float32, column ``j`` = item ``j + 1``.
    """
    support = support.to(torch.float64)
    term = support / (support + 1)
    if 0 < top_n < len(term):
        order = torch.sort(-support, stable=True).indices
        keep = torch.zeros(len(term), dtype=torch.bool)
        keep[order[:top_n]] = True
        term = torch.where(keep, term, torch.zeros_like(term))
    return term.to(torch.float32)


def check_popularity_options(owner: str, top_n, support) -> tuple[int, str]:
    """Validated ``(top_n, support)``."""
    return check_int(owner, "top_n", top_n, 0), check_choice(owner, "support", support, SUPPORTS)
