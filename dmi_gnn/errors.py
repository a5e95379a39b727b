"""Exceptions of the model package: user errors whose message says what, where and how to fix.

All derive from :class:`DMIGNNError` (a ``ValueError``, so ``except ValueError`` keeps
working). The ``dmi-gnn`` command prints them as one line and exits with status 2 (see
:mod:`dmi_gnn.cli_errors`); anything else is treated as a bug and shows its traceback.
"""

from __future__ import annotations


class DMIGNNError(ValueError):
    """A user error of the model package or the ``dmi-gnn`` command."""


class ConfigError(DMIGNNError):
    """A bad option value, option combination or command-line flag."""


class HyperparameterError(ConfigError):
    """A hyper-parameter of :class:`~dmi_gnn.DMIGNN` outside its range.

    Attributes:
        name: the ``__init__`` argument at fault (``--model.<name>`` on the command line).
        problem: what is wrong with its value, without the name.
    """

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"{name} {problem}")


class RunDirectoryError(ConfigError):
    """A run directory cannot be created, found or resumed."""


class CheckpointError(DMIGNNError):
    """A checkpoint file is missing, unreadable or refused."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file is empty, truncated or not a checkpoint at all."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holds pickled objects other than tensors and plain data: not loaded."""


class DataMismatchError(DMIGNNError):
    """A checkpoint meets data it was not trained on (other items or vocabulary)."""
