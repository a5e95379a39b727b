"""``dmi-gnn export --ckpt_path X --output DIR``: a checkpoint as files onnxruntime can serve.

Why ONNX and not ``torch.export``: an :class:`torch.export.ExportedProgram` still needs PyTorch
to run (or an AOTInductor build with a C++ compiler), while an ONNX graph runs with onnxruntime
and numpy alone (:mod:`dmi_gnn.serving.onnx_runner`), in any language onnxruntime has bindings
for. The graph is traced by PyTorch's TorchScript-based exporter (``dynamo=False``): the
``torch.export``-based one needs the ``onnxscript`` package, which the package does not depend
on. Batch size and session length are dynamic axes.

Only the session encoder (a batch -> interest vectors ``(B, U, d)``) is a graph: the scoring
(eq. 6, max over interests against the candidate table) is a blocked numpy top-K, so the same
export serves Tmall-size and million-item catalogues. The directory is written beside its
destination and renamed at the end; an export whose encoder disagrees with PyTorch on sample
sessions is an error and leaves nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from datamodules.batching import collate_sessions
from dmi_gnn import __version__
from dmi_gnn.errors import ConfigError
from dmi_gnn.serving.adapter import ServingParts, encoder_inputs, load_model, serving_parts
from dmi_gnn.serving.numpy_batching import BATCH_FIELDS
from dmi_gnn.serving.onnx_runner import EXPORT_FORMAT, EXPORT_VERSION, FILES, OnnxBackend
from dmi_gnn.serving.vocabulary import ExportVocabulary

OPSET = 17
#: Largest absolute difference of interest vectors (ONNX vs PyTorch) accepted at export.
TOLERANCE = 1e-4


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sample_sessions(num_items: int) -> list[list[int]]:
    """Sessions with repeats, of several lengths, within ``1..num_items`` (trace and check)."""
    rng = np.random.default_rng(0)
    sessions = [[1, 2, 1, 3, 3, 2]]
    for length in (1, 2, 5, 13, 40):
        sessions.append(rng.integers(1, num_items + 1, size=length).tolist())
    sessions.append([num_items, 1, num_items])
    return sessions


def _export_encoder(parts: ServingParts, path: Path) -> list[str]:
    """Write the encoder graph; returns its input names (unused batch fields are dropped)."""
    example = collate_sessions([[1, 2, 1, 3], [2, 1]], max_len=parts.max_session_length)
    dynamic = {name: {0: "batch", 1: "length"} for name in BATCH_FIELDS}
    dynamic["lengths"] = {0: "batch"}
    dynamic["adjacency"] = {0: "batch", 1: "length", 2: "length"}
    dynamic["interests"] = {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(
            parts.encoder,
            encoder_inputs(example),
            str(path),
            input_names=list(BATCH_FIELDS),
            output_names=["interests"],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )
    import onnx

    return [node.name for node in onnx.load(str(path), load_external_data=False).graph.input]


@torch.no_grad()
def _verify(parts: ServingParts, directory: Path) -> float:
    """The largest difference of interest vectors between the export and PyTorch."""
    backend = OnnxBackend(directory, threads=1)
    sessions = _sample_sessions(int(parts.candidates.shape[0]))
    got = backend.interests(sessions)
    batch = collate_sessions(sessions, max_len=parts.max_session_length)
    want = parts.encoder(*encoder_inputs(batch)).numpy()
    return float(np.abs(got - want).max())


def _prepare_output(output: Path) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ConfigError(f"--output {output}: exists and is not an empty directory")


def export(ckpt_path: str | Path, output: str | Path) -> dict:
    """Export the checkpoint ``ckpt_path`` to the directory ``output`` (new or empty).

    Returns:
        The metadata written.

    Raises:
        ConfigError: ``output`` is a file or a non-empty directory.
        RuntimeError: the exported encoder disagrees with PyTorch.
    """
    ckpt_path, output = Path(ckpt_path), Path(output)
    _prepare_output(output)
    parts = serving_parts(load_model(str(ckpt_path)))
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        inputs = _export_encoder(parts, staging / FILES["encoder"])
        candidates = parts.candidates.numpy().astype(np.float32)
        np.save(staging / FILES["items"], candidates, allow_pickle=False)
        ExportVocabulary.from_vocabulary(parts.vocabulary).save(staging / FILES["vocabulary"])
        metadata = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "files": FILES,
            "description": parts.description,
            "num_items": int(candidates.shape[0]),
            "embedding_dim": int(candidates.shape[1]),
            "num_interests": parts.metadata["served_interests"],
            "max_session_length": parts.max_session_length,
            "max_batch_cells": parts.max_batch_cells,
            "top_k": parts.top_k,
            "encoder_inputs": inputs,
            "opset": OPSET,
            "exporter": f"torch.onnx (TorchScript-based), torch {torch.__version__}",
            "dmi_gnn_version": __version__,
            "checkpoint": {"path": str(ckpt_path), "sha256": _sha256(ckpt_path)},
            "model": parts.metadata,
        }
        (staging / FILES["metadata"]).write_text(
            json.dumps(metadata, indent=2, default=str), encoding="utf-8"
        )
        difference = _verify(parts, staging)
        if not difference <= TOLERANCE:
            raise RuntimeError(
                f"the exported encoder differs from PyTorch by {difference:.3g} (> {TOLERANCE})"
            )
        metadata["verified_max_abs_difference"] = difference
        (staging / FILES["metadata"]).write_text(
            json.dumps(metadata, indent=2, default=str), encoding="utf-8"
        )
        if output.exists():
            output.rmdir()  # empty, checked above
        staging.rename(output)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return metadata


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmi-gnn export",
        description=(
            "Export a checkpoint for serving without PyTorch: the session encoder as ONNX "
            "(encoder.onnx), the candidate table (items.npy), the vocabulary (vocabulary.json) "
            "and metadata.json. Run it with dmi_gnn.serving.onnx_runner (numpy + onnxruntime) "
            "or dmi-gnn serve --export_dir DIR."
        ),
    )
    parser.add_argument("--ckpt_path", required=True, help="the checkpoint file")
    parser.add_argument("--output", required=True, help="the export directory (new or empty)")
    return parser


def export_main(argv: Sequence[str]) -> int:
    """``dmi-gnn export``; returns the exit status (2 for a user error)."""
    from dmi_gnn.cli_errors import is_user_error, one_line

    args = build_parser().parse_args(list(argv))
    try:
        metadata = export(args.ckpt_path, args.output)
    except Exception as error:
        if not is_user_error(error):
            raise
        sys.stderr.write(one_line(error, "export") + "\n")
        return 2
    print(
        f"exported {metadata['description']} to {args.output} (ONNX encoder; interests agree "
        f"with PyTorch to {metadata['verified_max_abs_difference']:.1e})"
    )
    return 0
