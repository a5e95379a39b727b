"""Run a grid of the paper's tables and write a markdown table with the command of every cell.

Tables:

* ``reproduction``: one dataset in both semantics (``reference``, ``paper``) and both protocols
  (``validation``: checkpoint chosen on validation, test once; ``paper``: test every epoch,
  per-metric best reported as test-selected, as the published code does);
* ``table2``: the paper's main table for the chosen datasets and models (``--model NAME``,
  repeatable, a registered name; default DMIGNN), both protocols. ``NAME+OVERLAY`` adds
  ``experiments/ablations/OVERLAY.yaml`` to that model's cell (``DMIGNN+repeat_mixture``: the
  repeat-aware DMI-GNN; repeatable, ``NAME+A+B``). DMI-GNN runs
  ``experiments/<dataset>.yaml``; another model the composition ``experiments/data/<dataset>.yaml
  + models/<model>.yaml + presets/<model>/<dataset>.yaml``;
* with ``--refit``, every validation-protocol cell is followed by a *refit* cell: the same
  model retrained on all training sessions (``--data.val_fraction 0``) for the number of epochs
  chosen on validation, then tested once. The test set still chooses nothing; the model just
  also learns from the most recent 10 % of the sessions, which the validation split held out;
* ``--output F.md`` writes the table and, beside it, ``F.csv``: every cell's metrics, command
  and run directory, which ``collect --results F.csv`` reads back (tables and figures can be
  redrawn from a committed ``.csv`` after the cell folders are gone);
* ``--figure PATH`` also draws every cell's HR@20 against its Cov@20 (accuracy against
  diversity, the trade-off the paper argues about; needs matplotlib);
* ``table3``: the ablations of Table 3 on one dataset: full model, w/o DMI regulariser, the
  similarity regulariser (eq. 9) instead, w/o multiple positional patterns, w/o multi-interest
  (U = 1), sum instead of max scoring.

Each invocation writes into a new ``<runs-dir>/<table>/version_K/`` (cell ``NN`` and its refit
``NN-refit`` inside it) and reads every result from the cell's own directory. ``--runs-dir``,
``--data-dir`` and ``--output`` are relative to where the script is run; the ``dmi-gnn``
commands run in the repository root, so paths after ``--`` are relative to the repository.
A failed cell (non-zero exit, or no test metrics), or a refit that cannot run because its
validation run chose no checkpoint, makes the script exit with status 1.

Examples::

    python experiments/paper_tables.py reproduction --dataset tmall \\
        --data-dir ../shared/data/tmall-gcegnn --output results/reproduction.md
    python experiments/paper_tables.py table2 --dataset tmall --model DMIGNN --model Pop \\
        --data-dir ../shared/data/tmall-gcegnn --protocol validation --refit
    python experiments/paper_tables.py table3 --dataset tmall --data-dir data/tmall --dry-run
    python experiments/paper_tables.py table3 --dataset tmall --data-dir data/tmall \\
        -- --trainer.max_epochs=1          # anything after -- goes to every dmi-gnn command
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tradeoff_figure import write_tradeoff_figure

from dmi_gnn.models import resolve_name

from run_grid import (
    SELECTION,
    best_epoch,
    failed_result,
    fit_command,
    invocation_directory,
    markdown_table,
    publish,
    read_results,
    run,
    split_passthrough,
    summarize,
)

ABLATIONS = {
    "full": [],
    "w/o DMI (beta = 0)": ["ablations/no_dmi.yaml"],
    "similarity regulariser (eq. 9)": ["ablations/similarity.yaml"],
    "w/o multiple positional patterns": ["ablations/single_positional.yaml"],
    "w/o multi-interest (U = 1)": ["ablations/single_interest.yaml"],
    "max -> sum scoring": ["ablations/sum_scoring.yaml"],
}


ABLATIONS_DIR = Path(__file__).resolve().parent / "ablations"

#: Labels of the models in the tables (the registered name otherwise).
LABELS = {"DMIGNN": "DMI-GNN"}


def model_configs(model: str, dataset: str) -> list[str]:
    """The ``--config`` arguments of ``model`` on ``dataset``."""
    if model == "DMIGNN":
        return ["--config", f"experiments/{dataset}.yaml"]
    folder = model.lower()
    files = [f"data/{dataset}", f"models/{folder}", f"presets/{folder}/{dataset}"]
    return [arg for name in files for arg in ("--config", f"experiments/{name}.yaml")]


def model_spec(spec: str) -> str:
    """``NAME[+OVERLAY...]`` with ``NAME`` resolved to its registered name; every overlay must
    be a file of ``experiments/ablations/``."""
    name, *overlays = spec.split("+")
    for overlay in overlays:
        if not (ABLATIONS_DIR / f"{overlay}.yaml").is_file():
            known = ", ".join(sorted(p.stem for p in ABLATIONS_DIR.glob("*.yaml")))
            raise SystemExit(f"--model {spec}: no overlay {overlay!r} (known: {known})")
    return "+".join([resolve_name(name), *overlays])


def cells(
    table: str, datasets: list[str], protocols: list[str], models: list[str] | None = None
) -> list[tuple[str, list[str]]]:
    """``(cell name, dmi-gnn arguments)`` for every cell of ``table``."""
    out = []
    if table == "table2":
        for dataset in datasets:
            for spec in models or ["DMIGNN"]:
                model, *overlays = spec.split("+")
                base = model_configs(model, dataset)
                for overlay in overlays:
                    base += ["--config", f"experiments/ablations/{overlay}.yaml"]
                shown = " + ".join([LABELS.get(model, model), *overlays])
                for protocol in protocols:
                    label = f"{dataset} {shown} [{protocol}]"
                    out.append((label, [*base, f"--data.protocol={protocol}"]))
        return out
    for dataset in datasets:
        base = ["--config", f"experiments/{dataset}.yaml"]
        if table == "table3":
            for name, overlays in ABLATIONS.items():
                extra = [arg for o in overlays for arg in ("--config", f"experiments/{o}")]
                for protocol in protocols:
                    out.append(
                        (
                            f"{dataset} {name} [{protocol}]",
                            [*base, *extra, f"--data.protocol={protocol}"],
                        )
                    )
        elif table == "reproduction":
            for semantics in ("reference", "paper"):
                for protocol in protocols:
                    args = [*base, f"--model.semantics={semantics}", f"--data.protocol={protocol}"]
                    out.append((f"{dataset} {semantics} semantics [{protocol}]", args))
        else:
            for protocol in protocols:
                out.append(
                    (f"{dataset} DMI-GNN [{protocol}]", [*base, f"--data.protocol={protocol}"])
                )
    return out


def main(argv: list[str] | None = None) -> int:
    argv, passthrough = split_passthrough(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", choices=["reproduction", "table2", "table3", "collect"])
    parser.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="LABEL=RUN_DIR",
        help="collect: a finished run directory and its row label, repeatable",
    )
    parser.add_argument(
        "--results",
        action="append",
        default=[],
        metavar="CSV",
        help="collect: the results file (.csv) an earlier --output wrote, repeatable",
    )
    parser.add_argument("--dataset", action="append", help="repeatable; default tmall")
    parser.add_argument(
        "--model", action="append", help="table2: a registered model, repeatable; default DMIGNN"
    )
    parser.add_argument("--data-dir", help="--data.data_dir for every run (benchmarks)")
    parser.add_argument(
        "--protocol", choices=["validation", "paper", "both"], default="both", help="which ones"
    )
    parser.add_argument(
        "--runs-dir",
        default="runs/tables",
        help="each invocation writes a new <runs-dir>/<table>/version_K, one folder per cell",
    )
    parser.add_argument("--output", help="write the markdown table here (also printed)")
    parser.add_argument(
        "--figure", help="write the HR@20-against-Cov@20 figure of every cell here (.png)"
    )
    parser.add_argument(
        "--refit", action="store_true", help="retrain validation cells on all train data"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    if args.table == "collect":
        return collect(args.run, args.output, args.figure, args.results)
    datasets = args.dataset or ["tmall"]
    protocols = ["validation", "paper"] if args.protocol == "both" else [args.protocol]
    invocation = invocation_directory(Path(args.runs_dir).resolve() / args.table, args.dry_run)
    data = [f"--data.data_dir={Path(args.data_dir).resolve()}"] if args.data_dir else []
    results = []
    models = [model_spec(spec) for spec in args.model or ["DMIGNN"]]
    for index, (name, cli_args) in enumerate(cells(args.table, datasets, protocols, models)):
        run_dir = invocation / f"{index:02d}"
        protocol = "paper" if "--data.protocol=paper" in cli_args else "validation"
        command = fit_command(run_dir, [*cli_args, *data, *passthrough])
        result = run(name, command, run_dir, dry_run=args.dry_run, protocol=protocol)
        if not args.dry_run and run_protocol(run_dir) == "refit":
            # `-- --data.val_fraction=0`: no validation set chose anything; label it as a refit
            result.selection = SELECTION["refit"]
        results.append(result)
        if not args.refit or protocol != "validation":
            continue
        refit_dir = invocation / f"{index:02d}-refit"
        epochs = None if args.dry_run else best_epoch(run_dir)
        label = f"{name} -> refit on all train"
        if epochs is None and not args.dry_run:
            reason = f"not run: the validation run {run_dir} recorded no best checkpoint"
            results.append(failed_result(label, reason, "refit"))
            continue
        chosen = "E" if epochs is None else str(epochs + 1)
        refit = [*cli_args, *data, *passthrough, "--data.val_fraction=0"]
        command = fit_command(refit_dir, [*refit, f"--trainer.max_epochs={chosen}"])
        label += f", {chosen} epoch(s) chosen on validation"
        results.append(run(label, command, refit_dir, dry_run=args.dry_run, protocol="refit"))
    table = markdown_table(results, f"{args.table}: {', '.join(datasets)}")
    publish(table, args.output, results)
    if args.figure and not args.dry_run:
        title = f"{args.table}: {', '.join(datasets)}: HR@20 against Cov@20"
        print(f"figure: {write_tradeoff_figure(results, args.figure, title)}")
    failed = [r for r in results if r.failed]
    for r in failed:
        print(f"FAILED: {r.name}: {r.error or f'exit {r.returncode}'}", file=sys.stderr)
    return 1 if failed else 0


def collect(
    runs: list[str], output: str | None, figure: str | None, results_files: list[str] = ()
) -> int:
    """Table (and figure) of finished runs, read back from their run directories, after the
    rows of earlier results files (``--results``: the ``.csv`` that ``--output`` writes beside
    its table, e.g. a committed one whose cell folders were not kept)."""
    if not runs and not results_files:
        raise SystemExit("collect: give at least one --run LABEL=RUN_DIR or --results CSV")
    results = [result for path in results_files for result in read_results(path)]
    for spec in runs:
        label, sep, folder = spec.partition("=")
        if not sep or not Path(folder).is_dir():
            raise SystemExit(f"collect: --run {spec!r} is not LABEL=<existing run directory>")
        run_dir = Path(folder).resolve()
        # the wall time and command are not in a run directory: unknown, not 0 s
        results.append(summarize(label, [], run_dir, math.nan, 0, run_protocol(run_dir)))
    table = markdown_table(results, "collected runs")
    publish(table, output, results)
    if figure:
        print(f"figure: {write_tradeoff_figure(results, figure, 'HR@20 against Cov@20')}")
    return 1 if any(r.failed for r in results) else 0


def run_protocol(run_dir: Path) -> str:
    """How a finished run chose what it tested, from its saved ``config.yaml``."""
    config = (
        yaml.safe_load((run_dir / "config.yaml").read_text())
        if (run_dir / "config.yaml").is_file()
        else {}
    )
    data = (config or {}).get("data", {})
    if data.get("protocol") == "paper":
        return "paper"
    return "refit" if data.get("val_fraction") == 0 else "validation"


if __name__ == "__main__":
    sys.exit(main())
