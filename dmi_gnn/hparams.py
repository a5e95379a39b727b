"""Range checks of :class:`~dmi_gnn.DMIGNN`'s hyper-parameters, without importing torch.

:func:`validate_hyperparameters` is called by ``DMIGNN.__init__`` (every value, whatever its
source) and by the ``dmi-gnn`` command on the ``--model.*`` flags of its command line before
the slow imports, so a bad value fails in a fraction of a second and names the flag.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from dmi_gnn.errors import HyperparameterError

Check = Callable[[Any], str | None]  # None when the value is fine, else what is wrong


def _integer(minimum: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            return f"must be an integer >= {minimum}"
        return None

    return check


def _real(low: float, high: float = math.inf, *, low_open: bool = False) -> Check:
    if high < math.inf:
        wanted = f"in {'(' if low_open else '['}{low:g}, {high:g}]"
    else:
        wanted = f"{'>' if low_open else '>='} {low:g}"

    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number {wanted}"
        value = float(value)
        if not math.isfinite(value) or value > high or value < low or (low_open and value == low):
            return f"must be {wanted}"
        return None

    return check


def _choice(*allowed: Any, optional: bool = False) -> Check:
    shown = ", ".join(repr(a) for a in allowed) + (" or None" if optional else "")

    def check(value: Any) -> str | None:
        if (optional and value is None) or value in allowed:
            return None
        return f"must be one of {shown}"

    return check


def _flag(optional: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or (optional and value is None):
            return None
        return "must be true or false" + (" (or None: the preset's value)" if optional else "")

    return check


def _chunk_size(value: Any) -> str | None:
    if value is None or value == "auto":
        return None
    return _integer(1)(value) and 'must be an integer >= 1, "auto" or None'


def _negatives(value: Any) -> str | None:
    if value is None:
        return None
    return _integer(1)(value) and "must be an integer >= 1 or None (ten per example)"


def _metric_ks(value: Any) -> str | None:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return "must be a list of integers >= 1, e.g. [10, 20]"
    values = list(value)
    if not values or any(_integer(1)(k) for k in values):
        return "must be a non-empty list of integers >= 1, e.g. [10, 20]"
    return None


def _num_items(value: Any) -> str | None:
    if _integer(1)(value) is None:
        return None
    return (
        "must be an integer >= 1; under the CLI it comes from the datamodule, in Python pass "
        "`num_items=datamodule.num_items`"
    )


#: What each ``DMIGNN.__init__`` argument accepts (arguments not listed are not checked here).
RULES: dict[str, Check] = {
    "num_items": _num_items,
    "semantics": _choice("reference", "paper"),
    "embedding_dim": _integer(1),
    "num_interests": _integer(1),
    "beta": _real(0.0),
    "eta": _real(0.0, low_open=True),
    "regularizer": _choice("none", "similarity", "dmi"),
    "regularizer_reduction": _choice("sum", "mean", optional=True),
    "scoring": _choice("max", "sum"),
    "positional": _choice("multi", "single"),
    "scoring_chunk_size": _chunk_size,
    "hop": _integer(1),
    "num_neighbors": _integer(1),
    "dropout_local": _real(0.0, 1.0),
    "dropout_global": _real(0.0, 1.0),
    "dropout_gcn": _real(0.0, 1.0),
    "leaky_relu_slope": _real(0.0),
    "global_activation": _choice("relu", "tanh"),
    "max_positions": _integer(1),
    "normalize_embeddings": _flag(optional=True),
    "attention": _choice("raw", "softmax", optional=True),
    "readout_bias": _flag(optional=True),
    "full_dropout": _choice("zero", "drop_branch", optional=True),
    "neighbor_padding": _choice("resampled", "masked", optional=True),
    "use_global": _flag(),
    "optimizer": _choice("adam", "adamw"),
    "lr": _real(0.0, low_open=True),
    "weight_decay": _real(0.0),
    "lr_step": _integer(0),
    "lr_gamma": _real(0.0, 1.0, low_open=True),
    "top_k": _integer(1),
    "metric_ks": _metric_ks,
    "neighbor_seed": _integer(0),
    "max_session_length": _integer(1),
    "max_batch_cells": _integer(1),
    "repeat": _choice("none", "bonus", "mixture"),
    "repeat_positions": _integer(1),
    "repeat_explore": _choice("all", "unseen"),
    "repeat_prior": _real(0.0, 1.0, low_open=True),
    "loss": _choice("full", "sampled"),
    "sampler": _choice("uniform", "popularity", "in_batch"),
    "num_negatives": _negatives,
}


def validate_hyperparameters(values: Mapping[str, Any]) -> None:
    """Check every known hyper-parameter in ``values`` (unknown names are ignored).

    Raises:
        HyperparameterError: the first value outside its range, naming it and the range.
    """
    for name, value in values.items():
        check = RULES.get(name)
        problem = check(value) if check is not None else None
        if problem:
            raise HyperparameterError(name, f"{problem}, got {value!r}")
