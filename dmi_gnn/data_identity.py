"""Which data a checkpoint was trained on, recorded in it and compared when it is evaluated.

A checkpoint saved while fitting carries, under :data:`IDENTITY_KEY`, the datamodule's
``dataset_hash`` (data content and every option that shapes batches), the item count and a
digest of the vocabulary (how raw item ids map to model ids). When the checkpoint is loaded to
validate, test or resume on a datamodule:

* a different vocabulary is an error (:class:`~dmi_gnn.errors.DataMismatchError`): raw ids
  would map to other items, so every metric would be meaningless;
* the same vocabulary but another dataset hash (other sessions, split or options, same items)
  is a warning naming both hashes: the evaluation runs, the user is told.

``predict`` compares nothing: it encodes raw ids with the checkpoint's own vocabulary and never
loads the datamodule's data.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import torch

from datamodules.vocab import Vocabulary
from dmi_gnn.errors import DataMismatchError

log = logging.getLogger(__name__)

#: Key of the record in the checkpoint dict.
IDENTITY_KEY = "dmi_gnn_data"
#: Where the module's extra state (the vocabulary) sits in ``state_dict``.
_VOCABULARY_STATE = "_extra_state"


def vocabulary_digest(vocabulary: Vocabulary) -> str:
    """12 hex digits identifying the raw-id mapping (kind, size and every raw id in order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(vocabulary.to_state().items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}:".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def identity(vocabulary: Vocabulary, datamodule: Any | None = None) -> dict[str, Any]:
    """The record saved in a checkpoint (``dataset_hash`` None when no datamodule is known)."""
    dataset_hash = getattr(datamodule, "dataset_hash", None) if datamodule is not None else None
    return {
        "dataset_hash": dataset_hash,
        "num_items": int(vocabulary.num_items),
        "vocabulary_digest": vocabulary_digest(vocabulary),
    }


def recorded(checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The record of a checkpoint; for a checkpoint without one, what its vocabulary gives."""
    record = checkpoint.get(IDENTITY_KEY)
    if isinstance(record, Mapping):
        return dict(record)
    state = checkpoint.get("state_dict", {}).get(_VOCABULARY_STATE)
    if not isinstance(state, Mapping) or "kind" not in state:
        return None
    vocabulary = Vocabulary.from_state(
        {
            key: value if isinstance(value, torch.Tensor) else torch.tensor(value)
            for key, value in state.items()
        }
    )
    return {"dataset_hash": None, **identity(vocabulary)}


def compare(record: Mapping[str, Any] | None, datamodule: Any, stage: str) -> None:
    """Compare a checkpoint's record with the datamodule it is evaluated or resumed on.

    Raises:
        DataMismatchError: the vocabularies differ.
    """
    if record is None or datamodule is None or not hasattr(datamodule, "vocabulary"):
        return
    current = identity(datamodule.vocabulary, datamodule)
    theirs, ours = record.get("dataset_hash"), current["dataset_hash"]
    described = (
        f"the checkpoint was trained on dataset {theirs or '(hash not recorded)'} "
        f"({record.get('num_items')} items, vocabulary {record.get('vocabulary_digest')}) and "
        f"--data.* gives dataset {ours} ({current['num_items']} items, vocabulary "
        f"{current['vocabulary_digest']})"
    )
    if record.get("vocabulary_digest") != current["vocabulary_digest"]:
        raise DataMismatchError(
            f"{described}: the raw item ids map to other model ids, so the results "
            "would be meaningless; use the dataset (and --data.* options) the model was "
            "trained on"
        )
    if theirs is not None and ours is not None and theirs != ours:
        log.warning(
            "%s: %s: same items, other sessions or options (split, graph, max_len); running anyway",
            stage,
            described,
        )
