"""The ``fit|validate|test|predict`` subcommands: LightningCLI plus what DMI-GNN needs.

Imported only when a subcommand really runs (it imports torch and Lightning); ``dmi_gnn.cli``
is the light entry point. What this adds to plain LightningCLI:

* model selection on ONE validation metric: ``--checkpoint.*`` (ModelCheckpoint, best and
  last) and ``--early_stopping.*`` share ``--checkpoint.monitor`` (default ``val/MRR@20``),
  which is checked against the metrics the model logs before training starts;
* ``fit`` ends by testing the best checkpoint once (``--test_after_fit``); the test set never
  chooses anything (under ``--data.protocol paper`` the test set is evaluated every epoch
  instead, and selection is disabled);
* the item count and the global-graph size flow between datamodule and model: a new model
  takes ``num_items`` and ``num_neighbors`` from the datamodule; a model restored from
  ``--ckpt_path`` keeps its own and the datamodule follows;
* run directories (:mod:`dmi_gnn.run_dirs`): a fresh run writes into a new ``version_N`` of
  the experiment folder ``--trainer.default_root_dir``; ``--ckpt_path last`` resumes the newest
  run with a ``last.ckpt``; evaluations write into their checkpoint's run; ``--run_dir DIR``
  picks the directory;
* checkpoints are written atomically and read weights-only (:mod:`dmi_gnn.checkpoints`);
* one line of metrics per epoch when there is no progress bar (:class:`EpochSummary`);
* model and data options first in ``--help``, no option prefixes, parse errors as exceptions
  (the entry point prints them as one line).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from jsonargparse._typehints import ActionTypeHint
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, WeightAveraging
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from datamodules.datamodule import SessionDataModule
from dmi_gnn import __version__, cli_cache
from dmi_gnn.callbacks import EpochSummary, PredictionWriter, RunConfigSaver, StepSeeding
from dmi_gnn.checkpoints import SafeCheckpointIO, load_checkpoint
from dmi_gnn.cli_flags import check_flags
from dmi_gnn.cli_models import ModelChoice, cache_entry, choose_model
from dmi_gnn.cli_text import DESCRIPTION, EPILOG, GROUP_TITLES, SUBCOMMANDS, model_title, usage
from dmi_gnn.errors import CheckpointError, ConfigError, DMIGNNError
from dmi_gnn.models import REGISTRY, checkpoint_model_name, model_class, resolve_name
from dmi_gnn.recommender import SessionRecommender, class_path
from dmi_gnn.refit import check_refit_possible, run_refit
from dmi_gnn.run_dirs import (
    DEFAULT_ROOT,
    INHERITED_RUN_DIR,
    RunPlan,
    plan_run,
    remove_empty_directories,
    resolve_checkpoint,
)

log = logging.getLogger(__name__)

DEFAULT_MONITOR = "val/MRR@20"
CSV_LOGGER = "dmi_gnn.loggers.RunCSVLogger"
_CSV_LOGGERS = (CSV_LOGGER, "lightning.pytorch.loggers.CSVLogger")
#: Config section of each class the CLI builds (to name the section a constructor refused).
_SECTIONS: tuple[tuple[type, str], ...] = (
    (SessionRecommender, "model"),
    (SessionDataModule, "data"),
    (Trainer, "trainer"),
    (ModelCheckpoint, "checkpoint"),
    (EarlyStopping, "early_stopping"),
    (PredictionWriter, "prediction_writer"),
    (StepSeeding, "step_seeding"),
    (EpochSummary, "epoch_summary"),
)


def parser_kwargs() -> dict[str, Any]:
    """LightningCLI ``parser_kwargs``: our texts, no prefix matching, errors as exceptions."""
    common = {"allow_abbrev": False, "exit_on_error": False}
    kwargs: dict[str, Any] = {
        "prog": "dmi-gnn",
        "description": DESCRIPTION,
        "version": __version__,
        **common,
    }
    for name in ("fit", "validate", "test", "predict"):
        kwargs[name] = {
            "description": f"dmi-gnn {name}: {SUBCOMMANDS[name]}.",
            "usage": usage(name),
            "epilog": EPILOG,
            **common,
        }
    return kwargs


def option_facts(parser: LightningArgumentParser) -> dict[str, list[str]]:
    """A subcommand parser's option strings and the options that take a class."""
    open_options = [
        action.option_strings[0]
        for action in parser._actions
        if action.option_strings
        and isinstance(action, ActionTypeHint)
        and ActionTypeHint.is_subclass_typehint(action, all_subtypes=False, also_lists=True)
    ]
    return {"options": sorted(parser._option_string_actions), "open": sorted(open_options)}


