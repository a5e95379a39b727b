"""Hyper-parameter search on validation with Optuna (TPE sampler, median pruning).

Reads a search file (``experiments/sweeps/optuna_*.yaml``: the ``dmi-gnn fit`` arguments and a
search space), and runs each trial as one ``dmi-gnn fit`` subprocess on the validation protocol
with the test switched off (``--test_after_fit=false``): the test set is never touched by the
search. A trial may be a fraction of an epoch (``--train-batches``); it validates every
``--val-every`` of its batches (Lightning's ``val_check_interval``: a fraction of the trial's own
batches, so ``0.5`` validates twice, or a batch count), reports ``val/MRR@20`` to the study
after each validation (:class:`dmi_gnn.tuning.OptunaPruning`) and is stopped early when the
median pruner says so. Its value is the best validation value it reached, the one checkpoint
selection would keep.

    python experiments/optuna_search.py experiments/sweeps/optuna_dmignn_repeat.yaml \\
        --trials 12 --train-batches 0.1 --val-every 0.5 --output results/optuna.md \\
        -- --data.data_dir=../shared/data/tmall-gcegnn

The study lives in ``<runs-dir>/<name>/study.db`` (SQLite) and resumes across invocations.
``--sampler grid`` enumerates a space of ``choices`` only (e.g. to check that the ranking of a
fraction of an epoch agrees with full epochs). Space entries:
``{choices: [...]}``, ``{low: a, high: b}`` (float), ``{low, high, log: true}``,
``{low, high, int: true}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dmi_gnn.tuning import PRUNED_MARKER, median_pruner

from run_grid import combinations, fit_command, publish, read_metrics, run, split_passthrough

STARTUP_TRIALS = 3  # trials that complete before any is pruned


def suggest(trial, name: str, spec: dict) -> object:
    """One value of the space entry ``spec`` for parameter ``name``."""
    if "choices" in spec:
        return trial.suggest_categorical(name, spec["choices"])
    if {"low", "high"} - spec.keys():
        raise SystemExit(f"parameter {name}: give 'choices' or 'low' and 'high', got {spec}")
    if spec.get("int"):
        return trial.suggest_int(
            name, int(spec["low"]), int(spec["high"]), log=spec.get("log", False)
        )
    return trial.suggest_float(
        name, float(spec["low"]), float(spec["high"]), log=spec.get("log", False)
    )


def grid_points(space: dict) -> list[dict]:
    """Every combination of a space made only of ``choices`` (``--sampler grid``)."""
    if any("choices" not in entry for entry in space.values()):
        raise SystemExit("--sampler grid needs 'choices' for every parameter")
    return combinations({name: entry["choices"] for name, entry in space.items()})


def best_value(run_dir: Path, metric: str, goal: str) -> float | None:
    """The best ``metric`` the run logged (None if it logged none)."""
    values = [float(row[metric]) for row in read_metrics(run_dir) if row.get(metric)]
    if not values:
        return None
    return max(values) if goal == "maximize" else min(values)


def pruning_callback(storage: str, study: str, trial_id: int, metric: str, run_dir: Path) -> str:
    """The ``--trainer.callbacks+=`` value that puts the pruning callback on the trial's trainer."""
    init = dict(storage=storage, study_name=study, trial_id=trial_id, monitor=metric)
    init.update(marker_dir=str(run_dir), startup_trials=STARTUP_TRIALS)
    return json.dumps({"class_path": "dmi_gnn.tuning.OptunaPruning", "init_args": init})


