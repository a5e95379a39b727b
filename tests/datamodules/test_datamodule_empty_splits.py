"""A datamodule whose rules leave a split without samples fails at setup, before any training,
naming the split and the rule (issue 11 item 5)."""

from __future__ import annotations

import pytest

from datamodules import SessionDataModule
from datamodules.errors import DataError
from datamodules.processed import ProcessedDataset, Sessions, write_processed


def _dataset(tmp_path, train, test, min_prefix_length=1):
    path = tmp_path / "data"
    write_processed(
        ProcessedDataset(
            train=Sessions.from_lists(train),
            test=Sessions.from_lists(test),
            vocabulary=[10, 20, 30, 40],
            name="tiny",
            min_prefix_length=min_prefix_length,
        ),
        path,
    )
    return str(path)


def _setup(tmp_path, dataset, **options):
    data = SessionDataModule(dataset=dataset, cache_dir=str(tmp_path / "cache"), **options)
    data.setup("fit")
    return data


def test_no_training_sample_is_an_error_naming_the_rule(tmp_path):
    dataset = _dataset(tmp_path, [[1, 2]] * 8 + [[1, 2, 3]], [[1, 2, 3]], min_prefix_length=2)
    with pytest.raises(DataError) as caught:
        _setup(tmp_path, dataset, val_fraction=0.2)
    message = str(caught.value)
    assert "no training sample" in message
    assert "min_prefix_length=2" in message and "at least 3 clicks" in message
    assert "7 fit sessions" in message
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_only_one_click_sessions_is_a_no_training_sample_error_not_a_graph_crash(tmp_path):
    """No fit session has 2 clicks: the split check runs before the global graph is built."""
    dataset = _dataset(tmp_path, [[1], [2], [3], [4]] * 3, [[1, 2, 3]])
    with pytest.raises(DataError) as caught:
        _setup(tmp_path, dataset, val_fraction=0)
    message = str(caught.value)
    assert "no training sample" in message and "at least 2 clicks" in message


def test_prepare_data_fails_too(tmp_path):
    dataset = _dataset(tmp_path, [[1, 2]] * 5, [[1, 2, 3]], min_prefix_length=2)
    data = SessionDataModule(dataset=dataset, cache_dir=str(tmp_path / "cache"), val_fraction=0)
    with pytest.raises(DataError, match="no training sample"):
        data.prepare_data()


def test_validation_sessions_without_samples_are_an_error(tmp_path):
    train = [[1, 2, 3]] * 9 + [[4, 1]]  # the last session, the validation one, is too short
    dataset = _dataset(tmp_path, train, [[1, 2, 3]], min_prefix_length=2)
    with pytest.raises(DataError) as caught:
        _setup(tmp_path, dataset, val_fraction=0.1)
    message = str(caught.value)
    assert "validation split is empty" in message
    assert "val_fraction=0.1" in message and "1 validation session" in message
    assert "val_fraction=0" in message  # how to train without validation


def test_empty_test_split_is_an_error(tmp_path):
    dataset = _dataset(tmp_path, [[1, 2, 3]] * 5, [[1, 2]], min_prefix_length=2)
    with pytest.raises(DataError, match="no test sample"):
        _setup(tmp_path, dataset, val_fraction=0)


def test_small_validation_fraction_still_holds_out_a_session(tmp_path):
    dataset = _dataset(tmp_path, [[1, 2, 3]] * 5, [[1, 2, 3]])
    data = _setup(tmp_path, dataset, val_fraction=0.01)  # 0.05 sessions: rounds up to 1
    assert data.val_sessions_count == 1 and len(data.val_dataset) == 2
