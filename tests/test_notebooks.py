"""The notebooks: stored clean, and executed headless (nbclient) as a newcomer would run them.

Each notebook is run in ``notebooks/`` (where Jupyter runs it) from a copy whose parameter cell
is followed by the test's overrides (papermill style). Executions use small synthetic data; no
file may appear in the checkout.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("case_study.ipynb", "hyperparameters.ipynb")
sys.path.insert(0, str(ROOT / "experiments"))

import sweep  # noqa: E402

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def parameters_cell(notebook) -> int:
    """Index of the cell tagged ``parameters``."""
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    return tagged[0]


def execute(name: str, timeout: int = 600, **parameters: object):
    """Run ``notebooks/<name>`` with ``parameters`` set after its parameter cell; return it."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    overrides = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    cell = nbformat.v4.new_code_cell(overrides)
    cell.id = "test-overrides"
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    notebook.cells.insert(tagged[0] + 1 if tagged else 0, cell)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return notebook


def text_of(notebook) -> str:
    """Everything the notebook printed."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def figures_of(notebook) -> int:
    """How many images the notebook drew."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )


def checkout_files() -> set[Path]:
    """Files under notebooks/ and the checkout's top-level data/ and runs/ folders."""
    found = set(NOTEBOOKS.rglob("*"))
    for folder in ("data", "runs"):
        found |= set((ROOT / folder).rglob("*"))
    return found


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_small_clean_and_with_cell_ids(name):
    raw = json.loads((NOTEBOOKS / name).read_text())
    assert (raw["nbformat"], raw["nbformat_minor"]) >= (4, 5)
    notebook = nbformat.reads(json.dumps(raw), as_version=4)
    nbformat.validate(notebook)
    assert all(cell.get("id") for cell in notebook.cells)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert (NOTEBOOKS / name).stat().st_size < 30_000
    parameters_cell(notebook)


@pytest.mark.slow
def test_hyperparameter_notebook_from_a_fresh_clone_runs_a_synthetic_sweep(tmp_path):
    before = checkout_files()
    notebook = execute("hyperparameters.ipynb", RUNS_DIR=str(tmp_path / "no-runs-here"))
    printed = text_of(notebook)
    for name in ("beta", "num_interests", "eta"):
        assert f"python experiments/sweep.py experiments/sweeps/{name}.yaml" in printed
    assert "synthetic sweep:" in printed
    assert printed.count("HR@20") >= 14  # every point of the three grids was run and read
    assert figures_of(notebook) == 1
    assert checkout_files() == before


@pytest.mark.slow
def test_hyperparameter_notebook_draws_real_sweep_results(tmp_path):
    """Results laid out by experiments/sweep.py (its plan), read back through run_grid."""
    spec_path = ROOT / "experiments" / "sweeps" / "beta.yaml"
    import yaml

    spec = yaml.safe_load(spec_path.read_text())
    header = "epoch,step,train/loss,val/MRR@20,test/HR@20,test/MRR@20,test/NDCG@20,test/Cov@20\n"
    for index, planned in enumerate(sweep.plan(spec, spec_path, tmp_path, [], [])):
        planned.run_dir.mkdir(parents=True)
        hr, mrr = 0.30 + 0.01 * index, 0.15 + 0.01 * index
        (planned.run_dir / "metrics.csv").write_text(
            header + f"0,9,5.0,0.2,,,,\n0,9,,,{hr},{mrr},0.2,0.9\n"
        )
    notebook = execute("hyperparameters.ipynb", RUNS_DIR=str(tmp_path), SWEEPS=("beta", "eta"))
    printed = text_of(notebook)
    assert "tmall-beta: 4 of 4 runs finished" in printed
    assert "tmall-eta: no results" in printed
    assert "synthetic sweep" not in printed
    assert "0.05  HR@20  33.00  MRR@20  18.00  best val MRR@20  20.00" in printed
    assert figures_of(notebook) == 1


@pytest.mark.slow
def test_case_study_notebook_trains_two_synthetic_models_and_draws_figure_3():
    before = checkout_files()
    notebook = execute("case_study.ipynb")
    printed = text_of(notebook)
    assert "DMI regulariser (eq. 10): trained on synthetic data" in printed
    assert "similarity regulariser (eq. 9): trained on synthetic data" in printed
    assert (
        "4 clicks" in printed and "10 clicks" in printed and not re.search(r"\b1 clicks", printed)
    )
    assert figures_of(notebook) == 2  # (a) attention, (b) interest similarity
    assert checkout_files() == before


@pytest.mark.slow
def test_case_study_notebook_draws_given_checkpoints(tmp_path):
    import lightning as L

    from datamodules import SessionDataModule
    from dmi_gnn import DMIGNN

    data = SessionDataModule(synthetic_num_train_sessions=200, synthetic_num_test_sessions=20)
    paths = {}
    for regularizer in ("dmi", "similarity"):
        model = DMIGNN(
            num_items=data.num_items, num_interests=3, embedding_dim=8, regularizer=regularizer
        )
        trainer = L.Trainer(
            max_steps=1,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
        )
        trainer.fit(model, datamodule=data)
        paths[regularizer] = tmp_path / f"{regularizer}.ckpt"
        trainer.save_checkpoint(paths[regularizer])
    notebook = execute(
        "case_study.ipynb",
        CHECKPOINT_DMI=str(paths["dmi"]),
        CHECKPOINT_SIMILARITY=str(paths["similarity"]),
        DATASET="synthetic",  # the session: the first synthetic test session of 10 clicks
    )
    printed = text_of(notebook)
    assert f"DMI regulariser (eq. 10): {paths['dmi']} (regularizer 'dmi')" in printed
    assert "trained on synthetic data" not in printed
    assert "session (" in printed
    assert figures_of(notebook) == 2
