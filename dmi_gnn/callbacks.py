"""Callbacks of the ``dmi-gnn`` command: per-epoch seeding, epoch lines, prediction file,
run metadata."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter, Callback
from lightning.pytorch.cli import SaveConfigCallback

log = logging.getLogger(__name__)


class StepSeeding(Callback):
    """Re-seed torch and numpy before every training batch from ``(seed, epoch, batch, rank)``.

    The randomness of each step (dropout masks) then depends on nothing that ran before it,
    so a run resumed from a checkpoint (``fit --ckpt_path last``) reproduces the uninterrupted
    run exactly, whatever hooks, loaders or sanity checks consumed random numbers in between.
    The training set's shuffling is seeded by ``(seed, epoch)`` in the datamodule's sampler.

    Args:
        enabled: turn the re-seeding off to get Lightning's plain global seeding.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if not self.enabled:
            return
        base = int(os.environ.get("PL_GLOBAL_SEED", "0"))
        step = trainer.current_epoch * 1_000_003 + batch_idx  # micro-batches differ too
        seed = (base * 1_000_033 + step * 7919 + trainer.global_rank) % 2**32
        torch.manual_seed(seed)
        np.random.seed(seed)


class EpochSummary(Callback):
    """Print one line per training epoch: the mean training loss and the evaluation metrics.

    Metrics are printed x 100, as in the README's tables, e.g.
    ``epoch 2/4  train/loss 3.0661  val/HR@20 67.10  val/MRR@20 26.90  ...  (5.2 s)``.
    With ``mode="auto"`` the line is printed when there is no progress bar or when stdout is not
    a terminal (a log file), so a redirected run is never silent; ``"always"`` and ``"never"``
    force it on or off.

    Args:
        mode: ``"auto"``, ``"always"`` or ``"never"``.
        metrics: the evaluation metrics to print (without the ``val/`` or ``test/`` prefix).
    """

    def __init__(
        self,
        mode: Literal["auto", "always", "never"] = "auto",
        metrics: tuple[str, ...] = ("HR@20", "MRR@20", "NDCG@20", "Cov@20"),
    ) -> None:
        if mode not in ("auto", "always", "never"):
            raise ValueError(f"mode must be 'auto', 'always' or 'never', got {mode!r}")
        self.mode = mode
        self.metrics = tuple(metrics)
        self._active = False
        self._loss_sum: Any = 0.0
        self._batches = 0
        self._started = 0.0
        self._evaluated: dict[str, float] = {}

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        quiet_terminal = trainer.progress_bar_callback is not None and sys.stdout.isatty()
        self._active = trainer.is_global_zero and (
            self.mode == "always" or (self.mode == "auto" and not quiet_terminal)
        )

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._loss_sum, self._batches, self._evaluated = 0.0, 0, {}
        self._started = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if self._active and isinstance(loss, torch.Tensor):
            self._loss_sum = self._loss_sum + loss.detach()  # stays on the device: no sync
            self._batches += 1

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._active or trainer.sanity_checking:
            return
        for name, value in trainer.callback_metrics.items():
            split, _, metric = name.partition("/")
            if split in ("val", "test") and metric in self.metrics:
                self._evaluated[name] = 100 * float(value)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._active:
            return
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        if self._batches:
            parts.append(f"train/loss {float(self._loss_sum) / self._batches:.4f}")
        parts += [f"{name} {value:.2f}" for name, value in self._evaluated.items()]
        parts.append(f"({time.perf_counter() - self._started:.1f} s)")
        print("  ".join(parts), flush=True)


