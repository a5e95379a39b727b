"""DMIGNN (LightningModule): learning, checkpoints, recommend, inspection, the reference step."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from datamodules import SessionDataModule, collate_sessions
from datamodules.processed import ProcessedDataset, Sessions, write_processed
from dmi_gnn import DMIGNN
from dmi_gnn.nn import load_reference_parameters, reference_parameters

SMALL_DATA = {
    "synthetic_num_items": 300,
    "synthetic_num_train_sessions": 1500,
    "synthetic_num_test_sessions": 200,
    "batch_size": 50,
}


def _trainer(tmp_path, **options) -> L.Trainer:
    defaults = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(tmp_path),
    }
    return L.Trainer(**{**defaults, **options})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch on a small synthetic dataset (shared by the tests below)."""
    root = tmp_path_factory.mktemp("trained")
    L.seed_everything(7, verbose=False)
    data = SessionDataModule(cache_dir=str(root / "cache"), **SMALL_DATA)
    model = DMIGNN(num_items=data.num_items, embedding_dim=32, num_interests=3, lr=0.005)
    trainer = _trainer(root)
    trainer.fit(model, datamodule=data)
    metrics = trainer.validate(model, datamodule=data, verbose=False)[0]
    return model, data, trainer, metrics, root


def _popularity_hit_rate(data: SessionDataModule, k: int = 20) -> float:
    """HR@k of recommending the k most frequent training targets to everyone."""
    train_targets = data.train_dataset.targets.numpy()
    counts = np.bincount(train_targets, minlength=data.num_items + 1)
    counts[0] = -1
    top = set(np.argsort(-counts, kind="stable")[:k].tolist())
    val_targets = data.val_dataset.targets.tolist()
    return sum(t in top for t in val_targets) / len(val_targets)


@pytest.mark.slow
def test_one_epoch_beats_popularity_by_a_margin(trained):
    _model, data, _, metrics, _ = trained
    popularity = _popularity_hit_rate(data)
    assert metrics["val/HR@20"] > popularity + 0.15, (metrics["val/HR@20"], popularity)
    assert metrics["val/count"] == len(data.val_dataset)
    assert 0 < metrics["val/MRR@20"] <= metrics["val/HR@20"] <= 1


@pytest.mark.slow
def test_checkpoint_alone_reproduces_recommendations(trained, tmp_path):
    model, _data, trainer, _, _ = trained
    sessions = [[1, 2, 3], [5], [7, 7, 8, 9, 10, 11]]
    before = model.recommend(sessions, k=10)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    restored = DMIGNN.load_from_checkpoint(path, map_location="cpu")
    after = restored.recommend(sessions, k=10)
    assert [r.items for r in after] == [r.items for r in before]
    np.testing.assert_allclose([r.scores for r in after], [r.scores for r in before], rtol=1e-6)
    assert torch.equal(restored.net.global_neighbors, model.net.global_neighbors)
    assert torch.load(path, weights_only=True)  # loadable without unpickling code


@pytest.mark.slow
def test_recommend_reports_unknown_and_empty_sessions(trained):
    model, data, *_ = trained
    known = data.num_items
    results = model.recommend([[known + 5, 3], [], [known + 7], [2]], k=5)
    assert results[0].unknown == [known + 5] and len(results[0].items) == 5
    assert results[0].error is None
    assert results[1].error == "empty session" and results[1].items == []
    assert results[2].error == "no known item in the session" and results[2].unknown == [known + 7]
    assert all(1 <= item <= known for item in results[3].items)
    assert results[3].scores == sorted(results[3].scores, reverse=True)


@pytest.mark.slow
def test_inspect_interests_shapes_and_similarity(trained):
    model, *_ = trained
    views = model.inspect_interests([[4, 5, 6, 5], [9]])
    assert views[0]["attention"].shape == (4, 3) and views[1]["attention"].shape == (1, 3)
    for view in views:
        similarity = view["similarity"]
        assert similarity.shape == (3, 3)
        torch.testing.assert_close(similarity.diagonal(), torch.ones(3), rtol=0, atol=1e-5)


def test_string_vocabulary_travels_in_the_checkpoint(tmp_path):
    vocabulary = [f"sku-{i}" for i in range(1, 41)]
    rng = np.random.default_rng(0)
    train = [rng.integers(1, 41, size=rng.integers(2, 8)).tolist() for _ in range(200)]
    test = [rng.integers(1, 41, size=4).tolist() for _ in range(20)]
    root = write_processed(
        ProcessedDataset(Sessions.from_lists(train), Sessions.from_lists(test), vocabulary, "shop"),
        tmp_path / "shop",
    )
    data = SessionDataModule(dataset=str(root), cache_dir=str(tmp_path / "cache"), batch_size=32)
    model = DMIGNN(num_items=data.num_items, embedding_dim=8, num_interests=2)
    trainer = _trainer(tmp_path, limit_val_batches=0)
    trainer.fit(model, datamodule=data)
    path = tmp_path / "shop.ckpt"
    trainer.save_checkpoint(path)
    restored = DMIGNN.load_from_checkpoint(path)
    result = restored.recommend([["sku-3", "nope", "sku-4"]], k=3)[0]
    assert result.unknown == ["nope"]
    assert len(result.items) == 3 and all(item in vocabulary for item in result.items)


