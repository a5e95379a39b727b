"""GCE-GNN pickles from a processed dataset, for interoperability with the reference code.

``all_train_seq.txt`` is the list of training sessions; ``train.txt`` and ``test.txt`` are
``(inputs, targets)`` built with the rule of the producers' scripts::

    for s in sessions:
        for i in range(1, len(s) - m + 1):
            inputs.append(s[:-i]); targets.append(s[-i])

with ``m = min_prefix_length``. The pickles hold only lists, tuples and ints (protocol 3), so
they load with an unpickler that allows no globals.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from datamodules.processed import ProcessedDataset

ALL_TRAIN_FILE = "all_train_seq.txt"
TRAIN_FILE = "train.txt"
TEST_FILE = "test.txt"
PROTOCOL = 3


def augment(sessions: list[list[int]], min_prefix_length: int) -> tuple[list[list[int]], list[int]]:
    """``(inputs, targets)``: every prefix of length ``>= min_prefix_length``, reference order."""
    inputs: list[list[int]] = []
    targets: list[int] = []
    for s in sessions:
        for i in range(1, len(s) - min_prefix_length + 1):
            inputs.append(s[:-i])
            targets.append(s[-i])
    return inputs, targets


def write_gcegnn(dataset: ProcessedDataset, directory: Path) -> list[Path]:
    """Write the three pickles into ``directory``; return their paths.

    When ``dataset.metadata["gcegnn_train_samples"]`` is set (SR-GNN's yoochoose fractions),
    ``train.txt`` keeps only that many latest samples, exactly as SR-GNN writes it.
    """
    m = dataset.min_prefix_length
    train_sessions = dataset.train.to_lists()
    train_inputs, train_targets = augment(train_sessions, m)
    tail = dataset.metadata.get("gcegnn_train_samples")
    if tail is not None:
        train_inputs, train_targets = train_inputs[-tail:], train_targets[-tail:]
    contents = {
        ALL_TRAIN_FILE: train_sessions,
        TRAIN_FILE: (train_inputs, train_targets),
        TEST_FILE: augment(dataset.test.to_lists(), m),
    }
    written = []
    for name, obj in contents.items():
        path = directory / name
        with open(path, "wb") as handle:
            pickle.dump(obj, handle, protocol=PROTOCOL)
        written.append(path)
    return written
