"""RetailRocket and Nowplaying from local copies (not in shared/data).

Set ``DMI_GNN_EXTRA_DATA`` to a folder holding ``retailrocket/`` and ``nowplaying/`` with the
registered ``all_train_seq.txt`` and ``test.txt``; without it these tests skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datamodules import SessionDataModule


def _extra(name: str) -> Path:
    root = os.environ.get("DMI_GNN_EXTRA_DATA")
    if not root or not (Path(root) / name).is_dir():
        pytest.skip(f"set DMI_GNN_EXTRA_DATA to a folder holding {name}/ to run this test")
    return Path(root) / name


@pytest.mark.parametrize(
    ("name", "num_items", "train", "test", "longest"),
    [
        ("retailrocket", 36_968, 433_648, 15_132, 284),  # prefixes of length >= 2
        ("nowplaying", 60_416, 825_304, 89_824, 29),
    ],
)
def test_published_sample_counts(tmp_path, name, num_items, train, test, longest):
    data = SessionDataModule(
        dataset=name, data_dir=str(_extra(name)), val_fraction=0, cache_dir=str(tmp_path)
    )
    data.setup("fit")
    assert data.num_items == num_items
    assert (len(data.train_dataset), len(data.test_dataset)) == (train, test)
    assert int(data.train_dataset.lengths.max()) == longest
    assert int(data.train_dataset.lengths.min()) == data.min_prefix_length
