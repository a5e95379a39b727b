"""Callbacks the CLI tests inject with ``--config`` (they must be importable by class path)."""

from __future__ import annotations

import os

import lightning as L


class KillAtBatch(L.Callback):
    """Kill the process without any clean-up in the middle of an epoch (a crash or SIGKILL)."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch = epoch
        self.batch = batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os._exit(17)
