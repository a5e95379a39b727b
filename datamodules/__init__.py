"""Session data for DMI-GNN: benchmark splits, leak-free validation, global graph, batching."""

from datamodules.batch import SessionBatch

__all__ = ["SessionBatch"]