def test_checkpoint_with_weights_of_an_unbuilt_branch_loads(tmp_path):
    """Old checkpoints of a dropped global branch still carry its weights: load, ignoring them."""
    options = {"num_items": 30, "embedding_dim": 8, "num_interests": 2, "semantics": "paper"}
    model = DMIGNN(dropout_global=1.0, **options)
    assert len(model.net.global_aggregators) == 0
    with_branch = DMIGNN(dropout_global=0.5, **options)
    old_state = {**model.state_dict()}
    old_state.update(
        {k: v for k, v in with_branch.state_dict().items() if "global_aggregators" in k}
    )
    checkpoint = {"state_dict": old_state}
    model.on_load_checkpoint(checkpoint)
    model.load_state_dict(checkpoint["state_dict"])  # strict

    checkpoint = {"state_dict": {**model.state_dict(), "net.something_else": torch.zeros(1)}}
    model.on_load_checkpoint(checkpoint)
    with pytest.raises(RuntimeError, match="something_else"):
        model.load_state_dict(checkpoint["state_dict"])


@pytest.mark.parametrize(
    ("options", "length"),
    [({"num_interests": 1}, 5), ({"embedding_dim": 24}, 5), ({"max_positions": 4}, 12)],
)
def test_settings_the_reference_cannot_run_train_finitely(options, length):
    model = DMIGNN(num_items=30, **{"embedding_dim": 16, **options})
    model.net.set_global_graph(
        torch.randint(0, 31, (31, 12)), torch.randint(0, 5, (31, 12)).float()
    )
    batch = collate_sessions([list(range(1, length + 1)), [3, 3, 4]], targets=[7, 8], max_len=None)
    total, _cross_entropy, _regularizer = model.loss(batch)
    total.backward()
    assert torch.isfinite(total)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.shared_data
def test_module_training_step_reproduces_the_published_step(shared_data):
    """The whole step through the package: real batching, module loss, module optimiser."""
    with np.load(shared_data("reference-step") / "reference_step.npz", allow_pickle=False) as z:
        step = {key: z[key] for key in z.files}
    model = DMIGNN(
        num_items=59,
        semantics="reference",
        embedding_dim=100,
        num_interests=3,
        beta=0.01,
        eta=3,
        dropout_local=0.0,
        dropout_global=0.0,
        dropout_gcn=0.0,
    )
    params = {k[len("param/") :]: v for k, v in step.items() if k.startswith("param/")}
    load_reference_parameters(model.net, params)
    model.net.set_global_graph(
        torch.as_tensor(step["global/adj"]), torch.as_tensor(step["global/weight"])
    )
    flat, lengths = step["batch/prefixes_flat"].tolist(), step["batch/prefix_lengths"].tolist()
    ends = np.cumsum(lengths)
    prefixes = [flat[end - n : end] for end, n in zip(ends, lengths, strict=True)]
    batch = collate_sessions(prefixes, step["batch/targets"].tolist())
    model.train()
    optimizer = model.configure_optimizers()["optimizer"]
    optimizer.zero_grad()
    total, cross_entropy, regularizer = model.loss(batch)
    assert cross_entropy.item() == pytest.approx(float(step["out/ce"]), abs=2e-6)
    assert regularizer.item() == pytest.approx(float(step["out/dmi_term"]), abs=1e-6)
    assert total.item() == pytest.approx(float(step["out/loss"]), abs=2e-6)
    total.backward()
    optimizer.step()
    after = reference_parameters(model.net)
    compared = 0
    for name, value in after.items():
        key = f"param_after_adam_step/{name}"
        if key not in step:
            continue
        expected = torch.as_tensor(step[key])
        moved = (expected - torch.as_tensor(params[name])).abs().max().item()
        # One Adam step moves a parameter by at most lr = 1e-3; agree to a small fraction of it.
        torch.testing.assert_close(value.detach(), expected, rtol=0, atol=5e-6)
        compared += moved > 0
    assert compared >= 10  # the step really moved the parameters being compared


def test_scoring_chunk_size_is_a_module_option():
    model = DMIGNN(num_items=30, embedding_dim=8, num_interests=2, scoring_chunk_size=7)
    assert model.net.scorer.chunk_size == 7
    with pytest.raises(ValueError, match="chunk_size"):
        DMIGNN(num_items=30, embedding_dim=8, num_interests=2, scoring_chunk_size=0)
