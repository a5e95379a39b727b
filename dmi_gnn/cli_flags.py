"""Command-line flag checks that run before the slow imports of ``dmi-gnn``.

* :func:`check_flags`: every ``--flag`` must be a valid option of the subcommand, spelt out in
  full (no prefix matching); an unknown one is one error line naming it with the closest valid
  names. Options that take a class (``--trainer.logger``, ``--trainer.callbacks``, ...) keep
  their nested keys open (``--trainer.logger.init_args.project``).
* :func:`check_model_values`: the ``--model.*`` values of the command line against
  :mod:`dmi_gnn.hparams` (values that are not plain numbers, booleans, null or lists are left
  to the parser).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from dmi_gnn.errors import ConfigError
from dmi_gnn.hparams import validate_hyperparameters

#: Options every subcommand parser has, whatever it was built from.
ALWAYS_VALID = ("--help", "-h", "--config", "-c", "--print_config")


def flag_names(argv: Sequence[str]) -> list[str]:
    """The ``--name`` of every flag of ``argv`` (``--name=value`` and ``--name+=value`` too)."""
    names = []
    for token in argv:
        if token == "--":
            break
        if not token.startswith("--") or token == "--":
            continue
        name = token.split("=", 1)[0]
        names.append(name[:-1] if name.endswith("+") else name)
    return names


def unknown_flag_error(flag: str, valid: Iterable[str], subcommand: str) -> ConfigError:
    """One line: the unknown flag and the closest valid names."""
    close = difflib.get_close_matches(flag, sorted(set(valid)), n=3, cutoff=0.6)
    hint = (
        f"did you mean {' or '.join(close)}?"
        if close
        else f"dmi-gnn {subcommand} --help lists the options"
    )
    return ConfigError(f"unknown option {flag}; {hint}")


def check_flags(
    argv: Sequence[str], options: Iterable[str], open_options: Iterable[str], subcommand: str
) -> None:
    """Raise :class:`ConfigError` for the first flag that is not a valid option.

    Args:
        argv: the arguments after the subcommand.
        options: every option string of the subcommand parser.
        open_options: the options whose nested keys are free (they take a class).
        subcommand: for the hint.
    """
    valid = set(options) | set(ALWAYS_VALID)
    open_prefixes = tuple(f"{name}." for name in open_options)
    for name in flag_names(argv):
        if name in valid or name.startswith(open_prefixes):
            continue
        raise unknown_flag_error(name, valid, subcommand)


def _scalar(text: str) -> Any:
    """A command-line value as the parser would type it, or the text itself when unsure."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.startswith("[") and text.endswith("]"):
        items = [_scalar(part) for part in text[1:-1].split(",") if part.strip()]
        if all(isinstance(item, int) and not isinstance(item, bool) for item in items):
            return items
    return text


def model_values(argv: Sequence[str], group: str = "model") -> dict[str, Any]:
    """``{name: value}`` of the ``--<group>.name value`` / ``--<group>.name=value`` flags."""
    values: dict[str, Any] = {}
    tokens = list(argv)
    flag = f"--{group}."
    for index, token in enumerate(tokens):
        if token == "--":
            break
        if not token.startswith(flag) or token.endswith("+"):
            continue
        name, has_value, value = token[len(flag) :].partition("=")
        if not has_value:
            if index + 1 >= len(tokens) or tokens[index + 1].startswith("--"):
                continue
            value = tokens[index + 1]
        if "." not in name:
            values[name] = _scalar(value)
    return values


def check_model_values(argv: Sequence[str]) -> None:
    """Validate the command line's numeric and choice ``--model.*`` values.

    Other values (paths, booleans written as words the parser may read differently, ...) are
    left to the parser and to ``DMIGNN.__init__``, which checks every value again.

    Raises:
        HyperparameterError: a value outside its range.
    """
    checked = {}
    for name, value in model_values(argv).items():
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (numeric and name in NUMERIC_OPTIONS) or (isinstance(value, str) and name in CHOICES):
            checked[name] = value
    validate_hyperparameters(checked)


def check_data_values(argv: Sequence[str]) -> None:
    """Validate the command line's numeric ``--data.*`` values before the slow imports.

    The datamodule checks every value again; this only makes the common mistakes (a negative
    batch size, a validation share of 1) fail in a fraction of a second.

    Raises:
        ConfigError: a value outside its range, naming the flag.
    """
    for name, value in model_values(argv, "data").items():
        check = DATA_RULES.get(name)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        problem = check(value) if check is not None and numeric else None
        if problem:
            raise ConfigError(f"--data.{name} {problem}, got {value!r}")


def _at_least(minimum: int):
    def check(value: Any) -> str | None:
        return (
            None if isinstance(value, int) and value >= minimum else f"must be an int >= {minimum}"
        )

    return check


def _share(value: Any) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1)"


#: ``--data.*`` numbers checked before the imports (the datamodule checks them all again).
DATA_RULES = {
    "batch_size": _at_least(1),
    "eval_batch_size": _at_least(1),
    "max_len": _at_least(1),
    "graph_window": _at_least(1),
    "graph_top_k": _at_least(1),
    "num_workers": _at_least(0),
    "val_fraction": _share,
    "synthetic_num_items": _at_least(1),
    "synthetic_num_train_sessions": _at_least(1),
    "synthetic_num_test_sessions": _at_least(1),
    "synthetic_max_session_length": _at_least(2),
}

#: ``--model.*`` options whose command-line numbers are checked before the imports.
NUMERIC_OPTIONS = frozenset(
    {
        "embedding_dim",
        "num_interests",
        "beta",
        "eta",
        "hop",
        "num_neighbors",
        "dropout_local",
        "dropout_global",
        "dropout_gcn",
        "leaky_relu_slope",
        "max_positions",
        "lr",
        "weight_decay",
        "lr_step",
        "lr_gamma",
        "top_k",
        "neighbor_seed",
        "scoring_chunk_size",
    }
)
#: ``--model.*`` options whose command-line words are checked against their choices.
CHOICES = frozenset(
    {
        "semantics",
        "regularizer",
        "scoring",
        "positional",
        "global_activation",
        "optimizer",
        "regularizer_reduction",
        "attention",
        "full_dropout",
        "neighbor_padding",
        "scoring_chunk_size",
    }
)
