"""``RunCSVLogger``: the run directory's ``metrics.csv``, kept across resumes and test runs."""

from __future__ import annotations

import csv
import logging
from typing import Any, Literal

from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

log = logging.getLogger(__name__)


class _KeepingExperimentWriter(ExperimentWriter):
    """Lightning's CSV writer, minus deleting an existing ``metrics.csv`` at start-up.

    ``existing="append"`` continues the file (its header is kept, new columns widen it);
    ``existing="rotate"`` first renames it to ``metrics.1.csv`` (``.2``, ...).
    """

    def __init__(self, log_dir: str, existing: Literal["append", "rotate"]) -> None:
        self.existing = existing
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = self.metrics_file_path
        if not self._fs.isfile(path):
            return
        if self.existing == "rotate":
            number = 1
            while self._fs.exists(f"{path[:-4]}.{number}.csv"):
                number += 1
            self._fs.mv(path, f"{path[:-4]}.{number}.csv")
            log.warning("kept the earlier %s as metrics.%d.csv", path, number)
            return
        with self._fs.open(path, "r", newline="") as handle:
            self.metrics_keys = list(csv.DictReader(handle).fieldnames or [])


class RunCSVLogger(CSVLogger):
    """CSV logging into ``<save_dir>/metrics.csv`` that never deletes earlier rows.

    Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it starts, so resuming a
    run (``fit --ckpt_path last``) or testing in the run directory would erase the training
    history. This logger appends instead (or, for a fresh run in a used directory, keeps the
    old file under a numbered name) and writes every row as soon as it is logged, so a killed
    run loses nothing.

    Args:
        save_dir: the run directory.
        existing: ``"append"`` to an existing ``metrics.csv`` or ``"rotate"`` it away first.
        flush_logs_every_n_steps: rows are written every this many logging calls.
        **kwargs: passed to :class:`~lightning.pytorch.loggers.CSVLogger`.
    """

    def __init__(
        self,
        save_dir: str,
        existing: Literal["append", "rotate"] = "append",
        flush_logs_every_n_steps: int = 1,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("name", "")
        kwargs.setdefault("version", "")
        super().__init__(save_dir, flush_logs_every_n_steps=flush_logs_every_n_steps, **kwargs)
        self.existing = existing

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            get_filesystem(self.root_dir).makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingExperimentWriter(self.log_dir, self.existing)
        return self._experiment


__all__ = ["RunCSVLogger"]
