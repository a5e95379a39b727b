"""Helpers shared by ``paper_tables.py`` and ``sweep.py``: run ``dmi-gnn`` and read its results.

A run is one ``dmi-gnn fit`` command with its own ``--trainer.default_root_dir``; its results
are read back from that directory's ``metrics.csv``:

* validation protocol: the metrics of the single final test of the checkpoint chosen on
  ``val/MRR@20`` (``selection = "val/MRR@20, tested once"``);
* paper protocol (test evaluated every epoch): the last epoch's test metrics, and each
  metric's best over epochs, labelled as TEST-SELECTED, which is how the published code
  reports its numbers.
"""

from __future__ import annotations

import csv
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("HR@20", "MRR@20", "NDCG@20", "Cov@20")


@dataclass
class RunResult:
    """What one run produced (metrics in percent, like the paper's tables)."""

    name: str
    command: list[str]
    seconds: float
    returncode: int
    epochs: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    best_over_epochs: dict[str, float] = field(default_factory=dict)
    selection: str = ""


def best_epoch(run_dir: Path) -> int | None:
    """The (0-based) epoch of the checkpoint this run chose on validation, if any.

    Read from the run's own ``last.ckpt`` (its ModelCheckpoint state names the best file), so
    checkpoints left in the directory by an earlier run cannot be mistaken for it.
    """
    import torch

    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return None
    state = torch.load(last, map_location="cpu", weights_only=True)
    for key, value in state.get("callbacks", {}).items():
        if key.startswith("ModelCheckpoint") and value.get("best_model_path"):
            best = torch.load(value["best_model_path"], map_location="cpu", weights_only=True)
            return int(best["epoch"])
    return None


def fit_command(run_dir: Path, args: list[str]) -> list[str]:
    """The ``dmi-gnn fit`` command line writing into ``run_dir``."""
    return ["dmi-gnn", "fit", *args, f"--trainer.default_root_dir={run_dir}"]


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    """Rows of ``run_dir/metrics.csv`` (empty when the run logged nothing)."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return []
    with open(path) as handle:
        return list(csv.DictReader(handle))


def summarize(name: str, command: list[str], run_dir: Path, seconds: float, code: int) -> RunResult:
    """Read the run's metrics back as a :class:`RunResult`."""
    rows = read_metrics(run_dir)
    result = RunResult(name, command, seconds, code)
    epochs = {row["epoch"] for row in rows if row.get("epoch") and row.get("train/loss")}
    result.epochs = len(epochs)
    per_epoch = [row for row in rows if row.get("test/HR@20")]
    if not per_epoch:
        return result
    final = per_epoch[-1]
    result.metrics = {m: 100 * float(final[f"test/{m}"]) for m in METRICS}
    if len(per_epoch) > 1 or not any(row.get("val/MRR@20") for row in rows):
        result.best_over_epochs = {
            m: max(100 * float(row[f"test/{m}"]) for row in per_epoch) for m in METRICS
        }
        result.selection = "paper protocol: test every epoch (last epoch; best = TEST-SELECTED)"
    else:
        result.selection = "checkpoint chosen on val/MRR@20, test evaluated once"
    return result


def run(name: str, command: list[str], run_dir: Path, dry_run: bool = False) -> RunResult:
    """Run ``command`` (unless ``dry_run``), streaming its output, and summarise the run."""
    print(f"[{name}] {shlex.join(command)}", flush=True)
    if dry_run:
        return RunResult(name, command, 0.0, 0)
    start = time.perf_counter()
    executable = [sys.executable, "-m", "dmi_gnn", *command[1:]]
    code = subprocess.call(executable, cwd=ROOT)
    return summarize(name, command, run_dir, time.perf_counter() - start, code)


def markdown_table(results: list[RunResult], title: str) -> str:
    """A markdown table: one row per run, with its metrics, epochs, time and command."""
    lines = [
        f"## {title}",
        "",
        "| run | HR@20 | MRR@20 | NDCG@20 | Cov@20 | best-over-epochs HR/MRR/Cov (test-selected) "
        "| epochs | time (s) | selection | command |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        values = [f"{r.metrics[m]:.2f}" if r.metrics else "–" for m in METRICS]
        best = (
            " / ".join(f"{r.best_over_epochs[m]:.2f}" for m in ("HR@20", "MRR@20", "Cov@20"))
            if r.best_over_epochs
            else "–"
        )
        status = "" if r.returncode == 0 else f" (exit {r.returncode})"
        lines.append(
            f"| {r.name}{status} | {' | '.join(values)} | {best} | {r.epochs} | {r.seconds:.0f} "
            f"| {r.selection} | `{shlex.join(r.command)}` |"
        )
    return "\n".join(lines) + "\n"
