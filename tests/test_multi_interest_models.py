"""MIND, ComiRec-SA, ComiRec-DR and Atten-Mixer as models: both training modes fit; the
``reference`` loss is the label-aware sampled softmax (checked against a naive loop), the
``aligned`` one full cross-entropy; popularity negatives count the fit split only; the model's
``max_session_length`` sizes the network."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from datamodules import SessionDataModule
from dmi_gnn.models import MODELS, load_model

TINY_DATA = {
    "synthetic_num_items": 60,
    "synthetic_num_train_sessions": 120,
    "synthetic_num_test_sessions": 20,
    "synthetic_max_session_length": 10,
    "batch_size": 16,
}
MULTI_INTEREST = ["MIND", "ComiRecSA", "ComiRecDR"]
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


def _batch(data: SessionDataModule):
    data.use_features(frozenset())
    data.setup("fit")
    return next(iter(data.train_dataloader()))


@torch.no_grad()
def _naive_reference_loss(net, batch, negatives: list[int]) -> float:
    """Label-aware interest then sampled softmax with uniform logQ, one example at a time."""
    interests = net.encode(batch)  # (B, K, d)
    table = net.embedding.weight
    num_items, count = net.num_items, len(negatives)
    log_q = math.log(count / num_items)
    total = 0.0
    for b, target in enumerate(batch.targets.tolist()):
        dots = [float(interests[b, k] @ table[target]) for k in range(interests.shape[1])]
        user = interests[b, dots.index(max(dots))]
        logits = [float(user @ table[target]) - log_q]
        for item in negatives:
            logits.append(-math.inf if item == target else float(user @ table[item]) - log_q)
        top = max(logits)
        total += -(logits[0] - top - math.log(sum(math.exp(x - top) for x in logits)))
    return total / len(batch.targets)


@pytest.mark.parametrize("name", MULTI_INTEREST)
def test_reference_loss_is_the_label_aware_sampled_softmax(name, monkeypatch):
    torch.manual_seed(0)
    data = SessionDataModule(**TINY_DATA)
    batch = _batch(data)
    model = MODELS[name](num_items=data.num_items, training="reference", **SMALL).eval()
    negatives = [3, 17, 17, 41, int(batch.targets[0])]  # a repeat and an accidental hit
    monkeypatch.setattr(model.net.sampled_softmax, "sample", lambda *args: torch.tensor(negatives))
    with torch.no_grad():
        parts = model.training_loss(batch)
        full = F.cross_entropy(model.scores(batch), batch.targets - 1)
    assert set(parts) == {"loss", "ce"}
    want = _naive_reference_loss(model.net, batch, negatives)
    assert float(parts["loss"]) == pytest.approx(want, rel=1e-5)
    assert abs(float(parts["loss"]) - float(full)) > 1e-3  # not the full cross-entropy


@pytest.mark.parametrize("name", MULTI_INTEREST)
def test_aligned_loss_is_full_cross_entropy_and_samples_nothing(name, monkeypatch):
    torch.manual_seed(0)
    data = SessionDataModule(**TINY_DATA)
    batch = _batch(data)
    model = MODELS[name](num_items=data.num_items, training="aligned", **SMALL).eval()
    assert not hasattr(model.net, "training_loss")

    def no_sampling(*args):
        raise AssertionError("aligned training drew negatives")

    monkeypatch.setattr(model.net.sampled_softmax, "sample", no_sampling)
    with torch.no_grad():
        loss = model.training_loss(batch)["loss"]
        want = F.cross_entropy(model.net(batch), batch.targets - 1)
    torch.testing.assert_close(loss, want)


@pytest.mark.parametrize("name", MULTI_INTEREST)
@pytest.mark.parametrize("training", ["reference", "aligned"])
def test_both_training_modes_fit_and_change_the_weights(name, training, tmp_path):
    L.seed_everything(1, verbose=False)
    data = SessionDataModule(**TINY_DATA)
    model = MODELS[name](num_items=data.num_items, training=training, **SMALL)
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    _trainer(tmp_path).fit(model, datamodule=data)
    after = model.net.state_dict()
    assert not torch.equal(before["embedding.weight"], after["embedding.weight"])
    assert model.hparams.training == training and model.net.training_mode == training


@pytest.mark.parametrize("name", MULTI_INTEREST)
def test_popularity_negatives_count_the_fit_split_only_and_survive_reload(name, tmp_path):
    L.seed_everything(2, verbose=False)
    data = SessionDataModule(**TINY_DATA)
    model = MODELS[name](num_items=data.num_items, negative_sampler="popularity", **SMALL)
    trainer = _trainer(tmp_path)
    trainer.fit(model, datamodule=data)
    want = np.bincount(data.fit_sessions.items, minlength=data.num_items + 1).astype(np.float32)
    want[0] = 0
    np.testing.assert_array_equal(model.net.item_counts.numpy(), want)
    val_clicks = data._ensure_loaded().val.flat
    assert len(val_clicks) > 0 and want.sum() == len(data.fit_sessions.items)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    restored = load_model(path)
    np.testing.assert_array_equal(restored.net.item_counts.numpy(), want)


def test_a_uniform_sampler_reads_no_fit_sessions(tmp_path, monkeypatch):
    data = SessionDataModule(**TINY_DATA)
    model = MODELS["MIND"](num_items=data.num_items, **SMALL)

    def refuse(self):
        raise AssertionError("a uniform sampler read the fit sessions")

    monkeypatch.setattr(SessionDataModule, "fit_sessions", property(refuse))
    _trainer(tmp_path).fit(model, datamodule=data)
    assert not model.net.item_counts.any()


def test_max_session_length_sizes_the_network():
    dr = MODELS["ComiRecDR"](num_items=30, embedding_dim=4, num_interests=2, max_session_length=7)
    sa = MODELS["ComiRecSA"](num_items=30, embedding_dim=4, num_interests=2, max_session_length=7)
    mind = MODELS["MIND"](num_items=30, embedding_dim=4, num_interests=2, max_session_length=7)
    assert dr.net.max_length == sa.net.max_length == mind.net.max_length == 7
    assert dr.net.routing.fixed_logits.shape == (7, 2)
    assert dr.hparams.lr == 5e-3 and sa.hparams.lr == mind.hparams.lr == 1e-3


def test_atten_mixer_trains_on_full_cross_entropy():
    torch.manual_seed(0)
    data = SessionDataModule(**TINY_DATA)
    batch = _batch(data)
    model = MODELS["AttenMixer"](
        num_items=data.num_items,
        embedding_dim=8,
        heads=2,
        levels=3,
        attention_semantics="reference",
    ).eval()
    assert model.net.semantics == "reference"
    with torch.no_grad():
        loss = model.training_loss(batch)["loss"]
        want = F.cross_entropy(model.net(batch), batch.targets - 1)
    torch.testing.assert_close(loss, want)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("MIND", {"training": "sampled"}, "training must be 'reference' or 'aligned'"),
        ("ComiRecSA", {"negative_sampler": "pop"}, "negative_sampler must be"),
        ("ComiRecDR", {"num_negatives": 0}, "num_negatives"),
        ("AttenMixer", {"attention_semantics": "paper"}, "semantics must be"),
        ("AttenMixer", {"embedding_dim": 10, "heads": 4}, "not divisible by heads"),
    ],
)
def test_bad_options_are_named(name, options, message):
    with pytest.raises(ValueError, match=message):
        MODELS[name](num_items=20, **options)
