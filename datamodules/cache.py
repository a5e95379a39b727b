"""The processed-array cache: one ``.npz`` per (input content, content options), written atomically.

The key is the sha256 of a JSON document holding a format version, the inputs' fingerprint (the
sha256 of every input file, or the synthetic generator's parameters) and the options that change
the content (:class:`~datamodules.prepared.PrepareOptions`). Anything else (batch size,
``max_len``) is applied when batches are cut and does not invalidate the cache. A cache file
that cannot be read, is empty, or holds an array of the wrong type, shape or range (checked
array by array, never cast, truncated or broadcast) is logged, naming the file and the array,
and rebuilt: it only ever holds derived data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from datamodules.graph import GlobalGraph
from datamodules.prepared import PreparedData, PrepareOptions
from datamodules.samples import Samples
from datamodules.vocab import Vocabulary

logger = logging.getLogger(__name__)

CACHE_FORMAT = "dmi-gnn-cache/1"
_SPLITS = ("train", "val", "test")


def cache_key(fingerprint: dict[str, str], options: PrepareOptions) -> str:
    """Hex sha256 identifying the prepared content."""
    document = {"format": CACHE_FORMAT, "inputs": fingerprint, "options": asdict(options)}
    text = json.dumps(document, sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def default_cache_dir(
    cache_dir: str | os.PathLike | None, data_dir: str | os.PathLike, kind: str, path: Path | None
) -> Path | None:
    """Where prepared arrays are cached when nothing else is said; None: keep them in memory.

    ``cache_dir`` wins when given. Otherwise the cache goes where the user already keeps the
    data: ``<data_dir>/.cache`` for a benchmark, ``<dataset dir>/.cache`` for a processed
    dataset. The synthetic dataset is generated in about a second and is never written
    to disk unless ``cache_dir`` asks for it.

    Args:
        cache_dir: the user's ``cache_dir`` option.
        data_dir: the user's ``data_dir`` option (where benchmark files live).
        kind: ``"benchmark"``, ``"synthetic"`` or ``"processed"``.
        path: the processed dataset directory (``kind == "processed"``).
    """
    if cache_dir is not None:
        return Path(cache_dir)
    if kind == "synthetic":
        return None
    if kind == "processed" and path is not None:
        return path / ".cache"
    return Path(data_dir) / ".cache"


def cache_path(cache_dir: str | os.PathLike, name: str, key: str) -> Path:
    """``<cache_dir>/<name>-<first 16 hex of key>.npz``."""
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return Path(cache_dir) / f"{safe_name}-{key[:16]}.npz"


def save_prepared(data: PreparedData, path: Path) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    arrays: dict[str, np.ndarray] = {"num_items": np.array(data.num_items)}
    for split in _SPLITS:
        for name, array in getattr(data, split).arrays().items():
            arrays[f"{split}_{name}"] = array
    if data.graph is not None:  # built only for a model that uses it
        for name, array in data.graph.arrays().items():
            arrays[f"graph_{name}"] = array
    if data.fit_offsets is not None:
        arrays["fit_offsets"] = data.fit_offsets
    for name, tensor in data.vocabulary.to_state().items():
        arrays[f"vocabulary_{name}"] = tensor.numpy()
    counts = json.dumps(data.counts, allow_nan=False)
    arrays["counts"] = np.frombuffer(counts.encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class _InvalidCache(ValueError):
    """One array of a cache file is not what :func:`save_prepared` writes."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"array {name!r}: {problem}")


