"""Safe pickle loading and content validation of all_train_seq.txt / test.txt."""

from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest

from datamodules.errors import DataError, UnsafePickleError
from datamodules.pickles import load_pickle, read_test_pairs, read_train_sessions


def _write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=3))
    return path


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_reads_train_sessions_flat(tmp_path):
    path = _write(tmp_path, "all_train_seq.txt", [[1, 2, 3], (3, 1)])
    sessions = read_train_sessions(path, num_items=3)
    assert sessions.items.tolist() == [1, 2, 3, 3, 1]
    assert sessions.offsets.tolist() == [0, 3, 5]
    assert sessions.items.dtype == np.int64


def test_reads_test_pairs_as_samples(tmp_path):
    path = _write(tmp_path, "test.txt", ([[1, 2], [1]], [3, 2]))
    samples = read_test_pairs(path, num_items=3)
    assert [samples.prefix(i).tolist() for i in range(2)] == [[1, 2], [1]]
    assert samples.targets.tolist() == [3, 2]


@pytest.mark.parametrize(
    "payload", [collections.OrderedDict(a=1), _RunsCode(), [[1, 2], np.int64(3)]]
)
def test_pickle_with_globals_is_refused_naming_the_file(tmp_path, payload):
    path = _write(tmp_path, "all_train_seq.txt", payload)
    with pytest.raises(UnsafePickleError) as caught:
        load_pickle(path)
    assert str(path) in str(caught.value)
    assert "refused" in str(caught.value)


def test_truncated_pickle_names_the_file(tmp_path):
    path = tmp_path / "all_train_seq.txt"
    path.write_bytes(pickle.dumps([[1, 2, 3]] * 50, protocol=3)[:-20])
    with pytest.raises(DataError, match="truncated") as caught:
        read_train_sessions(path, num_items=3)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("sessions", "expected"),
    [
        ([[1, 2], [3, 7]], r"session 1 position 1 is 7, outside the item ids 1\.\.5"),
        ([[1, 2], [-1, 2]], r"session 1 position 0 is -1, outside"),
        ([[1, 2], [0]], r"session 1 position 0 is 0, outside"),
        ([[1, 2], []], r"session 1 is empty"),
        ([[1, 2.5]], r"session 0 position 1 is 2\.5 \(float\), expected an int"),
        ([[1, "2"]], r"session 0 position 1 is '2' \(str\)"),
        ([[1, 2], 3], r"session 1 must be a list of item ids, got int"),
        ({"a": 1}, r"session must be a list, got dict"),
        ([[1, 2**70]], r"session 0 position 1 is 1180591620717411303424, out of range"),
    ],
)
def test_bad_train_sessions(tmp_path, sessions, expected):
    path = _write(tmp_path, "all_train_seq.txt", sessions)
    with pytest.raises(DataError, match=expected) as caught:
        read_train_sessions(path, num_items=5)
    assert str(caught.value).startswith(str(path))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (([[1], [2]], [2]), r"2 prefixes but 1 targets"),
        (([[1], [2]], [2, 9]), r"target of sample 1 is 9, outside the item ids 1\.\.5"),
        (([[1], []], [2, 3]), r"sample 1 is empty"),
        (([[1], [2, 6]], [2, 3]), r"sample 1 position 1 is 6"),
        ([[1], [2], [3]], r"expected a pair \(prefixes, targets\), got list"),
        (([[1]], 3), r"targets must be a list, got int"),
    ],
)
def test_bad_test_pairs(tmp_path, content, expected):
    path = _write(tmp_path, "test.txt", content)
    with pytest.raises(DataError, match=expected) as caught:
        read_test_pairs(path, num_items=5)
    assert str(caught.value).startswith(str(path))


_BOMBS = {
    # a protocol-4 frame announcing 2**62 bytes
    "frame": b"\x80\x04\x95" + (2**62).to_bytes(8, "little") + b"].",
    # a memo slot at index 2**31 - 1: the C unpickler would allocate and zero 32 GiB for it
    "memo": b"\x80\x03]r\xff\xff\xff\x7f.",
    # bytes / str objects announcing 2**62 bytes
    "bytes8": b"\x80\x04\x8e" + (2**62).to_bytes(8, "little") + b".",
    "unicode8": b"\x80\x04\x8d" + (2**62).to_bytes(8, "little") + b".",
    "binbytes": b"\x80\x03B\xff\xff\xff\x7f.",
    "list_of_bytes": b"\x80\x03]q\x00(B\xff\xff\xff\x7fe.",
}


def test_pickles_asking_for_huge_memory_are_refused_naming_the_file(tmp_path):
    """Run in a child under a 3 GiB address-space limit, so a regression cannot take the
    machine down: each refusal must come before any large allocation."""
    import subprocess
    import sys
    from pathlib import Path

    paths = []
    for name, data in sorted(_BOMBS.items()):
        paths.append(tmp_path / f"{name}.txt")
        paths[-1].write_bytes(data)
    code = (
        "import resource, sys\n"
        "from datamodules.errors import DataError\n"
        "from datamodules.pickles import load_pickle\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        load_pickle(path)\n"
        "        print('LOADED', path)\n"
        "    except DataError as error:\n"
        "        print('DataError:', error)\n"
        "    except BaseException as error:\n"
        "        print('OTHER', path, type(error).__name__, error)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == len(paths), done.stdout + done.stderr
    for path, line in zip(paths, lines, strict=True):
        assert line.startswith(f"DataError: {path}: "), line


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_binary_protocol_loads(tmp_path, protocol):
    content = ([[1, 2], (3, 2**40)] * 300, [5, 6])
    path = tmp_path / "test.txt"
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    assert load_pickle(path) == content


@pytest.mark.parametrize(
    "data",
    [b"\x80\x03K\x01K\x02a.", b"\x80\x03K\x01(K\x02e.", b"\x80\x03)K\x01a.", b"\x80\x03]h\x05."],
)
def test_malformed_opcode_sequences_are_data_errors(tmp_path, data):
    path = tmp_path / "all_train_seq.txt"
    path.write_bytes(data)
    with pytest.raises(DataError, match="not a valid pickle") as caught:
        load_pickle(path)
    assert str(caught.value).startswith(str(path))