def main(argv: list[str] | None = None) -> int:
    import optuna

    argv, passthrough = split_passthrough(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("search", type=Path)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--train-batches", default="1.0", help="--trainer.limit_train_batches")
    parser.add_argument(
        "--val-every",
        default="1.0",
        help="--trainer.val_check_interval: a fraction of the trial's batches (0.5: validate "
        "twice) or a batch count",
    )
    parser.add_argument("--val-batches", default="1.0", help="--trainer.limit_val_batches")
    parser.add_argument("--sampler", choices=["tpe", "grid"], default="tpe")
    parser.add_argument("--seed", type=int, default=2024, help="the sampler's seed")
    parser.add_argument("--runs-dir", default="runs/optuna")
    parser.add_argument("--output", help="write the markdown table here (also printed)")
    args = parser.parse_args(argv)
    spec = yaml.safe_load(args.search.read_text())
    name, space = spec.get("name", args.search.stem), spec["parameters"]
    metric, goal = spec["metric"]["name"], spec["metric"].get("goal", "maximize")
    folder = Path(args.runs_dir).resolve() / name
    folder.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{folder / 'study.db'}"
    sampler = optuna.samplers.TPESampler(seed=args.seed)
    pruner = median_pruner(STARTUP_TRIALS)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction=goal,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    trials = args.trials
    if args.sampler == "grid":
        # Every point enqueued once (Optuna's GridSampler stops the study from inside tell(),
        # which only works under study.optimize, not in this ask-and-tell loop).
        points = grid_points(space)
        done = [t.params for t in study.trials]
        for point in points:
            if point not in done:
                study.enqueue_trial(point)
        trials = min(trials, sum(point not in done for point in points))
    budget = [
        "--trainer.max_epochs=1",
        f"--trainer.limit_train_batches={args.train_batches}",
        f"--trainer.val_check_interval={args.val_every}",
        f"--trainer.limit_val_batches={args.val_batches}",
        "--test_after_fit=false",
        "--early_stopping.patience=1000",  # pruning, not early stopping, ends a trial early
    ]
    for _ in range(trials):
        trial = study.ask()
        params = {key: suggest(trial, key, entry) for key, entry in space.items()}
        run_dir = folder / f"trial{trial.number:03d}"
        callback = pruning_callback(storage, name, trial._trial_id, metric, run_dir)
        settings = [f"--{key}={value}" for key, value in params.items()]
        command = fit_command(
            run_dir,
            [
                *spec["arguments"],
                *budget,
                *settings,
                *passthrough,
                f"--trainer.callbacks+={callback}",
            ],
        )
        label = ", ".join(f"{key.split('.')[-1]}={value}" for key, value in params.items())
        result = run(f"trial {trial.number}: {label}", command, run_dir, protocol="validation")
        value = best_value(run_dir, metric, goal) if run_dir.is_dir() else None
        if (run_dir / PRUNED_MARKER).exists():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif result.returncode != 0 or value is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, value)
        print(f"trial {trial.number}: {label} -> {value}", flush=True)
    table = trials_table(study, metric)
    publish(table, args.output)
    return 0


def trials_table(study, metric: str) -> str:
    """Every trial of the study: its parameters, state and best validation value."""
    import optuna

    trials = [t for t in study.trials if t.state != optuna.trial.TrialState.RUNNING]
    names = sorted({key for t in trials for key in t.params})
    lines = [
        f"## Optuna study {study.study_name} ({metric}, validation only)",
        "",
        "| trial | " + " | ".join(names) + f" | state | {metric} | reports |",
        "|---|" + "---|" * len(names) + "---|---|---|",
    ]
    for t in trials:
        value = "–" if t.value is None else f"{100 * t.value:.2f}"
        if t.value is None and t.intermediate_values:
            value = f"({100 * max(t.intermediate_values.values()):.2f})"
        cells = [_cell(t.params.get(key)) for key in names]
        reports = len(t.intermediate_values)
        lines.append(
            f"| {t.number} | " + " | ".join(cells) + f" | {t.state.name} | {value} | {reports} |"
        )
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        flags = " ".join(f"--{k}={_cell(v)}" for k, v in best.params.items())
        lines += ["", f"best: trial {best.number}, {metric} {100 * best.value:.2f}: `{flags}`"]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "–" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
