"""Session data for DMI-GNN: benchmark splits, leak-free validation, global graph, batching.

``SessionDataModule`` is imported lazily, so ``from datamodules import SessionBatch`` (used by
the pure-torch network) does not import Lightning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datamodules.batch import SessionBatch
from datamodules.batching import collate_sessions, make_batch
from datamodules.graph import GlobalGraph, build_global_graph, fill_neighbors_with_replacement
from datamodules.predict import PredictRecord
from datamodules.registry import BENCHMARKS, Benchmark, RemoteFile, get_benchmark
from datamodules.synthetic import SyntheticConfig
from datamodules.vocab import Vocabulary

if TYPE_CHECKING:
    from datamodules.datamodule import SessionDataModule

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "GlobalGraph",
    "PredictRecord",
    "RemoteFile",
    "SessionBatch",
    "SessionDataModule",
    "SyntheticConfig",
    "Vocabulary",
    "build_global_graph",
    "collate_sessions",
    "fill_neighbors_with_replacement",
    "get_benchmark",
    "make_batch",
]


def __getattr__(name: str) -> Any:
    if name == "SessionDataModule":
        from datamodules.datamodule import SessionDataModule

        return SessionDataModule
    raise AttributeError(f"module 'datamodules' has no attribute {name!r}")
