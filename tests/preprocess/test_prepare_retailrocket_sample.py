"""RetailRocket's filters on the sessionised RetailRocket sample, checked against a plain Python
re-computation: once through the generic recipe, once through the retailrocket recipe."""

from __future__ import annotations

import csv

import pytest

from datamodules.processed import read_processed

pytestmark = pytest.mark.shared_data


def _stats(clicks: dict[str, list[tuple[float, str]]]) -> tuple[int, int, int]:
    kept = [seq for seq in clicks.values() if seq]
    return sum(map(len, kept)), len(kept), len({i for seq in kept for _, i in seq})


def recompute(path, *, session_time: str, boundary: str) -> dict:
    """MTD's filters (len >= 3, support >= 5 once, len >= 3), 7-day split, m = 2, by hand.

    ``session_time``: ``"end"`` (latest remaining click, the generic recipe) or ``"raw_last"``
    (time of the session's last raw row, MTD). ``boundary``: ``"test"`` (``>=``) or
    ``"drop"``.
    """
    clicks: dict[str, list[tuple[float, str]]] = {}
    last_row: dict[str, float] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            t = float(row["timestamp"])
            clicks.setdefault(row["session_id"], []).append((t, row["item_id"]))
            last_row[row["session_id"]] = t
    if session_time == "end":  # the generic recipe orders clicks by time within a session
        clicks = {s: sorted(seq, key=lambda c: c[0]) for s, seq in clicks.items()}
    stats = [_stats(clicks)]
    clicks = {s: seq for s, seq in clicks.items() if len(seq) >= 3}
    stats.append(_stats(clicks))
    support: dict[str, int] = {}
    for seq in clicks.values():
        for _, item in seq:
            support[item] = support.get(item, 0) + 1
    clicks = {s: [c for c in seq if support[c[1]] >= 5] for s, seq in clicks.items()}
    stats.append(_stats(clicks))
    clicks = {s: seq for s, seq in clicks.items() if len(seq) >= 3}
    stats.append(_stats(clicks))
    if session_time == "end":
        date = {s: max(t for t, _ in seq) for s, seq in clicks.items()}
    else:
        date = last_row
    split = max(date[s] for s in clicks) - 7 * 86400
    train = sorted((s for s in clicks if date[s] < split), key=lambda s: date[s])
    if boundary == "test":
        test = [s for s in clicks if date[s] >= split]
    else:
        test = [s for s in clicks if date[s] > split]
    test = sorted(test, key=lambda s: date[s])
    ids: dict[str, int] = {}
    train_seqs = [[ids.setdefault(i, len(ids) + 1) for _, i in clicks[s]] for s in train]
    test_seqs = [[ids[i] for _, i in clicks[s] if i in ids] for s in test]
    test_seqs = [seq for seq in test_seqs if len(seq) >= 2]
    return {"stats": stats, "train": train_seqs, "test": test_seqs, "items": len(ids)}


STEPS = (
    "sessions shorter than 3 (before counting support)",
    "items with support < 5",
    "sessions shorter than 3",
)


def _check(report: dict, output, expected: dict, step) -> None:
    stats = expected["stats"]
    for index, name in enumerate(STEPS):
        s = step(report, name)
        removed = tuple(b - a for b, a in zip(stats[index], stats[index + 1], strict=True))
        assert (s["rows_removed"], s["sessions_removed"], s["items_removed"]) == removed, name
    final = report["final"]
    assert final["train_sessions"] == len(expected["train"])
    assert final["test_sessions"] == len(expected["test"])
    assert final["items"] == expected["items"]
    assert final["train_samples"] == sum(len(s) - 2 for s in expected["train"])
    assert final["test_samples"] == sum(max(len(s) - 2, 0) for s in expected["test"])
    assert final["min_prefix_length"] == 2
    dataset = read_processed(output)
    assert dataset.min_prefix_length == 2
    assert dataset.train.to_lists() == expected["train"]
    assert dataset.test.to_lists() == expected["test"]


def test_generic_recipe_with_retailrocket_filters(shared_data, prepare, step):
    raw = shared_data("retailrocket-sample") / "sample_retailrocket.csv"
    expected = recompute(raw, session_time="end", boundary="test")
    assert expected["stats"][0] == (10080, 2950, 5566)  # the sample's README
    code, output, report, err = prepare(
        "generic",
        "--input",
        str(raw),
        "--session-column",
        "session_id",
        "--item-column",
        "item_id",
        "--time-column",
        "timestamp",
        "--min-session-length",
        "3",
        "--min-item-support",
        "5",
        "--test-days",
        "7",
        "--min-prefix-length",
        "2",
        "--support-scope",
        "all",  # the published rule the recomputation follows
    )
    assert code == 0, err
    assert report["read"]["time_format"] == "unix"
    assert tuple(report["read"][k] for k in ("rows", "sessions", "items")) == expected["stats"][0]
    _check(report, output, expected, step)


def test_retailrocket_recipe_reads_the_sessionised_layout_like_mtd(shared_data, prepare, step):
    raw = shared_data("retailrocket-sample") / "sample_retailrocket.csv"
    expected = recompute(raw, session_time="raw_last", boundary="drop")
    code, output, report, err = prepare("retailrocket", "--input", str(raw))
    assert code == 0, err
    assert report["read"]["layout"] == "sessionised"
    _check(report, output, expected, step)
