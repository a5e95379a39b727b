"""Reading and writing checkpoints safely: weights-only loads, atomic writes, clear errors.

* :func:`load_checkpoint` is the one way the package reads a checkpoint: always
  ``torch.load(weights_only=True)``, so a file that asks to unpickle anything but tensors and
  plain containers is refused before any of it runs (:class:`UnsafeCheckpointError`); an empty,
  truncated or foreign file is a :class:`CorruptCheckpointError` naming it and listing the
  other checkpoints of its run.
* :func:`atomic_save` writes to a temporary file in the target's own directory, flushes and
  fsyncs it, then renames it over the target (``os.replace``): whatever kills the process
  mid-write, the previous checkpoint stays whole.
* :class:`SafeCheckpointIO` is both as a Lightning ``CheckpointIO`` plugin. Every checkpoint
  the Trainer saves goes through it, ``last.ckpt`` included: with ``save_last=True`` Lightning
  2.6 saves ``last.ckpt`` as a checkpoint of its own (``ModelCheckpoint._save_last_checkpoint``
  calls ``trainer.save_checkpoint``); only ``save_last="link"`` makes a symbolic link instead.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from dmi_gnn.errors import CheckpointError, CorruptCheckpointError, UnsafeCheckpointError
from dmi_gnn.run_dirs import checkpoints_of, describe_checkpoints, run_directory_of

_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def _is_remote(path: Any) -> bool:
    return isinstance(path, str) and bool(_REMOTE.match(path)) and not path.startswith("file://")


def _corrupt(path: Path, problem: str) -> CorruptCheckpointError:
    others = [other for other in checkpoints_of(run_directory_of(path)) if other.name != path.name]
    return CorruptCheckpointError(
        f"{path} is not a readable checkpoint ({problem}); other checkpoints of this run: "
        f"{describe_checkpoints(others)}; pass one of them with --ckpt_path, or retrain"
    )


def _classify(path: Path, error: BaseException) -> CheckpointError | None:
    """Our error for a failed ``torch.load`` of ``path``, or None if it is not about the file."""
    message = str(error)
    found = _GLOBAL.search(message)
    if isinstance(error, pickle.UnpicklingError) and found:
        return UnsafeCheckpointError(
            f"{path} asks to unpickle `{found.group(1)}`, which a weights-only load refuses "
            "(tensors and plain data only): it was not written by dmi-gnn or it was altered, "
            "and loading it could run code, so nothing of it was loaded; use a checkpoint you "
            "trained"
        )
    if isinstance(error, EOFError):
        return _corrupt(path, "it ends early")
    if isinstance(error, pickle.UnpicklingError):
        detail = message.rsplit("WeightsUnpickler error:", 1)[-1].strip().splitlines()
        return _corrupt(path, f"not a checkpoint: {detail[0] if detail else 'unpickling failed'}")
    if isinstance(error, (zipfile.BadZipFile, UnicodeDecodeError)):
        first_line = message.splitlines()[0] if message else ""
        return _corrupt(path, f"{type(error).__name__}: {first_line}")
    if isinstance(error, KeyError):
        return _corrupt(path, "not a torch checkpoint")
    if isinstance(error, OSError) and not isinstance(error, (FileNotFoundError, PermissionError)):
        return _corrupt(path, f"truncated or damaged ({error.strerror or error})")
    if isinstance(error, RuntimeError) and ("zip archive" in message or "PytorchStream" in message):
        return _corrupt(path, "truncated or damaged zip archive")
    return None


def load_checkpoint(
    path: str | os.PathLike | IO[bytes],
    map_location: str | torch.device | Callable | None = "cpu",
    require_state_dict: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint weights-only, with errors that name the file.

    Args:
        path: a local file (or a file object, or an fsspec URL, read through Lightning).
        map_location: as for :func:`torch.load`.
        require_state_dict: the file must be a Lightning checkpoint (a dict with ``state_dict``).

    Raises:
        CheckpointError: the file does not exist.
        UnsafeCheckpointError: the file holds pickled objects other than tensors and plain data.
        CorruptCheckpointError: the file is empty, truncated or not a checkpoint.
    """
    if _is_remote(path):
        from lightning.fabric.utilities.cloud_io import _load

        return _load(path, map_location=map_location, weights_only=True)
    if not isinstance(path, (str, os.PathLike)):
        return torch.load(path, map_location=map_location, weights_only=True)
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise _corrupt(path, "the file is empty")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        ours = _classify(path, error)
        if ours is None:
            raise
        raise ours from error
    if require_state_dict and (not isinstance(checkpoint, dict) or "state_dict" not in checkpoint):
        raise _corrupt(path, f"it holds a {type(checkpoint).__name__}, not a Lightning checkpoint")
    return checkpoint


def atomic_save(checkpoint: dict[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` through a fsynced temporary file in the same directory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private (0600)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(target.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning ``CheckpointIO``: atomic local saves, weights-only loads with clear errors.

    Remote (fsspec) paths are saved as Lightning does; every load is weights-only.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or _is_remote(str(path)):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_save(checkpoint, path)

    def load_checkpoint(
        self,
        path: Any,
        map_location: Callable | None = lambda storage, location: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        if weights_only is False:
            raise CheckpointError(
                f"{path}: dmi-gnn loads checkpoints weights-only; drop --weights_only false "
                "(a checkpoint that needs more than tensors and plain data is refused)"
            )
        return load_checkpoint(path, map_location=map_location, require_state_dict=False)
