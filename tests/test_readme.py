"""The README's Python example runs as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


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
def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the datamodule caches under ./data
    exec(compile(python_example(), str(README), "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out.strip().splitlines()
    hit_rate = float(printed[-2])
    assert 0.3 < hit_rate <= 1.0  # the synthetic data is learnable within one epoch
    items = json.loads(printed[-1])
    assert len(items) == 5 and all(1 <= item <= 1000 for item in items)
