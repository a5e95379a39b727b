"""Fixtures of the serving tests: a tiny trained checkpoint, its export, a live server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def train_checkpoint(path: Path, data, batches: int, **model_options) -> Path:
    """Fit a model for ``batches`` steps on ``data`` and save a Lightning checkpoint."""
    import lightning as L

    from dmi_gnn import DMIGNN

    model = DMIGNN(num_items=data.num_items, **model_options)
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=batches,
        limit_val_batches=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=data)
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """DMI-GNN (d = 16, U = 3) after 3 steps on the synthetic data (1,000 items)."""
    from datamodules import SessionDataModule

    data = SessionDataModule(dataset="synthetic", batch_size=50, synthetic_num_train_sessions=600)
    path = tmp_path_factory.mktemp("serving") / "tiny.ckpt"
    return train_checkpoint(path, data, 3, embedding_dim=16, num_interests=3)


@pytest.fixture(scope="session")
def tiny_export(tiny_checkpoint, tmp_path_factory) -> Path:
    from dmi_gnn.serving.export import export

    output = tmp_path_factory.mktemp("exports") / "tiny"
    export(tiny_checkpoint, output)
    return output


class Server:
    """A ``dmi-gnn serve`` subprocess on a free localhost port."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "dmi_gnn", "serve", *args, "--port", "0"]
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"the server stopped: {self.process.stderr.read()}")
            self.lines.append(line)
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                return
        self.process.kill()
        raise RuntimeError("the server did not start within 180 s")

    def stop(self, timeout: float = 60) -> tuple[int, str]:
        """SIGTERM; returns the exit status and the rest of stdout."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return self.process.returncode, out


@pytest.fixture(scope="module")
def checkpoint_server(tiny_checkpoint):
    server = Server("--ckpt_path", str(tiny_checkpoint), "--max_session_items", "300")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def h11_server(tiny_checkpoint):
    """The checkpoint server on the pure-Python HTTP parser (the default is httptools when
    installed): both parsers must give the same statuses to bad requests."""
    server = Server(
        "--ckpt_path", str(tiny_checkpoint), "--max_session_items", "300", "--http", "h11"
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def export_server(tiny_export):
    server = Server("--export_dir", str(tiny_export), "--workers", "2")  # two passes at once
    yield server
    server.stop()
