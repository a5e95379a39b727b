"""Run a W&B sweep file locally, without W&B: every point of its grid, one after the other.

Reads ``experiments/sweeps/*.yaml`` (the W&B sweep format: ``parameters`` with ``values`` and
a ``command`` ending in ``${args}``), expands the grid, and runs each point as the same
``dmi-gnn fit`` command W&B would run, minus the W&B logger overlay (``--wandb-offline`` keeps
an offline W&B log instead). Results (validation-selected, tested once) go to a markdown table.

    python experiments/sweep.py experiments/sweeps/beta.yaml --dry-run
    python experiments/sweep.py experiments/sweeps/eta.yaml --output results/eta.md \\
        -- --data.data_dir=data/tmall --trainer.max_epochs=5
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dmi_gnn.run_dirs import versions

from run_grid import (
    combinations,
    fit_command,
    invocation_directory,
    markdown_table,
    publish,
    run,
    split_passthrough,
)

ONLINE, OFFLINE = "experiments/logger/wandb_online.yaml", "experiments/logger/wandb.yaml"


def grid(sweep: dict) -> list[dict[str, object]]:
    """Every combination of the sweep's ``values`` lists (``method: grid``)."""
    if sweep.get("method", "grid") != "grid":
        raise SystemExit(f"only grid sweeps run locally, got method {sweep.get('method')!r}")
    for name, spec in sweep["parameters"].items():
        if "values" not in spec:
            raise SystemExit(f"parameter {name}: a local grid needs a 'values' list")
    return combinations({name: spec["values"] for name, spec in sweep["parameters"].items()})


@dataclass(frozen=True)
class PlannedRun:
    """One grid point of a sweep: its parameter values, its run directory and its command."""

    name: str  # "beta=0.01"
    point: dict[str, object]  # {"model.beta": 0.01}
    run_dir: Path
    command: list[str]  # dmi-gnn fit ... --trainer.default_root_dir=<run_dir>


def plan(
    sweep: dict,
    sweep_file: Path,
    runs_dir: str | Path,
    base: list[str],
    extra: list[str],
    invocation: Path | None = None,
) -> list[PlannedRun]:
    """Every point of the sweep's grid as the run that makes it (``<invocation>/NN``).

    The one place that decides where a sweep's runs live: ``main`` writes them there and
    ``notebooks/hyperparameters.ipynb`` reads them back from there.

    Args:
        sweep: the parsed sweep file.
        sweep_file: its path (its stem names the sweep when the file has no ``name``).
        runs_dir: the folder holding every sweep's runs (``<runs_dir>/<name>/version_K/NN``).
        base: ``dmi-gnn fit`` arguments before the point's settings (see :func:`base_arguments`).
        extra: arguments after them (they override both).
        invocation: the ``version_K`` folder of this invocation; None: the newest existing one
            (to read results back; ``<runs_dir>/<name>/version_0`` when there is none yet).
    """
    title = sweep.get("name", Path(sweep_file).stem)
    if invocation is None:
        existing = versions(Path(runs_dir) / title)
        invocation = existing[-1][1] if existing else Path(runs_dir) / title / "version_0"
    runs = []
    for index, point in enumerate(grid(sweep)):
        run_dir = Path(invocation) / f"{index:02d}"
        settings = [f"--{key}={value}" for key, value in point.items()]
        name = ", ".join(f"{key.split('.')[-1]}={value}" for key, value in point.items())
        command = fit_command(run_dir, [*base, *settings, *extra])
        runs.append(PlannedRun(name, point, run_dir, command))
    return runs


def base_arguments(sweep: dict, keep_wandb: bool) -> list[str]:
    """The sweep command's arguments after ``dmi-gnn fit``, W&B overlay removed or offline."""
    command = [token for token in sweep["command"] if not token.startswith("${")]
    if command[:2] != ["dmi-gnn", "fit"]:
        raise SystemExit(f"the sweep command must start with 'dmi-gnn fit', got {command[:2]}")
    args, out = command[2:], []
    for i, token in enumerate(args):
        if token == "--config" and i + 1 < len(args) and args[i + 1] in (ONLINE, OFFLINE):
            continue
        if token in (ONLINE, OFFLINE):
            if keep_wandb:
                out += ["--config", OFFLINE]
            continue
        out.append(token)
    return out


def main(argv: list[str] | None = None) -> int:
    argv, passthrough = split_passthrough(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--runs-dir", default="runs/sweeps")
    parser.add_argument("--output", help="write the markdown table here (also printed)")
    parser.add_argument("--wandb-offline", action="store_true", help="keep an offline W&B log")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    sweep = yaml.safe_load(args.sweep.read_text())
    base = base_arguments(sweep, args.wandb_offline)
    name = sweep.get("name", args.sweep.stem)
    runs_dir = Path(args.runs_dir).resolve()
    invocation = invocation_directory(runs_dir / name, args.dry_run)
    results = [
        run(planned.name, planned.command, planned.run_dir, dry_run=args.dry_run)
        for planned in plan(sweep, args.sweep, runs_dir, base, passthrough, invocation)
    ]
    table = markdown_table(results, f"sweep {name}")
    publish(table, args.output, results)
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