def parser_facts(parser: LightningArgumentParser) -> dict[str, Any]:
    """What the fast paths need of a subcommand parser: help, options, class-typed options."""
    return {"help": parser.format_help(), **option_facts(parser)}


def _refusing_class(error: BaseException) -> tuple[type, str] | None:
    """The configured class (and its section) whose constructor raised ``error``."""
    found = None
    for frame, _ in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_name != "__init__":
            continue
        owner = frame.f_locals.get("self")
        for cls, name in _SECTIONS:
            if isinstance(owner, cls):
                found = (cls, name)
    return found


@contextlib.contextmanager
def configured_classes() -> Iterator[None]:
    """Re-raise a constructor's ``ValueError``/``MisconfigurationException`` as ConfigError.

    The message gains the section: ``--data.batch_size must be ...`` when it starts with the
    name of an argument of that class, ``--data.*: ...`` otherwise.
    """
    try:
        yield
    except DMIGNNError:
        raise
    except (ValueError, MisconfigurationException) as error:
        refusing = _refusing_class(error)
        if refusing is None:
            raise
        cls, section = refusing
        message = str(error)
        first = message.split(" ", 1)[0]
        if first in inspect.signature(cls.__init__).parameters:
            text = f"--{section}.{message}"
        else:
            text = f"--{section}.*: {message}"
        raise ConfigError(text) from error


