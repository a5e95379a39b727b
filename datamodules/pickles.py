"""Safe reading and validation of the GCE-GNN pickle files (``all_train_seq.txt``, ``test.txt``).

The pickles hold only lists, tuples and ints. Before anything is unpickled, the whole file is
checked (:func:`_check_opcodes`): one regular expression of the opcodes such content needs
(lists, tuples, marks, ints, memo puts and gets, frames) passes the published files in about
15 ms per MiB; anything else is walked opcode by opcode without being run. A global (a class or
function, which could run code) or a memo index no file of this size can need (the C unpickler
allocates and zeroes a memo table that large: 32 GiB for a 10-byte file) is refused, naming the
file. The file is then unpickled from memory, so no frame or length field can make the
unpickler allocate beyond the file's size, by an unpickler that refuses every global (a second
guard). Then every session and id is checked, and errors name the file, the session or sample
index and the bad value.
"""

from __future__ import annotations

import io
import itertools
import os
import pickle
import pickletools
import re
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
        raise UnsafePickleError(f"{self._source}: {_global_problem(f'{module}.{name}')}")


def _long1(max_bytes: int) -> bytes:
    """LONG1 integers of 1..``max_bytes`` bytes (the length is a prefix: one alternative each)."""
    return b"|".join(b"\\x8a\\x%02x.{%d}" % (n, n) for n in range(1, max_bytes + 1))


def _index_below(opcode: bytes, size: int) -> bytes:
    """``opcode`` followed by a 4-byte little-endian memo index below about ``2 * size``."""
    size = max(size, 1)
    top = min(size.bit_length() // 8, 3)  # the highest byte allowed to be non-zero
    high = min(255, (size >> (8 * top)) + 1)
    return opcode + b".{%d}[\\x00-\\x%02x]" % (top, high) + b"\\x00" * (3 - top)


def _allowed(size: int) -> re.Pattern[bytes]:
    """The opcodes before STOP of a pickle of lists, tuples and ints, ``size`` bytes long."""
    tokens = [
        rb"[\]\(e)t\x85\x86\x87\x94a]",  # list, mark, appends, tuples, memoize, append
        rb"K.|M..|J....",  # BININT1, BININT2, BININT
        rb"q.|h.|j....",  # BINPUT, BINGET, LONG_BINGET (a get of a missing index just fails)
        _index_below(b"r", size),  # LONG_BINPUT
        rb"\x95.{8}",  # FRAME (its length is checked against the file by reading from memory)
        _long1(_LONG1_BYTES),  # integers up to 128 bits (ids are checked for int64 after)
    ]
    return re.compile(rb"\x80[\x02-\x05](?:" + b"|".join(tokens) + rb")*+", re.S)


_LONG1_BYTES = 16
#: Opcodes that load a global, call something or need out-of-band data: never allowed.
_UNSAFE = {
    "GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "REDUCE", "BUILD",
    "EXT1", "EXT2", "EXT4", "PERSID", "BINPERSID", "NEXT_BUFFER", "READONLY_BUFFER",
}  # fmt: skip
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}


def _check_opcodes(data: bytes, source: Path) -> None:
    """Raise unless ``data`` is a pickle that is safe to load from memory.

    The fast path is one regular expression of the opcodes lists, tuples and ints need
    (:func:`_allowed`). Anything else (a float, a string, a dict: wrong content, but reported
    better once loaded) is walked opcode by opcode with :func:`pickletools.genops`, which reads
    every argument from within ``data`` and so never allocates by a length field.

    Raises:
        UnsafePickleError: An opcode loads a global or calls something.
        DataError: The file is truncated or malformed, or a memo index is beyond anything a
            file of this size can need.
    """
    match = _allowed(len(data)).match(data)
    end = match.end() if match else 0
    if match and end == len(data) - 1 and data[end] == ord("."):
        return
    strings: list[str] = []
    try:
        for opcode, argument, position in pickletools.genops(data):
            if opcode.name in _UNSAFE:
                name = opcode.name
                if name in ("GLOBAL", "INST"):
                    name = str(argument).replace(" ", ".")
                elif name == "STACK_GLOBAL":
                    name = ".".join(strings[-2:])
                raise UnsafePickleError(f"{source}: {_global_problem(name)}")
            if opcode.name in _MEMO_PUTS and int(argument) > len(data):
                raise DataError(
                    f"{source}: byte {position}: {opcode.name} of memo index {argument}, beyond "
                    f"what a {len(data)}-byte file can need; refused (corrupt or crafted file)"
                )
            if isinstance(argument, str):
                strings.append(argument)
    except DataError:  # ours, raised above
        raise
    except ValueError as error:  # genops: truncated, unknown opcode, argument past the end
        raise DataError(f"{source}: truncated or not a valid pickle ({error})") from None


def _global_problem(name: str) -> str:
    return (
        f"the pickle asks for the global {name}; refused (these files hold only lists, "
        "tuples and ints, and loading a global can run code)"
    )


def load_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle of lists, tuples and ints (see the module docstring for the checks).

    Raises:
        UnsafePickleError: the pickle references a class or function.
        DataError: the file is truncated, not a pickle, holds other values, or asks for more
            memory than its content can need.
    """
    source = Path(path)
    data = source.read_bytes()
    _check_opcodes(data, source)
    try:
        return _NoGlobalsUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except Exception as error:  # checked bytes that still fail to load: not a valid pickle
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
