"""What every baseline network shares: option checks and the float32 evaluation scoring."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from dmi_gnn.nn.scoring import score_items

__all__ = [
    "check_bool",
    "check_choice",
    "check_chunk_size",
    "check_positive_int",
    "check_rate",
    "masked_mean",
    "score_candidates",
    "uniform_",
]


def check_positive_int(owner: str, name: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is an int >= 1 (a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}")


def check_rate(owner: str, name: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is a number in ``[0, 1]``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0.0 <= float(value) <= 1.0
    ):
        raise ValueError(f"{owner}: {name} must be a number in [0, 1], got {value!r}")


def check_bool(owner: str, name: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise ValueError(f"{owner}: {name} must be a bool, got {value!r}")


def check_choice(owner: str, name: str, value: object, choices: tuple[object, ...]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {choices}, got {value!r}")


def check_chunk_size(owner: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is an int >= 1, ``"auto"`` or None."""
    if value in (None, "auto"):
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{owner}: scoring_chunk_size must be an integer >= 1, 'auto' or None, got {value!r}"
        )


def uniform_(parameters, dim: int) -> None:
    """Draw every tensor of ``parameters`` from ``uniform(-1/sqrt(dim), 1/sqrt(dim))``."""
    bound = 1.0 / math.sqrt(dim)
    for parameter in parameters:
        torch.nn.init.uniform_(parameter, -bound, bound)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values (B, L, d)`` over the real positions of ``mask (B, L)``: ``(B, d)``."""
    weights = mask.to(values.dtype).unsqueeze(-1)
    return (values * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def score_candidates(
    interests: Tensor,
    candidates: Tensor,
    chunk_size: int | Literal["auto"] | None = "auto",
) -> Tensor:
    """``(B, U, d)`` interests against ``(N, d)`` candidates: ``(B, N)``, max over ``U``.

    Chunked like :func:`~dmi_gnn.nn.scoring.score_items`. Without autograd (evaluation,
    serving) scoring runs in float32 even under bf16/fp16 autocast, as in
    :meth:`~dmi_gnn.nn.DMIGNNNet.score`: low-precision scores tie often.
    """
    if torch.is_grad_enabled():
        return score_items(interests, candidates, "max", chunk_size)
    with torch.autocast(interests.device.type, enabled=False):
        return score_items(interests.float(), candidates.float(), "max", chunk_size)
