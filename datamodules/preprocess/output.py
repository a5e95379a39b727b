"""Atomic output: the processed dataset, ``report.json`` and the optional GCE-GNN pickles.

Everything is written into a staging directory beside the target and renamed into place at
the end, so a failure at any point leaves neither a partial dataset nor stray files.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.gcegnn_export import write_gcegnn
from datamodules.processed import (
    ProcessedDataset,
    finite_json,
    is_processed_dataset,
    write_processed,
)

REPORT_FILE = "report.json"


def check_output(target: Path) -> None:
    """Refuse an output path that holds something other than a processed dataset.

    An existing processed dataset (or an empty directory) is replaced; anything else is the
    user's data and is never touched.
    """
    if not target.exists():
        return
    if target.is_dir() and (is_processed_dataset(target) or not any(target.iterdir())):
        return
    raise PrepareError(
        "the output exists and is not a processed dataset; choose another --output or remove it",
        path=target,
    )


def write_output(
    dataset: ProcessedDataset, target: Path, report: dict[str, Any], *, gcegnn: bool
) -> Path:
    """Write ``dataset`` (+ report, + pickles when ``gcegnn``) to ``target`` atomically."""
    check_output(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging_root = Path(tempfile.mkdtemp(prefix=f".{target.name}.prepare-", dir=target.parent))
    try:
        staged = write_processed(dataset, staging_root / target.name)
        (staged / REPORT_FILE).write_text(finite_json(report, str(target / REPORT_FILE), 2))
        if gcegnn:
            write_gcegnn(dataset, staged)
        if target.exists():
            backup = target.with_name(f".{target.name}.replaced-{uuid.uuid4().hex[:8]}")
            target.rename(backup)
            staged.rename(target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            staged.rename(target)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    return target
