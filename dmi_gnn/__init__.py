"""DMI-GNN: Dynamic Multi-Interest Graph Neural Network for session-based recommendation."""

__version__ = "0.1.0"

from dmi_gnn.module import DMIGNN, Recommendation

__all__ = ["DMIGNN", "Recommendation", "__version__"]
