"""The processed-dataset directory: written by ``dmi-gnn prepare``, read by ``--data.dataset``.

Layout of a processed dataset directory::

    dataset.json        metadata (format tag, name, item count, augmentation rule, report)
    train_sessions.npz  chronological train sessions: ``items`` (int64, flat),
                        ``offsets`` (int64, S + 1)
    test_sessions.npz   test sessions, same layout (full sessions, not augmented)
    vocabulary.json     raw item ids: entry ``i - 1`` is the raw id of item ``i``

Item ids in the ``.npz`` files are contiguous ``1..num_items`` (0 is padding). Training and test
samples are the prefixes of these sessions by the augmentation rule ``min_prefix_length``
(1: every prefix, the SR-GNN/GCE-GNN rule; 2: prefixes of length >= 2, the RetailRocket rule).

Files are written to a temporary directory beside the target and renamed at the end, so a
crash never leaves a half-written dataset behind.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datamodules.errors import DataError

FORMAT_TAG = "dmi-gnn-sessions/1"
METADATA_FILE = "dataset.json"
TRAIN_FILE = "train_sessions.npz"
TEST_FILE = "test_sessions.npz"
VOCABULARY_FILE = "vocabulary.json"


class ProcessedDatasetError(DataError):
    """A processed dataset directory is missing a file or holds inconsistent content."""


def offsets_from_lengths(lengths: np.ndarray) -> np.ndarray:
    """``(S + 1,)`` int64 offsets (starting at 0) of ``S`` consecutive runs of ``lengths``."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


