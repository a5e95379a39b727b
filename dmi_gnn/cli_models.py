"""Which model a ``dmi-gnn`` command line runs, decided before any heavy import.

The model family shares one command line: ``--model NAME`` (a short name of
:data:`dmi_gnn.models.REGISTRY`, any case, or a class path) or ``model: class_path: NAME`` in a
``--config`` file picks the model, DMI-GNN being the default; ``test|predict --ckpt_path X``
takes the class the checkpoint records. The chosen class is then parsed in full, so its
``--model.*`` options are exact flags, listed in ``--help`` and checked with close-match errors,
and the resolved config keeps the flat ``model:`` section it always had.

:func:`choose_model` returns the choice and the command line the parser sees: ``--model NAME``
removed and every config whose ``model`` section is written as ``class_path``/``init_args``
passed flattened (as YAML text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmi_gnn.errors import ConfigError
from dmi_gnn.models import DEFAULT_MODEL, REGISTRY, resolve_name

_CONFIG_FLAGS = ("--config", "-c")


@dataclass
class ModelChoice:
    """The model of a command line and what else the choice needs.

    Attributes:
        name: the registered short name.
        explicit: given by ``--model`` or a config's ``class_path`` (not the default).
        argv: the command line for the parser (``--model NAME`` removed, configs flattened).
        ckpt_path, run_dir, root: ``--ckpt_path``, ``--run_dir`` and the experiment folder
            (``--trainer.default_root_dir``), as far as the command line and configs say.
    """

    name: str = DEFAULT_MODEL
    explicit: bool = False
    argv: list[str] = field(default_factory=list)
    ckpt_path: str | None = None
    run_dir: str | None = None
    root: str | None = None

    @property
    def class_path(self) -> str:
        return REGISTRY[self.name]


def cache_entry(subcommand: str, name: str) -> str:
    """The key of a subcommand parser's facts in the help cache (per model)."""
    return subcommand if name == DEFAULT_MODEL else f"{subcommand}@{name}"


def _resolve(value: Any, where: str) -> str:
    try:
        return resolve_name(str(value))
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None


def _flatten(config: dict[str, Any], choice: ModelChoice, where: str) -> bool:
    """Apply a config's ``model`` section to ``choice``; flatten it in place (True if changed)."""
    section = config.get("model")
    if not isinstance(section, dict) or not ({"class_path", "init_args"} & section.keys()):
        return False
    if "class_path" in section:
        choice.name = _resolve(section["class_path"], f"{where}: model.class_path")
        choice.explicit = True
    init_args = section.get("init_args") or {}
    if not isinstance(init_args, dict):
        raise ConfigError(f"{where}: model.init_args must be a mapping of option: value")
    rest = {k: v for k, v in section.items() if k not in ("class_path", "init_args")}
    config["model"] = {**rest, **init_args}
    return True


def _read_config(path: str, choice: ModelChoice) -> str:
    """A config argument as the parser should see it (the path, or flattened YAML text)."""
    file = Path(path)
    if not file.is_file():
        return path  # YAML text or a missing file: the parser says what is wrong
    import yaml

    try:
        config = yaml.safe_load(file.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return path
    if not isinstance(config, dict):
        return path
    trainer = config.get("trainer")
    if isinstance(trainer, dict) and trainer.get("default_root_dir"):
        choice.root = str(trainer["default_root_dir"])
    for key in ("ckpt_path", "run_dir"):
        if config.get(key):
            setattr(choice, key, str(config[key]))
    if not _flatten(config, choice, path):
        return path
    return yaml.safe_dump(config, sort_keys=False)


def choose_model(argv: list[str]) -> ModelChoice:
    """The model of ``argv`` (the arguments after the subcommand) and the parser's argv.

    Raises:
        ConfigError: ``--model`` without a value, or a name that is not a registered model.
    """
    choice = ModelChoice()
    out: list[str] = []
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        name, has_value, value = token.partition("=")
        if token == "--":
            out.extend(tokens[index:])
            break
        takes_value = name in ("--model", *_CONFIG_FLAGS, "--ckpt_path", "--run_dir")
        takes_value = takes_value or name == "--trainer.default_root_dir"
        if takes_value and not has_value:
            if index + 1 >= len(tokens):
                if name == "--model":
                    raise ConfigError(f"--model needs a model name: {', '.join(REGISTRY)}")
                out.append(token)
                break
            value = tokens[index + 1]
            index += 1
        index += 1
        if not takes_value:
            out.append(token)
            continue
        if name == "--model":
            choice.name = _resolve(value, "--model")
            choice.explicit = True
            continue
        if name in _CONFIG_FLAGS:
            value = _read_config(value, choice)
        elif name == "--ckpt_path":
            choice.ckpt_path = value
        elif name == "--run_dir":
            choice.run_dir = value
        else:
            choice.root = value
        out.extend([name, value])
    choice.argv = out
    return choice
