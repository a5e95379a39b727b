"""Golden test: the diginetica recipe on SR-GNN's sample CSV gives the published pickles."""

from __future__ import annotations

import pytest

from datamodules.processed import read_processed

pytestmark = pytest.mark.shared_data

FILES = ("all_train_seq.txt", "train.txt", "test.txt")


def test_diginetica_sample_reproduces_the_published_pickles(
    shared_data, prepare, unpickle, reference_augment
):
    sample = shared_data("diginetica-sample")
    code, output, report, err = prepare(
        "diginetica", "--input", str(sample / "sample_train-item-views.csv"), "--format", "gcegnn"
    )
    assert code == 0, err
    for name in FILES:
        assert unpickle(output / name) == unpickle(sample / "preprocessed" / name), name

    final = report["final"]
    assert (final["train_sessions"], final["items"]) == (469, 309)
    assert (final["train_samples"], final["test_samples"]) == (1205, 99)
    assert report["split"]["split_date"] == "2016-05-25T00:00:00Z"

    dataset = read_processed(output)
    golden_train = unpickle(sample / "preprocessed" / "all_train_seq.txt")
    assert dataset.train.to_lists() == golden_train
    assert reference_augment(dataset.test.to_lists(), 1) == unpickle(
        sample / "preprocessed" / "test.txt"
    )
    assert dataset.num_items == 309
    assert dataset.metadata["report"] == report


def test_several_inputs_are_read_in_order(shared_data, prepare, tmp_path, unpickle):
    sample = shared_data("diginetica-sample")
    lines = (sample / "sample_train-item-views.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    half = len(rows) // 2
    parts = []
    for k, chunk in enumerate((rows[:half], rows[half:])):
        part = tmp_path / f"part{k}.csv"
        part.write_text("\n".join([header, *chunk]) + "\n")
        parts += ["--input", str(part)]
    code, output, report, err = prepare("diginetica", *parts, "--format", "gcegnn")
    assert code == 0, err
    assert len(report["inputs"]) == 2 and report["read"]["rows"] == len(rows)
    for name in FILES:
        assert unpickle(output / name) == unpickle(sample / "preprocessed" / name), name