class DMIGNNCLI(LightningCLI):
    """LightningCLI with run directories, safe checkpoints and forced selection callbacks.

    Args:
        session: a dict the CLI fills (``plan``: the :class:`~dmi_gnn.run_dirs.RunPlan`), so
            the caller can clean up even when construction fails.
        *args, **kwargs: as for :class:`~lightning.pytorch.cli.LightningCLI`.
    """

    def __init__(self, *args: Any, session: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.session = session if session is not None else {}
        super().__init__(*args, **kwargs)

    @property
    def model_name(self) -> str:
        """The registered short name of the model class this CLI parses."""
        return resolve_name(class_path(self._model_class))

    # ------------------------------------------------------------------------------- parser
    def add_core_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Model and data options first (LightningCLI puts the Trainer's 100 options first)."""
        parser.add_lightning_class_args(self._model_class, "model")
        parser.add_lightning_class_args(self._datamodule_class, "data")
        parser.add_lightning_class_args(self.trainer_class, "trainer")
        defaults = {f"trainer.{k}": v for k, v in self.trainer_defaults.items() if k != "callbacks"}
        parser.set_defaults(defaults)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--run_dir",
            type=str | None,
            default=None,
            help=(
                "The exact run directory (new or empty for a new run). Default: a new "
                "version_N inside --trainer.default_root_dir; for --ckpt_path, that "
                "checkpoint's run."
            ),
        )
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=True,
            help="After fit, test the best checkpoint (chosen on validation) once.",
        )
        parser.add_argument(
            "--refit",
            type=bool,
            default=False,
            help=(
                "After the validation fit, retrain on all training sessions for the number of "
                "epochs chosen on validation (in <run_dir>/refit) and test that model once "
                "instead of the validation model."
            ),
        )
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": DEFAULT_MONITOR,
                "checkpoint.mode": "max",
                "checkpoint.save_top_k": 1,
                "checkpoint.save_last": True,
                "checkpoint.filename": "best-epoch{epoch:02d}",
                "checkpoint.auto_insert_metric_name": False,
                # one run per directory: never "last-v1.ckpt" beside another run's "last.ckpt"
                "checkpoint.enable_version_counter": False,
            }
        )
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.set_defaults(
            {"early_stopping.patience": 3, "early_stopping.monitor": DEFAULT_MONITOR}
        )
        parser.link_arguments("checkpoint.monitor", "early_stopping.monitor")
        parser.link_arguments("checkpoint.mode", "early_stopping.mode")
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        parser.add_lightning_class_args(EpochSummary, "epoch_summary")
        parser.add_lightning_class_args(StepSeeding, "step_seeding")

    def setup_parser(
        self, add_subcommands: bool, main_kwargs: dict[str, Any], subparser_kwargs: dict[str, Any]
    ) -> None:
        super().setup_parser(add_subcommands, main_kwargs, subparser_kwargs)
        for parser in getattr(self, "_subcommand_parsers", {}).values():
            _arrange_help(parser, self.model_name, class_path(self._model_class))
        cached = cli_cache.load() or {}
        names = {cache_entry(name, self.model_name): name for name in self._subcommand_parsers}
        if not names.keys() <= cached.keys():
            for key, name in names.items():
                cached[key] = parser_facts(self._subcommand_parsers[name])
            cli_cache.store(cached)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        if isinstance(args, list) and args and args[0] in self._subcommand_parsers:
            facts = option_facts(self._subcommand_parsers[args[0]])
            check_flags(args[1:], facts["options"], facts["open"], args[0])
        super().parse_arguments(parser, args)

    # ----------------------------------------------------------- run directory and checkpoint
    def _parse_ckpt_path(self) -> None:
        """Decide the run directory, resolve ``--ckpt_path`` and take the model's options from it.

        Replaces LightningCLI's version, which skipped ``last`` (the model was then built from
        the command line alone) and loaded the file without our errors.
        """
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        config = self.config[subcommand]
        root = config.trainer.default_root_dir or DEFAULT_ROOT
        plan = plan_run(subcommand, root, config.get("ckpt_path"), config.get("run_dir"))
        self.session["plan"] = plan
        config.ckpt_path = str(plan.ckpt_path) if plan.ckpt_path is not None else None
        if plan.ckpt_path is None:
            return
        checkpoint = load_checkpoint(plan.ckpt_path)
        self.session["checkpoint_epoch"] = checkpoint.get("epoch")
        try:
            recorded = checkpoint_model_name(checkpoint)
        except ValueError as error:
            raise CheckpointError(f"{plan.ckpt_path}: {error}") from None
        if recorded != self.model_name:
            raise ConfigError(
                f"{plan.ckpt_path} holds a {recorded} model but the command line asks for "
                f"{self.model_name}; drop --model (the checkpoint decides) or use a {recorded} "
                "config"
            )
        hparams = dict(checkpoint.get("hyper_parameters", {}))
        hparams.pop("_instantiator", None)
        if not hparams:
            return
        if "_class_path" in hparams:
            hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
        try:
            self.config = self.parser.parse_object({subcommand: {"model": hparams}}, self.config)
        except Exception as error:
            raise CheckpointError(
                f"{plan.ckpt_path}: its model options do not fit this version of "
                f"{self.model_name} "
                f"({' '.join(str(error).split())})"
            ) from error

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        plan: RunPlan = self.session["plan"]
        model_args, data_args = config.model, config.data
        graph_model = "num_neighbors" in model_args
        if plan.ckpt_path is not None:
            # The checkpoint's hyper-parameters were merged into model_args above.
            if graph_model:
                data_args.graph_top_k = model_args.num_neighbors
        else:
            if graph_model:
                model_args.num_neighbors = data_args.graph_top_k
            if not model_args.num_items:
                with configured_classes():
                    model_args.num_items = SessionDataModule(**vars(data_args)).num_items
        run_dir = plan.run_dir
        config.trainer.default_root_dir = str(run_dir)
        if not config.checkpoint.get("dirpath"):
            config.checkpoint.dirpath = str(run_dir / "checkpoints")
        fresh = self.subcommand == "fit" and not plan.resumed
        config.trainer.logger = _run_directory_loggers(config.trainer.logger, run_dir, fresh)
        if plan.resumed:
            self.save_config_kwargs["config_filename"] = "config-resume.yaml"
        os.environ[INHERITED_RUN_DIR] = str(run_dir.resolve())  # processes it launches join it
        epoch = self.session.get("checkpoint_epoch")
        saved = f" (saved in epoch {epoch + 1})" if plan.resumed and isinstance(epoch, int) else ""
        log.info("%s%s", plan.describe(self.subcommand), saved)

    def instantiate_classes(self) -> None:
        with configured_classes():
            super().instantiate_classes()

    def after_instantiate_classes(self) -> None:
        strategy = self.trainer.strategy
        if type(strategy.checkpoint_io) is TorchCheckpointIO:  # not a user's own plugin
            strategy.checkpoint_io = SafeCheckpointIO()
        if hasattr(self.datamodule, "use_features"):  # before anything is loaded or cached
            self.datamodule.use_features(type(self.model).FEATURES)
        if self.subcommand != "fit":
            return
        evaluation = getattr(self.datamodule, "evaluation_split", "val")
        if evaluation == "test":
            self._disable_selection(
                "protocol=paper: the test set is evaluated after every epoch (logged as "
                "test/...); early stopping and best-checkpoint selection are disabled"
            )
        elif evaluation is None:
            self.trainer.limit_val_batches = 0  # nothing to validate: no empty-loader warning
            self._disable_selection(
                "no validation set (val_fraction=0): training runs for max_epochs and the "
                "final model is tested once (choose max_epochs on a validation run first)"
            )
        else:
            self._check_monitor(evaluation)
        if self.config[self.subcommand].get("refit"):
            check_refit_possible(getattr(self.datamodule, "protocol", "validation"), evaluation)

    def _check_monitor(self, split: str) -> None:
        """The selection metric must be one the model logs (else it fails after an epoch)."""
        names = self.model.logged_names(split)
        for callback in self.trainer.callbacks:
            if isinstance(callback, (ModelCheckpoint, EarlyStopping)):
                monitor = getattr(callback, "monitor", None)
                if monitor is not None and monitor not in names:
                    raise ConfigError(
                        f"--checkpoint.monitor {monitor!r} is not a metric this run logs; use "
                        f"one of {', '.join(sorted(names))}"
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
        if self.trainer.fast_dev_run or self.trainer.interrupted:
            return
        if not (config.get("test_after_fit", True) or config.get("refit")):
            return
        if getattr(self.datamodule, "protocol", "validation") == "paper":
            return
        best = (
            self.trainer.checkpoint_callback.best_model_path
            if self.trainer.checkpoint_callback
            else ""
        )
        if not best:
            log.warning("no best checkpoint was recorded; skipping the final test")
            return
        if config.get("refit"):
            refit_dir = run_refit(self.session["argv"], best, Path(self.trainer.default_root_dir))
            for logger in self.trainer.loggers:
                logger.log_hyperparams({"refit_dir": str(refit_dir)})
            return
        for logger in self.trainer.loggers:
            logger.log_hyperparams({"tested_checkpoint": best})
        # A weight-averaging callback (EMA, SWA) saves the averaged weights as the checkpoint's
        # state_dict, which validation selected and `dmi-gnn test` loads; left in place, it would
        # restore the raw weights for this test (its on_load_checkpoint).
        callbacks = self.trainer.callbacks
        callbacks[:] = [c for c in callbacks if not isinstance(c, WeightAveraging)]
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best)


