"""What the ``dmi-gnn`` command does not print: library tips and warnings that need no action.

* Lightning's "💡 Tip: ... litlogger" advert and "TPU available: False" line;
* torch's ``isinstance(treespec, LeafSpec)`` deprecation, raised inside Lightning's own code;
* LightningCLI's warning about ``args`` (``main()`` always passes the arguments explicitly);
* ModelCheckpoint's "Checkpoint directory ... exists and is not empty" (a fresh run's directory
  is always new, so it only fires when a run is resumed);
* for ``validate``/``test``/``predict``: ModelCheckpoint's "The dirpath has changed" (an
  evaluation restores no checkpoint-callback state worth keeping).

The package's own messages (``dmi_gnn.*`` loggers, INFO and up: the run directory, the resumed
checkpoint, warnings) are printed to stderr as bare lines.
"""

from __future__ import annotations

import logging
import sys
import warnings

_DROPPED_INFO = ("💡 Tip", "TPU available: False", "HPU available: False")


class _StderrHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (which tests and notebooks replace)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


class _DropLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_DROPPED_INFO)


def install(subcommand: str) -> None:
    """Install the filters (idempotent) and the stderr handler of the ``dmi_gnn`` loggers."""
    leaf_spec = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
    warnings.filterwarnings("ignore", message=leaf_spec, category=FutureWarning)
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    # a resumed run's checkpoint folder is not empty, and a fresh run's is always new
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    if subcommand != "fit":
        warnings.filterwarnings("ignore", message="The dirpath has changed from")
    # val/ and test/ values are computed from sums and counts already reduced across processes
    # (SessionRecommender._log_metrics): syncing them again would be wrong, not just redundant.
    warnings.filterwarnings(
        "ignore", message=r"It is recommended to use `self.log\('(val|test)/.*sync_dist=True"
    )
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines())
    package = logging.getLogger("dmi_gnn")
    if not any(getattr(h, "_dmi_gnn_cli", False) for h in package.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._dmi_gnn_cli = True  # type: ignore[attr-defined]
        package.addHandler(handler)
    if package.level == logging.NOTSET or package.level > logging.INFO:
        package.setLevel(logging.INFO)
