"""The yoochoose recipe on the raw ``yoochoose-clicks.dat`` excerpt, checked against a plain
Python re-computation of SR-GNN's rules (dicts and lists, one click at a time)."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from datamodules.processed import read_processed

pytestmark = pytest.mark.shared_data

STEPS = (
    "sessions shorter than 2 (before counting support)",
    "items with support < 5",
    "sessions shorter than 2",
)


def _seconds(timestamp: str) -> float:
    moment = dt.datetime.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S")
    return moment.replace(tzinfo=dt.timezone.utc).timestamp()


def _stats(clicks: dict[str, list[str]]) -> tuple[int, int, int]:
    items = {i for seq in clicks.values() for i in seq}
    kept = [seq for seq in clicks.values() if seq]
    return sum(len(s) for s in kept), len(kept), len(items)


def srgnn_yoochoose(path, test_days: float = 1.0) -> dict:
    """SR-GNN's preprocess.py for yoochoose, re-done by hand."""
    clicks: dict[str, list[str]] = {}
    dates: dict[str, float] = {}
    with open(path, newline="") as handle:
        for session, timestamp, item, _category in csv.reader(handle):
            clicks.setdefault(session, []).append(item)
            dates[session] = _seconds(timestamp)  # the session's last row wins
    stats = [_stats(clicks)]
    clicks = {s: seq for s, seq in clicks.items() if len(seq) > 1}
    stats.append(_stats(clicks))
    support: dict[str, int] = {}
    for seq in clicks.values():
        for item in seq:
            support[item] = support.get(item, 0) + 1
    clicks = {s: [i for i in seq if support[i] >= 5] for s, seq in clicks.items()}
    stats.append(_stats(clicks))
    clicks = {s: seq for s, seq in clicks.items() if len(seq) >= 2}
    stats.append(_stats(clicks))
    split = max(dates[s] for s in clicks) - test_days * 86400
    train = sorted((s for s in clicks if dates[s] < split), key=lambda s: dates[s])
    test = sorted((s for s in clicks if dates[s] > split), key=lambda s: dates[s])
    ids: dict[str, int] = {}
    train_seqs = [[ids.setdefault(i, len(ids) + 1) for i in clicks[s]] for s in train]
    test_seqs = [[ids[i] for i in clicks[s] if i in ids] for s in test]
    return {
        "stats": stats,
        "train": train_seqs,
        "test": [seq for seq in test_seqs if len(seq) >= 2],
        "vocabulary": [int(raw) for raw in ids],  # dicts keep insertion order: id 1, 2, ...
    }


def test_yoochoose_filters_and_split_match_a_hand_recomputation(shared_data, prepare, step):
    raw = shared_data("yoochoose-sample") / "sample_yoochoose.dat"
    expected = srgnn_yoochoose(raw)
    code, output, report, err = prepare("yoochoose", "--input", str(raw))
    assert code == 0, err

    stats = expected["stats"]
    assert stats[0] == (1913, 461, 907)  # the sample's README
    assert tuple(report["read"][k] for k in ("rows", "sessions", "items")) == stats[0]
    for index, name in enumerate(STEPS):
        s = step(report, name)
        removed = tuple(b - a for b, a in zip(stats[index], stats[index + 1], strict=True))
        assert (s["rows_removed"], s["sessions_removed"], s["items_removed"]) == removed, name
        assert (s["rows"], s["sessions"], s["items"]) == stats[index + 1], name

    final = report["final"]
    assert final["train_sessions"] == len(expected["train"])
    assert final["test_sessions"] == len(expected["test"])
    assert final["items"] == len(expected["vocabulary"])
    assert final["train_samples"] == sum(len(s) - 1 for s in expected["train"])
    assert final["test_samples"] == sum(len(s) - 1 for s in expected["test"])

    dataset = read_processed(output)
    assert dataset.train.to_lists() == expected["train"]
    assert dataset.test.to_lists() == expected["test"]
    assert dataset.vocabulary == expected["vocabulary"]


def test_yoochoose_fraction_keeps_srgnns_latest_samples(
    shared_data, prepare, unpickle, reference_augment
):
    raw = shared_data("yoochoose-sample") / "sample_yoochoose.dat"
    expected = srgnn_yoochoose(raw)
    code, output, report, err = prepare(
        "yoochoose", "--input", str(raw), "--fraction", "4", "--format", "gcegnn"
    )
    assert code == 0, err
    # SR-GNN: split4 = int(len(tr_seqs) / 4); train.txt = the last split4 samples and
    # all_train_seq.txt = tra_seqs[tr_ids[-split4]:]
    inputs, targets = reference_augment(expected["train"], 1)
    session_of_sample = [k for k, s in enumerate(expected["train"]) for _ in range(len(s) - 1)]
    tail = len(inputs) // 4
    assert unpickle(output / "train.txt") == (inputs[-tail:], targets[-tail:])
    first = session_of_sample[-tail]
    kept = [s for s in report["steps"] if s["step"].startswith("training sessions before")]
    assert kept[0]["srgnn_train_samples"] == tail and kept[0]["sessions_removed"] == first
    assert unpickle(output / "all_train_seq.txt") == expected["train"][first:]
    assert unpickle(output / "test.txt") == reference_augment(expected["test"], 1)
    dataset = read_processed(output)
    assert dataset.name == "yoochoose1_4"
    assert dataset.num_items == len(expected["vocabulary"])  # SR-GNN keeps the full n_node
    assert dataset.train.to_lists() == expected["train"][first:]
