"""Resolving ``--data.dataset`` to its sessions: a registered benchmark, ``synthetic``, or a path.

* A **registry name** (``tmall``, ``diginetica``, ``nowplaying``, ``retailrocket``, ``lastfm``):
  the GCE-GNN pickles, found or downloaded by :func:`datamodules.files.locate`; test samples are
  the published ``test.txt`` pairs as given.
* ``synthetic``: :mod:`datamodules.synthetic`; test samples are the prefixes of its test
  sessions.
* A **path** to a processed dataset directory (:mod:`datamodules.processed`, written by
  ``dmi-gnn prepare``); test samples are the prefixes of its test sessions by its rule.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from datamodules.errors import DataError
from datamodules.files import locate_all, sha256_file
from datamodules.pickles import read_test_pairs, read_train_sessions
from datamodules.processed import (
    METADATA_FILE,
    TEST_FILE,
    TRAIN_FILE,
    VOCABULARY_FILE,
    Sessions,
    is_processed_dataset,
    read_processed,
)
from datamodules.registry import (
    BENCHMARKS,
    TEST_PAIRS_FILE,
    TRAIN_SESSIONS_FILE,
    Benchmark,
)
from datamodules.samples import Samples, prefix_samples
from datamodules.synthetic import SyntheticConfig, generate_synthetic
from datamodules.vocab import Vocabulary

SYNTHETIC = "synthetic"
SourceKind = Literal["benchmark", "synthetic", "processed"]


@dataclass(frozen=True)
class DatasetInfo:
    """What is known about a dataset without reading its sessions."""

    name: str
    kind: SourceKind
    num_items: int
    min_prefix_length: int
    path: Path | None = None  # the processed dataset directory
    benchmark: Benchmark | None = None


@dataclass
class RawSessions:
    """A dataset's chronological train sessions, its test samples and its vocabulary."""

    train_sessions: Sessions
    test: Samples
    test_sessions_count: int | None  # None when the test file holds pairs, not sessions
    vocabulary: Vocabulary


def describe_dataset(dataset: str, synthetic: SyntheticConfig) -> DatasetInfo:
    """Resolve ``dataset`` cheaply (no session is read).

    Raises:
        DataError: ``dataset`` is neither a registry name, ``synthetic`` nor a processed dataset
            directory (the message lists the valid names), or its ``dataset.json`` is bad.
    """
    if dataset == SYNTHETIC:
        synthetic.validate()
        return DatasetInfo(SYNTHETIC, "synthetic", synthetic.num_items, 1)
    if dataset in BENCHMARKS:
        benchmark = BENCHMARKS[dataset]
        benchmark.require_available()
        return DatasetInfo(
            dataset, "benchmark", benchmark.num_items, benchmark.min_prefix_length, None, benchmark
        )
    path = Path(dataset).expanduser()
    if is_processed_dataset(path):
        metadata_path = path / METADATA_FILE
        try:
            metadata = json.loads(metadata_path.read_text())
            num_items = int(metadata["num_items"])
            rule = int(metadata.get("min_prefix_length", 1))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise DataError(f"{metadata_path}: bad metadata ({error!r})") from None
        return DatasetInfo(str(metadata.get("name", path.name)), "processed", num_items, rule, path)
    valid = ", ".join([*sorted(BENCHMARKS), SYNTHETIC])
    hint = (
        f" ({path} exists but has no {METADATA_FILE})"
        if path.exists()
        else " (no such registry name or directory)"
    )
    raise DataError(
        f"unknown dataset {dataset!r}{hint}: use one of {valid}, or the path of a processed "
        "dataset directory made by `dmi-gnn prepare`"
    )


def fingerprint(
    info: DatasetInfo, data_dir: str | os.PathLike, download: bool, synthetic: SyntheticConfig
) -> dict[str, str]:
    """What identifies the dataset's content: the input files' sha256, or the generator config.

    For a benchmark this locates (and if allowed downloads) and verifies the files.
    """
    if info.kind == "synthetic":
        config = json.dumps(asdict(synthetic), sort_keys=True)
        return {"synthetic": hashlib.sha256(config.encode()).hexdigest()}
    if info.kind == "benchmark":
        assert info.benchmark is not None
        locate_all(info.benchmark, data_dir, download)
        return {name: remote.sha256 for name, remote in info.benchmark.files.items()}
    assert info.path is not None
    names = (METADATA_FILE, TRAIN_FILE, TEST_FILE, VOCABULARY_FILE)
    missing = [name for name in names if not (info.path / name).is_file()]
    if missing:
        raise DataError(f"{info.path / missing[0]} is missing: not a complete processed dataset")
    return {name: sha256_file(info.path / name) for name in names}


def load_sessions(
    info: DatasetInfo, data_dir: str | os.PathLike, download: bool, synthetic: SyntheticConfig
) -> RawSessions:
    """Read (or generate) and validate the dataset's sessions."""
    if info.kind == "synthetic":
        generated = generate_synthetic(synthetic)
        return RawSessions(
            generated.train,
            prefix_samples(generated.test, info.min_prefix_length),
            len(generated.test),
            Vocabulary.identity(info.num_items),
        )
    if info.kind == "benchmark":
        assert info.benchmark is not None
        paths = locate_all(info.benchmark, data_dir, download)
        return RawSessions(
            read_train_sessions(paths[TRAIN_SESSIONS_FILE], info.num_items),
            read_test_pairs(paths[TEST_PAIRS_FILE], info.num_items),
            None,
            Vocabulary.identity(info.num_items),
        )
    assert info.path is not None
    processed = read_processed(info.path)
    return RawSessions(
        processed.train,
        prefix_samples(processed.test, processed.min_prefix_length),
        len(processed.test),
        Vocabulary.from_raw_ids(processed.vocabulary),  # validated by read_processed
    )
