"""``experiments/gpu_check.sh --device cpu`` (the dry mode CI runs) completes and prints every
step's JSON lines; a bad device is refused."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "gpu_check.sh"


@pytest.mark.slow
def test_dry_mode_runs_every_step(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [str(SCRIPT), "--device", "cpu"], capture_output=True, text=True, env=env, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    benchmarks = [line for line in lines if "train_samples_per_s" in line]
    assert {(b["batch_size"], b["precision"]) for b in benchmarks} == {
        (8, "32"),
        (8, "bf16-mixed"),
        (16, "32"),
        (16, "bf16-mixed"),
    }
    steps = {line.get("gpu_check") for line in lines}
    assert {"start", "one_epoch_fit_and_test", "done"} <= steps
    assert {line.get("loss") for line in lines} >= {"sampled", "full"}
    assert any(line.get("benchmark") == "retrieval" for line in lines)


def test_a_bad_device_is_refused():
    done = subprocess.run([str(SCRIPT), "--device", "tpu"], capture_output=True, text=True)
    assert done.returncode == 2 and "--device must be cpu or cuda" in done.stderr
