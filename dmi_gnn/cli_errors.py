"""Which exceptions are *user errors* of the ``dmi-gnn`` command, and their one-line message.

A user error is something the user can fix by changing a flag, a config value, a file or a
path; ``dmi-gnn`` prints it as ONE line (``dmi-gnn fit: error: ...``) and exits with status 2.
Everything else is a bug and keeps its traceback (exit status 1). ``--debug`` or
``DMI_GNN_DEBUG=1`` shows the traceback of user errors too. User errors are:

* :class:`dmi_gnn.errors.DMIGNNError` and its subclasses (bad hyper-parameters, flags, run
  directories, checkpoints, data that does not match a checkpoint);
* ``datamodules.errors.DataError`` (unknown dataset, missing or bad file, checksum mismatch,
  unsafe pickle, download failure) and ``datamodules.preprocess.errors.PrepareError``;
* command-line parse errors (``argparse.ArgumentError``, raised by jsonargparse: a bad type, an
  invalid choice, an unreadable ``--config``);
* ``ValueError`` and Lightning's ``MisconfigurationException`` raised while the configured
  classes are built (their constructors validate their arguments), which the CLI re-raises as
  :class:`~dmi_gnn.errors.ConfigError` naming the ``--section`` at fault;
* ``MisconfigurationException`` anywhere (Lightning's own "the settings cannot work" error);
* ``FileNotFoundError``, ``NotADirectoryError``, ``IsADirectoryError`` and ``PermissionError``
  (a path the user gave that does not exist or cannot be used).

Nothing here imports torch: the data-layer error types are looked up only if their modules are
already imported (an exception of those types cannot exist otherwise).
"""

from __future__ import annotations

import argparse
import re
import sys

from dmi_gnn.errors import DMIGNNError, HyperparameterError

_PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)
_LAZY_TYPES = (
    ("datamodules.errors", "DataError"),
    ("datamodules.preprocess.errors", "PrepareError"),
    ("lightning.fabric.utilities.exceptions", "MisconfigurationException"),
)


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exception types treated as user errors (see the module docstring)."""
    types: list[type[BaseException]] = [DMIGNNError, argparse.ArgumentError, *_PATH_ERRORS]
    for module_name, name in _LAZY_TYPES:
        module = sys.modules.get(module_name)
        if module is not None:
            types.append(getattr(module, name))
    return tuple(types)


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is a user error (printed as one line, exit status 2)."""
    return isinstance(error, user_error_types())


_PARSER_KEY = re.compile(r'^Parser key "([^"]+)":\s*(.*)$', re.DOTALL)
_EXPECTED = re.compile(r"Expected an? <class '(\w+)'>")
_GIVEN = re.compile(r"Given value: (.*)$", re.DOTALL)


def _parse_error(message: str) -> str:
    """``--key: ...`` for jsonargparse's ``Parser key "key": ...`` messages (types shortened)."""
    match = _PARSER_KEY.match(message.strip())
    if not match:
        return message
    key, detail = match.groups()
    expected = [name.replace("NoneType", "null") for name in _EXPECTED.findall(detail)]
    given = _GIVEN.search(detail)
    if expected and given:
        value = " ".join(given.group(1).split())
        return f"--{key} {value}: expected {' or '.join(dict.fromkeys(expected))}"
    return f"--{key}: {detail}"


def describe(error: BaseException) -> str:
    """The error's message on one line."""
    if isinstance(error, HyperparameterError):
        text = f"--model.{error.name} {error.problem}"
    elif isinstance(error, argparse.ArgumentError):
        text = _parse_error(str(error))
    elif isinstance(error, _PATH_ERRORS) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def one_line(error: BaseException, subcommand: str | None) -> str:
    """``dmi-gnn <subcommand>: error: <message>``."""
    command = f"dmi-gnn {subcommand}" if subcommand else "dmi-gnn"
    return f"{command}: error: {describe(error)}"
