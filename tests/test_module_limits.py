"""DMIGNN's maximum session length and batch budget: memory bounded by the batch, same results."""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import pytest
import torch

from datamodules import SessionDataModule, collate_sessions
from datamodules.batching import DEFAULT_MAX_LEN
from datamodules.errors import DataError
from datamodules.processed import ProcessedDataset, Sessions, write_processed
from dmi_gnn import DMIGNN

NUM_ITEMS = 40


def _model(**options) -> DMIGNN:
    torch.manual_seed(0)
    model = DMIGNN(num_items=NUM_ITEMS, embedding_dim=16, num_interests=3, **options)
    generator = torch.Generator().manual_seed(1)
    model.net.set_global_graph(
        torch.randint(0, NUM_ITEMS + 1, (NUM_ITEMS + 1, 12), generator=generator),
        torch.rand(NUM_ITEMS + 1, 12, generator=generator),
    )
    return model.eval()


def _sessions(count: int, longest: int, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [
        rng.integers(1, NUM_ITEMS + 1, size=rng.integers(1, longest + 1)).tolist()
        for _ in range(count)
    ]


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


def _long_dataset(tmp_path, long_length: int = 300):
    """A processed dataset whose first train session and last test session are long."""
    rng = np.random.default_rng(0)
    short = [rng.integers(1, NUM_ITEMS + 1, size=rng.integers(2, 8)).tolist() for _ in range(120)]
    long = rng.integers(1, NUM_ITEMS + 1, size=long_length).tolist()
    dataset = ProcessedDataset(
        Sessions.from_lists([long, *short]),
        Sessions.from_lists([*short[:10], long]),
        list(range(1, NUM_ITEMS + 1)),
        "long",
    )
    return write_processed(dataset, tmp_path / "long")


def test_the_default_maximum_is_the_position_table():
    model = DMIGNN(num_items=NUM_ITEMS)
    assert model.hparams.max_session_length == DEFAULT_MAX_LEN == model.hparams.max_positions
    with pytest.raises(ValueError, match="max_session_length must be an integer >= 1"):
        DMIGNN(num_items=NUM_ITEMS, max_session_length=0)
    with pytest.raises(ValueError, match="max_batch_cells must be an integer >= 1"):
        DMIGNN(num_items=NUM_ITEMS, max_batch_cells=-1)


def test_recommend_reads_only_the_most_recent_clicks():
    model = _model(max_session_length=6)
    long = _sessions(1, 1, seed=3)[0] + list(range(1, 31))  # 31 clicks
    whole, recent = model.recommend([long, long[-6:]], k=10)
    assert whole.items == recent.items
    assert whole.scores == pytest.approx(recent.scores, abs=1e-6)
    view = model.inspect_interests([long])[0]
    assert view["attention"].shape == (6, 3)  # the kept clicks only


def test_sub_batches_give_the_same_recommendations_and_respect_the_budget():
    sessions = _sessions(30, 25)
    whole = _model()
    small = _model(max_batch_cells=600)  # same weights (same seeds), a tiny budget
    seen = []
    small.net.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    expected = whole.recommend(sessions, k=10)
    got = small.recommend(sessions, k=10)
    assert len(seen) > 3
    assert all(b.batch_size == 1 or b.batch_size * b.max_length**2 <= 600 for b in seen)
    assert sum(b.batch_size for b in seen) == len(sessions)
    assert [r.items for r in got] == [r.items for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.scores == pytest.approx(theirs.scores, abs=1e-5)
    batch = collate_sessions(sessions, targets=[1] * len(sessions))
    ids, scores = small.top_k_items(batch, k=10)
    want_ids, want_scores = whole.top_k_items(batch, k=10)
    assert torch.equal(ids, want_ids)
    torch.testing.assert_close(scores, want_scores, rtol=0, atol=1e-5)


def test_evaluation_in_sub_batches_gives_the_same_metrics(tmp_path):
    data = SessionDataModule(
        cache_dir=str(tmp_path / "cache"),
        synthetic_num_items=NUM_ITEMS,
        synthetic_num_train_sessions=200,
        synthetic_num_test_sessions=40,
        batch_size=64,
    )
    results, passes = [], []
    for cells in (DEFAULT_MAX_LEN**3, 500):
        model = _model(max_batch_cells=cells)
        model.net.register_forward_hook(lambda _m, args, _out: passes.append(args[0].batch_size))
        results.append(_trainer(tmp_path).test(model, datamodule=data, verbose=False)[0])
    batches = -(-int(results[0]["test/count"]) // 64)
    assert len(passes) > 2 * batches  # the second model ran sub-batches
    assert results[0].keys() == results[1].keys()
    for key, value in results[0].items():
        assert results[1][key] == pytest.approx(value, abs=1e-5), key


def test_the_datamodule_takes_the_models_length_and_a_conflict_is_an_error(tmp_path):
    root = _long_dataset(tmp_path)
    cache = str(tmp_path / "cache")
    data = SessionDataModule(dataset=str(root), cache_dir=cache, batch_size=500)
    model = _model(max_session_length=9)
    _trainer(tmp_path).test(model, datamodule=data, verbose=False)
    assert data.max_len is None and data.effective_max_len == 9
    assert next(iter(data.test_dataloader())).max_length == 9
    explicit = SessionDataModule(dataset=str(root), cache_dir=cache, max_len=9)
    _trainer(tmp_path).test(model, datamodule=explicit, verbose=False)  # agreeing is fine
    conflicting = SessionDataModule(dataset=str(root), cache_dir=cache, max_len=50)
    with pytest.raises(DataError, match=r"max_len=50 disagrees with the model's max_session_le"):
        _trainer(tmp_path).test(model, datamodule=conflicting, verbose=False)  # a user error
    standalone = SessionDataModule(dataset=str(root), cache_dir=cache, batch_size=500)
    standalone.setup("test")
    assert next(iter(standalone.test_dataloader())).max_length == DEFAULT_MAX_LEN


def test_each_split_logs_how_many_prefixes_the_cut_shortens(tmp_path, caplog):
    root = _long_dataset(tmp_path, long_length=300)
    data = SessionDataModule(dataset=str(root), cache_dir=str(tmp_path / "cache"), batch_size=64)
    model = _model().train()
    with caplog.at_level(logging.INFO, logger="datamodules"):
        _trainer(tmp_path, limit_train_batches=1, limit_val_batches=1).fit(model, data)
    # The 300-click session gives prefixes of 1..299 clicks: 99 are longer than 200.
    assert "train: 99 of" in caplog.text
    assert "(in 1 session(s)) are longer than max_len=200" in caplog.text
    assert "val: no prefix is longer than max_len=200" in caplog.text


def test_training_warns_when_a_batch_may_exceed_the_budget(tmp_path, caplog):
    root = _long_dataset(tmp_path)
    data = SessionDataModule(dataset=str(root), cache_dir=str(tmp_path / "cache"), batch_size=64)
    model = _model(max_session_length=50, max_batch_cells=1000).train()
    with caplog.at_level(logging.WARNING, logger="dmi_gnn"):
        _trainer(tmp_path, limit_train_batches=1, limit_val_batches=0).fit(model, data)
    assert "a training batch may hold 64 x 50 x 50 = 160000 session-graph cells" in caplog.text
    assert "lower --data.batch_size or --model.max_session_length" in caplog.text


def test_recommend_sees_item_embeddings_changed_in_place():
    model = _model()
    session = [[3, 4, 5]]
    before = model.recommend(session, k=5)[0].items
    permutation = torch.randperm(NUM_ITEMS, generator=torch.Generator().manual_seed(2)) + 1
    weight = model.net.embedding.weight
    weight.data[1:] = weight.data[permutation]  # shuffle the item vectors, version unchanged
    after = model.recommend(session, k=5)[0].items
    fresh = _model()
    fresh.load_state_dict(model.state_dict())  # a model that never cached anything
    assert after == fresh.recommend(session, k=5)[0].items
    assert after != before


@pytest.mark.shared_data
def test_the_default_length_cuts_no_tmall_prefix(shared_data, tmp_path):
    """Tmall sessions hold at most 40 clicks: the published numbers cannot move."""
    data = SessionDataModule(
        dataset="tmall",
        data_dir=str(shared_data("tmall-gcegnn")),
        download=False,
        cache_dir=str(tmp_path),
    )
    data.setup("fit")
    for dataset in (data.train_dataset, data.val_dataset, data.test_dataset):
        assert int(dataset.lengths.max()) < DEFAULT_MAX_LEN
        assert dataset.count_longer(DEFAULT_MAX_LEN) == (0, 0)
