"""Processed dataset files: values that would overflow or are not ids name the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datamodules import SessionDataModule
from datamodules.errors import DataError
from datamodules.processed import (
    ProcessedDataset,
    ProcessedDatasetError,
    Sessions,
    read_processed,
    write_processed,
)


def _write(tmp_path):
    path = tmp_path / "data"
    sessions = Sessions.from_lists([[1, 2, 3], [2, 3]] * 5)
    write_processed(ProcessedDataset(sessions, sessions, [10, 20, 30], "tiny"), path)
    return path


@pytest.mark.parametrize(
    "vocabulary", [[10, 20, 2**70], [10, 20, -(2**63) - 1], [10, True, 30], [10, 20.0, 30]]
)
def test_bad_vocabulary_ids_name_the_file(tmp_path, vocabulary):
    path = _write(tmp_path)
    (path / "vocabulary.json").write_text(json.dumps(vocabulary))
    with pytest.raises(ProcessedDatasetError) as caught:
        read_processed(path)
    assert str(path / "vocabulary.json") in str(caught.value)
    data = SessionDataModule(dataset=str(path), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"vocabulary\.json"):
        data.setup("fit")


def test_vocabulary_id_at_the_int64_limits_is_fine(tmp_path):
    path = _write(tmp_path)
    (path / "vocabulary.json").write_text(json.dumps([2**63 - 1, 0, -(2**63)]))
    assert read_processed(path).vocabulary == [2**63 - 1, 0, -(2**63)]


@pytest.mark.parametrize("dtype", [np.float64, np.bool_, np.float32])
def test_session_arrays_of_the_wrong_type_name_the_file(tmp_path, dtype):
    path = _write(tmp_path)
    np.savez(path / "train_sessions.npz", items=np.ones(5, dtype=dtype), offsets=np.array([0, 5]))
    with pytest.raises(ProcessedDatasetError, match=r"train_sessions\.npz"):
        read_processed(path)


def test_session_arrays_of_the_wrong_shape_name_the_file(tmp_path):
    path = _write(tmp_path)
    np.savez(path / "test_sessions.npz", items=np.ones((2, 3), dtype=np.int64), offsets=[0, 6])
    with pytest.raises(ProcessedDatasetError, match=r"test_sessions\.npz.*1-D"):
        read_processed(path)
