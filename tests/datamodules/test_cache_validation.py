"""A cache file that is empty or holds arrays of the wrong type, shape or range is rebuilt with
a warning naming the file and the array, never truncated, cast or broadcast (issue 11 item 14)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from datamodules import SessionDataModule

SMALL = {"synthetic_num_train_sessions": 200, "synthetic_num_test_sessions": 40}


def _module(tmp_path):
    return SessionDataModule(cache_dir=str(tmp_path / "cache"), **SMALL)


def _arrays(data: SessionDataModule) -> dict[str, np.ndarray]:
    out = {}
    for split in ("train_dataset", "val_dataset", "test_dataset"):
        for name in ("flat", "starts", "lengths", "targets"):
            out[f"{split}.{name}"] = np.asarray(getattr(getattr(data, split), name))
    graph = data.global_graph
    out.update(neighbors=graph.neighbors, weights=graph.weights, degree=graph.degree)
    return out


@pytest.fixture
def cached(tmp_path):
    """A built cache: ``(path of the cache file, arrays of the fresh build, counts)``."""
    data = _module(tmp_path)
    data.setup("fit")
    (path,) = (tmp_path / "cache").iterdir()
    return path, _arrays(data), data.counts


def _reload(tmp_path, caplog) -> SessionDataModule:
    with caplog.at_level(logging.WARNING, logger="datamodules.cache"):
        data = _module(tmp_path)
        data.setup("fit")
    return data


def _same(data: SessionDataModule, expected: dict[str, np.ndarray], counts) -> None:
    got = _arrays(data)
    assert got.keys() == expected.keys()
    for name, array in expected.items():
        assert got[name].dtype == array.dtype and np.array_equal(got[name], array), name
    assert data.counts == counts


def test_empty_cache_file_is_rebuilt_with_a_log_line(tmp_path, cached, caplog):
    path, expected, counts = cached
    path.write_bytes(b"")
    data = _reload(tmp_path, caplog)
    assert str(path) in caplog.text and "empty" in caplog.text and "rebuilding" in caplog.text
    _same(data, expected, counts)
    assert path.stat().st_size > 0  # written again


def _tamper(path, name, replace):
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    if replace is None:
        del arrays[name]
    else:
        arrays[name] = replace(arrays[name])
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


TAMPERINGS = {
    "float flat": ("train_flat", lambda a: a.astype(np.float64) + 0.5),
    "bool targets": ("train_targets", lambda a: a > 3),
    "2-D starts": ("val_starts", lambda a: np.stack([a, a])),
    "zero lengths": ("test_lengths", lambda a: np.zeros_like(a)),
    "target out of range": ("train_targets", lambda a: a + 10_000),
    "prefix past the end": ("train_starts", lambda a: a + 1_000_000),
    "short targets": ("test_targets", lambda a: a[:-1]),
    "graph shape": ("graph_neighbors", lambda a: a[:-1]),
    "float weights": ("graph_weights", lambda a: a.astype(np.float32)),
    "degree beyond top_k": ("graph_degree", lambda a: a + 100),
    "vocabulary kind": ("vocabulary_kind", lambda a: np.array(7)),
    "2-D num_items": ("num_items", lambda a: np.array([[1000]])),
    "counts bytes": ("counts", lambda a: np.frombuffer(b"\xff\xfe", dtype=np.uint8)),
    "float counts": ("counts", lambda a: a.astype(np.float64)),
    "missing array": ("val_flat", None),
}


@pytest.mark.parametrize("case", sorted(TAMPERINGS))
def test_tampered_cache_is_rebuilt_naming_the_array(tmp_path, cached, caplog, case):
    path, expected, counts = cached
    name, replace = TAMPERINGS[case]
    _tamper(path, name, replace)
    data = _reload(tmp_path, caplog)
    assert str(path) in caplog.text and name in caplog.text, caplog.text
    assert "rebuilding" in caplog.text
    _same(data, expected, counts)


@pytest.mark.parametrize(
    ("vocabulary", "name", "replace"),
    [
        (["a", "bé", "c"], "vocabulary_str_offsets", lambda a: a[::-1].copy()),
        (["a", "bé", "c"], "vocabulary_str_bytes", lambda a: a.astype(np.int64)),
        ([7, 8, 9], "vocabulary_int_ids", lambda a: a[:2]),
        ([7, 8, 9], "vocabulary_int_ids", lambda a: np.array([7, 7, 9])),
    ],
)
def test_tampered_vocabulary_is_rebuilt(tmp_path, caplog, vocabulary, name, replace):
    from datamodules.processed import ProcessedDataset, Sessions, write_processed

    sessions = Sessions.from_lists([[1, 2, 3], [3, 1]] * 10)
    write_processed(ProcessedDataset(sessions, sessions, vocabulary, "v"), tmp_path / "data")

    def build():
        data = SessionDataModule(dataset=str(tmp_path / "data"), cache_dir=str(tmp_path / "c"))
        data.setup("fit")
        return data

    first = build()
    (path,) = (tmp_path / "c").iterdir()
    with caplog.at_level(logging.WARNING, logger="datamodules.cache"):
        assert build().vocabulary == first.vocabulary  # read back from the cache, silently
    assert not caplog.text
    _tamper(path, name, replace)
    with caplog.at_level(logging.WARNING, logger="datamodules.cache"):
        again = build()
    assert str(path) in caplog.text and name in caplog.text and "rebuilding" in caplog.text
    assert again.vocabulary == first.vocabulary
