"""Run an export directory with numpy and onnxruntime alone (this module never imports torch).

An export directory (written by ``dmi-gnn export``, :mod:`dmi_gnn.serving.export`) holds:

* ``encoder.onnx``: the session encoder, a batch -> the interest vectors ``(B, U, d)``;
* ``items.npy``: the candidate table ``(N, d)`` float32, row ``j - 1`` is item ``j`` (eq. 6's
  :math:`\\mathbf{x}_j`, L2-normalised when the model normalises them);
* ``vocabulary.json``: raw ids <-> ``1..N`` (:class:`~dmi_gnn.serving.vocabulary.ExportVocabulary`);
* ``metadata.json``: the format, the sizes, the model's hyper-parameters and its source.

Example::

    from dmi_gnn.serving.onnx_runner import OnnxBackend
    from dmi_gnn.serving.recommender import Query, recommend

    backend = OnnxBackend("export/tmall")
    print(recommend(backend, [Query([123, 456], k=20)])[0].items)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from dmi_gnn.serving.numpy_batching import BATCH_FIELDS, collate, sub_batch_bounds
from dmi_gnn.serving.recommender import Answer, Query, recommend
from dmi_gnn.serving.vocabulary import ExportVocabulary

EXPORT_FORMAT = "dmi-gnn-export"
EXPORT_VERSION = 1
FILES = {
    "encoder": "encoder.onnx",
    "items": "items.npy",
    "vocabulary": "vocabulary.json",
    "metadata": "metadata.json",
}


class ExportError(ValueError):
    """An export directory that is missing, incomplete or of another format."""


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """``metadata.json`` of an export directory, checked for format and version.

    Raises:
        ExportError: no such directory, no metadata, or another format or version.
    """
    root = Path(directory)
    path = root / FILES["metadata"]
    if not root.is_dir():
        raise ExportError(f"{root}: export directory not found")
    if not path.is_file():
        raise ExportError(f"{root}: not an export directory (no {FILES['metadata']})")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ExportError(f"{path}: not JSON ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != EXPORT_FORMAT:
        raise ExportError(f"{path}: not a {EXPORT_FORMAT} metadata file")
    if metadata.get("version") != EXPORT_VERSION:
        raise ExportError(
            f"{path}: export version {metadata.get('version')!r}; this runner reads "
            f"version {EXPORT_VERSION}"
        )
    for name in FILES.values():
        if not (root / name).is_file():
            raise ExportError(f"{root}: incomplete export, {name} is missing")
    return metadata


class OnnxBackend:
    """An export directory as a serving backend (:class:`~dmi_gnn.serving.recommender.Backend`).

    Args:
        directory: the export directory.
        threads: onnxruntime's intra-op threads (None: onnxruntime's default).

    Raises:
        ExportError: see :func:`read_metadata`; or a table whose shape disagrees with it.
    """

    def __init__(self, directory: str | Path, threads: int | None = None) -> None:
        root = Path(directory)
        self.metadata = read_metadata(root)
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(root / FILES["encoder"]), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [node.name for node in self.session.get_inputs()]
        unknown = sorted(set(self.input_names) - set(BATCH_FIELDS))
        if unknown:
            raise ExportError(f"{root}: the encoder asks for unknown inputs {unknown}")
        table = np.load(root / FILES["items"], allow_pickle=False)
        self.num_items = int(self.metadata["num_items"])
        expected = (self.num_items, int(self.metadata["embedding_dim"]))
        if table.shape != expected or table.dtype != np.float32:
            raise ExportError(
                f"{root / FILES['items']}: expected a float32 table of shape {expected}, "
                f"got {table.dtype} {table.shape}"
            )
        self.table_t = np.ascontiguousarray(table.T)
        self.vocabulary = ExportVocabulary.load(root / FILES["vocabulary"])
        if self.vocabulary.num_items != self.num_items:
            raise ExportError(
                f"{root}: the vocabulary has {self.vocabulary.num_items} items, the table "
                f"{self.num_items}"
            )
        self.max_session_length = int(self.metadata["max_session_length"])
        self.max_batch_cells = int(self.metadata["max_batch_cells"])
        self.top_k = int(self.metadata["top_k"])
        self.description = f"{self.metadata['description']} from the export {root}"

    def interests(self, sessions: Sequence[Sequence[int]]) -> np.ndarray:
        """Interest vectors ``(B, U, d)`` float32 of sessions of model ids (oldest first)."""
        kept = [min(len(s), self.max_session_length) for s in sessions]
        parts = []
        for start, end in sub_batch_bounds(kept, self.max_batch_cells):
            batch = collate(sessions[start:end], self.max_session_length)
            feed = {name: batch[name] for name in self.input_names}
            parts.append(self.session.run(None, feed)[0])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def recommend(self, sessions: Sequence[Sequence[Any]], k: int | None = None) -> list[Answer]:
        """Top-``k`` raw ids and scores of sessions of raw ids (``predict``'s conventions)."""
        return recommend(self, [Query(session, k or self.top_k) for session in sessions])
