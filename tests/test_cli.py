"""The ``dmi-gnn`` command, run through ``main([...])`` (and as a process where it must be)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dmi_gnn.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "experiments" / "quickstart.yaml")


def tiny(run_dir: Path, cache: Path, epochs: int = 2) -> list[str]:
    """Overrides that shrink the quick start to a few seconds."""
    return [
        "--data.synthetic_num_items=150",
        "--data.synthetic_num_train_sessions=300",
        "--data.synthetic_num_test_sessions=60",
        "--data.batch_size=50",
        f"--data.cache_dir={cache}",
        "--model.embedding_dim=16",
        f"--trainer.max_epochs={epochs}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={run_dir}",
    ]


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def last_value(rows: list[dict[str, str]], key: str) -> float:
    return [float(row[key]) for row in rows if row.get(key)][-1]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """``dmi-gnn fit`` on the tiny quick start: one run directory reused below."""
    base = tmp_path_factory.mktemp("cli")
    run_dir, cache = base / "run", base / "cache"
    main(["fit", "--config", QUICKSTART, *tiny(run_dir, cache)])
    return run_dir, cache


@pytest.mark.slow
def test_fit_validates_each_epoch_and_tests_the_best_checkpoint(fitted):
    run_dir, _ = fitted
    rows = read_metrics(run_dir)
    epochs = {row["epoch"] for row in rows if row.get("val/MRR@20")}
    assert epochs == {"0", "1"}
    tested = [row for row in rows if row.get("test/HR@20")]
    assert len(tested) == 1  # the test set is touched once
    checkpoints = {path.name for path in (run_dir / "checkpoints").iterdir()}
    assert "last.ckpt" in checkpoints and any(n.startswith("best-epoch") for n in checkpoints)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["model"]["num_items"] == 150  # handed over from the datamodule


@pytest.mark.slow
def test_without_validation_set_the_final_model_is_tested_once(tmp_path):
    run_dir = tmp_path / "refit"
    main(
        ["fit", "--config", QUICKSTART, *tiny(run_dir, tmp_path / "cache"), "--data.val_fraction=0"]
    )
    rows = read_metrics(run_dir)
    assert not any(row.get("val/MRR@20") for row in rows)
    assert len([row for row in rows if row.get("test/HR@20")]) == 1
    assert (run_dir / "checkpoints" / "epoch01.ckpt").is_file()  # the last epoch is tested


@pytest.mark.slow
def test_test_subcommand_needs_no_model_flags(fitted):
    run_dir, cache = fitted
    best = next((run_dir / "checkpoints").glob("best-epoch*.ckpt"))
    test_dir = run_dir.parent / "test-run"
    main(
        [
            "test",
            f"--ckpt_path={best}",
            *tiny(test_dir, cache)[:5],
            f"--trainer.default_root_dir={test_dir}",
        ]
    )
    rows = read_metrics(test_dir)
    for key in ("test/HR@20", "test/MRR@20", "test/Cov@20"):
        assert last_value(rows, key) == pytest.approx(last_value(read_metrics(run_dir), key))
    assert (test_dir / "config-test.yaml").is_file()


@pytest.mark.slow
def test_runs_keep_their_history(fitted, tmp_path):
    run_dir, cache = fitted
    before = read_metrics(run_dir)
    best = next((run_dir / "checkpoints").glob("best-epoch*.ckpt"))
    main(["test", f"--ckpt_path={best}", *tiny(run_dir, cache)])  # tests into the run directory
    after = read_metrics(run_dir)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    again = tmp_path / "again"
    for _ in range(2):  # a fresh fit into a used directory keeps the earlier log aside
        main(["fit", "--config", QUICKSTART, *tiny(again, cache, epochs=1)])
    assert (again / "metrics.1.csv").read_text().splitlines()[1:] and read_metrics(again)


@pytest.mark.slow
def test_predict_writes_results_and_per_line_errors(fitted):
    run_dir, _ = fitted
    sessions = run_dir.parent / "sessions.jsonl"
    sessions.write_text('[1, 2, 3]\n[100000, 4]\n[]\nnot json\n{"session": [7]}\n[99999]\n')
    output = run_dir.parent / "out" / "predictions.jsonl"
    main(
        [
            "predict",
            f"--ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}",
            f"--data.predict_file={sessions}",
            f"--prediction_writer.output_path={output}",
            f"--trainer.default_root_dir={run_dir.parent / 'predict-run'}",
            "--trainer.enable_progress_bar=false",
        ]
    )
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 3, 4, 5, 6]
    good = [lines[0], lines[1], lines[4]]
    assert all(len(line["items"]) == 20 and len(line["scores"]) == 20 for line in good)
    assert all(1 <= item <= 150 for line in good for item in line["items"])
    assert lines[1]["unknown"] == [100000]
    assert lines[2]["error"] == "empty session"
    assert lines[3]["error"].startswith("malformed line")
    assert lines[5] == {"line": 6, "unknown": [99999], "error": "no known item in the session"}


def test_print_config_and_every_experiment_config_parse(capsys):
    configs = sorted((ROOT / "experiments").glob("*.yaml"))
    overlays = sorted((ROOT / "experiments" / "ablations").glob("*.yaml"))
    assert {c.stem for c in configs} >= {"quickstart", "tmall", "retailrocket", "lastfm"}
    for config in configs:
        extra = ["--config", str(overlays[0])] if config.stem == "tmall" else []
        with pytest.raises(SystemExit) as done:
            main(["fit", "--config", str(config), *extra, "--print_config"])
        assert done.value.code == 0
        printed = yaml.safe_load(capsys.readouterr().out)
        assert printed["checkpoint"]["monitor"] == "val/MRR@20"
        assert "monitor" not in printed["early_stopping"]  # linked to checkpoint.monitor


def test_tmall_config_carries_the_published_preset(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(ROOT / "experiments" / "tmall.yaml"), "--print_config"])
    model = yaml.safe_load(capsys.readouterr().out)["model"]
    assert (model["num_interests"], model["beta"], model["eta"]) == (5, 0.02, 8)
    assert (model["dropout_local"], model["dropout_global"], model["dropout_gcn"]) == (
        0.7,
        1.0,
        1.0,
    )


def test_every_ablation_overlay_changes_what_it_says():
    expected = {
        "no_dmi": {"regularizer": "none", "beta": 0.0},
        "similarity": {"regularizer": "similarity"},
        "single_positional": {"positional": "single"},
        "single_interest": {"num_interests": 1},
        "sum_scoring": {"scoring": "sum"},
    }
    for name, values in expected.items():
        overlay = yaml.safe_load((ROOT / "experiments" / "ablations" / f"{name}.yaml").read_text())
        assert overlay["model"] == values


def test_prepare_is_a_subcommand(capsys):
    assert main(["prepare", "--help"]) == 0
    assert "diginetica" in capsys.readouterr().out
    assert main(["prepare", "no-such-recipe"]) == 2


@pytest.mark.slow
def test_wandb_overlay_runs_offline_and_records_metrics(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "run"
    main(
        [
            "fit",
            "--config",
            QUICKSTART,
            "--config",
            str(ROOT / "experiments" / "logger" / "wandb.yaml"),
            *tiny(run_dir, tmp_path / "cache", epochs=1),
        ]
    )
    offline_runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1
    keys = (b"val/MRR@20", b"test/HR@20", b"data/dataset_hash")
    for _ in range(100):  # the W&B service process may still be writing the file
        records = b"".join(path.read_bytes() for path in offline_runs[0].glob("*.wandb"))
        if all(key in records for key in keys):
            break
        time.sleep(0.1)
    for key in keys:
        assert key in records
    assert read_metrics(run_dir)  # the CSV log is kept beside it


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}
    return subprocess.run(
        [sys.executable, "-m", "dmi_gnn", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_resume_after_a_kill_mid_epoch_gives_the_same_result(tmp_path):
    killer = tmp_path / "kill.yaml"
    killer.write_text(
        "trainer:\n  callbacks:\n    - class_path: tests.cli_helpers.KillAtBatch\n"
        "      init_args: {epoch: 1, batch: 3}\n"
    )
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    done = _run(["fit", "--config", QUICKSTART, *tiny(whole, tmp_path / "c1", epochs=3)], ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    args = ["fit", "--config", QUICKSTART, *tiny(broken, tmp_path / "c2", epochs=3)]
    killed = _run([*args, "--config", str(killer)], ROOT)
    assert killed.returncode != 0
    assert (broken / "checkpoints" / "last.ckpt").is_file()
    resumed = _run([*args, "--ckpt_path=last"], ROOT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    whole_rows, broken_rows = read_metrics(whole), read_metrics(broken)
    assert {row["epoch"] for row in broken_rows} == {row["epoch"] for row in whole_rows}
    for key in ("val/MRR@20", "val/HR@20", "test/MRR@20", "test/HR@20", "test/Cov@20"):
        assert last_value(broken_rows, key) == pytest.approx(last_value(whole_rows, key), abs=1e-6)


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(fitted, tmp_path):
    """Fit runs under DDP (gloo); validating one checkpoint on 1 and on 2 processes agrees."""
    run_dir, cache = fitted
    ddp = ["--trainer.strategy=ddp", "--trainer.devices=2", "--trainer.accelerator=cpu"]
    fit = _run(["fit", "--config", QUICKSTART, *tiny(tmp_path / "ddp-fit", cache), *ddp], ROOT)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert last_value(read_metrics(tmp_path / "ddp-fit"), "test/HR@20") > 0
    best = next((run_dir / "checkpoints").glob("best-epoch*.ckpt"))
    data = tiny(tmp_path, cache)[:5]
    results = {}
    for devices, extra in (("1", ["--trainer.devices=1"]), ("2", ddp)):
        out = tmp_path / f"validate-{devices}"
        args = ["validate", f"--ckpt_path={best}", *data, f"--trainer.default_root_dir={out}"]
        done = _run([*args, *extra], ROOT)
        assert done.returncode == 0, done.stderr[-3000:]
        results[devices] = read_metrics(out)[-1]
    assert float(results["2"]["val/count"]) == float(results["1"]["val/count"])
    for key in ("val/HR@20", "val/MRR@20", "val/NDCG@20", "val/Cov@20", "val/HR@10"):
        assert float(results["2"][key]) == pytest.approx(float(results["1"][key]), abs=1e-6)
