"""Helpers shared by ``paper_tables.py`` and ``sweep.py``: run ``dmi-gnn`` and read its results.

One invocation of a script writes into a new ``<runs-dir>/<table>/version_K/`` (never into an
earlier invocation's files); each cell is one ``dmi-gnn fit --run_dir <that>/NN`` and its
results are read back from exactly that directory (``metrics.csv``, ``checkpoints/last.ckpt``):

* validation protocol: the metrics of the single final test of the checkpoint chosen on
  ``val/MRR@20`` (``selection = "checkpoint chosen on val/MRR@20, test evaluated once"``);
* refit (validation protocol retrained on all training sessions for the chosen number of
  epochs): its single test;
* paper protocol (test evaluated every epoch): the last epoch's test metrics, and each
  metric's best over epochs, labelled as TEST-SELECTED, which is how the published code
  reports its numbers.

A cell whose command failed or whose run directory holds no test metrics is a failure: it is
marked in the table and the script exits with status 1.
"""

from __future__ import annotations

import csv
import itertools
import math
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dmi_gnn.run_dirs import new_run_directory, next_run_directory  # noqa: E402

METRICS = ("HR@20", "MRR@20", "NDCG@20", "Cov@20")
Protocol = Literal["validation", "paper", "refit"]
SELECTION = {
    "validation": "checkpoint chosen on val/MRR@20, test evaluated once",
    "refit": "refit on all train for the epochs chosen on validation, test evaluated once",
    "paper": "paper protocol: test every epoch (last epoch; best = TEST-SELECTED)",
}


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
    error: str = ""
    #: where the metrics were read: the cell's run directory, or the results file they came from
    source: str = ""

    @property
    def failed(self) -> bool:
        """The command failed, or it left no test metrics (dry runs never fail)."""
        return bool(self.error) or self.returncode != 0


def invocation_directory(runs_dir: Path, dry_run: bool = False) -> Path:
    """A new ``version_K`` under ``runs_dir`` for one invocation of a script (not created dry)."""
    return next_run_directory(runs_dir) if dry_run else new_run_directory(runs_dir)


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
            best = Path(value["best_model_path"])
            if not best.is_absolute():  # relative to where the run ran (the repository)
                best = ROOT / best
            return int(torch.load(best, map_location="cpu", weights_only=True)["epoch"])
    return None


def epochs_trained(run_dir: Path, rows: list[dict[str, str]]) -> int:
    """Epochs the run trained: from its ``last.ckpt`` (saved at the end of its last epoch).

    Without a ``last.ckpt``, the distinct epochs of rows with a training or evaluation metric
    (the training loss alone is logged only every ``log_every_n_steps`` batches, so short
    epochs may have none).
    """
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        import torch

        state = torch.load(last, map_location="cpu", weights_only=True)
        if isinstance(state.get("epoch"), int):
            return state["epoch"] + 1
    prefixes = ("train/", "val/")
    epochs = {
        row["epoch"]
        for row in rows
        if row.get("epoch") and any(v and k.startswith(prefixes) for k, v in row.items())
    }
    return len(epochs)


def combinations(lists: dict[str, list]) -> list[dict[str, object]]:
    """Every combination of one value per name, in order (the points of a grid)."""
    names = list(lists)
    return [dict(zip(names, point, strict=True)) for point in itertools.product(*lists.values())]


def split_passthrough(argv: list[str] | None) -> tuple[list[str], list[str]]:
    """The script's own arguments and, after a ``--``, those passed on to every ``dmi-gnn fit``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        return argv, []
    return argv[: argv.index("--")], argv[argv.index("--") + 1 :]


def publish(table: str, output: str | Path | None, results: list[RunResult] | None = None) -> None:
    """Print a results table and, with ``output``, also write it there; with ``results``, also
    their CSV beside it (:func:`results_path`), which ``paper_tables.py collect --results``
    reads back."""
    print(table)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(table)
        if results is not None:
            print(f"results: {write_results(results, results_path(output))}")


def fit_command(run_dir: Path, args: list[str]) -> list[str]:
    """The ``dmi-gnn fit`` command line writing into exactly ``run_dir``."""
    return ["dmi-gnn", "fit", *args, f"--run_dir={run_dir}"]


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    """Rows of ``run_dir/metrics.csv`` (empty when the run logged nothing)."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return []
    with open(path) as handle:
        return list(csv.DictReader(handle))


