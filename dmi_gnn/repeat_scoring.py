"""The repeat-aware scoring option of the neural models: ``repeat: none | bonus | mixture``.

Beyond the paper (issue 14 §1). :class:`~dmi_gnn.neural_recommender.NeuralRecommender` builds
the layer here, from the model's hyper-parameters (its constructor arguments), and puts it
after the network: the model's scores become the layer's output.

* ``none``: no layer; every computation and state-dict key is the model's without the option.
* ``bonus``: :class:`~dmi_gnn.nn.RepeatBonus`, **logits** ``(B, N)`` = network scores plus a
  learned bonus of the prefix's items; it starts as the identity.
* ``mixture``: :class:`~dmi_gnn.nn.RepeatMixture` (RepeatNet eq. 1), **log-probabilities**
  ``(B, N)``; cross-entropy on them is the mixture's negative log-likelihood. It reads the
  network's interests ``(B, U, d)`` and, as position representations, the candidate
  embeddings of the prefix's items ``(B, L, d)``.

A model exposes the option by naming it in its constructor signature (one line each):
``repeat``, and where wanted ``repeat_positions`` (position buckets of either layer),
``repeat_explore`` and ``repeat_prior`` (mixture). Names it does not expose take the defaults
of :data:`REPEAT_DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import Tensor, nn

from dmi_gnn.nn import RepeatBonus, RepeatMixture

__all__ = ["REPEAT_DEFAULTS", "RepeatOption", "build_repeat_layer", "repeat_scores"]

RepeatOption = Literal["none", "bonus", "mixture"]

#: The repeat options and their values when a model does not expose them.
REPEAT_DEFAULTS: dict[str, Any] = {
    "repeat": "none",
    "repeat_positions": 32,
    "repeat_explore": "all",
    "repeat_prior": 0.5,
}


def build_repeat_layer(hparams: Mapping[str, Any], owner: str) -> nn.Module | None:
    """The repeat layer a model's hyper-parameters ask for, or None for ``repeat: none``.

    Built under a forked random state: switching the option on leaves the network's
    initialisation (drawn afterwards) exactly as without it.

    Args:
        hparams: the model's hyper-parameters.
        owner: the model's class name, for error messages.

    Raises:
        ValueError: an unknown ``repeat``, or ``mixture`` on a model without ``embedding_dim``.
    """
    option = {name: hparams.get(name, default) for name, default in REPEAT_DEFAULTS.items()}
    choice = option["repeat"]
    if choice == "none":
        return None
    if choice not in ("bonus", "mixture"):
        raise ValueError(f"{owner}: repeat must be 'none', 'bonus' or 'mixture', got {choice!r}")
    with torch.random.fork_rng(devices=[]):
        if choice == "bonus":
            return RepeatBonus(max_positions=option["repeat_positions"])
        if "embedding_dim" not in hparams:
            raise ValueError(
                f"{owner}: repeat='mixture' needs the width d of the interests "
                "(an embedding_dim hyper-parameter), which this model does not have"
            )
        return RepeatMixture(
            int(hparams["embedding_dim"]),
            max_positions=option["repeat_positions"],
            explore=option["repeat_explore"],
            repeat_prior=option["repeat_prior"],
        )


def repeat_scores(
    layer: nn.Module,
    logits: Tensor,
    items: Tensor,
    mask: Tensor,
    interests: Tensor | None = None,
    candidates: Tensor | None = None,
) -> Tensor:
    """The layer's output on the network's ``logits (B, N)``.

    Args:
        layer: what :func:`build_repeat_layer` returned (not None).
        logits: the network's scores ``(B, N)``.
        items: reversed prefixes ``(B, L)``, 0-padded.
        mask: ``(B, L)`` bool.
        interests: ``(B, U, d)`` (mixture only).
        candidates: the network's candidate embeddings ``(N, d)`` (mixture only).

    Returns:
        Logits (bonus) or log-probabilities (mixture), ``(B, N)``.
    """
    if isinstance(layer, RepeatBonus):
        return layer(logits, items, mask)
    assert interests is not None and candidates is not None
    hidden = candidates[(items - 1).clamp(min=0)]
    return layer(logits, items, mask, interests, hidden)
