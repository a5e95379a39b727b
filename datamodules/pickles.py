"""Safe reading and validation of the GCE-GNN pickle files (``all_train_seq.txt``, ``test.txt``).

The pickles hold only lists, tuples and ints. They are read with an unpickler that refuses every
global (class or function), so a tampered file cannot run code; then every session and id is
checked, and errors name the file, the session or sample index and the bad value.
"""

from __future__ import annotations

import io
import itertools
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from datamodules.errors import DataError, UnsafePickleError
from datamodules.processed import Sessions, offsets_from_lengths
from datamodules.samples import Samples


class _NoGlobalsUnpickler(pickle.Unpickler):
    """An unpickler that refuses every global; only built-in containers and scalars load."""

    def __init__(self, file: io.BufferedIOBase, source: Path) -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> NoReturn:
        raise UnsafePickleError(
            f"{self._source}: the pickle asks for the global {module}.{name}; refused (these "
            "files hold only lists, tuples and ints, and loading a global can run code)"
        )


def load_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle that needs no global.

    Raises:
        UnsafePickleError: the pickle references a class or function.
        DataError: the file is truncated or not a pickle.
    """
    source = Path(path)
    with open(source, "rb") as handle:
        try:
            return _NoGlobalsUnpickler(handle, source).load()
        except UnsafePickleError:
            raise
        except (EOFError, pickle.UnpicklingError, ValueError, IndexError, TypeError) as error:
            raise DataError(
                f"{source}: truncated or not a valid pickle ({type(error).__name__}: {error})"
            ) from None


def _check_is_list_of_sequences(value: Any, source: Path, what: str) -> None:
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{source}: {what} must be a list, got {type(value).__name__}")
    kinds = set(map(type, value))
    if not kinds <= {list, tuple}:
        bad = next(i for i, s in enumerate(value) if type(s) not in (list, tuple))
        raise DataError(
            f"{source}: {what} {bad} must be a list of item ids, got {type(value[bad]).__name__}"
        )


def _ids_array(values: list[Any], source: Path, describe: Any) -> np.ndarray:
    """int64 array of ``values``; ``describe(flat_index)`` names the position of a bad value."""
    if not set(map(type, values)) <= {int}:
        bad = next(i for i, v in enumerate(values) if type(v) is not int)
        raise DataError(
            f"{source}: {describe(bad)} is {values[bad]!r} ({type(values[bad]).__name__}), "
            "expected an int item id"
        )
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        bad = next(i for i, v in enumerate(values) if not -(2**63) <= v < 2**63)
        raise DataError(f"{source}: {describe(bad)} is {values[bad]}, out of range") from None


def _check_id_range(ids: np.ndarray, num_items: int, source: Path, describe: Any) -> None:
    bad = np.flatnonzero((ids < 1) | (ids > num_items))
    if len(bad):
        first = int(bad[0])
        raise DataError(
            f"{source}: {describe(first)} is {int(ids[first])}, outside the item ids "
            f"1..{num_items} ({len(bad)} bad ids in total)"
        )


def _flatten_sessions(
    sessions: Sequence[Sequence[Any]], num_items: int, source: Path, what: str
) -> Sessions:
    lengths = np.fromiter(map(len, sessions), dtype=np.int64, count=len(sessions))
    if (lengths == 0).any():
        raise DataError(f"{source}: {what} {int(np.flatnonzero(lengths == 0)[0])} is empty")
    offsets = offsets_from_lengths(lengths)

    def describe(flat_index: int) -> str:
        session = int(np.searchsorted(offsets, flat_index, side="right") - 1)
        return f"{what} {session} position {flat_index - int(offsets[session])}"

    items = _ids_array(list(itertools.chain.from_iterable(sessions)), source, describe)
    _check_id_range(items, num_items, source, describe)
    return Sessions(items=items, offsets=offsets)


def read_train_sessions(path: str | os.PathLike, num_items: int) -> Sessions:
    """Read ``all_train_seq.txt``: a list of full sessions (lists of ids ``1..num_items``).

    Raises:
        DataError: the file is unsafe, truncated or holds an empty session or a bad id.
    """
    source = Path(path)
    sessions = load_pickle(source)
    _check_is_list_of_sequences(sessions, source, "session")
    return _flatten_sessions(sessions, num_items, source, "session")


def read_test_pairs(path: str | os.PathLike, num_items: int) -> Samples:
    """Read ``test.txt``: ``(prefixes, targets)``, already augmented, as :class:`Samples`.

    Raises:
        DataError: the file is unsafe or truncated, is not a pair of equal-length lists, or holds
            an empty prefix or an id outside ``1..num_items``.
    """
    source = Path(path)
    content = load_pickle(source)
    if not isinstance(content, (list, tuple)) or len(content) != 2:
        raise DataError(
            f"{source}: expected a pair (prefixes, targets), got {type(content).__name__}"
        )
    prefixes, targets = content
    _check_is_list_of_sequences(prefixes, source, "sample")
    if not isinstance(targets, (list, tuple)):
        raise DataError(f"{source}: targets must be a list, got {type(targets).__name__}")
    if len(prefixes) != len(targets):
        raise DataError(
            f"{source}: {len(prefixes)} prefixes but {len(targets)} targets (must be equal)"
        )
    flat = _flatten_sessions(prefixes, num_items, source, "sample")
    target_ids = _ids_array(list(targets), source, lambda i: f"target of sample {i}")
    _check_id_range(target_ids, num_items, source, lambda i: f"target of sample {i}")
    return Samples(
        flat=flat.items, starts=flat.offsets[:-1].copy(), lengths=flat.lengths, targets=target_ids
    )