def summarize(
    name: str,
    command: list[str],
    run_dir: Path,
    seconds: float,
    code: int,
    protocol: Protocol = "validation",
) -> RunResult:
    """Read the run's metrics back as a :class:`RunResult` (``protocol`` sets the label)."""
    rows = read_metrics(run_dir)
    result = RunResult(
        name, command, seconds, code, selection=SELECTION[protocol], source=str(run_dir)
    )
    result.epochs = epochs_trained(run_dir, rows)
    tested = [row for row in rows if row.get("test/HR@20")]
    if not tested:
        result.error = f"no test metrics in {run_dir / 'metrics.csv'}"
        return result
    final = tested[-1]
    result.metrics = {m: 100 * float(final[f"test/{m}"]) for m in METRICS}
    if protocol == "paper":
        result.best_over_epochs = {
            m: max(100 * float(row[f"test/{m}"]) for row in tested) for m in METRICS
        }
    elif len(tested) != 1:
        result.error = f"{len(tested)} test evaluations in {run_dir} (expected one)"
    return result


def run(
    name: str,
    command: list[str],
    run_dir: Path,
    dry_run: bool = False,
    protocol: Protocol = "validation",
) -> RunResult:
    """Run ``command`` (unless ``dry_run``), streaming its output, and summarise the run.

    The command runs in the repository root (its ``experiments/...`` config paths are relative
    to it); ``run_dir`` should be absolute.
    """
    print(f"[{name}] {shlex.join(command)}", flush=True)
    if dry_run:
        return RunResult(name, command, 0.0, 0, selection=SELECTION[protocol])
    start = time.perf_counter()
    executable = [sys.executable, "-m", "dmi_gnn", *command[1:]]
    code = subprocess.call(executable, cwd=ROOT)
    return summarize(name, command, run_dir, time.perf_counter() - start, code, protocol)


def failed_result(name: str, reason: str, protocol: Protocol) -> RunResult:
    """A cell that could not run (e.g. a refit whose validation run chose nothing)."""
    return RunResult(name, [], 0.0, 1, selection=SELECTION[protocol], error=reason)


RESULTS_COLUMNS = (
    "name",
    *METRICS,
    *(f"best {m}" for m in METRICS),
    "epochs",
    "seconds",
    "selection",
    "command",
    "source",
    "error",
)


def results_path(output: str | Path) -> Path:
    """The machine-readable companion of a markdown table: the same name with ``.csv``."""
    return Path(output).with_suffix(".csv")


def write_results(results: list[RunResult], path: str | Path) -> Path:
    """Write every result as one CSV row (metrics in percent, empty where absent)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULTS_COLUMNS)
        writer.writeheader()
        for r in results:
            row = {
                "name": r.name,
                "epochs": r.epochs,
                "seconds": "" if math.isnan(r.seconds) else f"{r.seconds:.1f}",
                "selection": r.selection,
                "command": shlex.join(r.command) if r.command else "",
                "source": r.source,
                "error": r.error or (f"exit {r.returncode}" if r.returncode else ""),
            }
            for m in METRICS:
                row[m] = f"{r.metrics[m]:.4f}" if m in r.metrics else ""
                best = r.best_over_epochs.get(m)
                row[f"best {m}"] = "" if best is None else f"{best:.4f}"
            writer.writerow(row)
    return path


def read_results(path: str | Path) -> list[RunResult]:
    """Results written by :func:`write_results` (a table's ``.csv``), e.g. a committed one.

    Raises ``SystemExit`` naming the file and the row when a column is missing or a value is
    not a number, so a hand-edited file cannot feed a figure silently wrong values.
    """
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"--results {path}: no such file")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in RESULTS_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"--results {path}: missing column(s) {', '.join(missing)}")
        results = []
        for line, row in enumerate(reader, start=2):
            try:
                metrics = {m: float(row[m]) for m in METRICS if row[m]}
                best = {m: float(row[f"best {m}"]) for m in METRICS if row[f"best {m}"]}
                epochs = int(row["epochs"] or 0)
                seconds = float(row["seconds"]) if row["seconds"] else math.nan  # not recorded
            except ValueError as error:
                raise SystemExit(f"--results {path}, line {line}: {error}") from error
            if metrics and set(metrics) != set(METRICS):
                raise SystemExit(f"--results {path}, line {line}: needs all of {METRICS}")
            error = row["error"] or ("" if metrics else "no test metrics")
            results.append(
                RunResult(
                    row["name"],
                    shlex.split(row["command"]),
                    seconds,
                    0,
                    epochs=epochs,
                    metrics=metrics,
                    best_over_epochs=best,
                    selection=row["selection"],
                    error=error,
                    source=row["source"] or str(path),
                )
            )
    return results


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
        seconds = "–" if math.isnan(r.seconds) else f"{r.seconds:.0f}"
        status = f" (exit {r.returncode})" if r.returncode else ""
        status += f" (FAILED: {r.error})" if r.error else ""
        lines.append(
            f"| {r.name}{status} | {' | '.join(values)} | {best} | {r.epochs} | {seconds} "
            f"| {r.selection} | {f'`{shlex.join(r.command)}`' if r.command else '–'} |"
        )
    return "\n".join(lines) + "\n"
