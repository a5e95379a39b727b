"""Two honest modes: what the published code computes and what the paper's equations say.

DMI-GNN's published code (``MICLab-Rec/DMI-GNN``) and its AAAI 2025 paper differ in a handful
of places (``shared/docs/reference-implementation.md`` sections 4, 5 and 13). Each difference is
one option here, so that every quirk can be switched on or off on its own, and two presets name
the two consistent bundles:

=========================  =================  =================
option                     ``reference``      ``paper``
=========================  =================  =================
``normalize_embeddings``   ``True``           ``False``
``attention``              ``"raw"``          ``"softmax"``
``readout_bias``           ``False``          ``True``
``regularizer_reduction``  ``"sum"``          ``"mean"``
``full_dropout``           ``"zero"``         ``"drop_branch"``
``neighbor_padding``       ``"resampled"``    ``"masked"``
=========================  =================  =================

* ``normalize_embeddings``: L2-normalised node embeddings in the local branch and L2-normalised
  candidate embeddings for scoring (the global branch and the session mean stay raw), or no
  normalisation at all.
* ``attention`` (eq. 4): the raw ``q_u^T g_i^(u)`` zeroed at padding (un-normalised, may be
  negative; quirk 9), or a masked softmax over the real positions, per interest.
* ``readout_bias``: the bias ``b3`` of eq. 3 (absent from the code).
* ``regularizer_reduction``: how the interest regulariser is reduced over the batch; ``"sum"``
  makes its effective weight ``beta * B`` against the mean cross-entropy (quirk 8).
* ``full_dropout``: what a dropout rate of exactly 1 on a branch does: PyTorch semantics (zeros
  in training, identity at evaluation; with coupled-L2 Adam the branch's weights then decay to
  zero, quirk 13.1), or the branch removed in training *and* evaluation (its layers are then
  not built).
* ``neighbor_padding``: the global neighbour table is filled with replacement to ``k`` slots
  (``DMIGNN.set_global_graph`` calls ``datamodules.fill_neighbors_with_replacement``) and every
  slot is attended (items without neighbours attend ``k`` copies of item 0), or slots holding
  item ``0`` are excluded from the neighbour softmax and an item with no neighbour gets
  ``h_N = 0``.

``regularizer_reduction = "mean"`` is *our reading* of the paper: its loss is written per
session, so both terms (cross-entropy and regulariser) become per-session averages.
The optimiser (coupled-L2 Adam vs AdamW) and the learning-rate schedule are options of the
Lightning module, not of these presets.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "NETWORK_SEMANTICS_OPTIONS",
    "SEMANTICS_OPTION_CHOICES",
    "SEMANTICS_PRESETS",
    "resolve_semantics",
]

#: The two presets. Every preset defines every option.
SEMANTICS_PRESETS: dict[str, dict[str, Any]] = {
    "reference": {
        "normalize_embeddings": True,
        "attention": "raw",
        "readout_bias": False,
        "regularizer_reduction": "sum",
        "full_dropout": "zero",
        "neighbor_padding": "resampled",
    },
    "paper": {
        "normalize_embeddings": False,
        "attention": "softmax",
        "readout_bias": True,
        "regularizer_reduction": "mean",
        "full_dropout": "drop_branch",
        "neighbor_padding": "masked",
    },
}

#: The allowed values of each option.
SEMANTICS_OPTION_CHOICES: dict[str, tuple[Any, ...]] = {
    "normalize_embeddings": (True, False),
    "attention": ("raw", "softmax"),
    "readout_bias": (True, False),
    "regularizer_reduction": ("sum", "mean"),
    "full_dropout": ("zero", "drop_branch"),
    "neighbor_padding": ("resampled", "masked"),
}

#: The options that are keyword arguments of :class:`dmi_gnn.nn.DMIGNNNet` (the rest belong
#: to the loss).
NETWORK_SEMANTICS_OPTIONS: tuple[str, ...] = (
    "normalize_embeddings",
    "attention",
    "readout_bias",
    "full_dropout",
    "neighbor_padding",
)


def resolve_semantics(semantics: str, **overrides: Any) -> dict[str, Any]:
    """Return the options of a preset with some of them overridden.

    Args:
        semantics: ``"reference"`` or ``"paper"``.
        **overrides: option names from :data:`SEMANTICS_PRESETS`; a value of ``None`` means
            "take the preset's value".

    Returns:
        A new dict with every option.

    Raises:
        ValueError: for an unknown preset, an unknown option name or a value outside
            :data:`SEMANTICS_OPTION_CHOICES`.
    """
    if semantics not in SEMANTICS_PRESETS:
        raise ValueError(
            f"unknown semantics {semantics!r}; choose one of {sorted(SEMANTICS_PRESETS)}"
        )
    resolved = dict(SEMANTICS_PRESETS[semantics])
    for name, value in overrides.items():
        if name not in SEMANTICS_OPTION_CHOICES:
            raise ValueError(
                f"unknown semantics option {name!r}; known: {sorted(SEMANTICS_OPTION_CHOICES)}"
            )
        if value is None:
            continue
        choices = SEMANTICS_OPTION_CHOICES[name]
        # `True in ("raw", ...)` is False, but `1 in (True, False)` is True: check types too.
        if not any(value == c and type(value) is type(c) for c in choices):
            raise ValueError(f"semantics option {name}={value!r} is not one of {choices}")
        resolved[name] = value
    return resolved
