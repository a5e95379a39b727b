"""Fixtures for the ``dmi-gnn prepare`` tests: running the command and reading its output."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from datamodules.preprocess.cli import prepare_main


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def load_pickle(path: Path):
    """Load a GCE-GNN pickle allowing no globals (lists, tuples and ints only)."""
    with open(path, "rb") as handle:
        return _NoGlobals(handle).load()


def augment(sessions: list[list[int]], m: int) -> tuple[list[list[int]], list[int]]:
    """The producers' rule, written out independently of the package."""
    inputs, targets = [], []
    for s in sessions:
        for i in range(1, len(s) - m + 1):
            inputs.append(s[:-i])
            targets.append(s[-i])
    return inputs, targets


@pytest.fixture
def prepare(tmp_path, capsys):
    """``prepare(*argv)`` -> ``(exit_code, output_dir, report_dict, stderr)``.

    ``--output`` defaults to a fresh directory under ``tmp_path`` and ``--quiet`` is added.
    """
    counter = [0]

    def run(*argv: str):
        argv = list(argv)
        if "--output" not in argv:
            counter[0] += 1
            argv += ["--output", str(tmp_path / f"out{counter[0]}")]
        output = Path(argv[argv.index("--output") + 1])
        code = prepare_main([*argv, "--quiet"])
        err = capsys.readouterr().err
        report = None
        if code == 0:
            report = json.loads((output / "report.json").read_text())
        return code, output, report, err

    return run


def find_step(report: dict, name: str) -> dict:
    """The one report step called ``name``."""
    found = [s for s in report["steps"] if s["step"] == name]
    assert len(found) == 1, (name, [s["step"] for s in report["steps"]])
    return found[0]


@pytest.fixture
def unpickle():
    """``unpickle(path)``: load a GCE-GNN pickle allowing no globals."""
    return load_pickle


@pytest.fixture
def reference_augment():
    """``reference_augment(sessions, m)``: the producers' augmentation rule."""
    return augment


@pytest.fixture
def step():
    """``step(report, name)``: the one report step called ``name``."""
    return find_step
