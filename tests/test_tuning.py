"""Optuna search on validation: the pruning callback and the search script on tiny data."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

optuna = pytest.importorskip("optuna")

from dmi_gnn.tuning import PRUNED_MARKER, OptunaPruning  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _study(tmp_path: Path) -> tuple[str, object]:
    """A study whose first trial completed with 0.5 at steps 10 and 20."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    first = study.ask()
    first.report(0.5, step=10)
    first.report(0.5, step=20)
    study.tell(first, 0.5)
    return storage, study


def _trainer(value: float, step: int) -> SimpleNamespace:
    metrics = {"val/MRR@20": torch.tensor(value)}
    return SimpleNamespace(
        sanity_checking=False, callback_metrics=metrics, global_step=step, should_stop=False
    )


def test_the_callback_reports_each_validation_and_stops_a_pruned_trial(tmp_path):
    storage, study = _study(tmp_path)
    good, bad = study.ask(), study.ask()
    run = tmp_path / "run"
    keep = OptunaPruning(storage, "s", good._trial_id, "val/MRR@20", str(tmp_path / "keep"), 1)
    for step, value in ((10, 0.7), (20, 0.6)):  # above the completed trial's median
        trainer = _trainer(value, step)
        keep.on_validation_end(trainer, None)
        assert not trainer.should_stop and not (tmp_path / "keep" / PRUNED_MARKER).exists()
    stop = OptunaPruning(storage, "s", bad._trial_id, "val/MRR@20", str(run), 1)
    trainer = _trainer(0.2, step=10)  # below it
    stop.on_validation_end(trainer, None)
    assert trainer.should_stop and (run / PRUNED_MARKER).is_file()
    stored = optuna.load_study(study_name="s", storage=storage).trials
    assert stored[1].intermediate_values == pytest.approx({10: 0.7, 20: 0.6})
    assert stored[2].intermediate_values == pytest.approx({10: 0.2})


def test_no_trial_is_pruned_before_the_startup_trials_completed(tmp_path):
    storage, study = _study(tmp_path)
    trial = study.ask()
    callback = OptunaPruning(storage, "s", trial._trial_id, "val/MRR@20", str(tmp_path), 2)
    bad = _trainer(0.2, step=10)
    callback.on_validation_end(bad, None)
    assert not bad.should_stop


def test_sanity_checks_and_missing_metrics_are_not_reported(tmp_path):
    storage, study = _study(tmp_path)
    trial = study.ask()
    callback = OptunaPruning(storage, "s", trial._trial_id, "val/MRR@20", str(tmp_path), 1)
    sanity = _trainer(0.1, step=0)
    sanity.sanity_checking = True
    callback.on_validation_end(sanity, None)
    other = SimpleNamespace(
        sanity_checking=False, callback_metrics={}, global_step=5, should_stop=False
    )
    callback.on_validation_end(other, None)
    assert not sanity.should_stop and not other.should_stop
    assert optuna.load_study(study_name="s", storage=storage).trials[1].intermediate_values == {}


def _tiny(tmp_path: Path) -> list[str]:
    return [
        "--data.synthetic_num_items=150",
        "--data.synthetic_num_train_sessions=300",
        "--data.synthetic_num_test_sessions=60",
        "--data.batch_size=50",
        f"--data.cache_dir={tmp_path / 'cache'}",
        "--model.embedding_dim=16",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]


@pytest.mark.slow
def test_the_search_runs_trials_on_validation_and_never_touches_the_test_set(tmp_path):
    sys.path.insert(0, str(ROOT / "experiments"))
    import optuna_search

    from run_grid import read_metrics

    search = tmp_path / "search.yaml"
    search.write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "metric": {"name": "val/MRR@20", "goal": "maximize"},
                "arguments": ["--config", "experiments/quickstart.yaml"],
                "parameters": {"model.lr": {"low": 1e-3, "high": 1e-2, "log": True}},
            }
        )
    )
    tiny = _tiny(tmp_path)
    output = tmp_path / "table.md"
    args = [str(search), "--trials", "2", "--train-batches", "2", "--val-every", "1"]
    args += [
        "--val-batches",
        "1",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--output",
        str(output),
        "--",
        *tiny,
    ]
    assert optuna_search.main(args) == 0
    study = optuna.load_study(
        study_name="tiny", storage=f"sqlite:///{tmp_path / 'runs' / 'tiny' / 'study.db'}"
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    for number, trial in enumerate(study.trials):
        rows = read_metrics(tmp_path / "runs" / "tiny" / f"trial{number:03d}")
        val = [float(row["val/MRR@20"]) for row in rows if row.get("val/MRR@20")]
        assert len(trial.intermediate_values) == len(val) == 2  # two validations, both reported
        assert trial.value == pytest.approx(max(val))
        assert not any(row.get("test/HR@20") for row in rows)  # the search never tests
    assert "best: trial" in output.read_text()


@pytest.mark.slow
def test_a_grid_search_runs_every_point_once(tmp_path):
    sys.path.insert(0, str(ROOT / "experiments"))
    import optuna_search

    search = tmp_path / "grid.yaml"
    spec = {
        "name": "grid",
        "metric": {"name": "val/MRR@20", "goal": "maximize"},
        "arguments": ["--config", "experiments/quickstart.yaml"],
        "parameters": {"model.repeat": {"choices": ["none", "bonus"]}},
    }
    search.write_text(yaml.safe_dump(spec))
    args = [str(search), "--sampler", "grid", "--trials", "5", "--train-batches", "2"]
    args += ["--val-batches", "1", "--runs-dir", str(tmp_path / "runs"), "--", *_tiny(tmp_path)]
    assert optuna_search.main(args) == 0
    assert optuna_search.main(args) == 0  # a second invocation has nothing left to run
    storage = f"sqlite:///{tmp_path / 'runs' / 'grid' / 'study.db'}"
    trials = optuna.load_study(study_name="grid", storage=storage).trials
    assert sorted(t.params["model.repeat"] for t in trials) == ["bonus", "none"]
    assert all(t.state.name == "COMPLETE" for t in trials)