_METHOD_HELP = {
    "--ckpt_path": (
        "A checkpoint file, a run directory (its checkpoints/last.ckpt), or `last`: the newest "
        "run of --trainer.default_root_dir that has checkpoints/last.ckpt. fit resumes it (in "
        "its own run directory); validate/test/predict evaluate it and write into its run "
        "directory (or --run_dir)."
    ),
    "--weights_only": (
        "dmi-gnn always loads checkpoints weights-only (tensors and plain data); false is refused."
    ),
}


def _section(group: Any) -> str | None:
    """The config section of a help group (``trainer``, ``model``, ...), if it has one."""
    dest = getattr(group, "dest", None)
    if dest:
        return dest
    if group.title == "Linked arguments":
        return None
    heads = {action.dest.split(".", 1)[0] for action in group._group_actions if "." in action.dest}
    return heads.pop() if len(heads) == 1 else None


def _arrange_help(parser: LightningArgumentParser, model: str, path: str) -> None:
    """Our group titles and texts; the checkpoint options after the general ones, Trainer last."""
    groups = parser._action_groups
    method = []
    titles = {**GROUP_TITLES, "model": model_title(model, path, list(REGISTRY))}
    for group in groups:
        section = _section(group)
        if section in titles:
            group.title = titles[section]
            group.description = None
        for action in group._group_actions:
            for flag in action.option_strings:
                if flag in _METHOD_HELP:
                    action.help = _METHOD_HELP[flag]
                    if group not in method:
                        method.append(group)
    for group in method:
        group.title = "the checkpoint to start from"
        group.description = None
    trainer = [g for g in groups if _section(g) == "trainer"]
    rest = [g for g in groups if g not in method and g not in trainer]
    general = next((i for i, g in enumerate(rest) if g.title == "options"), 0) + 1
    groups[:] = rest[:general] + method + rest[general:] + trainer


