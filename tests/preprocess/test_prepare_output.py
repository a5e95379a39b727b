"""Output: processed round trip, GCE-GNN pickles, report, atomic writing, the CLI entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datamodules.preprocess.cli import build_parser, prepare_main
from datamodules.preprocess.recipes import RECIPES
from datamodules.processed import read_processed

REPO = Path(__file__).resolve().parents[2]


def make_sessions_log(path: Path, sessions: int = 300, seed: int = 0) -> Path:
    """A sessionised log over 10 days with popular and rare items (unix seconds)."""
    rng = np.random.default_rng(seed)
    lines = ["sid\tproduct\tts"]
    for s in range(sessions):
        start = 1_600_000_000 + int(s * 10 * 86400 / sessions)
        for k in range(int(rng.integers(1, 8))):
            item = int(rng.zipf(1.6)) % 60
            lines.append(f"s{s}\t{item}\t{start + 60 * k}")
    path.write_text("\n".join(lines) + "\n")
    return path


ARGS = ["--session-column", "sid", "--item-column", "product", "--time-column", "ts"]


def test_processed_round_trip_and_gcegnn_pickles(tmp_path, prepare, unpickle, reference_augment):
    log = make_sessions_log(tmp_path / "log.tsv")
    code, output, report, err = prepare(
        "generic", "--input", str(log), *ARGS, "--id-type", "str", "--format", "gcegnn",
        "--min-prefix-length", "2", "--test-days", "2",
    )  # fmt: skip
    assert code == 0, err
    dataset = read_processed(output)
    assert dataset.min_prefix_length == 2
    assert dataset.metadata["report"] == report
    assert json.loads((output / "report.json").read_text()) == report
    train, test = dataset.train.to_lists(), dataset.test.to_lists()
    assert unpickle(output / "all_train_seq.txt") == train
    assert unpickle(output / "train.txt") == reference_augment(train, 2)
    assert unpickle(output / "test.txt") == reference_augment(test, 2)
    assert report["final"]["train_samples"] == len(reference_augment(train, 2)[0])
    assert report["final"]["test_samples"] == len(reference_augment(test, 2)[0])
    assert report["final"]["items"] == dataset.num_items == len(dataset.vocabulary)
    # ids 1..N in order of first appearance in the (chronological) train sessions
    flat = [i for s in train for i in s]
    assert list(dict.fromkeys(flat)) == list(range(1, dataset.num_items + 1))
    assert all(isinstance(v, str) for v in dataset.vocabulary)


# Destinations, --overwrite and failures while writing: test_prepare_output_dir.py.


def test_help_lists_every_recipe_with_its_options(capsys):
    assert prepare_main(["--help"]) == 0
    text = capsys.readouterr().out
    for name in RECIPES:
        assert f"  {name} " in text
    options = ("--fraction 1", "--max-session-id 120000", "--top-items 40000")
    options += ("--session-gap 1800.0", "--test-fraction F", "--min-prefix-length 2")
    for option in options:
        assert option in text, option
    for name in RECIPES:
        assert prepare_main([name, "--help"]) == 0
        assert "--input PATH" in capsys.readouterr().out


def test_usage_errors_exit_with_2(capsys):
    assert prepare_main([]) == 2
    assert prepare_main(["nosuchrecipe"]) == 2
    assert prepare_main(["diginetica", "--output", "x"]) == 2  # --input missing
    assert "usage:" in capsys.readouterr().err


def test_every_recipe_names_its_source():
    parser = build_parser()
    assert parser.prog == "dmi-gnn prepare"
    for recipe in RECIPES.values():
        assert recipe.source and recipe.raw_format and recipe.summary


@pytest.mark.slow
def test_python_dash_m_datamodules_prepare(tmp_path):
    log = make_sessions_log(tmp_path / "log.tsv")
    command = [
        sys.executable, "-m", "datamodules", "prepare", "generic", "--input", str(log),
        *ARGS, "--id-type", "str", "--test-days", "2", "--output", str(tmp_path / "out"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "final:" in done.stdout and "train sessions" in done.stdout
    assert read_processed(tmp_path / "out").name == "generic"
    bad = subprocess.run(
        [*command[:6], str(tmp_path / "missing.tsv"), *command[7:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "missing.tsv: no such file" in bad.stderr


def test_parquet_input_with_timestamps_and_string_ids(tmp_path, prepare):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    start = dt.datetime(2020, 1, 1)
    rows = range(200)
    table = pa.table(
        {
            "sid": [f"s{r // 4}" for r in rows],
            "product": [r % 7 for r in rows],
            "ts": pa.array([start + dt.timedelta(hours=r) for r in rows], pa.timestamp("ms")),
        }
    )
    pq.write_table(table, tmp_path / "log.parquet")
    code, output, report, err = prepare(
        "generic", "--input", str(tmp_path / "log.parquet"), *ARGS, "--id-type", "str",
        "--test-days", "1",
    )  # fmt: skip
    assert code == 0, err
    # 50 sessions of 4 hourly clicks; the last click is at hour 199, so sessions ending at
    # hour >= 175 (the last 7, ending at 179, 183, ..., 199) are test
    assert report["split"]["split_date"] == "2020-01-08T07:00:00Z"
    assert (report["final"]["train_sessions"], report["final"]["test_sessions"]) == (43, 7)
    assert read_processed(output).vocabulary == [str(i) for i in range(7)]


def test_csv_and_parquet_inputs_are_concatenated(tmp_path, prepare):
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_rows = [f"{r // 4},{r % 5},{1_600_000_000 + 60 * r}" for r in range(40)]
    (tmp_path / "a.csv").write_text("sid,product,ts\n" + "\n".join(csv_rows) + "\n")
    rows = range(40, 80)
    table = pa.table(
        {
            "sid": pa.array([r // 4 for r in rows], pa.int32()),
            "product": pa.array([r % 5 for r in rows], pa.int16()),
            "ts": [1_600_000_000.0 + 60 * r for r in rows],
        }
    )
    pq.write_table(table, tmp_path / "b.parquet")
    code, _, report, err = prepare(
        "generic", "--input", str(tmp_path / "a.csv"), "--input", str(tmp_path / "b.parquet"),
        *ARGS, "--min-item-support", "1", "--test-seconds", "600",
    )  # fmt: skip
    assert code == 0, err
    assert (report["read"]["rows"], report["read"]["sessions"], report["read"]["items"]) == (
        80,
        20,
        5,
    )
    # the last click is at minute 79; sessions ending at minute >= 69 (71, 75, 79) are test
    assert (report["final"]["train_sessions"], report["final"]["test_sessions"]) == (17, 3)
