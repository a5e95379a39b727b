"""Optuna pruning inside a ``dmi-gnn fit`` process (``experiments/optuna_search.py``).

The search script asks its study for a trial, then runs that trial as an ordinary
``dmi-gnn fit`` subprocess with this callback on the trainer. After every validation the
callback reports the monitored metric to the trial through the study's storage (an SQLite
file both processes open) and stops training when the pruner says so, leaving a ``PRUNED``
marker in the run directory for the script. ``optuna`` is imported only when a trial runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

PRUNED_MARKER = "PRUNED"


def median_pruner(startup_trials: int):
    """Optuna's median pruner: stop a trial whose value is below the median of earlier trials
    at the same step, once ``startup_trials`` trials have completed."""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=0)


class OptunaPruning(Callback):
    """Report ``monitor`` after each validation to an Optuna trial; stop when it is pruned.

    Args:
        storage: the study's storage URL (``sqlite:///<file>``).
        study_name: the study's name in that storage.
        trial_id: the storage's id of the trial this run is (``trial._trial_id``).
        monitor: the logged validation metric the study optimises.
        marker_dir: where to write the ``PRUNED`` marker (the run directory).
        startup_trials: the median pruner's ``n_startup_trials`` (the storage keeps no pruner,
            so the search script hands its own setting over).
    """

    def __init__(
        self,
        storage: str,
        study_name: str,
        trial_id: int,
        monitor: str,
        marker_dir: str,
        startup_trials: int = 3,
    ) -> None:
        import optuna

        pruner = median_pruner(startup_trials)
        study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
        self.trial = optuna.trial.Trial(study, trial_id)
        self.monitor = monitor
        self.marker = Path(marker_dir) / PRUNED_MARKER

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if not math.isfinite(value):
            return
        self.trial.report(value, step=trainer.global_step)
        if self.trial.should_prune():
            self.marker.parent.mkdir(parents=True, exist_ok=True)
            self.marker.write_text(
                f"pruned at step {trainer.global_step}: {self.monitor} {value}\n"
            )
            trainer.should_stop = True
