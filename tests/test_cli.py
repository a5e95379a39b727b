"""The ``dmi-gnn`` command, run through ``main([...])`` (and as a process where it must be)."""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from datamodules.processed import ProcessedDataset, Sessions, write_processed
from dmi_gnn import checkpoints
from dmi_gnn.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "experiments" / "quickstart.yaml")
NOISE = ("litlogger", "LeafSpec", "dirpath has changed", "exists and is not empty")


def data_flags(cache: Path) -> list[str]:
    """The tiny synthetic dataset (150 items; evaluations cut to 2 batches of 50)."""
    return [
        "--data.synthetic_num_items=150",
        "--data.synthetic_num_train_sessions=300",
        "--data.synthetic_num_test_sessions=60",
        "--data.batch_size=50",
        f"--data.cache_dir={cache}",
        "--trainer.limit_val_batches=2",
        "--trainer.limit_test_batches=2",
    ]


def tiny(root: Path, cache: Path, epochs: int = 2) -> list[str]:
    """Overrides that shrink the quick start to a few seconds (``root``: experiment folder)."""
    return [
        *data_flags(cache),
        "--model.embedding_dim=16",
        f"--trainer.max_epochs={epochs}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={root}",
    ]


def quick(root: Path, cache: Path, epochs: int = 1) -> list[str]:
    """``tiny`` cut to 3 training batches per epoch (tests of the plumbing, not the learning)."""
    return [*tiny(root, cache, epochs), "--trainer.limit_train_batches=3"]


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def last_value(rows: list[dict[str, str]], key: str) -> float:
    return [float(row[key]) for row in rows if row.get(key)][-1]


def error_lines(capsys) -> list[str]:
    """The non-empty stderr lines of the last call, without Lightning's start-up info."""
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if line.startswith("dmi-gnn")]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """``dmi-gnn fit`` on the tiny quick start: one run directory reused below."""
    base = tmp_path_factory.mktemp("cli")
    root, cache = base / "runs", base / "cache"
    assert main(["fit", "--config", QUICKSTART, *quick(root, cache, epochs=2)]) == 0
    return root / "version_0", cache


def copy_run(run_dir: Path, root: Path, name: str = "version_0") -> Path:
    """A copy of a run directory as run ``name`` of the experiment folder ``root``."""
    copy = root / name
    shutil.copytree(run_dir, copy)
    return copy


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
    assert not (run_dir / "predictions.jsonl").exists()  # fit predicts nothing


@pytest.mark.slow
def test_without_validation_set_the_final_model_is_tested_once(tmp_path, recwarn):
    root = tmp_path / "refit"
    extra = ["--data.val_fraction=0"]
    args = ["fit", "--config", QUICKSTART, *quick(root, tmp_path / "cache", epochs=2), *extra]
    assert main(args) == 0
    rows = read_metrics(root / "version_0")
    assert not any(row.get("val/MRR@20") for row in rows)
    assert len([row for row in rows if row.get("test/HR@20")]) == 1
    assert (root / "version_0" / "checkpoints" / "epoch01.ckpt").is_file()  # the last epoch
    assert not [w for w in recwarn if "DataLoader" in str(w.message)]  # no empty-loader warning


@pytest.mark.slow
def test_test_subcommand_needs_no_model_flags(fitted):
    run_dir, cache = fitted
    best = next((run_dir / "checkpoints").glob("best-epoch*.ckpt"))
    test_dir = run_dir.parent.parent / "test-run"
    assert main(["test", f"--ckpt_path={best}", *data_flags(cache), f"--run_dir={test_dir}"]) == 0
    rows = read_metrics(test_dir)
    for key in ("test/HR@20", "test/MRR@20", "test/Cov@20"):
        assert last_value(rows, key) == pytest.approx(last_value(read_metrics(run_dir), key))
    assert (test_dir / "config-test.yaml").is_file()


@pytest.mark.slow
def test_evaluations_write_into_their_checkpoints_run_and_keep_its_history(fitted, tmp_path):
    run_dir = copy_run(fitted[0], tmp_path / "runs")
    before = read_metrics(run_dir)
    best = next((run_dir / "checkpoints").glob("best-epoch*.ckpt"))
    assert main(["test", f"--ckpt_path={best}", *data_flags(fitted[1])]) == 0
    after = read_metrics(run_dir)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert (run_dir / "config-test.yaml").is_file() and (run_dir / "config.yaml").is_file()
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["version_0"]


