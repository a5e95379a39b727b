"""``loss="sampled"`` on DMI-GNN: the loss equals a naive per-example computation (max over
interests, logQ, accidental hits) for every sampler; a fit works and keeps the fit split's
counts; ``loss="full"`` is unchanged; bad options are named."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from datamodules import SessionDataModule
from dmi_gnn import DMIGNN
from dmi_gnn.errors import HyperparameterError

TINY_DATA = {
    "synthetic_num_items": 60,
    "synthetic_num_train_sessions": 120,
    "synthetic_num_test_sessions": 20,
    "synthetic_max_session_length": 10,
    "batch_size": 16,
}
SMALL = {"embedding_dim": 8, "num_interests": 3, "max_session_length": 10}


def _trainer(root: Path) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=str(root),
        fast_dev_run=True,
    )


def _model_and_batch(**options):
    L.seed_everything(3, verbose=False)
    data = SessionDataModule(**TINY_DATA)
    model = DMIGNN(num_items=data.num_items, **SMALL, **options)
    data.use_features(type(model).FEATURES)
    data.setup("fit")
    model.adopt_data(data)
    return model.eval(), next(iter(data.train_dataloader())), data


@torch.no_grad()
def _naive(model, batch, negatives: list[int], log_q) -> float:
    """One example at a time: o_j = max_u s_u.x_j - log(S Q(j)), hits masked, CE on o_t."""
    net = model.net
    interests, _ = net.extract_interests(net.encode(batch), batch)
    table = net.candidate_embeddings()
    total = 0.0
    for b, target in enumerate(batch.targets.tolist()):

        def logit(item, b=b):
            best = max(float(interests[b, u] @ table[item - 1]) for u in range(3))
            return best - log_q(item)

        logits = [logit(target)]
        logits += [-math.inf if j == target else logit(j) for j in negatives]
        top = max(logits)
        total += -(logits[0] - top - math.log(sum(math.exp(x - top) for x in logits)))
    return total / len(batch.targets)


@pytest.mark.parametrize("sampler", ["uniform", "popularity", "in_batch"])
def test_sampled_loss_equals_a_naive_computation(sampler, monkeypatch):
    model, batch, _ = _model_and_batch(loss="sampled", sampler=sampler, num_negatives=7)
    num_items = model.hparams.num_items
    drawn = torch.tensor([1, 5, 5, int(batch.targets[0]), 60, 17, 2])
    monkeypatch.setattr(torch, "randint", lambda *a, **k: drawn.clone())
    monkeypatch.setattr(torch, "multinomial", lambda *a, **k: drawn.clone() - 1)
    negatives = batch.targets.tolist() if sampler == "in_batch" else drawn.tolist()
    count = len(negatives)
    if sampler == "uniform":
        log_q = lambda item: math.log(count / num_items)  # noqa: E731
    else:
        clicks = model.negative_counts[1:].double() + 1
        log_q = lambda item: math.log(count * float(clicks[item - 1] / clicks.sum()))  # noqa: E731
    with torch.no_grad():
        parts = model.training_loss(batch)
    want = _naive(model, batch, negatives, log_q)
    assert float(parts["ce"]) == pytest.approx(want, rel=1e-5)
    assert set(parts) == {"loss", "ce", "regularizer"}
    assert float(parts["loss"]) == pytest.approx(want + float(parts["regularizer"]), rel=1e-5)


def test_full_loss_is_the_cross_entropy_of_every_item():
    model, batch, _ = _model_and_batch()
    with torch.no_grad():
        parts = model.training_loss(batch)
        want = F.cross_entropy(model.net(batch).scores, batch.targets - 1)
    assert model.loss_mode == "full" and not hasattr(model, "negative_counts")
    assert float(parts["ce"]) == pytest.approx(float(want), rel=1e-6)


def test_a_sampled_fit_changes_the_weights_and_keeps_the_fit_counts(tmp_path):
    L.seed_everything(4, verbose=False)
    data = SessionDataModule(**TINY_DATA)
    model = DMIGNN(num_items=data.num_items, loss="sampled", sampler="popularity", **SMALL)
    before = model.net.embedding.weight.detach().clone()
    trainer = _trainer(tmp_path)
    trainer.fit(model, datamodule=data)
    assert not torch.equal(before, model.net.embedding.weight.detach())
    want = np.bincount(data.fit_sessions.items, minlength=data.num_items + 1).astype(np.float32)
    want[0] = 0
    np.testing.assert_array_equal(model.negative_counts.numpy(), want)
    assert model.hparams.loss == "sampled" and model.hparams.sampler == "popularity"


def test_candidate_rows_equal_the_table_rows():
    model, _, _ = _model_and_batch(loss="sampled")
    ids = torch.tensor([1, 7, 60, 7])
    with torch.no_grad():
        torch.testing.assert_close(
            model.candidate_rows(ids), model.net.candidate_embeddings()[ids - 1]
        )


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"loss": "partial"}, "loss"),
        ({"sampler": "log_uniform"}, "sampler"),
        ({"num_negatives": 0}, "num_negatives"),
    ],
)
def test_bad_options_are_named(options, name):
    with pytest.raises(HyperparameterError, match=name):
        DMIGNN(num_items=10, **options)


def test_popularity_without_fit_counts_says_so():
    model = DMIGNN(num_items=60, loss="sampled", sampler="popularity", **SMALL)
    with pytest.raises(ValueError, match="fit split's click counts"):
        model.proposal()


def _one_step(sparse: bool, batch, seed: int = 5) -> tuple[DMIGNN, torch.Tensor | None]:
    torch.manual_seed(seed)
    options = {"loss": "sampled", "weight_decay": 0.0, "dropout_global": 0.0}
    model = DMIGNN(num_items=60, sparse_gradients=sparse, **SMALL, **options).train()
    optimizer = model.build_optimizer(list(model.parameters()))
    torch.manual_seed(seed + 1)  # the same negatives for both
    model.training_loss(batch)["loss"].backward()
    grad = model.net.embedding.weight.grad
    optimizer.step()
    return model, grad


def test_sparse_gradients_give_dense_adams_first_step_and_a_row_sparse_gradient():
    _, batch, _ = _model_and_batch()
    sparse, grad = _one_step(True, batch)
    dense, dense_grad = _one_step(False, batch)
    assert grad.is_sparse and not dense_grad.is_sparse
    touched = grad.coalesce().indices()[0].unique()
    assert 0 < touched.numel() < 61  # a step reads some rows, not the table
    torch.testing.assert_close(grad.to_dense(), dense_grad)
    # Adam's first step moves a zero-gradient row by 0 (weight decay 0): the same weights
    for (name, a), (_, b) in zip(sparse.named_parameters(), dense.named_parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_a_sparse_fit_trains_and_full_softmax_refuses_sparse_gradients(tmp_path):
    data = SessionDataModule(**TINY_DATA)
    model = DMIGNN(num_items=data.num_items, loss="sampled", sparse_gradients=True, **SMALL)
    before = model.net.embedding.weight.detach().clone()
    _trainer(tmp_path).fit(model, datamodule=data)
    assert type(model.trainer.optimizers[0]).__name__ == "LazyAdam"
    assert not torch.equal(before, model.net.embedding.weight.detach())
    with pytest.raises(ValueError, match="sparse_gradients=True needs loss='sampled'"):
        DMIGNN(num_items=10, sparse_gradients=True)
