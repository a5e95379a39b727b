"""Validation of the non-parametric indexes' options: one clear error per bad value."""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

__all__ = ["check_bool", "check_choice", "check_int", "check_number"]


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    """``value`` as an int ``>= minimum`` (bools are refused: ``k=True`` is a typo)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_number(owner: str, name: str, value: Any, minimum: float) -> float:
    """``value`` as a finite float ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{owner}: {name} must be a finite number >= {minimum}, got {value}")
    return float(value)


def check_bool(owner: str, name: str, value: Any) -> bool:
    """``value`` as a bool (only ``True``/``False``)."""
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return value


def check_choice(owner: str, name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` as one of ``choices``."""
    allowed = tuple(choices)
    if value not in allowed:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(allowed)}; got {value!r}")
    return value
