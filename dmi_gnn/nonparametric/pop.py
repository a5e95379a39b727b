"""Pop: every prefix gets the training popularity ranking (the non-neural floor's floor)."""

from __future__ import annotations

from typing import Any

import torch

from dmi_gnn.nonparametric.options import check_int
from dmi_gnn.nonparametric.popularity import (
    check_popularity_options,
    popularity_term,
    support_state,
)
from dmi_gnn.nonparametric.prefixes import prefix_arrays

__all__ = ["Pop"]


class Pop:
    r"""Popularity (Ludewig & Jannach, UMUAI 2018; baselines.md 4.10).

    :math:`\mathrm{score}(i) = \mathrm{supp}_i / (1 + \mathrm{supp}_i)` for the ``top_n`` most
    supported items, 0 for the others; the same for every prefix.

    Args:
        num_items: catalogue size ``N`` (ids ``1..N``).
        top_n: items with a non-zero score (0 = all). session-rec's default is 100.
        support: ``"clicks"`` or ``"sessions"``.

    Shapes:
        scores: items, mask ``(B, L)`` -> ``(B, N)`` float32, column ``j`` = item ``j + 1``.
    """

    name = "Pop"

    def __init__(self, num_items: int, top_n: int = 100, support: str = "clicks") -> None:
        self.num_items = check_int(self.name, "num_items", num_items, 1)
        self.top_n, self.support = check_popularity_options(self.name, top_n, support)
        self._state: dict[str, torch.Tensor] | None = None

    def options(self) -> dict[str, Any]:
        return {"top_n": self.top_n, "support": self.support}

    def fit(self, sessions) -> Pop:
        """Count the supports in the training sessions (ids ``1..N``). Returns ``self``."""
        return self._load(support_state(sessions, self.num_items, self.name))

    def _load(self, state: dict[str, torch.Tensor]) -> Pop:
        self._state = state
        self.term = popularity_term(state[self.support], self.top_n)  # (N,)
        return self

    def state(self) -> dict[str, torch.Tensor]:
        """Both item supports (``clicks``, ``sessions``) and ``num_items``."""
        if self._state is None:
            raise RuntimeError(f"{self.name}: call fit(sessions) before state()")
        return dict(self._state)

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], options: dict[str, Any] | None = None):
        """Rebuild a fitted index from :meth:`state` and the constructor's ``options``."""
        missing = {"num_items", "clicks", "sessions"} - set(state)
        if missing:
            raise KeyError(f"{cls.name}.from_state: state lacks {', '.join(sorted(missing))}")
        return cls(int(state["num_items"]), **(options or {}))._load(state)

    def scores(self, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The popularity term for every prefix, ``(B, N)`` float32."""
        if self._state is None:
            raise RuntimeError(f"{self.name}: call fit(sessions) before scoring")
        prefix_arrays(items, mask, self.num_items, self.name)
        return self.term.expand(items.shape[0], -1).clone()
