"""Small hyper-parameters that keep each model of the family fast in tests (shared by the
family test, which builds models in Python, and the CLI tests, which pass them as flags)."""

from __future__ import annotations

SMALL_OPTIONS: dict[str, dict] = {
    "DMIGNN": {"embedding_dim": 8, "num_interests": 2},
    "MIND": {"embedding_dim": 8, "num_interests": 2},
    "ComiRecSA": {"embedding_dim": 8, "num_interests": 2},
    "ComiRecDR": {"embedding_dim": 8, "num_interests": 2, "max_session_length": 12},
    "AttenMixer": {"embedding_dim": 16, "heads": 2, "levels": 3},
    "MGIR": {"embedding_dim": 8, "min_frequency": 2, "cold_ratio": 0.5},
}


def small_flags(model: str) -> list[str]:
    """``SMALL_OPTIONS[model]`` as ``dmi-gnn`` flags (``--model.embedding_dim=8``, ...)."""
    return [f"--model.{name}={value}" for name, value in SMALL_OPTIONS.get(model, {}).items()]
