"""Unit tests of the building blocks: click table, filters, sessionisation, split, sniffing."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.preprocess import filters
from datamodules.preprocess.clicks import ClickLog
from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.gcegnn_export import augment
from datamodules.preprocess.pipeline import PipelineConfig, num_samples, run_pipeline
from datamodules.preprocess.report import Report
from datamodules.preprocess.sessionize import sessionize_by_gap
from datamodules.preprocess.sniff import detect_time_format, guess_delimiter
from datamodules.preprocess.split import split_by_fraction, split_by_time


def log_of(sessions: list[list[int]], times: list[list[float]] | None = None) -> ClickLog:
    """A click log from per-session item lists (item codes = item values)."""
    session = np.repeat(np.arange(len(sessions)), [len(s) for s in sessions])
    item = np.array([i for s in sessions for i in s], dtype=np.int64)
    if times is None:
        time = np.arange(len(item), dtype=np.float64)
    else:
        time = np.array([t for ts in times for t in ts], dtype=np.float64)
    values = np.arange(int(item.max()) + 1 if len(item) else 0)
    return ClickLog.from_rows(session, item, time, values)


def kept_sessions(log: ClickLog, keep: np.ndarray) -> list[list[int]]:
    selected = log.select(keep)
    out: dict[int, list[int]] = {}
    for s, i in zip(selected.session.tolist(), selected.item.tolist(), strict=True):
        out.setdefault(s, []).append(i)
    return list(out.values())


def test_from_rows_groups_by_first_appearance_and_orders_within_sessions():
    session = np.array([5, 3, 5, 3, 9])
    item = np.array([10, 20, 11, 21, 30])
    order = np.array([2.0, 1.0, 1.0, 0.0, 0.0])
    date = np.array([100.0, 200.0, 50.0, 300.0, 400.0])
    codes = np.array([0, 1, 0, 1, 2])  # first appearance: 5 -> 0, 3 -> 1, 9 -> 2
    log = ClickLog.from_rows(codes, item, order, np.arange(31), order=order, date=date)
    assert log.session.tolist() == [0, 0, 1, 1, 2]
    assert log.item.tolist() == [11, 10, 21, 20, 30]  # ordered by `order` inside a session
    assert log.session_date.tolist() == [50.0, 300.0, 400.0]  # last row in file order
    assert session.tolist() == [5, 3, 5, 3, 9]


def test_length_support_repeat_and_truncate_masks():
    log = log_of([[1, 1, 2], [3], [1, 2, 2, 2, 4]])
    assert kept_sessions(log, filters.session_length_mask(log, 2, 3)) == [[1, 1, 2]]
    assert kept_sessions(log, filters.item_support_mask(log, 3)) == [[1, 1, 2], [1, 2, 2, 2]]
    assert kept_sessions(log, filters.immediate_repeat_mask(log)) == [[1, 2], [3], [1, 2, 4]]
    assert kept_sessions(log, filters.truncate_mask(log, 2)) == [[1, 1], [3], [1, 2]]


def test_top_items_breaks_ties_by_first_appearance():
    # counts: 7 -> 3, 5 -> 2, 8 -> 2, 6 -> 2; item 8 appears before 5 and 6
    log = log_of([[7, 8, 7], [5, 7, 6], [8, 5, 6]])
    assert kept_sessions(log, filters.top_items_mask(log, 2)) == [[7, 8, 7], [7], [8]]
    assert kept_sessions(log, filters.top_items_mask(log, 3)) == [[7, 8, 7], [5, 7], [8, 5]]
    assert filters.top_items_mask(log, 10).all()


def test_sessionize_by_gap_variants():
    user = np.array([2, 1, 1, 2, 1])
    time = np.array([100.0, 0.0, 50.0, 120.0, 200.0])
    perm, session = sessionize_by_gap(user, time, gap=100)
    assert perm.tolist() == [1, 2, 4, 0, 3]  # by user, then time
    assert session.tolist() == [0, 0, 1, 2, 2]  # 200 - 50 > 100 splits; so does the user
    _, merged = sessionize_by_gap(user, time, gap=100, break_on_user=False, absolute=True)
    assert merged.tolist() == [0, 0, 1, 1, 1]  # |100 - 200| = 100 is no gap: users merge
    _, exact = sessionize_by_gap(user, time, gap=150)
    assert exact.tolist() == [0, 0, 0, 1, 1]


def test_split_by_time_boundary_and_fraction():
    dates = np.array([1.0, 5.0, 3.0, 10.0, 4.0, np.nan])
    present = np.array([True, True, True, True, True, False])
    drop = split_by_time(dates, present, test_seconds=6.0, boundary="drop")
    assert drop.train.tolist() == [0, 2] and drop.test.tolist() == [1, 3]
    assert drop.info["boundary_sessions_dropped"] == 1  # date 4 == 10 - 6
    keep = split_by_time(dates, present, test_seconds=6.0, boundary="test")
    assert keep.test.tolist() == [1, 3, 4]
    frac = split_by_fraction(dates, present, 0.4)
    assert frac.test.tolist() == [1, 3] and frac.train.tolist() == [0, 2, 4]
    with pytest.raises(PrepareError, match="selects no test session"):
        split_by_fraction(dates, present, 0.1)


def test_pipeline_orders_sessions_by_date_with_stable_ties_and_renumbers():
    sessions = [[9, 8], [8, 7], [7, 9, 8], [9, 6, 7]]
    times = [[5, 6], [1, 6], [0, 1, 1], [20, 21, 22]]
    log = log_of(sessions, times)
    config = PipelineConfig(min_item_support=1, test_seconds=10.0, split_boundary="drop")
    dataset = run_pipeline(log, config, Report("unit", [], {}), name="unit")
    # end times 6, 6, 1 -> train in order [7 9 8], [9 8], [8 7] (tie: first session first)
    assert dataset.vocabulary == [7, 9, 8]
    assert dataset.train.to_lists() == [[1, 2, 3], [2, 3], [3, 1]]
    assert dataset.test.to_lists() == [[2, 1]]  # item 6 unseen in train: removed


def test_augmentation_rule_and_sample_count():
    sessions = [[1, 2, 3, 4], [5, 6]]
    assert augment(sessions, 1) == ([[1, 2, 3], [1, 2], [1], [5]], [4, 3, 2, 6])
    assert augment(sessions, 2) == ([[1, 2, 3], [1, 2]], [4, 3])
    lengths = np.array([4, 2])
    assert num_samples(lengths, 1) == 4 and num_samples(lengths, 2) == 2


def test_delimiter_and_time_format_detection(tmp_path):
    assert guess_delimiter("a;b;c") == ";"
    assert guess_delimiter("a\tb,c\td") == "\t"
    assert guess_delimiter("abc") is None
    path = tmp_path / "x.csv"

    def fmt(*values: str) -> str:
        return detect_time_format(path, list(enumerate(values, start=2)), "t")

    assert fmt("1442004589", "1442004759.5") == "unix"
    assert fmt("1442004589000") == "unix"  # seconds or ms: decided from the whole column
    assert fmt("2014-04-07T10:51:09.277Z") == "iso_utc"
    assert fmt("2016-05-09", "2016-05-09 10:00") == "iso_naive"
    with pytest.raises(PrepareError, match="line 3, column 't'"):
        fmt("2016-05-09", "yesterday")
    with pytest.raises(PrepareError, match=r"line 4, column 't': '2016-05-09' is an ISO"):
        fmt("1442004589", "1442004590", "2016-05-09")
    with pytest.raises(PrepareError, match="line 3, column 't': cannot recognise 'nan'"):
        fmt("1442004589", "nan")
