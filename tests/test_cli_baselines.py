"""The multi-interest and state-of-the-art baselines through the command (issue 15): each of MIND,
ComiRec-SA, ComiRec-DR, Atten-Mixer and MGIR fits from its documented composition
(``experiments/data/synthetic.yaml`` + ``experiments/models/<model>.yaml`` +
``experiments/presets/<model>/synthetic.yaml``) in both of its modes, and ``dmi-gnn predict``
answers from the checkpoint that fit wrote, unknown ids listed and bad lines reported."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from dmi_gnn.cli import main
from tests.small_models import small_flags

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
from paper_tables import model_configs  # noqa: E402

#: registered model -> (mode option, its two values)
MODES = {
    "MIND": ("training", ("reference", "aligned")),
    "ComiRecSA": ("training", ("reference", "aligned")),
    "ComiRecDR": ("training", ("reference", "aligned")),
    "AttenMixer": ("attention_semantics", ("reference", "corrected")),
    "MGIR": ("gnn_weights", ("reference", "trained")),
}
CASES = [(model, value) for model, (_, values) in MODES.items() for value in values]


def _composition(model: str) -> list[str]:
    """The ``--config`` files ``paper_tables.py`` runs for ``model`` on synthetic data."""
    return [
        str(ROOT / arg) if arg != "--config" else arg for arg in model_configs(model, "synthetic")
    ]


def _tiny(run_dir: Path, cache: Path) -> list[str]:
    return [
        "--data.synthetic_num_items=120",
        "--data.synthetic_num_train_sessions=300",
        "--data.synthetic_num_test_sessions=40",
        "--data.batch_size=32",
        f"--data.cache_dir={cache}",
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=3",
        "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--run_dir={run_dir}",
    ]


@pytest.mark.parametrize(("model", "mode"), CASES, ids=[f"{m}-{v}" for m, v in CASES])
def test_fits_in_each_mode_and_predicts_from_its_checkpoint(model, mode, tmp_path):
    option = MODES[model][0]
    run_dir = tmp_path / "run"
    flags = [*_composition(model), *small_flags(model), f"--model.{option}={mode}"]
    assert main(["fit", *flags, *_tiny(run_dir, tmp_path / "cache")]) == 0
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    hyper_parameters = torch.load(checkpoint, weights_only=True)["hyper_parameters"]
    assert hyper_parameters[option] == mode

    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text("[1, 2, 3]\n[5, 99999, 7, 5]\n[]\nnot json\n[88888]\n")
    output = tmp_path / "predictions.jsonl"
    predict = [
        "predict",
        f"--ckpt_path={checkpoint}",
        f"--data.predict_file={sessions}",
        "--trainer.enable_progress_bar=false",
        f"--prediction_writer.output_path={output}",
    ]
    assert main(predict) == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["line"] for line in lines] == [1, 2, 3, 4, 5]
    for good in lines[:2]:
        assert len(good["items"]) == 20 and len(set(good["items"])) == 20
        assert all(1 <= item <= 120 for item in good["items"])
        assert good["scores"] == sorted(good["scores"], reverse=True)
    assert lines[1]["unknown"] == [99999]
    assert lines[2]["error"] == "empty session"
    assert lines[3]["error"].startswith("malformed line")
    assert lines[4]["error"] == "no known item in the session"