def test_fresh_fits_into_one_folder_never_mix_their_files(tmp_path, caplog, monkeypatch):
    """Issue 12.6: every fresh fit gets a new version_N (no -v1 checkpoints, no lost config)."""
    root, cache = tmp_path / "runs", tmp_path / "cache"
    saved = []
    atomic_save = checkpoints.atomic_save
    monkeypatch.setattr(
        checkpoints,
        "atomic_save",
        lambda state, path: saved.append(path) or atomic_save(state, path),
    )
    for seed in (1, 2):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="dmi_gnn"):
            args = ["fit", "--config", QUICKSTART, *quick(root, cache), f"--seed_everything={seed}"]
            assert main([*args, f"--test_after_fit={seed == 1}"]) == 0
        run_dir = root / f"version_{seed - 1}"
        assert f"run directory: {run_dir}" in caplog.text  # printed when the run starts
        names = sorted(path.name for path in (run_dir / "checkpoints").iterdir())
        assert names == ["best-epoch00.ckpt", "last.ckpt"]
        assert yaml.safe_load((run_dir / "config.yaml").read_text())["seed_everything"] == seed
        tested = [row for row in read_metrics(run_dir) if row.get("test/HR@20")]
        assert len(tested) == (seed == 1)  # each run's metrics.csv holds only its own rows
    assert sorted(path.name for path in root.iterdir()) == ["version_0", "version_1"]
    # issue 11.8: every checkpoint, last.ckpt included, went through the atomic writer
    written = sorted(Path(path).relative_to(root).as_posix() for path in saved)
    assert written == [
        f"version_{n}/checkpoints/{name}"
        for n in (0, 1)
        for name in ("best-epoch00.ckpt", "last.ckpt")
    ]


@pytest.mark.slow
def test_run_dir_must_be_new_or_empty_for_a_fresh_fit(fitted, tmp_path, capsys):
    used = copy_run(fitted[0], tmp_path)
    args = ["fit", "--config", QUICKSTART, *quick(tmp_path / "runs", fitted[1])]
    assert main([*args, f"--run_dir={used}"]) == 2
    [line] = error_lines(capsys)
    assert f"--run_dir {used} already holds another run's files" in line
    assert "--ckpt_path" in line  # how to resume it instead


@pytest.mark.slow
def test_ckpt_path_last_resumes_the_newest_run_with_a_last_checkpoint(fitted, tmp_path, caplog):
    """Issue 12.6: ``--ckpt_path last`` picks the newest run that has last.ckpt and names it."""
    root = tmp_path / "runs"
    resumable = copy_run(fitted[0], root, "version_1")
    (root / "version_0").mkdir()  # an older run without checkpoints
    (root / "version_2" / "checkpoints").mkdir(parents=True)  # killed before its first save
    args = ["fit", "--config", QUICKSTART, *quick(root, fitted[1], epochs=3), "--ckpt_path=last"]
    with caplog.at_level(logging.INFO, logger="dmi_gnn"):
        assert main([*args, "--test_after_fit=false"]) == 0
    last = resumable / "checkpoints" / "last.ckpt"
    assert f"resuming the run in {resumable} from {last} (saved in epoch 2)" in caplog.text
    assert sorted(path.name for path in root.iterdir()) == ["version_0", "version_1", "version_2"]
    assert {row["epoch"] for row in read_metrics(resumable) if row.get("val/MRR@20")} == {
        "0",
        "1",
        "2",
    }
    assert (resumable / "config-resume.yaml").is_file()
    assert sorted(p.name for p in (resumable / "checkpoints").iterdir())[-1] == "last.ckpt"
    assert not list((resumable / "checkpoints").glob("*-v1.ckpt"))


def test_ckpt_path_last_without_a_checkpoint_is_an_error(tmp_path, capsys):
    """Issue 11.8: it started a fresh run with exit code 0."""
    root = tmp_path / "runs"
    (root / "version_0").mkdir(parents=True)
    args = ["fit", "--config", QUICKSTART, *quick(root, tmp_path / "cache"), "--ckpt_path=last"]
    assert main(args) == 2
    [line] = error_lines(capsys)
    assert line.startswith("dmi-gnn fit: error: --ckpt_path last: no run under")
    assert "version_0 (no checkpoints)" in line
    assert sorted(path.name for path in root.iterdir()) == ["version_0"]  # nothing new


