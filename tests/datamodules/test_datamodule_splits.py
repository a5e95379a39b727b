"""SessionDataModule split protocol: counts on Tmall, chronological validation, no leakage."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from datamodules import SessionDataModule
from datamodules.graph import build_global_graph
from datamodules.processed import ProcessedDataset, Sessions, write_processed


def test_tmall_without_validation_done_when(shared_data, tmp_path):
    data = SessionDataModule(
        dataset="tmall",
        data_dir=str(shared_data("tmall-gcegnn")),
        val_fraction=0,
        cache_dir=str(tmp_path),
    )
    assert data.num_items == 40_727
    data.prepare_data()
    data.setup("fit")
    assert len(data.train_dataset) == 351_268
    assert len(data.test_dataset) == 25_898
    assert len(data.val_dataset) == 0
    assert data.evaluation_split is None
    assert data.train_sessions_count == 65_286 and data.val_sessions_count == 0
    assert data.test_sessions_count is None  # test.txt holds pairs, not sessions
    assert data.global_graph.neighbors.shape == (40_728, 12)
    assert list(tmp_path.iterdir())  # the cache went to cache_dir


def test_tmall_default_validation_is_the_last_tenth(shared_data, tmp_path):
    root = shared_data("tmall-gcegnn")
    with open(root / "all_train_seq.txt", "rb") as handle:
        tmall_sessions = pickle.load(handle)
    data = SessionDataModule(dataset="tmall", data_dir=str(root), cache_dir=str(tmp_path))
    data.setup("fit")
    num_val = 6_529  # round(0.1 * 65,286)
    fit_lists, val_lists = tmall_sessions[:-num_val], tmall_sessions[-num_val:]
    assert data.val_sessions_count == num_val and data.train_sessions_count == len(fit_lists)
    assert data.evaluation_split == "val"
    fit, val = Sessions.from_lists(fit_lists), Sessions.from_lists(val_lists)
    # Train samples point into exactly the fit sessions, validation into exactly the last 10%.
    np.testing.assert_array_equal(data.train_dataset.flat.numpy(), fit.items)
    np.testing.assert_array_equal(data.val_dataset.flat.numpy(), val.items)
    assert len(data.train_dataset) == int((fit.lengths - 1).sum())
    assert len(data.val_dataset) == int((val.lengths - 1).sum())
    train_ends = (data.train_dataset.starts + data.train_dataset.lengths).numpy()
    assert train_ends.max() < len(fit.items)  # targets included
    assert set(data.train_dataset.starts.numpy().tolist()) == set(fit.offsets[:-1].tolist())
    # The global graph is the graph of the fit sessions, and nothing else.
    expected = build_global_graph(fit, 40_727)
    np.testing.assert_array_equal(data.global_graph.neighbors, expected.neighbors)
    np.testing.assert_array_equal(data.global_graph.weights, expected.weights)


def _leak_probe(root):
    """Train sessions whose last two hold items 30..35 (and pairs) seen nowhere else; test
    sessions hold items 40..43 seen nowhere else."""
    rng = np.random.default_rng(0)
    common = [rng.integers(1, 21, size=rng.integers(2, 8)).tolist() for _ in range(18)]
    validation = [[30, 31, 32, 1, 2], [33, 34, 35, 2, 1]]
    test = [[40, 41, 3, 4], [42, 43, 5]]
    dataset = ProcessedDataset(
        train=Sessions.from_lists(common + validation),
        test=Sessions.from_lists(test),
        vocabulary=list(range(101, 151)),
        name="probe",
    )
    return write_processed(dataset, root / "probe"), common


def test_no_validation_or_test_session_reaches_training_or_the_graph(tmp_path):
    path, common = _leak_probe(tmp_path)
    data = SessionDataModule(dataset=str(path), val_fraction=0.1, cache_dir=str(tmp_path / "c"))
    data.setup("fit")
    held_out = np.array([30, 31, 32, 33, 34, 35, 40, 41, 42, 43])
    train = data.train_dataset
    assert not np.isin(train.flat.numpy(), held_out).any()
    assert not np.isin(train.targets.numpy(), held_out).any()
    graph = data.global_graph
    assert (graph.degree[held_out] == 0).all()
    assert not np.isin(graph.neighbors, held_out).any()
    # Items 1 and 2 also occur in validation sessions: their rows must not count those pairs.
    expected = build_global_graph(Sessions.from_lists(common), 50)
    np.testing.assert_array_equal(graph.neighbors, expected.neighbors)
    np.testing.assert_array_equal(graph.weights, expected.weights)
    val_items = set(data.val_dataset.flat.numpy().tolist())
    assert val_items == {1, 2, 30, 31, 32, 33, 34, 35}
    # Test samples are the prefixes of the test sessions, longest first.
    test = data.test_dataset
    prefixes = [
        test.flat[s : s + n].tolist()
        for s, n in zip(test.starts.tolist(), test.lengths.tolist(), strict=True)
    ]
    assert prefixes == [[40, 41, 3], [40, 41], [40], [42, 43], [42]]
    assert test.targets.tolist() == [4, 3, 41, 5, 43]


def test_validation_protocol_without_validation_trains_on_everything(tmp_path):
    path, _ = _leak_probe(tmp_path)
    data = SessionDataModule(dataset=str(path), val_fraction=0, cache_dir=str(tmp_path / "c"))
    data.setup("fit")
    assert data.evaluation_split is None and len(data.val_dataset) == 0
    assert np.isin([30, 35], data.train_dataset.flat.numpy()).all()
    assert len(list(data.val_dataloader())) == 0


def test_paper_protocol_evaluates_on_test_every_epoch(tmp_path):
    path, _ = _leak_probe(tmp_path)
    data = SessionDataModule(dataset=str(path), protocol="paper", cache_dir=str(tmp_path / "c"))
    data.setup("fit")
    assert data.evaluation_split == "test"
    assert data.val_sessions_count == 0 and data.train_sessions_count == 20
    val_targets = [t for batch in data.val_dataloader() for t in batch.targets.tolist()]
    assert val_targets == data.test_dataset.targets.tolist()
    with pytest.raises(ValueError, match=r"protocol='paper'.*val_fraction must be unset or 0"):
        SessionDataModule(dataset=str(path), protocol="paper", val_fraction=0.1)
