"""``dmi-gnn fit`` and ``predict`` on very long sessions finish under an address-space limit.

Each command runs as ``python -m dmi_gnn`` in a child process whose address space
(``RLIMIT_AS``) is capped at what importing the package takes plus :data:`HEADROOM_MIB`. The
import cost is measured first, in a child of its own, because torch and Lightning reserve
hundreds of MiB of virtual memory when they load and that amount depends on the machine. A
normal small run needs about 150 MiB (predict) and 320 MiB (fit) above the import (measured on
2 CPU threads); without a maximum session length, one 3,000-click training session or one
10,000-click predict line asks for several GB in a single allocation and fails.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datamodules.processed import ProcessedDataset, Sessions, write_processed

ROOT = Path(__file__).resolve().parents[1]
HEADROOM_MIB = 1024
NUM_ITEMS = 100

_ENV = {
    "PYTHONPATH": str(ROOT),
    "WANDB_MODE": "disabled",
    # Fewer threads and malloc arenas: less virtual memory reserved, the same on any machine.
    "OMP_NUM_THREADS": "2",
    "MKL_NUM_THREADS": "2",
    "MALLOC_ARENA_MAX": "2",
}

_IMPORT_COST = (
    "import dmi_gnn.cli, dmi_gnn.module\n"
    "print(next(l for l in open('/proc/self/status') if l.startswith('VmPeak')).split()[1])\n"
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").is_file(), reason="needs Linux /proc to measure the import"
)


def _env() -> dict[str, str]:
    return {**os.environ, **_ENV}


def _limit_bytes() -> int:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_COST],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return (int(done.stdout.split()[-1]) // 1024 + HEADROOM_MIB) << 20


def _run_limited(args: list[str], limit: int, cwd: Path) -> subprocess.CompletedProcess:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "dmi_gnn", *args],
        cwd=cwd,
        env=_env(),
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _dataset(root: Path, long_length: int) -> Path:
    """300 short sessions; with ``long_length``, one train and one test session that long."""
    rng = np.random.default_rng(0)
    short = [rng.integers(1, NUM_ITEMS + 1, size=rng.integers(2, 11)).tolist() for _ in range(300)]
    train, test = list(short), short[:30]
    if long_length:
        train.insert(0, rng.integers(1, NUM_ITEMS + 1, size=long_length).tolist())
        test.append(rng.integers(1, NUM_ITEMS + 1, size=long_length).tolist())
    dataset = ProcessedDataset(
        Sessions.from_lists(train), Sessions.from_lists(test), list(range(1, NUM_ITEMS + 1)), "data"
    )
    return write_processed(dataset, root / f"data-{long_length}")


def _fit_args(dataset: Path, run_dir: Path) -> list[str]:
    return [
        "fit",
        f"--data.dataset={dataset}",
        f"--data.cache_dir={run_dir.parent / 'cache'}",
        "--data.batch_size=50",
        "--model.embedding_dim=16",
        "--trainer.accelerator=cpu",
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=3",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--run_dir={run_dir}",
    ]


@pytest.fixture(scope="module")
def limit() -> int:
    return _limit_bytes()


@pytest.mark.slow
def test_fit_on_a_3000_click_session_stays_within_an_address_space_limit(tmp_path, limit):
    run_dir = tmp_path / "run"
    dataset = _dataset(tmp_path, long_length=3000)
    # 500 x 200 x 200 evaluation cells: more than the budget, evaluated in sub-batches.
    args = [*_fit_args(dataset, run_dir), "--data.eval_batch_size=500"]
    fit = _run_limited(args, limit, tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "train: 2799 of" in fit.stderr  # the prefixes of 201..2999 clicks, cut to 200
    assert "test: 2799 of" in fit.stderr
    header, *rows = (run_dir / "metrics.csv").read_text().splitlines()
    column = header.split(",").index("test/HR@20")
    assert 0 <= float(next(r.split(",")[column] for r in rows if r.split(",")[column])) <= 1
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_predict_with_a_10000_click_line_stays_within_an_address_space_limit(tmp_path, limit):
    run_dir = tmp_path / "run"
    args = [*_fit_args(_dataset(tmp_path, long_length=0), run_dir), "--test_after_fit=false"]
    fit = subprocess.run(
        [sys.executable, "-m", "dmi_gnn", *args], env=_env(), capture_output=True, timeout=600
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    rng = np.random.default_rng(1)
    long = rng.integers(1, NUM_ITEMS + 1, size=10_000).tolist()
    lines = [rng.integers(1, NUM_ITEMS + 1, size=rng.integers(1, 10)).tolist() for _ in range(40)]
    lines[20:20] = [long, long[-200:]]  # the long line, then its 200 most recent clicks
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    output = tmp_path / "predictions.jsonl"
    predict = _run_limited(
        [
            "predict",
            f"--ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}",
            f"--data.predict_file={sessions}",
            f"--prediction_writer.output_path={output}",
            f"--trainer.default_root_dir={tmp_path / 'predict'}",
            "--trainer.enable_progress_bar=false",
        ],
        limit,
        tmp_path,
    )
    assert predict.returncode == 0, predict.stderr[-3000:]
    assert "1 of 42 sessions hold more than max_session_length=200 known items" in predict.stderr
    results = [json.loads(line) for line in output.read_text().splitlines()]
    assert [result["line"] for result in results] == list(range(1, 43))
    assert all(len(result["items"]) == 20 for result in results)
    assert results[20]["items"] == results[21]["items"]  # the long line = its recent clicks
    assert results[20]["scores"] == pytest.approx(results[21]["scores"], abs=1e-6)