@dataclass
class Sessions:
    """Sessions stored flat: session ``s`` is ``items[offsets[s]:offsets[s + 1]]``.

    Shapes:
        items: ``(total_clicks,)`` int64.
        offsets: ``(num_sessions + 1,)`` int64, starting at 0, non-decreasing.
    """

    items: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_lists(cls, sessions: Sequence[Sequence[int]]) -> Sessions:
        """Build from a list of item-id lists."""
        lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=len(sessions))
        offsets = offsets_from_lengths(lengths)
        items = np.fromiter(
            (item for s in sessions for item in s), dtype=np.int64, count=int(offsets[-1])
        )
        return cls(items=items, offsets=offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """``(num_sessions,)`` int64 session lengths."""
        return np.diff(self.offsets)

    def to_lists(self) -> list[list[int]]:
        """The sessions as Python lists (for pickles and small tests)."""
        flat = self.items.tolist()
        bounds = self.offsets.tolist()
        return [flat[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass
class ProcessedDataset:
    """A prepared dataset: train and test sessions, vocabulary and metadata."""

    train: Sessions
    test: Sessions
    vocabulary: list[int] | list[str]
    name: str
    min_prefix_length: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def num_items(self) -> int:
        """Number of items ``N`` (ids ``1..N``)."""
        return len(self.vocabulary)


_INT64_MAX = 2**63 - 1


def int64_vector(
    array: np.ndarray, where: str, error: type[DataError] = ProcessedDatasetError
) -> np.ndarray:
    """``array`` as a 1-D int64 array, refusing what a silent cast would corrupt.

    Args:
        array: Loaded from a file.
        where: The file and array name, for the message.
        error: The exception type raised.

    Raises:
        DataError: (``error``) ``array`` is not 1-D, holds floats, bools or other non-integers,
            or unsigned values beyond the int64 range.
    """
    if array.ndim != 1:
        raise error(f"{where}: expected a 1-D array, got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise error(f"{where}: expected integers, got {array.dtype} values")
    if array.dtype.kind == "u" and len(array) and int(array.max()) > _INT64_MAX:
        raise error(f"{where}: value {int(array.max())} does not fit in 64 bits")
    return array.astype(np.int64, copy=False)


def _check_sessions(sessions: Sessions, num_items: int, where: str) -> None:
    offsets, items = sessions.offsets, sessions.items
    if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(items):
        raise ProcessedDatasetError(f"{where}: offsets must start at 0 and end at len(items)")
    lengths = np.diff(offsets)
    if (lengths <= 0).any():
        bad = int(np.flatnonzero(lengths <= 0)[0])
        raise ProcessedDatasetError(f"{where}: session {bad} is empty")
    if len(items) and (items.min() < 1 or items.max() > num_items):
        bad = int(np.flatnonzero((items < 1) | (items > num_items))[0])
        raise ProcessedDatasetError(
            f"{where}: item id {int(items[bad])} at flat position {bad} is outside 1..{num_items}"
        )


def _check_vocabulary(vocabulary: Sequence[Any], where: str) -> None:
    kinds = {type(raw) for raw in vocabulary}
    if kinds - {int, str} or len(kinds) > 1:
        names = sorted(kind.__name__ for kind in kinds)
        raise ProcessedDatasetError(
            f"{where}: vocabulary ids must be all ints or all strings, got {names}"
        )
    if kinds == {int}:
        bad = next((raw for raw in vocabulary if not -_INT64_MAX - 1 <= raw <= _INT64_MAX), None)
        if bad is not None:
            raise ProcessedDatasetError(
                f"{where}: vocabulary id {bad} does not fit in 64 bits (integer ids must be "
                "within -2**63..2**63-1; write larger ids as strings)"
            )
    if len(set(vocabulary)) != len(vocabulary):
        seen: set[Any] = set()
        duplicate = next(raw for raw in vocabulary if raw in seen or seen.add(raw))
        raise ProcessedDatasetError(f"{where}: vocabulary id {duplicate!r} appears twice")


def finite_json(value: Any, where: str, indent: int | None = None) -> str:
    """``value`` as JSON text; NaN and infinities are refused (they are not JSON).

    Raises:
        ProcessedDatasetError: ``value`` holds a float that is not finite.
    """
    try:
        return json.dumps(value, indent=indent, allow_nan=False)
    except ValueError as error:
        raise ProcessedDatasetError(
            f"{where}: a value is not finite (NaN or infinity) and cannot be written as JSON "
            f"({error})"
        ) from None


def write_processed(dataset: ProcessedDataset, directory: str | os.PathLike) -> Path:
    """Validate ``dataset`` and write it to ``directory`` atomically; return the directory.

    An existing directory is replaced only once the new one is complete.
    """
    target = Path(directory)
    _check_vocabulary(dataset.vocabulary, str(target))
    if dataset.min_prefix_length < 1:
        raise ProcessedDatasetError(
            f"{target}: min_prefix_length must be >= 1, got {dataset.min_prefix_length}"
        )
    _check_sessions(dataset.train, dataset.num_items, f"{target} train sessions")
    _check_sessions(dataset.test, dataset.num_items, f"{target} test sessions")
    metadata = {
        "format": FORMAT_TAG,
        "name": dataset.name,
        "num_items": dataset.num_items,
        "min_prefix_length": dataset.min_prefix_length,
        **dataset.metadata,
    }
    texts = {
        VOCABULARY_FILE: finite_json(list(dataset.vocabulary), f"{target} vocabulary"),
        METADATA_FILE: finite_json(metadata, f"{target} metadata", indent=2),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private (0700)
    try:
        for name, sessions in ((TRAIN_FILE, dataset.train), (TEST_FILE, dataset.test)):
            np.savez(staging / name, items=sessions.items, offsets=sessions.offsets)
        for name, text in texts.items():
            (staging / name).write_text(text)
        if target.exists():
            backup = target.with_name(f".{target.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            target.rename(backup)
            staging.rename(target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def is_processed_dataset(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` looks like a processed dataset (has ``dataset.json``)."""
    return (Path(directory) / METADATA_FILE).is_file()


def _read_json(path: Path) -> Any:
    """The JSON value in ``path``; every way it can fail is a :class:`ProcessedDatasetError`."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ProcessedDatasetError(f"{path}: not UTF-8 text ({error})") from None
    except RecursionError:
        raise ProcessedDatasetError(f"{path}: not valid JSON (nested too deeply)") from None
    except ValueError as error:  # JSONDecodeError, or an integer too long to convert
        raise ProcessedDatasetError(f"{path}: not valid JSON ({error})") from None


def read_processed(directory: str | os.PathLike) -> ProcessedDataset:
    """Read and validate a processed dataset directory; errors name the file and the problem."""
    root = Path(directory)
    for name in (METADATA_FILE, TRAIN_FILE, TEST_FILE, VOCABULARY_FILE):
        if not (root / name).is_file():
            raise ProcessedDatasetError(
                f"{root / name} is missing: {root} is not a complete processed dataset "
                "(make one with `dmi-gnn prepare RECIPE --input RAW --output DIR`)"
            )
    metadata = _read_json(root / METADATA_FILE)
    if not isinstance(metadata, dict):
        raise ProcessedDatasetError(
            f"{root / METADATA_FILE}: expected a JSON object, got {type(metadata).__name__}"
        )
    if metadata.get("format") != FORMAT_TAG:
        raise ProcessedDatasetError(
            f"{root / METADATA_FILE}: format is {metadata.get('format')!r}, expected {FORMAT_TAG!r}"
        )
    for key in ("num_items", "min_prefix_length"):
        value = metadata.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ProcessedDatasetError(
                f"{root / METADATA_FILE}: {key} must be an integer >= 1, got {value!r}"
            )
    vocabulary = _read_json(root / VOCABULARY_FILE)
    if not isinstance(vocabulary, list) or len(vocabulary) != metadata.get("num_items"):
        raise ProcessedDatasetError(
            f"{root / VOCABULARY_FILE}: expected a list of {metadata.get('num_items')} raw ids"
        )
    _check_vocabulary(vocabulary, str(root / VOCABULARY_FILE))
    splits = {}
    for name in (TRAIN_FILE, TEST_FILE):
        try:
            with np.load(root / name, allow_pickle=False) as arrays:
                items, offsets = arrays["items"], arrays["offsets"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise ProcessedDatasetError(f"{root / name}: unreadable ({error})") from None
        splits[name] = Sessions(
            items=int64_vector(items, f"{root / name} items"),
            offsets=int64_vector(offsets, f"{root / name} offsets"),
        )
        _check_sessions(splits[name], len(vocabulary), str(root / name))
    extra = {
        k: v
        for k, v in metadata.items()
        if k not in {"format", "name", "num_items", "min_prefix_length"}
    }
    return ProcessedDataset(
        train=splits[TRAIN_FILE],
        test=splits[TEST_FILE],
        vocabulary=vocabulary,
        name=str(metadata.get("name", root.name)),
        min_prefix_length=int(metadata.get("min_prefix_length", 1)),
        metadata=extra,
    )