def _run_directory_loggers(loggers: Any, run_dir: Path, fresh: bool) -> Any:
    """Put every logger's files in the run directory, a CSV log always among them.

    ``metrics.csv`` lands in ``run_dir`` itself and keeps earlier rows (resumes and
    evaluations append); a W&B logger left at its default ``save_dir`` writes under
    ``run_dir`` too. ``--trainer.logger false`` turns logging off altogether.
    """
    if loggers is False:
        return False
    if loggers in (None, True):
        loggers = []
    elif not isinstance(loggers, list):
        loggers = [loggers]
    for logger in loggers:
        if logger.init_args.get("save_dir") in (None, "."):
            logger.init_args.save_dir = str(run_dir)
    if not any(logger.class_path in _CSV_LOGGERS for logger in loggers):
        init = Namespace(save_dir=str(run_dir), existing="rotate" if fresh else "append")
        loggers = [Namespace(class_path=CSV_LOGGER, init_args=init), *loggers]
    return loggers


def _checkpoint_model(choice: ModelChoice) -> str | None:
    """The model a ``--ckpt_path`` records, when it can be found now (else the CLI reports)."""
    if not choice.ckpt_path:
        return None
    try:
        root = Path(choice.root or DEFAULT_ROOT)
        last = choice.ckpt_path == "last" and choice.run_dir
        path = resolve_checkpoint(choice.ckpt_path, root, Path(choice.run_dir) if last else None)
        return checkpoint_model_name(load_checkpoint(path))
    except (DMIGNNError, ValueError, OSError):
        return None


def run(argv: list[str]) -> int:
    """Run one ``fit|validate|test|predict`` command line (``argv`` starts with it).

    The model class comes from ``--model NAME`` or a config's ``model.class_path``
    (:mod:`dmi_gnn.cli_models`), else from ``--ckpt_path``'s checkpoint, else DMIGNN.
    """
    session: dict[str, Any] = {"argv": list(argv)}
    inherited = os.environ.get(INHERITED_RUN_DIR)
    succeeded = False
    choice = choose_model(argv[1:])
    if not choice.explicit:
        choice.name = _checkpoint_model(choice) or choice.name
    argv = [argv[0], *choice.argv]
    try:
        cli = DMIGNNCLI(
            model_class(choice.name),
            SessionDataModule,
            seed_everything_default=2024,
            save_config_callback=RunConfigSaver,
            save_config_kwargs={"overwrite": True},
            parser_kwargs=parser_kwargs(),
            args=argv,
            auto_configure_optimizers=False,
            session=session,
        )
        succeeded = True
    finally:
        if inherited is None:
            os.environ.pop(INHERITED_RUN_DIR, None)
        plan = session.get("plan")
        if not succeeded and plan is not None and plan.created:
            remove_empty_directories(plan.run_dir, plan.made)
    for logger in getattr(cli.trainer, "loggers", []):
        if type(logger).__name__ == "WandbLogger":
            logger.experiment.finish()  # flush the run (offline: the files under wandb/)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
