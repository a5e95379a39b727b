"""Config validation and dataset resolution of SessionDataModule."""

from __future__ import annotations

import json

import pytest

from datamodules import SessionDataModule
from datamodules.errors import DataError, DataUnavailableError
from datamodules.processed import ProcessedDataset, Sessions, write_processed
from datamodules.registry import get_benchmark


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"val_fraction": 1.0}, r"val_fraction must be in \[0, 1\), got 1\.0"),
        ({"val_fraction": -0.1}, r"val_fraction must be in \[0, 1\)"),
        ({"val_fraction": float("nan")}, r"val_fraction must be in \[0, 1\)"),
        ({"batch_size": 0}, "batch_size must be an int >= 1, got 0"),
        ({"batch_size": 2.5}, "batch_size must be an int >= 1"),
        ({"eval_batch_size": 0}, "eval_batch_size must be an int >= 1 or None"),
        ({"max_len": 0}, "max_len must be an int >= 1 or None"),
        ({"graph_window": 0}, "graph_window must be an int >= 1"),
        ({"graph_top_k": -1}, "graph_top_k must be an int >= 1"),
        ({"num_workers": -1}, "num_workers must be an int >= 0"),
        ({"protocol": "test"}, "protocol must be 'validation' or 'paper'"),
        ({"protocol": "paper", "val_fraction": 0.1}, "val_fraction must be unset or 0"),
        ({"predict_file": "s.parquet"}, r"unsupported extension '\.parquet'"),
        ({"synthetic_num_items": 1}, "synthetic num_items must be >= 2"),
    ],
)
def test_bad_values_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        SessionDataModule(**options)


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(DataError) as caught:
        SessionDataModule(dataset="tmall2")
    message = str(caught.value)
    assert "unknown dataset 'tmall2'" in message
    for name in ("tmall", "diginetica", "nowplaying", "retailrocket", "lastfm", "synthetic"):
        assert name in message
    assert "dmi-gnn prepare" in message


def test_a_directory_without_metadata_is_named(tmp_path):
    with pytest.raises(DataError, match=r"exists but has no dataset\.json"):
        SessionDataModule(dataset=str(tmp_path))


def test_lastfm_explains_how_to_regenerate():
    with pytest.raises(
        DataUnavailableError, match=r"not publicly available.*dmi-gnn prepare lastfm"
    ):
        SessionDataModule(dataset="lastfm")


def test_num_items_before_any_file_is_read(tmp_path):
    assert SessionDataModule(dataset="retailrocket", data_dir=str(tmp_path)).num_items == 36_968
    assert SessionDataModule(synthetic_num_items=321).num_items == 321
    root = write_processed(
        ProcessedDataset(
            Sessions.from_lists([[1, 2]]), Sessions.from_lists([[2, 1]]), ["a", "b"], "tiny"
        ),
        tmp_path / "tiny",
    )
    data = SessionDataModule(dataset=str(root))
    assert data.num_items == 2 and data.min_prefix_length == 1
    assert list(tmp_path.iterdir()) == [root]  # nothing was prepared or cached yet


def test_missing_benchmark_file_offline_names_url_destination_and_sha(tmp_path):
    data = SessionDataModule(dataset="tmall", data_dir=str(tmp_path), download=False)
    with pytest.raises(DataUnavailableError) as caught:
        data.prepare_data()
    message = str(caught.value)
    remote = get_benchmark("tmall").files["all_train_seq.txt"]
    for part in (remote.url, remote.sha256, str(tmp_path / "tmall" / "all_train_seq.txt")):
        assert part in message


def test_bad_processed_vocabulary_names_the_file(tmp_path):
    dataset = ProcessedDataset(
        Sessions.from_lists([[1, 2]]), Sessions.from_lists([[2, 1]]), [5, 5], "dup"
    )
    with pytest.raises(DataError, match=r"dup: vocabulary id 5 appears twice"):
        write_processed(dataset, tmp_path / "dup")
    dataset.vocabulary = [5, 6]
    root = write_processed(dataset, tmp_path / "dup")
    (root / "vocabulary.json").write_text("[5, 5]")  # edited by hand afterwards
    data = SessionDataModule(dataset=str(root), val_fraction=0, cache_dir=str(tmp_path / "c"))
    with pytest.raises(DataError, match=r"vocabulary\.json: vocabulary id 5 appears twice"):
        data.setup("fit")


def test_bad_processed_metadata_names_the_file(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "dataset.json").write_text(json.dumps({"format": "dmi-gnn-sessions/1"}))
    with pytest.raises(DataError, match=r"dataset\.json: bad metadata"):
        SessionDataModule(dataset=str(root))


def test_lightning_cli_parses_the_options_and_links_num_items(tmp_path, monkeypatch):
    import lightning as L
    from lightning.pytorch.cli import LightningCLI

    class Model(L.LightningModule):
        def __init__(self, num_items: int = 0) -> None:
            super().__init__()
            self.num_items = num_items

    class CLI(LightningCLI):
        def add_arguments_to_parser(self, parser):
            parser.link_arguments("data.num_items", "model.num_items", apply_on="instantiate")

    monkeypatch.setattr("sys.argv", ["dmi-gnn"])
    cli = CLI(
        Model,
        SessionDataModule,
        run=False,
        trainer_defaults={"logger": False},
        seed_everything_default=False,
        args=[
            "--data.synthetic_num_items=77",
            "--data.protocol=paper",
            "--data.max_len=10",
            f"--data.cache_dir={tmp_path}",
        ],
    )
    assert cli.model.num_items == 77
    assert cli.datamodule.evaluation_split == "test" and cli.datamodule.max_len == 10
    assert list(tmp_path.iterdir()) == []  # linking num_items prepared nothing
