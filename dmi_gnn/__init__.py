"""DMI-GNN: Dynamic Multi-Interest Graph Neural Network for session-based recommendation."""

__version__ = "0.1.0"