def _int_array(arrays: dict[str, np.ndarray], name: str, ndim: int) -> np.ndarray:
    """``arrays[name]`` as int64 with ``ndim`` dimensions, or :class:`_InvalidCache`."""
    if name not in arrays:
        raise _InvalidCache(name, "missing")
    array = arrays[name]
    if array.ndim != ndim:
        raise _InvalidCache(name, f"expected {ndim} dimension(s), got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise _InvalidCache(name, f"expected integers, got {array.dtype}")
    if array.dtype.kind == "u" and array.size and int(array.max()) >= 2**63:
        raise _InvalidCache(name, "value beyond int64")
    return array.astype(np.int64, copy=False)


def _in_range(name: str, array: np.ndarray, low: int, high: int) -> None:
    if array.size and (int(array.min()) < low or int(array.max()) > high):
        raise _InvalidCache(name, f"values must be in {low}..{high}")


def _samples(arrays: dict[str, np.ndarray], split: str, num_items: int) -> Samples:
    flat, starts, lengths, targets = (
        _int_array(arrays, f"{split}_{name}", 1)
        for name in ("flat", "starts", "lengths", "targets")
    )
    if not len(starts) == len(lengths) == len(targets):
        raise _InvalidCache(
            f"{split}_targets",
            f"{len(starts)} starts, {len(lengths)} lengths and {len(targets)} targets",
        )
    _in_range(f"{split}_flat", flat, 1, num_items)
    _in_range(f"{split}_targets", targets, 1, num_items)
    _in_range(f"{split}_lengths", lengths, 1, len(flat))
    _in_range(f"{split}_starts", starts, 0, len(flat))
    if len(starts) and int((starts + lengths).max()) > len(flat):
        raise _InvalidCache(f"{split}_starts", "a prefix runs past the end of the clicks")
    return Samples(flat=flat, starts=starts, lengths=lengths, targets=targets)


def _graph(arrays: dict[str, np.ndarray], num_items: int) -> GlobalGraph | None:
    if not any(name.startswith("graph_") for name in arrays):
        return None  # saved for a model without the global graph
    neighbors = _int_array(arrays, "graph_neighbors", 2)
    weights = _int_array(arrays, "graph_weights", 2)
    degree = _int_array(arrays, "graph_degree", 1)
    if neighbors.shape[0] != num_items + 1 or neighbors.shape[1] < 1:
        raise _InvalidCache("graph_neighbors", f"shape {neighbors.shape} for {num_items} items")
    if weights.shape != neighbors.shape:
        raise _InvalidCache("graph_weights", f"shape {weights.shape}, not {neighbors.shape}")
    if degree.shape != (num_items + 1,):
        raise _InvalidCache("graph_degree", f"shape {degree.shape} for {num_items} items")
    _in_range("graph_neighbors", neighbors, 0, num_items)
    _in_range("graph_weights", weights, 0, 2**62)
    _in_range("graph_degree", degree, 0, neighbors.shape[1])
    return GlobalGraph(neighbors=neighbors, weights=weights, degree=degree)


def _vocabulary(arrays: dict[str, np.ndarray], num_items: int) -> Vocabulary:
    state = {
        name.removeprefix("vocabulary_"): _int_array(arrays, name, arrays[name].ndim)
        for name in arrays
        if name.startswith("vocabulary_") and name != "vocabulary_str_bytes"
    }
    if "vocabulary_str_bytes" in arrays:
        blob = arrays["vocabulary_str_bytes"]
        if blob.ndim != 1 or blob.dtype != np.uint8:
            raise _InvalidCache("vocabulary_str_bytes", f"expected 1-D uint8, got {blob.dtype}")
        state["str_bytes"] = blob
    for name in ("kind", "num_items"):
        if name not in state or state[name].ndim != 0:
            raise _InvalidCache(f"vocabulary_{name}", "expected one integer")
    if int(state["num_items"]) != num_items:
        raise _InvalidCache("vocabulary_num_items", f"{int(state['num_items'])}, not {num_items}")
    kind = int(state["kind"])
    if kind == 1:
        ids = state.get("int_ids")
        if ids is None or ids.shape != (num_items,):
            raise _InvalidCache("vocabulary_int_ids", f"expected {num_items} ids")
    elif kind == 2:
        offsets = state.get("str_offsets")
        blob = state.get("str_bytes")
        if blob is None or offsets is None or offsets.shape != (num_items + 1,):
            raise _InvalidCache("vocabulary_str_offsets", f"expected {num_items + 1} offsets")
        if offsets[0] != 0 or offsets[-1] != len(blob) or (np.diff(offsets) < 0).any():
            raise _InvalidCache("vocabulary_str_offsets", "not 0..len(str_bytes), increasing")
    elif kind != 0:
        raise _InvalidCache("vocabulary_kind", f"unknown kind {kind}")
    try:
        return Vocabulary.from_state({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    except ValueError as error:  # duplicates, bad utf-8
        raise _InvalidCache(
            "vocabulary_int_ids" if kind == 1 else "vocabulary_str_bytes", str(error)
        ) from None


def _counts(arrays: dict[str, np.ndarray]) -> dict[str, int]:
    raw = arrays.get("counts")
    if raw is None or raw.ndim != 1 or raw.dtype != np.uint8:
        raise _InvalidCache("counts", "expected the JSON text as 1-D uint8")
    try:
        counts = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _InvalidCache("counts", f"not JSON ({error})") from None
    if not isinstance(counts, dict) or not all(
        isinstance(k, str) and type(v) is int for k, v in counts.items()
    ):
        raise _InvalidCache("counts", "expected a JSON object of integers")
    return counts


def _prepared(arrays: dict[str, np.ndarray]) -> PreparedData:
    """The :class:`PreparedData` of a cache file's arrays, each one checked."""
    num_items_array = _int_array(arrays, "num_items", 0)
    num_items = int(num_items_array)
    if num_items < 1:
        raise _InvalidCache("num_items", f"{num_items}, expected >= 1")
    splits = [_samples(arrays, split, num_items) for split in _SPLITS]
    counts = _counts(arrays)
    offsets = _int_array(arrays, "fit_offsets", 1)
    train_clicks = len(splits[0].flat)
    if (
        len(offsets) < 1
        or offsets[0] != 0
        or offsets[-1] != train_clicks
        or (np.diff(offsets) < 0).any()
    ):
        raise _InvalidCache("fit_offsets", f"not increasing boundaries of {train_clicks} clicks")
    return PreparedData(
        num_items,
        *splits,
        _graph(arrays, num_items),
        _vocabulary(arrays, num_items),
        counts,
        offsets,
    )


def load_prepared(path: Path) -> PreparedData | None:
    """Read a cache file; None (with a warning naming the file and why) if it is missing, empty,
    unreadable or holds an array that is not what :func:`save_prepared` writes."""
    if not path.is_file():
        return None
    if path.stat().st_size == 0:
        logger.warning("ignoring the empty cache file %s; rebuilding it", path)
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        return _prepared(arrays)
    except _InvalidCache as error:
        logger.warning("ignoring the invalid cache file %s (%s); rebuilding it", path, error)
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
        logger.warning("ignoring unreadable cache file %s (%s); rebuilding it", path, error)
    return None
