"""Predict files: JSONL/CSV parsing, unknown ids, per-line records, dataloader order."""

from __future__ import annotations

import logging

import pytest

from datamodules import SessionDataModule
from datamodules.errors import DataError
from datamodules.predict import read_predict_file
from datamodules.processed import ProcessedDataset, Sessions, write_processed
from datamodules.vocab import Vocabulary

JSONL = """[3, 1, 2]

{"session": ["5", 4], "user": "x"}
[99, 1]
[99, 98]
not json
[]
{"items": [1]}
[1, 2.5]
[7]
"""


def test_jsonl_records_and_sessions(tmp_path, caplog):
    path = tmp_path / "sessions.jsonl"
    path.write_text(JSONL)
    with caplog.at_level(logging.WARNING, logger="datamodules.predict"):
        records, sessions = read_predict_file(path, Vocabulary.identity(10))
    assert [r.line for r in records] == list(range(1, 11))
    assert [r.error for r in records] == [
        None,
        "empty line",
        None,
        None,
        "no known item in the session",
        records[5].error,
        "empty session",
        'malformed line: a JSON object needs a "session" key',
        "malformed line: item 1 is 2.5: ids must be ints or strings",
        None,
    ]
    assert records[5].error.startswith("malformed line: not valid JSON")
    assert records[3].unknown == [99] and records[4].unknown == [99, 98]
    assert records[2].raw_session == ["5", 4]
    assert sessions == [[3, 1, 2], [5, 4], [1], [7]]
    assert "skipped 3 unknown item ids (e.g. [99, 99, 98])" in caplog.text
    assert "6 of 10 lines give no session" in caplog.text


def test_csv_with_string_vocabulary(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text("a, b ,c\nzz\nc,,a\nb\n")
    records, sessions = read_predict_file(path, Vocabulary.from_raw_ids(["a", "b", "c"]))
    assert sessions == [[1, 2, 3], [2]]
    assert [r.error for r in records] == [
        None,
        "no known item in the session",
        "malformed line: item 1 is empty",
        None,
    ]


def test_unsupported_extension_and_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"unsupported predict file extension '\.parquet'"):
        read_predict_file(tmp_path / "s.parquet", Vocabulary.identity(3))
    with pytest.raises(DataError, match="predict file not found") as caught:
        read_predict_file(tmp_path / "s.csv", Vocabulary.identity(3))
    assert str(tmp_path / "s.csv") in str(caught.value)


def test_predict_dataloader_serves_valid_lines_in_file_order(tmp_path):
    dataset = ProcessedDataset(
        train=Sessions.from_lists([[1, 2, 3], [2, 3, 1, 2], [3, 1]]),
        test=Sessions.from_lists([[1, 3]]),
        vocabulary=[1001, 1002, 1003],
        name="raw-ids",
    )
    root = write_processed(dataset, tmp_path / "raw-ids")
    predict = tmp_path / "live.csv"
    predict.write_text("1003,1001\n42\n1002\n1001,1002,1003,1001\n")
    data = SessionDataModule(
        dataset=str(root),
        predict_file=str(predict),
        val_fraction=0,
        eval_batch_size=2,
        max_len=3,
        cache_dir=str(tmp_path / "cache"),
    )
    data.setup("predict")
    valid = [r for r in data.predict_records if r.error is None]
    assert [r.line for r in valid] == [1, 3, 4]
    batches = list(data.predict_dataloader())
    assert [b.batch_size for b in batches] == [2, 1]
    assert batches[0].items.tolist() == [[1, 3], [2, 0]]
    assert batches[1].items.tolist() == [[1, 3, 2]]  # max_len keeps the 3 most recent
    assert all(b.targets.eq(0).all() for b in batches)
    assert data.vocabulary.decode(batches[0].items[0]) == [1001, 1003]


def test_predict_without_a_file_is_a_clear_error(tmp_path):
    data = SessionDataModule(cache_dir=str(tmp_path), synthetic_num_train_sessions=50)
    with pytest.raises(ValueError, match="set predict_file"):
        data.setup("predict")