@pytest.mark.parametrize("damage", ["empty", "truncated"])
@pytest.mark.slow
def test_a_corrupt_checkpoint_is_an_error_naming_the_others(fitted, tmp_path, capsys, damage):
    """Issue 11.8: an empty or truncated last.ckpt gave a raw traceback."""
    run_dir = copy_run(fitted[0], tmp_path / "runs")
    last = run_dir / "checkpoints" / "last.ckpt"
    content = last.read_bytes()
    last.write_bytes(b"" if damage == "empty" else content[: len(content) // 2])
    args = ["fit", "--config", QUICKSTART, *quick(tmp_path / "runs", fitted[1]), "--ckpt_path=last"]
    assert main(args) == 2
    [line] = error_lines(capsys)
    assert f"{last} is not a readable checkpoint" in line
    best = next((run_dir / "checkpoints").glob("best-epoch*.ckpt"))
    assert f"other checkpoints of this run: {best}" in line


@pytest.mark.slow
def test_test_on_other_data_with_the_same_item_count_warns_naming_both(fitted, tmp_path, caplog):
    """Issue 11.7: same item count, other sessions: evaluated silently."""
    run_dir, cache = fitted
    last = run_dir / "checkpoints" / "last.ckpt"
    trained_on = torch.load(last, weights_only=True)["dmi_gnn_data"]["dataset_hash"]
    args = ["test", f"--ckpt_path={last}", *data_flags(cache), f"--run_dir={tmp_path / 'out'}"]
    with caplog.at_level(logging.WARNING, logger="dmi_gnn"):
        assert main([*args, "--data.synthetic_seed=1"]) == 0
    [warning] = [r.getMessage() for r in caplog.records if "trained on dataset" in r.getMessage()]
    other = warning.split("--data.* gives dataset ")[1].split(" ")[0]
    assert f"trained on dataset {trained_on} " in warning and other != trained_on
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dmi_gnn"):
        assert main(args) == 0  # the training data: nothing to say
    assert "trained on dataset" not in caplog.text


@pytest.mark.slow
def test_a_vocabulary_mismatch_is_an_error(fitted, tmp_path, capsys):
    """Issue 11.7: 150 items with other raw ids would be evaluated silently."""
    sessions = Sessions.from_lists([[1, 2, 3], [4, 5, 6, 7], [8, 9]] * 20)
    raw_ids = list(range(1001, 1151))  # 150 items, but raw id 1001 is item 1
    dataset = ProcessedDataset(sessions, sessions, raw_ids, "shop")
    folder = write_processed(dataset, tmp_path / "shop")
    last = fitted[0] / "checkpoints" / "last.ckpt"
    args = ["test", f"--ckpt_path={last}", f"--data.dataset={folder}", f"--run_dir={tmp_path}/o"]
    assert main([*args, f"--data.cache_dir={tmp_path / 'cache'}"]) == 2
    [line] = error_lines(capsys)
    assert line.startswith("dmi-gnn test: error: the checkpoint was trained on dataset")
    assert "the raw item ids map to other model ids" in line


@pytest.mark.slow
def test_predict_writes_results_and_per_line_errors(fitted, tmp_path, caplog):
    run_dir = copy_run(fitted[0], tmp_path / "runs")
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text('[1, 2, 3]\n[100000, 4]\n[]\nnot json\n{"session": [7]}\n[99999]\n')
    output = tmp_path / "out" / "predictions.jsonl"
    common = [
        f"--ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}",
        f"--data.predict_file={sessions}",
    ]
    flags = [*common, "--trainer.enable_progress_bar=false", "--data.synthetic_seed=5"]
    with caplog.at_level(logging.INFO):
        assert main(["predict", *flags, f"--prediction_writer.output_path={output}"]) == 0
    assert "trained on dataset" not in caplog.text  # predict compares (and loads) no data
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 3, 4, 5, 6]
    good = [lines[0], lines[1], lines[4]]
    assert all(len(line["items"]) == 20 and len(line["scores"]) == 20 for line in good)
    assert all(1 <= item <= 150 for line in good for item in line["items"])
    assert lines[1]["unknown"] == [100000]
    assert lines[2]["error"] == "empty session"
    assert lines[3]["error"].startswith("malformed line")
    assert lines[5] == {"line": 6, "unknown": [99999], "error": "no known item in the session"}
    assert main(["predict", *flags]) == 0  # default: the checkpoint's run directory (12.10)
    assert (run_dir / "predictions.jsonl").read_text() == output.read_text()
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["version_0"]


USER_ERRORS = {
    "--data.batch_size=-5": "--data.batch_size must be an int >= 1, got -5",
    "--data.dataset=tmall --data.download=false --data.data_dir=nowhere": "nowhere",
    "--data.dataset=tmal": "--data.*: unknown dataset 'tmal'",
    "--model.eta=-3": "--model.eta must be > 0, got -3",
    "--model.beta=-0.5": "--model.beta must be >= 0, got -0.5",
    "--model.dropout_local=1.5": "--model.dropout_local must be in [0, 1], got 1.5",
    "--trainer.max_epochs=abc": "--trainer.max_epochs abc: expected int or null",
    "--config=missing.yaml": "--config: File does not exist",
    "--checkpoint.monitor=val/MRR@2O": "--checkpoint.monitor 'val/MRR@2O' is not a metric",
}


@pytest.mark.parametrize("flag", list(USER_ERRORS))
def test_user_errors_print_one_line_and_return_2(tmp_path, capsys, flag):
    """Issue 11.12: a traceback and exit code 1, --model.eta -3 accepted, the monitor checked
    only after a whole epoch."""
    root = tmp_path / "runs"
    args = ["fit", "--config", QUICKSTART, *quick(root, tmp_path / "cache"), *flag.split()]
    assert main(args) == 2
    [line] = error_lines(capsys)
    assert line.startswith("dmi-gnn fit: error: ") and USER_ERRORS[flag] in line
    assert not root.exists()  # nothing ran, and nothing is left: not even the folder


def test_monitor_is_checked_against_the_test_names_under_no_selection(tmp_path):
    """Under the paper protocol selection is off, so a val/ monitor is not an error."""
    args = ["fit", "--config", QUICKSTART, *quick(tmp_path / "runs", tmp_path / "cache")]
    assert main([*args, "--data.protocol=paper", "--test_after_fit=false"]) == 0


def test_debug_shows_the_traceback_of_a_user_error(tmp_path, monkeypatch):
    args = ["fit", "--config", QUICKSTART, *quick(tmp_path, tmp_path / "cache"), "--model.eta=-3"]
    with pytest.raises(ValueError, match="eta must be > 0"):
        main([*args, "--debug"])
    monkeypatch.setenv("DMI_GNN_DEBUG", "1")
    with pytest.raises(ValueError, match="eta must be > 0"):
        main(args)


def test_one_line_per_epoch_without_a_progress_bar(tmp_path, capsys):
    """Issue 12.7: with --trainer.enable_progress_bar false no epoch metrics were printed."""
    root = tmp_path / "runs"
    args = ["fit", "--config", QUICKSTART, *quick(root, tmp_path / "cache", epochs=2)]
    assert main([*args, "--test_after_fit=false"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
    rows = [row for row in read_metrics(root / "version_0") if row.get("val/HR@20")]
    for line, row in zip(lines, rows, strict=True):
        words = line.split()
        for metric in ("val/HR@20", "val/MRR@20", "val/NDCG@20", "val/Cov@20"):
            printed = float(words[words.index(metric) + 1])
            assert printed == pytest.approx(100 * float(row[metric]), abs=0.006)  # x 100
        assert float(words[words.index("train/loss") + 1]) > 0


@pytest.mark.slow
def test_a_run_prints_no_library_tips_or_deprecations(fitted, tmp_path, caplog, recwarn):
    """Issue 11.13: a litlogger tip, a LeafSpec deprecation and "dirpath has changed"."""
    root, cache = tmp_path / "runs", fitted[1]
    with caplog.at_level(logging.INFO):
        assert main(["fit", "--config", QUICKSTART, *quick(root, cache)]) == 0
        last = fitted[0] / "checkpoints" / "last.ckpt"
        flags = [f"--ckpt_path={last}", *data_flags(cache), f"--run_dir={tmp_path / 'out'}"]
        assert main(["test", *flags]) == 0
    printed = caplog.text + "\n".join(str(warning.message) for warning in recwarn)
    for noise in NOISE:
        assert noise not in printed
    assert "run directory:" in caplog.text  # what the user needs stays


@pytest.mark.slow  # 8 s: parses every experiment config
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


@pytest.mark.parametrize("recipe", ["ema", "tmall_repeat"])
def test_every_recipe_overlay_parses_over_tmall(capsys, recipe):
    tmall = str(ROOT / "experiments" / "tmall.yaml")
    overlay = str(ROOT / "experiments" / "recipes" / f"{recipe}.yaml")
    with pytest.raises(SystemExit) as done:
        main(["fit", "--config", tmall, "--config", overlay, "--print_config"])
    assert done.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    if recipe == "tmall_repeat":
        assert printed["refit"] is True and printed["model"]["repeat"] == "mixture"
    else:
        assert "EMAWeightAveraging" in printed["trainer"]["callbacks"][0]["class_path"]


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
    root = tmp_path / "runs"
    wandb_overlay = str(ROOT / "experiments" / "logger" / "wandb.yaml")
    args = ["fit", "--config", QUICKSTART, "--config", wandb_overlay]
    assert main([*args, *quick(root, tmp_path / "cache")]) == 0
    run_dir = root / "version_0"
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


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled", **env}
    return subprocess.run(
        [sys.executable, "-m", "dmi_gnn", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_user_errors_as_a_process_exit_2_without_a_traceback(tmp_path):
    """Issue 11.12, as the shell sees it: exit status 2, one line, no traceback."""
    args = ["fit", "--config", QUICKSTART, *quick(tmp_path, tmp_path / "cache")]
    done = _run([*args, "--data.batch_size=-5"], ROOT)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "dmi-gnn fit: error: --data.batch_size must be an int >= 1, got -5"
    )
    debug = _run([*args, "--data.batch_size=-5"], ROOT, DMI_GNN_DEBUG="1")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


@pytest.mark.slow
def test_a_checkpoint_carrying_a_payload_is_refused_by_the_command(fitted, tmp_path):
    """Issue 11.11: with torch's default off, ``fit --ckpt_path last`` ran the payload."""
    marker = tmp_path / "payload-ran"
    payload = tmp_path / "evil.ckpt"
    code = (
        "import os, sys, torch\n"
        "class Payload:\n"
        "    def __reduce__(self):\n"
        f"        return (os.makedirs, ({str(marker)!r},))\n"
        "state = torch.load(sys.argv[1], weights_only=True)\n"
        "state['hyper_parameters']['note'] = Payload()\n"
        "torch.save(state, sys.argv[2])\n"
    )
    last = fitted[0] / "checkpoints" / "last.ckpt"
    subprocess.run([sys.executable, "-c", code, str(last), str(payload)], check=True)
    run_dir = tmp_path / "runs" / "version_0"
    (run_dir / "checkpoints").mkdir(parents=True)
    shutil.copy(payload, run_dir / "checkpoints" / "last.ckpt")
    unsafe = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}  # torch < 2.6 behaved like this
    data = data_flags(fitted[1])
    for args in (
        ["test", f"--ckpt_path={payload}", *data],
        ["fit", "--config", QUICKSTART, *tiny(tmp_path / "runs", fitted[1]), "--ckpt_path=last"],
    ):
        done = _run(args, ROOT, **unsafe)
        assert done.returncode == 2, done.stderr[-2000:]
        assert "which a weights-only load refuses" in done.stderr.splitlines()[-1]
        assert "`posix.makedirs`" in done.stderr or "`os.makedirs`" in done.stderr
        assert not marker.exists()


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
    assert (broken / "version_0" / "checkpoints" / "last.ckpt").is_file()
    resumed = _run([*args, "--ckpt_path=last"], ROOT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert sorted(path.name for path in broken.iterdir()) == ["version_0"]
    whole_rows, broken_rows = read_metrics(whole / "version_0"), read_metrics(broken / "version_0")
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
    assert sorted(path.name for path in (tmp_path / "ddp-fit").iterdir()) == ["version_0"]
    assert last_value(read_metrics(tmp_path / "ddp-fit" / "version_0"), "test/HR@20") > 0
    best = next((run_dir / "checkpoints").glob("best-epoch*.ckpt"))
    # 303 sessions give 155 validation samples: the ranks hold 78 and 77 (uneven on purpose).
    data = [*data_flags(cache), "--data.synthetic_num_train_sessions=303"]
    results = {}
    for devices, extra in (("1", ["--trainer.devices=1"]), ("2", ddp)):
        out = tmp_path / f"validate-{devices}"
        args = ["validate", f"--ckpt_path={best}", *data, f"--run_dir={out}"]
        done = _run([*args, "--trainer.limit_val_batches=1.0", *extra], ROOT)  # all of it
        assert done.returncode == 0, done.stderr[-3000:]
        results[devices] = read_metrics(out)[-1]
    assert float(results["2"]["val/count"]) == float(results["1"]["val/count"])
    keys = ("val/HR@20", "val/MRR@20", "val/NDCG@20", "val/Cov@20", "val/HR@10", "val/loss")
    for key in keys:  # val/loss too: a sum and a count, not a mean of per-rank means
        assert float(results["2"][key]) == pytest.approx(float(results["1"][key]), abs=1e-6)


def test_quiet_runs_drop_the_sync_dist_advice_for_already_reduced_metrics():
    import warnings

    from dmi_gnn import cli_quiet

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli_quiet.install("validate")
        for name in ("val/loss", "test/HR@20", "train/ce"):
            warnings.warn(
                f"It is recommended to use `self.log({name!r}, ..., sync_dist=True)` when "
                "logging on epoch level in distributed setting",
                UserWarning,
                stacklevel=1,
            )
    assert [str(w.message)[:35] for w in caught] == ["It is recommended to use `self.log("]
    assert "train/ce" in str(caught[0].message)


@pytest.mark.slow
def test_an_ema_run_tests_the_averaged_weights_it_validated_and_saved(tmp_path):
    root, cache = tmp_path / "ema", tmp_path / "cache"
    ema = str(ROOT / "experiments" / "recipes" / "ema.yaml")
    args = ["fit", "--config", QUICKSTART, "--config", ema, *quick(root, cache, epochs=1)]
    assert main(args) == 0
    run_dir = root / "version_0"
    best = next((run_dir / "checkpoints").glob("best-epoch*.ckpt"))
    saved = torch.load(best, map_location="cpu", weights_only=True)
    averaged, raw = saved["state_dict"], saved["current_model_state"]
    weights = [k for k, v in averaged.items() if torch.is_tensor(v) and v.is_floating_point()]
    assert any(not torch.equal(averaged[k], raw[k]) for k in weights)  # EMA really averaged
    test_dir = tmp_path / "test-run"
    assert main(["test", f"--ckpt_path={best}", *data_flags(cache), f"--run_dir={test_dir}"]) == 0
    for key in ("test/HR@20", "test/MRR@20", "test/loss"):
        after_fit = last_value(read_metrics(run_dir), key)
        assert after_fit == pytest.approx(last_value(read_metrics(test_dir), key), abs=1e-6)


@pytest.mark.slow
def test_refit_retrains_on_all_training_sessions_for_the_chosen_epochs_and_tests_once(tmp_path):
    root, cache = tmp_path / "runs", tmp_path / "cache"
    args = ["fit", "--config", QUICKSTART, *quick(root, cache, epochs=2), "--refit=true"]
    assert main(args) == 0
    run_dir = root / "version_0"
    rows = read_metrics(run_dir)
    assert not any(row.get("test/HR@20") for row in rows)  # the validation model is not tested
    val = [(int(r["epoch"]), float(r["val/MRR@20"])) for r in rows if r.get("val/MRR@20")]
    chosen = max(val, key=lambda pair: pair[1])[0] + 1
    refit = run_dir / "refit"
    refit_rows = read_metrics(refit)
    assert not any(row.get("val/MRR@20") for row in refit_rows)  # no validation set
    assert len([row for row in refit_rows if row.get("test/HR@20")]) == 1
    assert {int(r["epoch"]) for r in refit_rows if r.get("train/loss")} <= set(range(chosen))
    assert (refit / "checkpoints" / f"epoch{chosen - 1:02d}.ckpt").is_file()
    config = yaml.safe_load((refit / "config.yaml").read_text())
    assert config["data"]["val_fraction"] == 0 and config["trainer"]["max_epochs"] == chosen
    assert config["refit"] is False


@pytest.mark.parametrize("extra", [["--data.val_fraction=0"], ["--data.protocol=paper"]])
def test_refit_without_a_validation_set_is_an_error(tmp_path, capsys, extra):
    root, cache = tmp_path / "runs", tmp_path / "cache"
    args = ["fit", "--config", QUICKSTART, *quick(root, cache), "--refit=true", *extra]
    assert main(args) == 2
    assert "--refit true needs the validation protocol" in " ".join(error_lines(capsys))
