"""The kNN sweep files and benchmark script: grids the indexes accept, a benchmark that runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from dmi_gnn.nonparametric import SKNN, VSKNN, Pop, SPop

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "experiments"))

import benchmark_knn  # noqa: E402

import sweep  # noqa: E402

GRIDS = {"pop": (Pop, 4), "spop": (SPop, 4), "sknn": (SKNN, 24), "vsknn": (VSKNN, 32)}


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_every_grid_point_is_a_valid_index(name):
    index, size = GRIDS[name]
    spec = yaml.safe_load((ROOT / "experiments" / "sweeps" / f"{name}.yaml").read_text())
    points = sweep.grid(spec)
    assert len(points) == size and spec["command"][-1] == "${args}"
    assert spec["metric"] == {"name": "val/MRR@20", "goal": "maximize"}
    for point in points:
        options = {key.removeprefix("model."): value for key, value in point.items()}
        index(10, **options)  # raises on an option the index does not take


def test_option_parsing():
    parsed = benchmark_knn.parse_options(["k=20", "idf_weighting=2.5", "remind=false", "x=div"])
    assert parsed == {"k": 20, "idf_weighting": 2.5, "remind": False, "x": "div"}
    with pytest.raises(SystemExit, match="expected NAME=VALUE"):
        benchmark_knn.parse_options(["k"])


@pytest.mark.shared_data
def test_benchmark_prints_one_record_per_method(shared_data, capsys):
    data = shared_data("diginetica-sample/preprocessed")
    benchmark_knn.main(
        ["--data-dir", str(data), "--repeats", "1", "--single", "5", "--vsknn", "k=5"]
    )
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["method"] for r in records] == ["pop", "spop", "sknn", "vsknn"]
    assert records[3]["options"]["k"] == 5
    assert all(r["test_prefixes"] == 99 and r["train_sessions"] == 469 for r in records)
    assert all(0 <= r["MRR@20"] <= r["HR@20"] <= 100 for r in records)
