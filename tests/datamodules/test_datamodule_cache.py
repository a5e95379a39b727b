"""The prepared-array cache: reused across instances, keyed by content options, atomic, robust."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import datamodules.datamodule as datamodule_module
from datamodules import SessionDataModule
from datamodules.cache import default_cache_dir
from datamodules.processed import ProcessedDataset, Sessions, write_processed

SMALL = {"synthetic_num_train_sessions": 300, "synthetic_num_test_sessions": 50}


def _module(tmp_path, **options):
    return SessionDataModule(cache_dir=str(tmp_path / "cache"), **{**SMALL, **options})


def test_second_setup_reads_the_cache_instead_of_rebuilding(tmp_path, monkeypatch):
    first = _module(tmp_path)
    first.prepare_data()
    first.setup("fit")

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(datamodule_module, "load_sessions", no_rebuild)
    second = _module(tmp_path)
    second.prepare_data()
    second.setup("fit")
    for split in ("train_dataset", "val_dataset", "test_dataset"):
        for name in ("flat", "starts", "lengths", "targets"):
            expected = getattr(getattr(first, split), name)
            assert np.array_equal(getattr(getattr(second, split), name), expected)
    assert np.array_equal(second.global_graph.neighbors, first.global_graph.neighbors)
    assert second.vocabulary == first.vocabulary
    assert second.counts == first.counts
    assert second.dataset_hash == first.dataset_hash
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temporary left behind


@pytest.mark.parametrize(
    "change",
    [{"val_fraction": 0.2}, {"graph_top_k": 5}, {"graph_window": 2}, {"synthetic_seed": 3}],
)
def test_content_options_get_their_own_cache_file(tmp_path, change):
    base = _module(tmp_path)
    base.setup("fit")
    other = _module(tmp_path, **change)
    other.setup("fit")
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert other.dataset_hash != base.dataset_hash


def test_batching_options_share_the_cache_but_not_the_hash(tmp_path):
    base = _module(tmp_path)
    base.setup("fit")
    other = _module(tmp_path, batch_size=7, max_len=3, num_workers=0)
    other.setup("fit")
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert other.dataset_hash != base.dataset_hash  # max_len shapes the batches
    assert len(base.dataset_hash) == 12 and int(base.dataset_hash, 16) >= 0


def test_unreadable_cache_is_rebuilt(tmp_path, caplog):
    _module(tmp_path).setup("fit")
    (cache_file,) = (tmp_path / "cache").iterdir()
    cache_file.write_bytes(b"not an npz")
    with caplog.at_level(logging.WARNING, logger="datamodules.cache"):
        rebuilt = _module(tmp_path)
        rebuilt.setup("fit")
    assert "unreadable cache file" in caplog.text and str(cache_file) in caplog.text
    assert len(rebuilt.train_dataset) > 0
    assert _module(tmp_path).counts == rebuilt.counts


def test_synthetic_data_without_cache_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the old default was ./data/.cache
    data = SessionDataModule(**SMALL)
    data.prepare_data()
    data.setup("fit")
    assert len(data.train_dataset) > 0 and data.cache_dir is None
    assert list(tmp_path.iterdir()) == []


def test_a_processed_dataset_caches_in_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = ProcessedDataset(
        train=Sessions.from_lists([[1, 2, 3], [2, 3, 4, 1], [4, 1]]),
        test=Sessions.from_lists([[1, 2]]),
        vocabulary=[11, 12, 13, 14],
        name="tiny",
    )
    path = write_processed(dataset, tmp_path / "tiny")
    SessionDataModule(dataset=str(path), val_fraction=0).setup("fit")
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # no ./data/.cache
    assert [p.suffix for p in (path / ".cache").iterdir()] == [".npz"]


def test_default_cache_dir_rule(tmp_path):
    assert default_cache_dir(None, "d", "benchmark", None) == Path("d", ".cache")
    assert default_cache_dir(None, "d", "processed", tmp_path) == tmp_path / ".cache"
    assert default_cache_dir(None, "d", "synthetic", None) is None
    assert default_cache_dir("c", "d", "synthetic", None) == Path("c")


def test_unwritable_cache_dir_warns_and_goes_on(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="datamodules.datamodule"):
        data = SessionDataModule(cache_dir=str(blocker / "cache"), **SMALL)
        data.setup("fit")
    assert "could not write the cache file" in caplog.text
    assert len(data.train_dataset) > 0
