"""The tmall, nowplaying, retailrocket and lastfm recipes on tiny raw files in their exact raw
layouts, each built so that one documented rule decides the outcome."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from datamodules.processed import read_processed

# Tmall / Nowplaying item ids
A, B, C, D, E, F, RARE = 101, 102, 103, 104, 105, 106, 999


def write_gcegnn_tsv(path: Path, rows: list[tuple[int, int, float]]) -> Path:
    """``dataset15.csv`` layout: TAB, header, SessionId in the third column."""
    lines = ["UserId\tItemId\tSessionId\tTime"]
    lines += [f"7\t{item}\t{session}\t{time}" for session, item, time in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def session(sid: int, items: list[int], times: list[float]) -> list[tuple[int, int, float]]:
    return [(sid, i, t) for i, t in zip(items, times, strict=True)]


def tmall_rows() -> list[tuple[int, int, float]]:
    def at(start: float, n: int) -> list[float]:
        return [start + k for k in range(n)]

    rows = []
    rows += session(1, [A, B, C, A], at(100, 4))
    rows += session(2, [B, C, D], at(200, 3))
    rows += session(3, [A, C, D, E], at(300, 4))
    rows += session(4, [A, B, D, E], at(400, 4))
    rows += session(5, [C, D, E, B], at(500, 4))
    rows += session(6, [D], [600])  # length 1: dropped before support is counted (D: 4)
    rows += session(7, [E, RARE], at(700, 2))  # -> [E] -> dropped; E keeps its count of 5
    rows += session(120000, [E, A, B, C], at(800, 4))
    rows += session(9, [A, B] * 20 + [C], at(900, 41))  # 41 clicks: longer than 40
    rows += session(10, [A, B], [4899.0, 4900.0])  # date == split: dropped
    rows += session(11, [A, C], [4950.0, 4899.5])  # last row 4899.5 < split: train
    rows += session(12, [B, C], [4960.0, 4901.0])  # last row 4901 > split: test
    rows += session(13, [A, F, B], at(4970, 3))
    rows += session(14, [F, A], at(4980, 2))
    rows += session(15, [F, F, F, C], [4990.0, 4995.0, 4998.0, 5000.0])  # max date 5000
    rows += session(120001, [A], [10.0])  # reading stops here ...
    rows += session(1, [A, B, C], at(6000, 3))  # ... so these rows are never read
    return rows


def test_tmall_recipe(tmp_path, prepare, step):
    raw = write_gcegnn_tsv(tmp_path / "dataset15.csv", tmall_rows())
    code, output, report, err = prepare("tmall", "--input", str(raw))
    assert code == 0, err
    cut = step(report, "rows from the first SessionId > 120,000 on")
    assert (cut["rows_removed"], cut["sessions_removed"]) == (4, 1)  # session 1 stays
    assert report["split"]["max_time"] == 5000.0 and report["split"]["split_time"] == 4900.0
    assert report["split"]["boundary_sessions_dropped"] == 1
    assert step(report, "sessions shorter than 2 or longer than 40")["sessions_removed"] == 2
    dataset = read_processed(output)
    assert dataset.vocabulary == [A, B, C, E]  # D (4 after the length-1 drop) is gone, E stays
    assert dataset.train.to_lists() == [
        [1, 2, 3, 1],
        [2, 3],
        [1, 3, 4],
        [1, 2, 4],
        [3, 4, 2],
        [4, 1, 2, 3],
        [1, 3],  # session 11, dated by its last row
    ]
    assert dataset.test.to_lists() == [[2, 3], [1, 2]]  # F never seen in train
    assert report["final"]["train_samples"] == 3 + 1 + 2 + 2 + 2 + 3 + 1


def test_tmall_cut_can_be_switched_off(tmp_path, prepare):
    raw = write_gcegnn_tsv(tmp_path / "dataset15.csv", tmall_rows())
    code, _, report, err = prepare("tmall", "--input", str(raw), "--max-session-id", "0")
    assert code == 0, err
    assert report["split"]["max_time"] == 6002.0  # the late rows of session 1 are read
    assert not any(s["step"].startswith("rows from") for s in report["steps"])


def test_nowplaying_recipe(tmp_path, prepare, step):
    day = 86400.0
    end = 1_500_000_000.0
    rows = []
    for k in range(6):  # train sessions, 100+ days before the end
        rows += session(200_000 + k, [A, B, C], [end - 100 * day + k * 60 + j for j in range(3)])
    rows += session(300_000, [A, B] * 15 + [C], [end - 90 * day + j for j in range(31)])
    rows += session(300_001, [A, B] * 15, [end - 90 * day + 100 + j for j in range(30)])
    rows += session(300_002, [C, A], [end - 60 * day - 1, end - 60 * day])  # == split: dropped
    rows += session(300_003, [B, C], [end - 10, end])
    raw = write_gcegnn_tsv(tmp_path / "nowplaying.csv", rows)
    code, output, report, err = prepare("nowplaying", "--input", str(raw))
    assert code == 0, err
    assert step(report, "sessions shorter than 2 or longer than 30")["sessions_removed"] == 1
    assert report["split"]["boundary_sessions_dropped"] == 1
    assert report["split"]["split_time"] == end - 60 * day
    dataset = read_processed(output)
    assert [len(s) for s in dataset.train.to_lists()] == [3] * 6 + [30]
    assert dataset.test.to_lists() == [[2, 3]]


# --------------------------------------------------------------------------- retailrocket
T = 1_440_000_000  # seconds
ITEMS = (501, 502, 503, 504)


def events_csv(path: Path, rows: list[tuple[int, int, str, int]]) -> Path:
    """Kaggle ``events.csv``: ``timestamp`` in ms, ``transactionid`` mostly empty."""
    lines = ["timestamp,visitorid,event,itemid,transactionid"]
    for ms, visitor, event, item in rows:
        lines.append(f"{ms},{visitor},{event},{item},{'42' if event == 'transaction' else ''}")
    path.write_text("\n".join(lines) + "\n")
    return path


def retailrocket_rows() -> list[tuple[int, int, str, int]]:
    def views(visitor: int, start: int, items) -> list[tuple[int, int, str, int]]:
        return [((start + 60 * k) * 1000, visitor, "view", i) for k, i in enumerate(items)]

    r1, r2, r3, r4 = ITEMS
    rows = [
        (T * 1000, 1, "view", r1),
        ((T + 1500) * 1000, 1, "addtocart", r1),  # bridges the 55-minute pause between views
        ((T + 3300) * 1000 + 999, 1, "view", r2),  # 1800.999 s later: int() makes it 1800
        ((T + 3360) * 1000, 1, "view", r3),
        ((T + 3400) * 1000, 1, "transaction", r3),
    ]
    rows += views(2, T + 86400, [r1, r2, r3, r4])
    rows += views(3, T + 86400 + 180 + 600, [r2, r3])  # 10 min after visitor 2: same session
    for k, visitor in enumerate(range(10, 15)):
        rows += views(visitor, T + (2 + k) * 86400, ITEMS)
    rows += views(20, T + 8 * 86400, [r1, r2])  # length 2: dropped
    rows += views(30, T + 20 * 86400, [r1, r2, r3])
    rows += views(31, T + 21 * 86400, [r4, r3, r2, r1])
    return rows[::-1]  # file order does not matter: rows are sorted by visitor and time


def test_retailrocket_recipe_on_raw_events(tmp_path, prepare, step):
    raw = events_csv(tmp_path / "events.csv", retailrocket_rows())
    code, output, report, err = prepare("retailrocket", "--input", str(raw))
    assert code == 0, err
    assert report["read"]["layout"] == "events"
    assert step(report, "events other than 'view'")["rows_removed"] == 2
    assert (
        step(report, "sessions shorter than 3 (before counting support)")["sessions_removed"] == 1
    )
    dataset = read_processed(output)
    assert dataset.vocabulary == list(ITEMS)
    assert dataset.train.to_lists() == [[1, 2, 3], [1, 2, 3, 4, 2, 3]] + [[1, 2, 3, 4]] * 5
    assert dataset.test.to_lists() == [[1, 2, 3], [4, 3, 2, 1]]
    final = report["final"]
    assert (final["train_samples"], final["test_samples"], final["min_prefix_length"]) == (15, 3, 2)


def test_retailrocket_split_users_starts_a_session_per_visitor(tmp_path, prepare):
    raw = events_csv(tmp_path / "events.csv", retailrocket_rows())
    code, output, _, err = prepare("retailrocket", "--input", str(raw), "--split-users")
    assert code == 0, err
    train = read_processed(output).train.to_lists()
    assert train[:2] == [[1, 2, 3], [1, 2, 3, 4]]  # visitor 3's two views: too short alone


# --------------------------------------------------------------------------- lastfm
BASE = dt.datetime(2009, 1, 1, tzinfo=dt.timezone.utc)


def lastfm_tsv(path: Path, plays: list[tuple[str, dt.datetime, str]]) -> Path:
    """Last.fm 1K layout: no header, TAB, six columns, each user's plays newest first."""
    by_user: dict[str, list[tuple[dt.datetime, str]]] = {}
    for user, moment, artist in plays:
        by_user.setdefault(user, []).append((moment, artist))
    lines = []
    for user, rows in by_user.items():
        for moment, artist in sorted(rows, reverse=True):
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(f"{user}\t{stamp}\t{artist}\tName of {artist}\ttrack-id\tA song")
    path.write_text("\n".join(lines) + "\n")
    return path


