"""The ``dmi-gnn`` command: LightningCLI subcommands plus ``prepare``.

``dmi-gnn fit|validate|test|predict`` come from :class:`lightning.pytorch.cli.LightningCLI`
(``--config``, ``--print_config``, ``--model.*``, ``--data.*``, ``--trainer.*``);
``dmi-gnn prepare`` turns a raw click log into a processed dataset
(:mod:`datamodules.preprocess`). Run from Python with ``main([...])``.

What the CLI adds to plain LightningCLI:

* model selection on ONE validation metric: ``--checkpoint.*`` (ModelCheckpoint, best and
  last) and ``--early_stopping.*`` share ``--checkpoint.monitor`` (default ``val/MRR@20``);
* ``fit`` ends by testing the best checkpoint once (``--test_after_fit``); the test set never
  chooses anything (under ``--data.protocol paper`` the test set is evaluated every epoch
  instead, and selection is disabled, see below);
* the item count and the global-graph size flow between datamodule and model: a new model
  takes ``num_items`` and ``num_neighbors`` from the datamodule; a model restored from
  ``--ckpt_path FILE`` keeps its own and the datamodule follows;
* each run writes into one directory (``--trainer.default_root_dir``): ``metrics.csv``,
  ``config.yaml``, ``checkpoints/``, ``predictions.jsonl``; ``fit --ckpt_path last`` resumes it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI

from datamodules import SessionDataModule
from dmi_gnn import __version__
from dmi_gnn.callbacks import PredictionWriter, RunConfigSaver, StepSeeding
from dmi_gnn.module import DMIGNN

log = logging.getLogger(__name__)

DEFAULT_MONITOR = "val/MRR@20"


class DMIGNNCLI(LightningCLI):
    """LightningCLI with forced selection callbacks and datamodule-to-model hand-over."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": DEFAULT_MONITOR,
                "checkpoint.mode": "max",
                "checkpoint.save_top_k": 1,
                "checkpoint.save_last": True,
                "checkpoint.filename": "best-epoch{epoch:02d}",
                "checkpoint.auto_insert_metric_name": False,
            }
        )
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.set_defaults(
            {"early_stopping.patience": 3, "early_stopping.monitor": DEFAULT_MONITOR}
        )
        parser.link_arguments("checkpoint.monitor", "early_stopping.monitor")
        parser.link_arguments("checkpoint.mode", "early_stopping.mode")
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        parser.add_lightning_class_args(StepSeeding, "step_seeding")
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=True,
            help="After fit, test the best checkpoint (chosen on validation) once.",
        )

    # ----------------------------------------------------------- datamodule <-> model hand-over
    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        model_args, data_args = config.model, config.data
        from_checkpoint = bool(config.get("ckpt_path")) and Path(str(config.ckpt_path)).is_file()
        if from_checkpoint:
            # The checkpoint's hyper-parameters were merged into model_args by LightningCLI.
            data_args.graph_top_k = model_args.num_neighbors
        else:
            model_args.num_neighbors = data_args.graph_top_k
            if not model_args.num_items:
                model_args.num_items = SessionDataModule(**vars(data_args)).num_items
        root = Path(config.trainer.default_root_dir or "runs/default")
        config.trainer.default_root_dir = str(root)
        fresh = self.subcommand == "fit" and not config.get("ckpt_path")
        config.trainer.logger = _run_directory_loggers(config.trainer.logger, root, fresh)

    def after_instantiate_classes(self) -> None:
        if self.subcommand != "fit":
            return
        evaluation = getattr(self.datamodule, "evaluation_split", "val")
        if evaluation == "test":
            self._disable_selection(
                "protocol=paper: the test set is evaluated after every epoch (logged as "
                "test/...); early stopping and best-checkpoint selection are disabled"
            )
        elif evaluation is None:
            self._disable_selection(
                "no validation set (val_fraction=0): training runs for max_epochs and the "
                "final model is tested once (choose max_epochs on a validation run first)"
            )

    def _disable_selection(self, reason: str) -> None:
        """Nothing to select on (paper protocol, or no validation set): keep the last epoch."""
        callbacks = self.trainer.callbacks
        for callback in list(callbacks):
            if isinstance(callback, EarlyStopping):
                callbacks.remove(callback)
            elif isinstance(callback, ModelCheckpoint):
                callback.monitor = None
                callback.save_top_k = 1
                callback.filename = "epoch{epoch:02d}"
        log.warning(reason)

    # ------------------------------------------------------------------------------- fit -> test
    def after_fit(self) -> None:
        config = self.config[self.subcommand]
        if not config.get("test_after_fit", True) or self.trainer.fast_dev_run:
            return
        if getattr(self.datamodule, "protocol", "validation") == "paper":
            return
        if self.trainer.interrupted:
            return
        best = (
            self.trainer.checkpoint_callback.best_model_path
            if self.trainer.checkpoint_callback
            else ""
        )
        if not best:
            log.warning("no best checkpoint was recorded; skipping the final test")
            return
        for logger in self.trainer.loggers:
            logger.log_hyperparams({"tested_checkpoint": best})
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best)


CSV_LOGGER = "dmi_gnn.loggers.RunCSVLogger"
_CSV_LOGGERS = (CSV_LOGGER, "lightning.pytorch.loggers.CSVLogger")


def _run_directory_loggers(loggers: Any, root: Path, fresh: bool) -> Any:
    """Put every logger's files in the run directory, a CSV log always among them.

    ``metrics.csv`` lands in ``root`` itself (the first logger also decides where
    ``checkpoints/`` go) and keeps earlier rows (a fresh ``fit`` renames an old file rather than
    deleting it); a W&B logger left at its default ``save_dir`` writes under ``root`` too.
    ``--trainer.logger false`` turns logging off altogether.
    """
    if loggers is False:
        return False
    if loggers in (None, True):
        loggers = []
    elif not isinstance(loggers, list):
        loggers = [loggers]
    for logger in loggers:
        if logger.init_args.get("save_dir") in (None, "."):
            logger.init_args.save_dir = str(root)
    if not any(logger.class_path in _CSV_LOGGERS for logger in loggers):
        init = Namespace(save_dir=str(root), existing="rotate" if fresh else "append")
        loggers = [Namespace(class_path=CSV_LOGGER, init_args=init), *loggers]
    return loggers


def main(args: ArgsType = None) -> int:
    """Entry point of ``dmi-gnn`` and ``python -m dmi_gnn``."""
    argv = list(sys.argv[1:] if args is None else args)
    if argv and argv[0] == "prepare":
        from datamodules.preprocess.cli import prepare_main

        return prepare_main(argv[1:])
    cli = DMIGNNCLI(
        DMIGNN,
        SessionDataModule,
        seed_everything_default=2024,
        save_config_callback=RunConfigSaver,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"version": __version__},
        args=None if args is None else argv,  # None: LightningCLI reads sys.argv itself
    )
    for logger in getattr(cli.trainer, "loggers", []):
        if type(logger).__name__ == "WandbLogger":
            logger.experiment.finish()  # flush the run (offline: the files under wandb/)
    return 0
