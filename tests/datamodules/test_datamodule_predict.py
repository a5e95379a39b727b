"""Predict files: JSONL/CSV parsing, per-line records, dataloader order, no training data needed."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from lightning.pytorch.trainer.states import TrainerFn

from datamodules import SessionDataModule
from datamodules.errors import DataError
from datamodules.predict import read_predict_file

JSONL = """[3, 1, 2]

{"session": ["5", 4], "user": "x"}
[99, 1]
not json
[]
{"items": [1]}
[1, 2.5]
[7]
"""


def test_jsonl_records(tmp_path, caplog):
    path = tmp_path / "sessions.jsonl"
    path.write_text(JSONL)
    with caplog.at_level(logging.WARNING, logger="datamodules.predict"):
        records = read_predict_file(path)
    assert [r.line for r in records] == list(range(1, 10))
    assert [r.error for r in records] == [
        None,
        "empty line",
        None,
        None,
        records[4].error,
        "empty session",
        'malformed line: a JSON object needs a "session" key',
        "malformed line: item 1 is 2.5: ids must be ints or strings",
        None,
    ]
    assert records[4].error.startswith("malformed line: not valid JSON")
    assert [r.raw_session for r in records if r.error is None] == [
        [3, 1, 2],
        ["5", 4],
        [99, 1],
        [7],
    ]
    assert "5 of 9 lines are empty or malformed" in caplog.text


def test_csv_lines_keep_raw_tokens(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text("a, b ,c\nzz\nc,,a\nb\n")
    records = read_predict_file(path)
    assert [r.raw_session for r in records] == [["a", "b", "c"], ["zz"], [], ["b"]]
    assert [r.error for r in records] == [None, None, "malformed line: item 1 is empty", None]


def test_unsupported_extension_and_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"unsupported predict file extension '\.parquet'"):
        read_predict_file(tmp_path / "s.parquet")
    with pytest.raises(DataError, match="predict file not found") as caught:
        read_predict_file(tmp_path / "s.csv")
    assert str(tmp_path / "s.csv") in str(caught.value)


def test_predict_dataloader_serves_every_line_in_order_without_loading_data(tmp_path, monkeypatch):
    predict = tmp_path / "live.csv"
    predict.write_text("1003,1001\n\n1002\n1001,1002,1003,1001\n")
    data = SessionDataModule(
        predict_file=str(predict),
        eval_batch_size=3,
        cache_dir=str(tmp_path / "cache"),
    )
    monkeypatch.setattr(
        SessionDataModule, "_ensure_loaded", lambda self: pytest.fail("predict loaded data")
    )
    data.setup("predict")
    batches = list(data.predict_dataloader())
    assert [[r.line for r in batch] for batch in batches] == [[1, 2, 3], [4]]
    assert batches[0][1].error == "empty line"
    assert batches[1][0].raw_session == ["1001", "1002", "1003", "1001"]


def test_predicting_needs_no_dataset_files(tmp_path):
    """A benchmark config whose files are absent still predicts: prepare_data skips them."""
    predict = tmp_path / "live.jsonl"
    predict.write_text("[1, 2]\n")
    options = {"dataset": "tmall", "data_dir": str(tmp_path / "none"), "download": False}
    data = SessionDataModule(predict_file=str(predict), **options)
    data.trainer = SimpleNamespace(state=SimpleNamespace(fn=TrainerFn.PREDICTING))
    data.prepare_data()
    data.setup("predict")
    assert len(data.predict_dataset) == 1

    data.trainer = SimpleNamespace(state=SimpleNamespace(fn=TrainerFn.FITTING))
    with pytest.raises(DataError, match=r"all_train_seq\.txt"):
        data.prepare_data()


def test_predict_without_a_file_is_a_clear_error(tmp_path):
    data = SessionDataModule(cache_dir=str(tmp_path), synthetic_num_train_sessions=50)
    with pytest.raises(ValueError, match="set predict_file"):
        data.setup("predict")


def test_byte_order_mark_and_non_utf8_files(tmp_path):
    with_bom = tmp_path / "bom.jsonl"
    with_bom.write_bytes(b"\xef\xbb\xbf[1, 2]\n[3]\n")
    assert [r.raw_session for r in read_predict_file(with_bom)] == [[1, 2], [3]]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"1,2\n3,\xe9\n")
    with pytest.raises(DataError, match=r"latin\.csv, line 2: not UTF-8"):
        read_predict_file(latin)


def test_hostile_json_lines_are_malformed_records_not_crashes(tmp_path):
    path = tmp_path / "sessions.jsonl"
    path.write_text("[" * 100_000 + "\n" + "[" + "1" * 5000 + "]\n" + '{"session": 3}\n[1]\n')
    records = read_predict_file(path)
    assert [r.line for r in records] == [1, 2, 3, 4]
    assert records[0].error == "malformed line: not valid JSON (nested too deeply)"
    assert (
        records[1].error == "malformed line: not valid JSON (a number with more than 4300 digits)"
    )
    assert records[2].error == "malformed line: expected a list of item ids, got int"
    assert records[3].raw_session == [1] and records[3].error is None
