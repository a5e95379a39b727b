"""``dmi-gnn export``: the ONNX runner agrees with PyTorch; it runs without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dmi_gnn import DMIGNN
from dmi_gnn.cli import main
from dmi_gnn.serving.onnx_runner import OnnxBackend
from tests.serving.conftest import ROOT, train_checkpoint

pytestmark = pytest.mark.slow


def test_the_export_holds_its_files_and_metadata(tiny_export, tiny_checkpoint):
    names = sorted(path.name for path in Path(tiny_export).iterdir())
    assert names == ["encoder.onnx", "items.npy", "metadata.json", "vocabulary.json"]
    metadata = json.loads((tiny_export / "metadata.json").read_text())
    assert metadata["num_items"] == 1000 and metadata["num_interests"] == 3
    assert metadata["verified_max_abs_difference"] <= 1e-4
    assert metadata["checkpoint"]["path"] == str(tiny_checkpoint)
    table = np.load(tiny_export / "items.npy")
    assert table.shape == (1000, 16)
    np.testing.assert_allclose(np.linalg.norm(table, axis=1), 1.0, rtol=1e-5)  # normalised


def test_the_runner_imports_no_torch(tiny_export):
    code = (
        "import sys\n"
        "from dmi_gnn.serving.onnx_runner import OnnxBackend\n"
        f"answer = OnnxBackend({str(tiny_export)!r}).recommend([[1, 2, 1, 'x']], k=5)[0]\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(answer.items, answer.unknown)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "['x']" in done.stdout


def test_export_refuses_a_non_empty_output_and_a_bad_checkpoint(tiny_checkpoint, tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    assert (
        main(["export", "--ckpt_path", str(tiny_checkpoint), "--output", str(tmp_path / "full")])
        == 2
    )
    assert "not an empty directory" in capsys.readouterr().err
    (tmp_path / "bad.ckpt").write_bytes(b"")
    assert (
        main(["export", "--ckpt_path", str(tmp_path / "bad.ckpt"), "--output", str(tmp_path / "o")])
        == 2
    )
    assert not (tmp_path / "o").exists()
    assert main(["serve", "--ckpt_path", str(tmp_path / "missing.ckpt")]) == 2
    assert main(["serve", "--export_dir", str(tmp_path / "full")]) == 2
    assert "not an export directory" in capsys.readouterr().err


@pytest.mark.shared_data
def test_exported_top20_equals_pytorch_on_tmall_test_prefixes(shared_data, tmp_path):
    """A briefly trained Tmall model (the Tmall preset, 20 steps): >= 99.9 % identical lists."""
    import yaml

    from datamodules import SessionDataModule
    from dmi_gnn.serving.export import export

    data = SessionDataModule(
        dataset="tmall",
        data_dir=str(shared_data("tmall-gcegnn")),
        download=False,
        cache_dir=str(tmp_path / "cache"),
        protocol="paper",
        batch_size=100,
    )
    config = yaml.safe_load((ROOT / "experiments" / "tmall.yaml").read_text())["model"]
    ckpt = train_checkpoint(tmp_path / "tmall.ckpt", data, 20, **config)
    export(ckpt, tmp_path / "export")
    model = DMIGNN.load_from_checkpoint(ckpt)
    runner = OnnxBackend(tmp_path / "export", threads=1)

    test = data.test_dataset
    rng = np.random.default_rng(0)
    picks = rng.choice(len(test), size=3000, replace=False)
    sessions = [
        test.flat[int(test.starts[i]) : int(test.starts[i]) + int(test.lengths[i])].tolist()
        for i in picks
    ]
    want = model.recommend(sessions, k=20)
    got = runner.recommend(sessions, k=20)
    differing = [i for i, (a, b) in enumerate(zip(want, got, strict=True)) if a.items != b.items]
    assert len(differing) <= 0.001 * len(sessions), f"{len(differing)} of {len(sessions)} differ"
    for i in differing:  # only at ties: the swapped items' PyTorch scores are equal to 1e-5
        first = next(
            p for p, (a, b) in enumerate(zip(want[i].items, got[i].items, strict=True)) if a != b
        )
        scores = dict(zip(want[i].items, want[i].scores, strict=True))
        assert abs(want[i].scores[first] - got[i].scores[first]) <= 1e-5
        assert (
            got[i].items[first] not in scores
            or abs(scores[got[i].items[first]] - want[i].scores[first]) <= 1e-5
        )
    for a, b in zip(want, got, strict=True):
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
