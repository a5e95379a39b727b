"""Safe output: the processed dataset, ``report.json`` and the optional GCE-GNN pickles.

Destinations (:func:`check_output` decides before anything is read):

* a path that does not exist: everything is written into a staging directory beside it and
  renamed into place at the end (atomic); parent directories made for it are removed again if
  the prepare fails;
* an existing **empty** directory (as ``mktemp -d`` makes it, or ``--output .``): the files are
  staged in a hidden directory inside it and moved in at the end; the directory itself (its
  inode, permissions, a shell inside it) is kept;
* an existing processed dataset: refused unless ``--overwrite``; then written like an empty
  directory, the old dataset's files replaced (``dataset.json`` last, so the directory is never
  a complete dataset mixing old and new files) and the ones the new output lacks removed;
* anything else (a file, a non-empty directory that is not a processed dataset) is the user's
  and is refused, with or without ``--overwrite``.

A failure while staging leaves the destination exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.gcegnn_export import ALL_TRAIN_FILE, TEST_FILE, TRAIN_FILE, write_gcegnn
from datamodules.processed import (
    METADATA_FILE,
    VOCABULARY_FILE,
    ProcessedDataset,
    finite_json,
    is_processed_dataset,
    write_processed,
)
from datamodules.processed import TEST_FILE as TEST_SESSIONS_FILE
from datamodules.processed import TRAIN_FILE as TRAIN_SESSIONS_FILE

REPORT_FILE = "report.json"
#: Every file ``prepare`` writes; only these are ever replaced or removed by ``--overwrite``.
OUTPUT_FILES = (
    METADATA_FILE,
    TRAIN_SESSIONS_FILE,
    TEST_SESSIONS_FILE,
    VOCABULARY_FILE,
    REPORT_FILE,
    ALL_TRAIN_FILE,
    TRAIN_FILE,
    TEST_FILE,
)


def check_output(target: Path, overwrite: bool = False) -> None:
    """Raise :class:`PrepareError` unless ``target`` may be written (see the module docstring)."""
    target = Path(os.path.abspath(target))
    if not target.exists():
        if target.is_symlink():
            raise PrepareError("the output is a broken symbolic link", path=target)
        return
    if not target.is_dir():
        raise PrepareError(
            "the output exists and is a file, not a directory; choose another --output",
            path=target,
        )
    if not any(target.iterdir()):
        return
    if is_processed_dataset(target):
        if overwrite:
            return
        raise PrepareError(
            "the output already holds a processed dataset; pass --overwrite to replace it, or "
            "choose another --output",
            path=target,
        )
    raise PrepareError(
        "the output exists, is not empty and is not a processed dataset; choose another "
        "--output or empty it (--overwrite only replaces processed datasets)",
        path=target,
    )


def _stage(
    dataset: ProcessedDataset, directory: Path, report: dict[str, Any], gcegnn: bool
) -> Path:
    """Write everything into ``directory / "dataset"``; return that directory."""
    staged = write_processed(dataset, directory / "dataset")
    (staged / REPORT_FILE).write_text(finite_json(report, str(REPORT_FILE), 2))
    if gcegnn:
        write_gcegnn(dataset, staged)
    return staged


def _write_new(target: Path, dataset: ProcessedDataset, report: dict[str, Any], gcegnn: bool):
    made = [parent for parent in reversed(target.parents) if not parent.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.prepare-", dir=target.parent))
        try:
            _stage(dataset, staging, report, gcegnn).rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        for parent in reversed(made):  # deepest first; only if still empty
            try:
                parent.rmdir()
            except OSError:
                break
        raise


def _write_into(target: Path, dataset: ProcessedDataset, report: dict[str, Any], gcegnn: bool):
    staging = Path(tempfile.mkdtemp(prefix=".prepare-", dir=target))
    try:
        staged = _stage(dataset, staging, report, gcegnn)
        new = {path.name for path in staged.iterdir()}
        (target / METADATA_FILE).unlink(missing_ok=True)  # no longer a complete dataset
        for name in OUTPUT_FILES:
            if name not in new and (target / name).is_file():
                (target / name).unlink()
        for name in sorted(new - {METADATA_FILE}):
            os.replace(staged / name, target / name)
        os.replace(staged / METADATA_FILE, target / METADATA_FILE)  # complete again
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_output(
    dataset: ProcessedDataset,
    target: Path,
    report: dict[str, Any],
    *,
    gcegnn: bool,
    overwrite: bool = False,
) -> Path:
    """Write ``dataset`` (+ report, + pickles when ``gcegnn``) to ``target`` safely.

    Raises:
        PrepareError: ``target`` may not be written (see :func:`check_output`), or writing
            failed (disk full, permissions); nothing new is left behind.
    """
    target = Path(os.path.abspath(target))  # "." and "dir/.." get a real name
    check_output(target, overwrite)
    try:
        if target.exists():
            _write_into(target, dataset, report, gcegnn)
        else:
            _write_new(target, dataset, report, gcegnn)
    except OSError as error:
        raise PrepareError(
            f"cannot write the output ({error}); nothing was written", path=target
        ) from None
    return target