class PredictionWriter(BasePredictionWriter):
    """Write one JSON line per input line of the predict file, in file order.

    A good line gives ``{"line", "items", "scores", "unknown"}`` (``unknown``: raw ids the
    model does not know, skipped); a bad one gives ``{"line", "error"}``. The file is written
    under a temporary name and renamed when prediction ends.

    Args:
        output_path: where to write; default ``<run directory>/predictions.jsonl``.
        top_k: how many items per session; default the model's ``top_k`` (which a checkpoint
            fixes, so change K here: ``--prediction_writer.top_k 50``).
    """

    def __init__(self, output_path: str | None = None, top_k: int | None = None) -> None:
        super().__init__(write_interval="batch")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.output_path = output_path
        self.top_k = top_k
        self._handle: Any = None
        self._target: Path | None = None
        self._counts = {"lines": 0, "errors": 0, "unknown_ids": 0}

    def _resolve(self, trainer: L.Trainer) -> Path:
        if self.output_path:
            return Path(self.output_path)
        return Path(trainer.default_root_dir) / "predictions.jsonl"

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.world_size > 1:
            raise RuntimeError("dmi-gnn predict runs on one device: pass --trainer.devices 1")
        self._target = self._resolve(trainer)
        self._target.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self._target.with_suffix(self._target.suffix + ".tmp"), "w")
        if self.top_k is not None:
            pl_module.predict_k = self.top_k
        self._counts = {"lines": 0, "errors": 0, "unknown_ids": 0}

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        if self._handle is None:
            return
        for record in prediction:
            self._counts["lines"] += 1
            self._counts["errors"] += "error" in record
            self._counts["unknown_ids"] += len(record.get("unknown", ()))
            self._handle.write(json.dumps(record) + "\n")

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._handle is None:
            return
        self._handle.close()
        self._handle = None
        temporary = self._target.with_suffix(self._target.suffix + ".tmp")
        temporary.replace(self._target)
        counts = self._counts
        log.warning(
            "wrote %d predictions to %s (%d lines with an error, %d unknown item ids skipped)",
            counts["lines"] - counts["errors"],
            self._target,
            counts["errors"],
            counts["unknown_ids"],
        )


def _nest_model(path: str, model_path: str) -> None:
    """Rewrite a saved config's flat ``model:`` as ``model: {class_path, init_args}``."""
    import yaml

    with open(path) as handle:
        config = yaml.safe_load(handle)
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        return
    config["model"] = {"class_path": model_path, "init_args": config["model"]}
    with open(path, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)


class RunConfigSaver(SaveConfigCallback):
    """Save ``config.yaml`` in the run directory and log the run's identity to every logger.

    Loggers receive the resolved config (W&B: as the run config), the dataset hash and the
    dataset's sizes, so every logged metric can be traced to the exact data it came from.
    A ``validate``/``test``/``predict`` run saves ``config-<stage>.yaml`` beside the training
    run's ``config.yaml`` instead of overwriting it (a resumed fit: ``config-resume.yaml``, set
    by the CLI through ``config_filename``).
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if str(getattr(stage, "value", stage)) != "fit" and not self.already_saved:
            self.config_filename = f"config-{getattr(stage, 'value', stage)}.yaml"
        super().setup(trainer, pl_module, stage)

    def _name_the_model(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """A model other than the default is named in the saved config (``class_path``), so
        ``dmi-gnn fit --config <run>/config.yaml`` runs the same model again."""
        from dmi_gnn.models import DEFAULT_MODEL, REGISTRY
        from dmi_gnn.recommender import class_path

        path = class_path(type(pl_module))
        if path == REGISTRY[DEFAULT_MODEL] or not self.save_to_log_dir or not trainer.log_dir:
            return
        saved = os.path.join(trainer.log_dir, self.config_filename)
        if os.path.isfile(saved):
            _nest_model(saved, path)

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._name_the_model(trainer, pl_module)
        datamodule = trainer.datamodule
        identity = {}
        if datamodule is not None and str(getattr(stage, "value", stage)) != "predict":
            for key in ("dataset_hash", "num_items", "protocol"):
                value = getattr(datamodule, key, None)
                if value is not None:
                    identity[f"data/{key}"] = value
        for logger in trainer.loggers:
            if type(logger).__name__ == "WandbLogger":
                logger.experiment.config.update(
                    {"cli": self.config.as_dict(), **identity}, allow_val_change=True
                )
            elif identity:
                logger.log_hyperparams(identity)
