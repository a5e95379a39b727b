"""DMI-GNN: Dynamic Multi-Interest Graph Neural Network for session-based recommendation.

``DMIGNN`` (the LightningModule) is imported lazily, so ``import dmi_gnn.nn`` (the pure-torch
network) does not import Lightning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dmi_gnn.module import DMIGNN, Recommendation

__all__ = ["DMIGNN", "Recommendation", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("DMIGNN", "Recommendation"):
        from dmi_gnn import module

        return getattr(module, name)
    raise AttributeError(f"module 'dmi_gnn' has no attribute {name!r}")
