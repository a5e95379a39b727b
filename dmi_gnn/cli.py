"""The ``dmi-gnn`` command: ``fit``, ``validate``, ``test``, ``predict``, ``prepare``, ``serve``...

``dmi-gnn fit|validate|test|predict`` are LightningCLI subcommands (``--config``,
``--print_config``, ``--model.*``, ``--data.*``, ``--trainer.*``; see
:mod:`dmi_gnn.lightning_cli`); ``dmi-gnn prepare`` turns a raw click log into a processed
dataset (:mod:`datamodules.preprocess`); ``dmi-gnn serve`` and ``dmi-gnn export`` serve a
checkpoint over HTTP and export it for onnxruntime (:mod:`dmi_gnn.serving`). Run from Python
with ``main([...])``, which returns the exit status.

This module is the light entry point: ``dmi-gnn --help`` and ``--version`` import no torch,
and once the parser facts are cached (:mod:`dmi_gnn.cli_cache`) neither do
``dmi-gnn COMMAND --help`` and the flag errors (an unknown or abbreviated flag, a ``--model.*``
value out of range). Lightning is imported only to run a command.

User errors (:mod:`dmi_gnn.cli_errors`) print one line and return 2; other exceptions are bugs
and propagate with their traceback. ``--debug`` or ``DMI_GNN_DEBUG=1`` lets user errors
propagate too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dmi_gnn import cli_cache, cli_quiet
from dmi_gnn.cli_errors import is_user_error, one_line
from dmi_gnn.cli_flags import check_data_values, check_flags, check_model_values
from dmi_gnn.cli_models import cache_entry, choose_model
from dmi_gnn.cli_text import (
    LIGHTNING_SUBCOMMANDS,
    SERVING_SUBCOMMANDS,
    SUBCOMMANDS,
    top_level_help,
    version_text,
)
from dmi_gnn.errors import ConfigError
from dmi_gnn.run_dirs import DEFAULT_ROOT, INHERITED_RUN_DIR, resolve_checkpoint

DEBUG_VARIABLE = "DMI_GNN_DEBUG"


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def _fast_path(command: str, rest: list[str]) -> int | None:
    """Answer ``--help`` and refuse bad flags from the cache; None: run the real parser."""
    check_model_values(rest)
    check_data_values(rest)
    choice = choose_model(rest)
    if choice.ckpt_path and INHERITED_RUN_DIR not in os.environ:
        # a missing checkpoint (`last` without a run, a typo) fails before the slow imports
        resolve_checkpoint(
            choice.ckpt_path,
            Path(choice.root or DEFAULT_ROOT),
            Path(choice.run_dir) if choice.run_dir else None,
        )
    if choice.ckpt_path and not choice.explicit:
        return None  # the checkpoint decides the model: the real parser checks its flags
    cached = cli_cache.load()
    entry = cached.get(cache_entry(command, choice.name)) if cached else None
    if not isinstance(entry, dict):
        return None  # the real parser will fill the cache
    if choice.argv in (["--help"], ["-h"]):
        sys.stdout.write(entry["help"])
        return 0
    check_flags(choice.argv, entry["options"], entry["open"], command)
    return None


def _unknown_command(command: str) -> ConfigError:
    import difflib

    close = difflib.get_close_matches(command, list(SUBCOMMANDS), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return ConfigError(f"unknown command {command!r}; {hint}commands: {', '.join(SUBCOMMANDS)}")


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``dmi-gnn`` and ``python -m dmi_gnn``; returns the exit status."""
    argv = list(sys.argv[1:] if args is None else args)
    debug = _debug_requested(argv)
    argv = [token for token in argv if token != "--debug"]
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(top_level_help())
        return 0
    if argv[0] == "--version":
        sys.stdout.write(version_text())
        return 0
    command = argv[0]
    if command == "prepare":
        from datamodules.preprocess.cli import prepare_main

        return prepare_main(argv[1:])
    if command in SERVING_SUBCOMMANDS:
        if command == "serve":
            from dmi_gnn.serving.server import serve_main

            return serve_main(argv[1:])
        from dmi_gnn.serving.export import export_main

        return export_main(argv[1:])
    subcommand = command if command in LIGHTNING_SUBCOMMANDS else None
    try:
        if subcommand is None and not command.startswith("-"):
            raise _unknown_command(command)
        cli_quiet.install(command)
        if subcommand is not None:
            answered = _fast_path(subcommand, argv[1:])
            if answered is not None:
                return answered
        from dmi_gnn.lightning_cli import run

        return run(argv)
    except KeyboardInterrupt:
        sys.stderr.write(f"dmi-gnn {command}: interrupted\n")
        return 130
    except Exception as error:
        if debug or not is_user_error(error):
            raise
        sys.stderr.write(one_line(error, subcommand) + "\n")
        return 2


def __getattr__(name: str) -> Any:
    if name == "DMIGNNCLI":  # the LightningCLI subclass, for Python users
        from dmi_gnn.lightning_cli import DMIGNNCLI

        return DMIGNNCLI
    raise AttributeError(f"module 'dmi_gnn.cli' has no attribute {name!r}")