def hours(h: float) -> dt.datetime:
    return BASE + dt.timedelta(hours=h)


def test_lastfm_sessions_repeats_truncation_and_split(tmp_path, prepare):
    plays = [
        ("user_000001", hours(0), "a"),
        ("user_000001", hours(1), "a"),  # immediate repeat
        ("user_000001", hours(2), "b"),
        ("user_000001", hours(10), "c"),  # exactly 8 h later: same session
        ("user_000001", hours(18) + dt.timedelta(seconds=1), "d"),  # 8 h 1 s: new session
        ("user_000001", hours(18.1), "e"),
    ]
    plays += [("user_000002", hours(24 + k / 20), f"i{k:02d}") for k in range(25)]
    plays += [("user_000002", hours(24.01), "")]  # no artist id: dropped before sessions
    for k in range(3):  # three days of f, g, f
        plays += [("user_000003", hours(48 + 24 * k + m / 60), a) for m, a in ((0, "f"), (1, "g"))]
        plays += [("user_000003", hours(48 + 24 * k + 5 / 60), "f")]
    raw = lastfm_tsv(tmp_path / "userid-timestamp-artid-artname-traid-traname.tsv", plays)
    code, output, report, err = prepare("lastfm", "--input", str(raw), "--min-item-support", "1")
    assert code == 0, err
    assert report["read"]["rows_missing_user_time_or_artist"] == 1
    dataset = read_processed(output)
    twenty = [f"i{k:02d}" for k in range(20)]
    assert dataset.vocabulary == ["a", "b", "c", "d", "e", *twenty, "f", "g"]
    train = dataset.train.to_lists()
    assert train[:3] == [[1, 2, 3], [4, 5], list(range(6, 26))]
    assert train[3:] == [[26, 27, 26], [26, 27, 26]]  # a repeat that is not immediate stays
    assert dataset.test.to_lists() == [[26, 27, 26]]  # int(0.2 * 6) = 1 session: the latest
    assert report["split"]["method"] == "fraction"


