"""Checkpoint safety: weights-only loads, refused payloads, atomic writes, corrupt files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from dmi_gnn import DMIGNN, checkpoints
from dmi_gnn.checkpoints import SafeCheckpointIO, atomic_save, load_checkpoint
from dmi_gnn.errors import CheckpointError, CorruptCheckpointError, UnsafeCheckpointError


class Payload:
    """Unpickling it creates a directory: the stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def model_checkpoint(path: Path, **extra) -> Path:
    """A real DMIGNN checkpoint (what ``trainer.save_checkpoint`` writes), plus ``extra``."""
    model = DMIGNN(num_items=20, embedding_dim=8, num_interests=2)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    if extra:
        state = torch.load(path, weights_only=True)
        state["hyper_parameters"].update(extra)
        torch.save(state, path)
    return path


def test_a_checkpoint_carrying_a_payload_is_refused_by_load_from_checkpoint(tmp_path, monkeypatch):
    """Issue 11.11: with torch's default off (torch < 2.6) the payload ran."""
    marker = tmp_path / "payload-ran"
    path = model_checkpoint(tmp_path / "evil.ckpt", note=Payload(marker))
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.ckpt asks to unpickle `\w+\.makedirs`"):
        DMIGNN.load_from_checkpoint(path)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError):
        SafeCheckpointIO().load_checkpoint(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is real: a plain load runs it
    assert marker.is_dir()


def test_hyperparameters_saved_by_the_cli_load_weights_only(tmp_path):
    """LightningCLI adds ``_instantiator`` (a string) to the saved hyper-parameters."""
    instantiator = "lightning.pytorch.cli.instantiate_module"
    path = model_checkpoint(tmp_path / "m.ckpt", _instantiator=instantiator)
    state = load_checkpoint(path)
    assert state["hyper_parameters"]["num_items"] == 20
    restored = DMIGNN.load_from_checkpoint(path)
    assert restored.hparams.embedding_dim == 8
    with pytest.raises(CheckpointError, match="weights-only"):
        DMIGNN.load_from_checkpoint(path, weights_only=False)


@pytest.mark.parametrize("damage", ["empty", "truncated", "text", "tensor"])
def test_a_corrupt_file_is_an_error_naming_it_and_the_other_checkpoints(tmp_path, damage):
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    good = model_checkpoint(folder / "best-epoch03.ckpt")
    bad = folder / "last.ckpt"
    content = {
        "empty": b"",
        "truncated": good.read_bytes()[:1000],
        "text": b"not a checkpoint",
    }
    if damage == "tensor":
        torch.save(torch.zeros(3), bad)
    else:
        bad.write_bytes(content[damage])
    with pytest.raises(CorruptCheckpointError) as error:
        load_checkpoint(bad)
    assert str(error.value).startswith(f"{bad} is not a readable checkpoint")
    assert f"other checkpoints of this run: {good} (" in str(error.value)
    with pytest.raises(CorruptCheckpointError):
        DMIGNN.load_from_checkpoint(bad)


def test_saves_go_to_a_fsynced_temporary_file_in_the_same_directory(tmp_path, monkeypatch):
    """Issue 11.8: Lightning staged checkpoints in the system temporary directory and moved
    them, a copy when that is another filesystem."""
    calls = []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(
        os, "replace", lambda a, b: calls.append(("replace", a, b)) or real_replace(a, b)
    )
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(("fsync",)) or real_fsync(fd))
    target = tmp_path / "checkpoints" / "last.ckpt"
    SafeCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(2)}}, target)
    replaces = [call for call in calls if call[0] == "replace"]
    assert len(replaces) == 1 and Path(replaces[0][2]) == target
    assert Path(replaces[0][1]).parent == target.parent  # same directory: a rename, no copy
    assert calls.index(("fsync",)) < calls.index(replaces[0])  # flushed before the rename
    assert torch.load(target, weights_only=True)["state_dict"]["w"].tolist() == [1.0, 1.0]
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode


def test_a_failure_mid_write_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    atomic_save({"state_dict": {"w": torch.zeros(4)}}, target)
    before = target.read_bytes()

    def dies_half_way(obj, handle):
        handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # Ctrl-C, or the kernel, in the middle of the write

    monkeypatch.setattr(checkpoints.torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"state_dict": {"w": torch.ones(4)}}, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # the temporary file is gone


@pytest.mark.slow
def test_a_killed_process_leaves_the_previous_checkpoint_whole(tmp_path):
    """SIGKILL-like death (``os._exit``) in the middle of ``torch.save``."""
    target = tmp_path / "last.ckpt"
    atomic_save({"state_dict": {"w": torch.zeros(4)}}, target)
    code = (
        "import os, sys, torch\n"
        "from dmi_gnn import checkpoints\n"
        "def dies(obj, handle):\n"
        "    handle.write(b'x' * 100)\n    handle.flush()\n    os._exit(9)\n"
        "checkpoints.torch.save = dies\n"
        "checkpoints.atomic_save({'state_dict': {}}, sys.argv[1])\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code, str(target)], env=env, timeout=300)
    assert done.returncode == 9
    assert torch.load(target, weights_only=True)["state_dict"]["w"].tolist() == [0.0] * 4
