"""Property-based tests of the datamodules' input readers (issue 11 item 15): predict files,
GCE-GNN pickles and processed dataset files.

Properties: every accepted input round-trips (predict lines parse to the ids written, pickled
sessions read back to the sessions written); every rejected input is the package's own error
(a record's ``error`` for a predict line, :class:`DataError` with the file for a session file),
never a bare ``ValueError``/``KeyError``/``MemoryError``; CSV and JSON predict files of the
same sessions encode, and report unknown ids, alike.
"""

from __future__ import annotations

import json
import pickle
import re
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from datamodules.errors import DataError
from datamodules.pickles import read_train_sessions
from datamodules.predict import read_predict_file
from datamodules.processed import (
    ProcessedDataset,
    ProcessedDatasetError,
    Sessions,
    read_processed,
    write_processed,
)
from datamodules.vocab import Vocabulary, parse_int_id

FAST = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LINE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
    max_size=12,
)
IDS = st.one_of(st.integers(-(2**70), 2**70), LINE_TEXT)
JSON_LINE = st.one_of(
    st.lists(IDS, max_size=6).map(lambda ids: ("list", ids, json.dumps(ids))),
    st.lists(IDS, max_size=6).map(
        lambda ids: ("object", ids, json.dumps({"user": "u", "session": ids}))
    ),
    LINE_TEXT.map(lambda text: ("garbage", None, text)),
    st.integers(1, 3000).map(lambda depth: ("garbage", None, "[" * depth + "]" * depth)),
    st.just(("garbage", None, "[NaN, Infinity]")),
)


def _write(text: str, suffix: str) -> Path:
    handle = tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8")
    with handle:
        handle.write(text)
    return Path(handle.name)


@FAST
@given(lines=st.lists(JSON_LINE, max_size=12))
def test_predict_json_lines_parse_to_the_ids_written(lines):
    path = _write("".join(text + "\n" for _, _, text in lines), ".jsonl")
    try:
        records = read_predict_file(path)
    finally:
        path.unlink()
    assert [r.line for r in records] == list(range(1, len(lines) + 1))
    for (kind, ids, text), record in zip(lines, records, strict=True):
        if kind in ("list", "object"):
            assert record.raw_session == ids
            assert (record.error is None) == bool(ids)
        elif not text.strip():
            assert record.error == "empty line"
        else:
            assert record.error is not None or isinstance(json.loads(text), (list, dict))


TOKEN = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=",\n\r"),
    max_size=8,
)


@FAST
@given(lines=st.lists(st.lists(TOKEN, min_size=1, max_size=5), max_size=10))
def test_predict_csv_lines_parse_to_the_tokens_written(lines):
    path = _write("".join(",".join(tokens) + "\n" for tokens in lines), ".csv")
    try:
        records = read_predict_file(path)
    finally:
        path.unlink()
    assert len(records) == len(lines)
    for tokens, record in zip(lines, records, strict=True):
        stripped = [t.strip() for t in tokens]
        if not "".join(stripped):
            assert record.error == "empty line"
        elif all(stripped):
            assert record.raw_session == stripped and record.error is None
        else:
            assert record.error is not None and record.error.startswith("malformed line")


@FAST
@given(
    vocabulary=st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=8, unique=True),
    session=st.lists(st.integers(-(2**64), 2**64), min_size=1, max_size=8),
)
def test_csv_and_json_sessions_encode_and_report_alike(vocabulary, session):
    vocab = Vocabulary.from_raw_ids(vocabulary)
    session = [*session, *vocabulary[:2]]
    assert vocab.encode([str(raw) for raw in session]) == vocab.encode(session)
    ids, unknown = vocab.encode(session)
    assert ids == [vocabulary.index(raw) + 1 for raw in session if raw in vocabulary]
    assert unknown == [raw for raw in session if raw not in vocabulary]


@FAST
@given(text=LINE_TEXT)
@example(text="+13")
@example(text="1_000")
@example(text="١٢")
@example(text=" -7 ")
def test_text_ids_read_as_integers_only_when_ascii_digits(text):
    expected = re.fullmatch(r"[ \t\r\n]*-?[0-9]+[ \t\r\n]*", text)
    parsed = parse_int_id(text)
    assert (parsed is not None) == (expected is not None)
    if parsed is not None:
        assert parsed == int(text)


SESSIONS = st.lists(
    st.lists(st.integers(-3, 12), max_size=6) | st.tuples(st.integers(1, 9), st.integers(1, 9)),
    max_size=12,
)


@FAST
@given(sessions=SESSIONS, protocol=st.integers(2, 5))
def test_pickled_sessions_read_back_or_are_refused_with_the_file(sessions, protocol):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "all_train_seq.txt"
        path.write_bytes(pickle.dumps(sessions, protocol=protocol))
        valid = all(len(s) and all(1 <= i <= 10 for i in s) for s in sessions)
        try:
            read = read_train_sessions(path, num_items=10)
        except DataError as error:
            assert not valid
            assert str(error).startswith(str(path))
            return
    assert valid
    assert read.to_lists() == [list(s) for s in sessions]


@FAST
@given(
    sessions=st.lists(st.lists(st.integers(1, 9), min_size=1, max_size=4), min_size=1, max_size=8),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 10_000),
)
def test_corrupted_pickles_raise_only_data_errors(sessions, edits, cut):
    data = bytearray(pickle.dumps(sessions, protocol=3))
    for position, byte in edits:
        data[position % len(data)] = byte
    data = bytes(data[: max(1, len(data) - cut % 8)])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "all_train_seq.txt"
        path.write_bytes(data)
        try:
            read_train_sessions(path, num_items=9)
        except DataError as error:
            assert str(error).startswith(str(path))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | LINE_TEXT,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["format", "num_items", "min_prefix_length", "x"]), children
        )
    ),
    max_leaves=6,
)


@FAST
@given(
    metadata=st.one_of(JSON_VALUES, st.just({"format": "dmi-gnn-sessions/1", "num_items": 3})),
    vocabulary=st.one_of(JSON_VALUES, st.just([1, 2, 3])),
    raw=st.binary(max_size=6),
)
def test_processed_dataset_files_raise_only_processed_dataset_errors(metadata, vocabulary, raw):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "data"
        sessions = Sessions.from_lists([[1, 2, 3], [3, 1]])
        write_processed(ProcessedDataset(sessions, sessions, [1, 2, 3], "x"), root)
        (root / "dataset.json").write_text(json.dumps(metadata))
        (root / "vocabulary.json").write_bytes(json.dumps(vocabulary).encode() + raw)
        try:
            dataset = read_processed(root)
        except ProcessedDatasetError as error:
            assert str(root) in str(error)
            return
    assert dataset.num_items == len(dataset.vocabulary) == 3
    assert isinstance(dataset.train.items, np.ndarray)