def test_lastfm_filters_iterate_and_ids_follow_user_order(tmp_path, prepare, step):
    late, early = 24 * 150, 0  # user 1 listens months after user 2
    plays = [("user_000001", hours(late), "Q"), ("user_000001", hours(late + 0.1), "P")]
    for k in range(4):
        t = late + 24 * (k + 1)
        plays += [("user_000001", hours(t + j / 10), a) for j, a in enumerate("PXQ")]
    for k in range(6):
        plays += [("user_000002", hours(early + 24 * k + j / 10), a) for j, a in enumerate("PQ")]
    plays += [("user_000002", hours(early + 24 * 7), "X"), ("user_000002", hours(24 * 7.1), "Z")]
    raw = lastfm_tsv(tmp_path / "lastfm.tsv", plays)
    code, output, report, err = prepare("lastfm", "--input", str(raw))
    assert code == 0, err
    # pass 1 removes Z, leaving [X]; pass 2 drops [X], then X (support 5 -> 4)
    assert step(report, "items with support < 5 (pass 1)")["items_removed"] == 1
    assert step(report, "sessions shorter than 2 (pass 2)")["sessions_removed"] == 1
    assert step(report, "items with support < 5 (pass 2)")["items_removed"] == 1
    dataset = read_processed(output)
    assert dataset.vocabulary == ["Q", "P"]  # first appearance in user order, not time order
    assert dataset.train.to_lists() == [[2, 1]] * 6 + [[1, 2], [2, 1], [2, 1]]
    assert dataset.test.to_lists() == [[2, 1], [2, 1]]  # int(0.2 * 11) = 2 latest sessions
