"""The README as a newcomer uses it: the set-up block, the Python example, what it documents."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CPU_WHEELS = "--index-url https://download.pytorch.org/whl/cpu"


def setup_block() -> list[str]:
    """The command lines of the bash block under "## Set-up" (comments dropped)."""
    text = README.read_text()
    section = text[text.index("## Set-up") :]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, "the README lost its set-up block"
    lines = [line.strip() for line in match.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_setup_block_installs_the_cpu_wheel_before_the_package_and_keeps_two_commands():
    lines = setup_block()
    cpu = next(i for i, line in enumerate(lines) if CPU_WHEELS in line)
    first_install = next(i for i, line in enumerate(lines) if "pip install -e ." in line)
    assert cpu < first_install  # torch is there before `pip install -e .` could pull CUDA
    assert "dmi-gnn fit --config experiments/quickstart.yaml" in lines[-2]
    assert 'pip install -e ".[dev]"' in lines[-1] and "python -m pytest" in lines[-1]


@pytest.mark.parametrize("gpu", [False, True])
def test_setup_cpu_step_runs_on_a_cpu_machine_only(tmp_path, gpu):
    """The CPU-wheel line, run by bash with stand-ins for pip and (on a GPU machine) nvidia-smi."""
    (line,) = [line for line in setup_block() if CPU_WHEELS in line]
    bin_dir, venv = tmp_path / "bin", tmp_path / ".venv" / "bin"
    bin_dir.mkdir()
    venv.mkdir(parents=True)
    log = tmp_path / "pip.log"
    stand_ins = {venv / "pip": f'echo "$@" >> {log}'}
    if gpu:
        stand_ins[bin_dir / "nvidia-smi"] = "exit 0"
    for path, body in stand_ins.items():
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, check=True)
    installed = log.read_text().split() if log.exists() else []
    assert installed == ([] if gpu else ["install", "torch", *CPU_WHEELS.split()])


def test_ci_does_the_cpu_setup_and_installs_what_the_notebook_tests_need():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("pip install --quiet torch==") < ci.index('pip install --quiet -e ".[dev]"')
    assert "torch.version.cuda is None" in ci
    assert re.search(r"^python -m pytest -q$", ci, re.MULTILINE)  # slow tests (notebooks) too
    pyproject = (ROOT / "pyproject.toml").read_text()
    dev = re.search(r"^dev = \[(.*?)\]", pyproject, re.DOTALL | re.MULTILINE).group(1)
    for package in ("nbclient", "nbformat", "ipykernel", "matplotlib"):
        assert f'"{package}' in dev, package


def test_every_environment_variable_the_tests_read_is_documented():
    names = set()
    for path in (ROOT / "tests").rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r"(?:getenv|environ\.get)\(\s*\"(DMI_GNN_[A-Z_]+)", text))
        names |= set(re.findall(r"environ\[\"(DMI_GNN_[A-Z_]+)", text))
    assert {"DMI_GNN_SHARED_DATA", "DMI_GNN_EXTRA_DATA"} <= names
    readme = README.read_text()
    assert sorted(name for name in names if name not in readme) == []


def test_readme_timings_are_dated_measurements():
    readme = README.read_text()
    assert "about a minute" not in readme and "about 100 s" not in readme
    development = readme[readme.index("## Development") :]
    assert re.search(r"20\d\d-\d\d-\d\d", development)  # a date
    assert "python -m pytest -q" in development  # the command that was timed


def python_example() -> str:
    """The python block that the README says is run by the tests."""
    text = README.read_text()
    marker = text.index("this example is run by the tests")
    match = re.search(r"```python\n(.*?)```", text[marker:], re.DOTALL)
    assert match, "the README lost its tested Python example"
    return match.group(1)


def test_the_example_is_about_ten_lines():
    lines = [line for line in python_example().splitlines() if line.strip()]
    assert 8 <= len(lines) <= 14


@pytest.mark.slow
def test_readme_example_runs_and_writes_no_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(python_example(), str(README), "exec"), {"__name__": "readme_example"})
    assert list(tmp_path.iterdir()) == []  # synthetic data stays in memory: no ./data/.cache
    printed = capsys.readouterr().out.strip().splitlines()
    hit_rate = float(printed[-2])
    assert 0.3 < hit_rate <= 1.0  # the synthetic data is learnable within one epoch
    items = json.loads(printed[-1])
    assert len(items) == 5 and all(1 <= item <= 1000 for item in items)
