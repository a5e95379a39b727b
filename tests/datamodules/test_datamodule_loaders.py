"""Dataloaders: seeded shuffling, whole-batch construction, eval order, and a Lightning run."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from datamodules import SessionBatch, SessionDataModule
from datamodules.batching import collate_sessions

SMALL = {"synthetic_num_train_sessions": 300, "synthetic_num_test_sessions": 50}


@pytest.fixture
def make(tmp_path):
    def build(**options):
        data = SessionDataModule(cache_dir=str(tmp_path / "cache"), **{**SMALL, **options})
        data.setup("fit")
        return data

    return build


def _targets(loader):
    return torch.cat([batch.targets for batch in loader]).tolist()


def test_train_order_is_shuffled_reproducibly_and_covers_every_sample(make):
    first, same, other = make(seed=1), make(seed=1), make(seed=2)
    epoch = _targets(first.train_dataloader())
    assert epoch == _targets(same.train_dataloader())
    assert epoch != _targets(other.train_dataloader())
    assert epoch != first.train_dataset.targets.tolist()  # shuffled
    assert sorted(epoch) == sorted(first.train_dataset.targets.tolist())
    loader = first.train_dataloader()
    loader.sampler.set_epoch(1)  # Lightning does this before every epoch
    second = _targets(loader)
    assert second != epoch  # a new order each epoch ...
    assert sorted(second) == sorted(epoch)
    loader.sampler.set_epoch(0)
    assert _targets(loader) == epoch  # ... that depends on (seed, epoch) only (resumable)


def test_eval_loaders_keep_file_order_and_their_batch_size(make):
    data = make(batch_size=32, eval_batch_size=50)
    val_batches = list(data.val_dataloader())
    assert [b.batch_size for b in val_batches[:-1]] == [50] * (len(val_batches) - 1)
    assert _targets(data.val_dataloader()) == data.val_dataset.targets.tolist()
    assert _targets(data.test_dataloader()) == data.test_dataset.targets.tolist()
    assert next(iter(data.train_dataloader())).batch_size == 32


def test_batches_equal_collating_the_same_prefixes(make):
    data = make(max_len=5)
    batch = next(iter(data.test_dataloader()))
    dataset = data.test_dataset
    prefixes = [
        dataset.flat[s : s + n].tolist()
        for s, n in zip(dataset.starts[:100].tolist(), dataset.lengths[:100].tolist(), strict=True)
    ]
    expected = collate_sessions(prefixes, dataset.targets[:100].tolist(), max_len=5)
    assert isinstance(batch, SessionBatch)
    for got, want in zip(batch, expected, strict=True):
        assert torch.equal(got, want)
    assert batch.max_length == min(5, max(len(p) for p in prefixes))


def test_worker_processes_give_the_same_batches(make):
    data = make(num_workers=1)
    assert _targets(data.test_dataloader()) == data.test_dataset.targets.tolist()


class _MeanEmbedding(L.LightningModule):
    """A tiny session model: the mean item embedding scored against all items."""

    def __init__(self, num_items: int) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(num_items + 1, 8)
        self.seen: dict[str, int] = {"train": 0, "val": 0}

    def _loss(self, batch: SessionBatch) -> torch.Tensor:
        session = (self.embedding(batch.items) * batch.mask[..., None]).sum(1)
        scores = session / batch.lengths[:, None] @ self.embedding.weight[1:].T
        return torch.nn.functional.cross_entropy(scores, batch.targets - 1)

    def training_step(self, batch: SessionBatch, index: int) -> torch.Tensor:
        self.seen["train"] += batch.batch_size
        return self._loss(batch)

    def validation_step(self, batch: SessionBatch, index: int) -> None:
        self.seen["val"] += batch.batch_size
        self.log("val_loss", self._loss(batch), batch_size=batch.batch_size)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=0.01)


@pytest.mark.parametrize("protocol", ["validation", "paper"])
def test_a_lightning_epoch(tmp_path, protocol):
    data = SessionDataModule(cache_dir=str(tmp_path), protocol=protocol, **SMALL)
    model = _MeanEmbedding(data.num_items)  # available before setup, for argument linking
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, data)
    assert model.seen["train"] == len(data.train_dataset)
    evaluated = data.val_dataset if protocol == "validation" else data.test_dataset
    assert model.seen["val"] == len(evaluated) > 0
    assert np.isfinite(trainer.callback_metrics["val_loss"].item())
