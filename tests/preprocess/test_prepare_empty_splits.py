"""A prepare that would write an empty split fails, naming the split and the rule (issue 11
item 5)."""

from __future__ import annotations

from pathlib import Path

ARGS = ["--session-column", "s", "--item-column", "i", "--time-column", "t"]
START = 1_600_000_000
DAY = 86400


def write(path: Path, sessions: list[tuple[float, list[int]]]) -> Path:
    """``(start day, items)`` sessions, one click a minute."""
    rows = ["s,i,t"]
    for number, (day, items) in enumerate(sessions):
        rows += [
            f"{number},{item},{int(START + day * DAY) + 60 * k}" for k, item in enumerate(items)
        ]
    path.write_text("\n".join(rows) + "\n")
    return path


def expect_error(prepare, *argv: str) -> str:
    code, output, _, err = prepare(*argv)
    assert code == 2, err
    assert not output.exists()
    assert err.count("error:") == 1 and "Traceback" not in err
    return err


def test_test_clicks_all_on_unseen_items(tmp_path, prepare):
    train = [(day, [1, 2, 3]) for day in range(8)]
    test = [(9.5, [7, 8]), (9.6, [8, 7, 9])]  # items that never appear before the split
    log = write(tmp_path / "log.csv", train + test)
    argv = ["generic", "--input", str(log), *ARGS, "--min-item-support", "1", "--test-days", "1"]
    err = expect_error(prepare, *argv)  # support counted on the training period (default)
    assert "the test split is empty" in err
    assert "all 2 test sessions" in err and "5 of their 5 test clicks" in err
    assert "support < 1 in the training period" in err
    err = expect_error(prepare, *argv, "--support-scope", "all")
    assert "the test split is empty" in err
    assert "test clicks on items not in train" in err
    assert "all 5 test clicks in 2 test sessions" in err


def test_test_sessions_all_too_short_after_removing_unseen_items(tmp_path, prepare):
    train = [(day, [1, 2, 3]) for day in range(8)]
    test = [(9.5, [1, 8]), (9.6, [9, 2])]
    log = write(tmp_path / "log.csv", train + test)
    err = expect_error(
        prepare, "generic", "--input", str(log), *ARGS, "--min-item-support", "1",
        "--test-days", "1", "--support-scope", "all",
    )  # fmt: skip
    assert "the test split is empty" in err
    assert "test sessions shorter than 2" in err


def test_training_sessions_too_short_for_the_prefix_rule(tmp_path, prepare):
    sessions = [(day, [1, 2]) for day in range(8)] + [(9.5, [1, 2, 1, 2])]
    log = write(tmp_path / "log.csv", sessions)
    err = expect_error(
        prepare, "generic", "--input", str(log), *ARGS, "--min-item-support", "1",
        "--test-days", "1", "--min-prefix-length", "2",
    )  # fmt: skip
    assert "no training sample" in err and "--min-prefix-length 2" in err
    assert "8 training sessions" in err and "at least 3 clicks" in err


def test_test_sessions_too_short_for_the_prefix_rule(tmp_path, prepare):
    sessions = [(day, [1, 2, 3]) for day in range(8)] + [(9.5, [1, 2]), (9.6, [2, 3])]
    log = write(tmp_path / "log.csv", sessions)
    err = expect_error(
        prepare, "generic", "--input", str(log), *ARGS, "--min-item-support", "1",
        "--test-days", "1", "--min-prefix-length", "2",
    )  # fmt: skip
    assert "no test sample" in err and "--min-prefix-length 2" in err


def test_named_recipe_with_all_unseen_test_items(tmp_path, prepare):
    lines = ["SessionId\tItemId\tTime"]
    for session in range(1, 40):
        lines += [f"{session}\t{k + 1}\t{START + session * 3600}" for k in range(3)]
    for session in range(40, 43):  # the last hours: items 50+, each clicked 6 times
        lines += [f"{session}\t{50 + k}\t{START + 80 * 3600 + session}" for k in range(2)]
        lines += [f"{session}\t{50 + k}\t{START + 80 * 3600 + session}" for k in range(2)]
    path = tmp_path / "nowplaying.csv"
    path.write_text("\n".join(lines) + "\n")
    err = expect_error(prepare, "nowplaying", "--input", str(path), "--test-days", "0.5")
    assert "the test split is empty" in err and "test clicks on items not in train" in err
