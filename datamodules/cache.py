"""The processed-array cache: one ``.npz`` per (input content, content options), written atomically.

The key is the sha256 of a JSON document holding a format version, the inputs' fingerprint (the
sha256 of every input file, or the synthetic generator's parameters) and the options that change
the content (:class:`~datamodules.prepared.PrepareOptions`). Anything else (batch size,
``max_len``) is applied when batches are cut and does not invalidate the cache. A cache file
that cannot be read is logged and rebuilt: it only ever holds derived data.
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
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


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
    for name, array in data.graph.arrays().items():
        arrays[f"graph_{name}"] = array
    for name, tensor in data.vocabulary.to_state().items():
        arrays[f"vocabulary_{name}"] = tensor.numpy()
    arrays["counts"] = np.frombuffer(json.dumps(data.counts).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, **arrays)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def load_prepared(path: Path) -> PreparedData | None:
    """Read a cache file; None (with a warning) if it is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        splits = {
            split: Samples(
                flat=arrays[f"{split}_flat"],
                starts=arrays[f"{split}_starts"],
                lengths=arrays[f"{split}_lengths"],
                targets=arrays[f"{split}_targets"],
            )
            for split in _SPLITS
        }
        graph = GlobalGraph(
            neighbors=arrays["graph_neighbors"],
            weights=arrays["graph_weights"],
            degree=arrays["graph_degree"],
        )
        vocabulary = Vocabulary.from_state(
            {
                name.removeprefix("vocabulary_"): torch.from_numpy(array)
                for name, array in arrays.items()
                if name.startswith("vocabulary_")
            }
        )
        counts = json.loads(arrays["counts"].tobytes().decode())
        num_items = int(arrays["num_items"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        logger.warning("ignoring unreadable cache file %s (%s); rebuilding it", path, error)
        return None
    return PreparedData(num_items, *(splits[s] for s in _SPLITS), graph, vocabulary, counts)
