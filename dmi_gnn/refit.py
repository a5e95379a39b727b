"""``dmi-gnn fit --refit true``: the validation protocol's last step in the same command.

The validation run selects the best epoch on ``--checkpoint.monitor`` (the fit split only). The
refit then trains the same configuration again on *all* training sessions
(``--data.val_fraction=0``) for exactly that many epochs, in ``<run_dir>/refit``, and tests the
final model once. The validation model itself is not tested, so the test set is touched once
per command. The refit is the same ``dmi-gnn fit`` command line in a child process, with these
flags appended (later flags win), so it runs from the same configs and seed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from dmi_gnn.checkpoints import load_checkpoint
from dmi_gnn.errors import ConfigError, DMIGNNError
from dmi_gnn.run_dirs import INHERITED_RUN_DIR

log = logging.getLogger(__name__)

REFIT_FOLDER = "refit"
_DROPPED = ("--ckpt_path", "--run_dir", "--refit")  # a refit never resumes, nests or recurses


def check_refit_possible(protocol: str, evaluation_split: str | None) -> None:
    """``--refit`` needs a validation set to choose the number of epochs on."""
    if protocol != "validation" or evaluation_split != "val":
        got = "no validation set" if evaluation_split is None else "the test set as validation"
        raise ConfigError(
            "--refit true needs the validation protocol with a validation set (got "
            f"--data.protocol {protocol} and {got}): the refit's epoch count is chosen on "
            "validation"
        )


def chosen_epochs(best_checkpoint: str | os.PathLike) -> int:
    """The number of epochs the best checkpoint had trained (its ``epoch`` counts from 0)."""
    epoch = load_checkpoint(best_checkpoint, require_state_dict=False).get("epoch")
    if not isinstance(epoch, int):
        raise DMIGNNError(f"{best_checkpoint}: no epoch recorded, cannot choose the refit's length")
    return epoch + 1


def refit_arguments(argv: list[str], epochs: int, run_dir: Path) -> list[str]:
    """``argv`` (``fit ...``) without resume/run-dir/refit flags, plus the refit's overrides."""
    kept, skip = [], False
    for token in argv:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in _DROPPED:
            skip = "=" not in token
            continue
        kept.append(token)
    return [
        *kept,
        "--data.val_fraction=0",
        f"--trainer.max_epochs={epochs}",
        "--refit=false",  # also when a config file says refit: true
        f"--run_dir={run_dir}",
    ]


def run_refit(argv: list[str], best_checkpoint: str, run_dir: Path) -> Path:
    """Retrain on all training sessions for the chosen epochs and test once; returns its folder."""
    epochs = chosen_epochs(best_checkpoint)
    refit_dir = run_dir / REFIT_FOLDER
    command = [sys.executable, "-m", "dmi_gnn", *refit_arguments(argv, epochs, refit_dir)]
    log.info(
        "refit: %d epoch(s) chosen on validation (%s); retraining on all training sessions in %s",
        epochs,
        Path(best_checkpoint).name,
        refit_dir,
    )
    env = {k: v for k, v in os.environ.items() if k != INHERITED_RUN_DIR}  # its own run folder
    code = subprocess.call(command, env=env)
    if code != 0:
        raise DMIGNNError(f"the refit run in {refit_dir} failed with exit status {code}")
    return refit_dir
