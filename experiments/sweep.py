"""Run a W&B sweep file locally, without W&B: every point of its grid, one after the other.

Reads ``experiments/sweeps/*.yaml`` (the W&B sweep format: ``parameters`` with ``values`` and
a ``command`` ending in ``${args}``), expands the grid, and runs each point as the same
``dmi-gnn fit`` command W&B would run, minus the W&B logger overlay (``--wandb-offline`` keeps
an offline W&B log instead). Results (validation-selected, tested once) go to a markdown table.
Each invocation writes into a new ``<runs-dir>/<sweep name>/version_K/NN/`` (one run directory
per point) and reads every point's results from its own directory; a failed point makes the
script exit with status 1.

    python experiments/sweep.py experiments/sweeps/beta.yaml --dry-run
    python experiments/sweep.py experiments/sweeps/eta.yaml --output results/eta.md \\
        -- --data.data_dir=data/tmall --trainer.max_epochs=5
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_grid import fit_command, invocation_directory, markdown_table, run

ONLINE, OFFLINE = "experiments/logger/wandb_online.yaml", "experiments/logger/wandb.yaml"


def grid(sweep: dict) -> list[dict[str, object]]:
    """Every combination of the sweep's ``values`` lists (``method: grid``)."""
    if sweep.get("method", "grid") != "grid":
        raise SystemExit(f"only grid sweeps run locally, got method {sweep.get('method')!r}")
    names, choices = [], []
    for name, spec in sweep["parameters"].items():
        if "values" not in spec:
            raise SystemExit(f"parameter {name}: a local grid needs a 'values' list")
        names.append(name)
        choices.append(spec["values"])
    return [dict(zip(names, point, strict=True)) for point in itertools.product(*choices)]


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
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
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
    invocation = invocation_directory(Path(args.runs_dir).resolve() / name, args.dry_run)
    results = []
    for index, point in enumerate(grid(sweep)):
        run_dir = invocation / f"{index:02d}"
        settings = [f"--{key}={value}" for key, value in point.items()]
        label = ", ".join(f"{key.split('.')[-1]}={value}" for key, value in point.items())
        command = fit_command(run_dir, [*base, *settings, *passthrough])
        results.append(run(label, command, run_dir, dry_run=args.dry_run))
    table = markdown_table(results, f"sweep {name}")
    print(table)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(table)
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
