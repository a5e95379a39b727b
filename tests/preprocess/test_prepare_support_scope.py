"""``generic`` counts item support on the training period by default (issue 11 item 9).

An item clicked 3 times before the split and 3 times after it has support 6 over the whole log
but 3 in training: with ``--min-item-support 5`` it must not enter the training vocabulary
because of its test-period clicks, unless ``--support-scope all`` asks for the published rule.
"""

from __future__ import annotations

from pathlib import Path

from datamodules.preprocess.recipes import RECIPES
from datamodules.processed import read_processed

DAY = 86400
START = 1_600_000_000
ARGS = ["--session-column", "s", "--item-column", "i", "--time-column", "t", "--test-days", "1"]


def make_log(path: Path) -> Path:
    """Ten train days of sessions over items 1-4 (popular), item 9 three times in train and
    three times in the last day; the last day also has sessions of items 1-4."""
    rows = ["s,i,t"]
    session = 0

    def add(items: list[int], day: float) -> None:
        nonlocal session
        session += 1
        for k, item in enumerate(items):
            rows.append(f"{session},{item},{int(START + day * DAY + 60 * k)}")

    for day in range(10):
        add([1, 2, 3, 4], day)
        add([4, 3, 2, 1], day + 0.5)
    for day in (2, 5, 8):
        add([1, 9], day + 0.25)  # item 9: three train clicks
    for hour in (1, 3, 5):
        add([2, 9, 3], 12 + hour / 24)  # ... and three test clicks
    add([1, 2, 3], 12.3)
    path.write_text("\n".join(rows) + "\n")
    return path


def test_generic_counts_support_on_the_training_period_by_default(tmp_path, prepare, step):
    log = make_log(tmp_path / "log.csv")
    code, output, report, err = prepare("generic", "--input", str(log), *ARGS)
    assert code == 0, err
    dataset = read_processed(output)
    assert 9 not in dataset.vocabulary
    assert sorted(dataset.vocabulary) == [1, 2, 3, 4]
    assert report["parameters"]["support_scope"] == "train"
    assert step(report, "items with support < 5 in the training period")["rows_removed"] == 6
    # the test sessions keep their other clicks: [2, 3] three times and [1, 2, 3]
    assert dataset.test.to_lists() == [[2, 3]] * 3 + [[1, 2, 3]]


def test_support_scope_all_gives_the_published_rule(tmp_path, prepare):
    log = make_log(tmp_path / "log.csv")
    code, output, report, err = prepare(
        "generic", "--input", str(log), *ARGS, "--support-scope", "all"
    )
    assert code == 0, err
    dataset = read_processed(output)
    assert 9 in dataset.vocabulary  # 3 + 3 clicks reach the support of 5
    assert report["parameters"]["support_scope"] == "all"


def test_top_items_are_counted_on_the_training_period_too(tmp_path, prepare):
    rows = ["s,i,t"]
    for s in range(40):  # train: item 1 in every session, item 2 in 10, item 3 in 12
        items = [1] + ([2] if s < 10 else []) + ([3] if s >= 28 else [])
        rows += [f"{s},{item},{START + s * 3600 + k}" for k, item in enumerate(items)]
    for s in range(40, 46):  # test: item 2 twelve more times, item 3 six
        rows += [
            f"{s},{item},{START + 41 * 3600 + s * 60 + k}" for k, item in enumerate([1, 2, 2, 3])
        ]
    log = tmp_path / "log.csv"
    log.write_text("\n".join(rows) + "\n")
    common = [
        "--session-column", "s", "--item-column", "i", "--time-column", "t",
        "--test-seconds", "1800", "--top-items", "2", "--min-item-support", "1",
        "--min-session-length", "1",
    ]  # fmt: skip
    code, output, _, err = prepare("generic", "--input", str(log), *common)
    assert code == 0, err
    assert sorted(read_processed(output).vocabulary) == [1, 3]  # train counts: 40, 10, 12
    code, output, _, err = prepare(
        "generic", "--input", str(log), *common, "--support-scope", "all"
    )
    assert code == 0, err
    assert sorted(read_processed(output).vocabulary) == [1, 2]  # all counts: 46, 22, 18


def test_support_scope_train_with_a_fraction_split_and_iterated_filters(tmp_path, prepare):
    log = make_log(tmp_path / "log.csv")
    code, output, report, err = prepare(
        "generic", "--input", str(log), "--session-column", "s", "--item-column", "i",
        "--time-column", "t", "--test-fraction", "0.15", "--iterate-filters",
    )  # fmt: skip
    assert code == 0, err
    assert 9 not in read_processed(output).vocabulary
    assert report["split"]["method"] == "fraction"


def test_published_recipes_keep_counting_over_the_whole_log():
    parser_defaults = {}
    for name, recipe in RECIPES.items():
        import argparse

        parser = argparse.ArgumentParser()
        recipe.add_arguments(parser)
        parser_defaults[name] = parser
    for name in ("diginetica", "yoochoose", "tmall", "nowplaying", "retailrocket", "lastfm"):
        parser = parser_defaults[name]
        assert "--support-scope" not in parser.format_help(), name
        args = parser.parse_args([])
        args.delimiter, args.skip_bad_rows = None, False
        assert RECIPES[name].config(args).support_scope == "all", name
