"""The ``repeat`` option of the neural models (issue 14 §1): DMI-GNN and GCE-GNN fit, reload
and recommend the same with each layer; ``none`` is the model without the option; the bonus
starts as the identity; the scores are the layer's output everywhere (training CE, evaluation,
``recommend``); the serving adapter refuses a repeat model; the overlays switch it on."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from datamodules import SessionDataModule
from datamodules.batching import collate_sessions
from dmi_gnn.errors import CheckpointError, HyperparameterError
from dmi_gnn.models import MODELS, load_model
from dmi_gnn.nn import RepeatBonus, RepeatMixture

ROOT = Path(__file__).resolve().parents[1]
TINY_DATA = {
    "synthetic_num_items": 120,
    "synthetic_num_train_sessions": 300,
    "synthetic_num_test_sessions": 40,
    "synthetic_max_session_length": 12,
    "batch_size": 32,
}
SMALL = {"DMIGNN": {"embedding_dim": 8, "num_interests": 2}, "GCEGNN": {"embedding_dim": 8}}
# Sessions with repeats (time order, model ids), and their next items.
SESSIONS = [[1, 2, 3, 2], [7], [5, 9, 11, 5, 9], [4, 4, 4]]
TARGETS = [2, 8, 5, 4]
LAYERS = {"bonus": RepeatBonus, "mixture": RepeatMixture}


def _trainer(root: Path, **options) -> L.Trainer:
    defaults = {
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(root),
    }
    return L.Trainer(**{**defaults, **options})


def _model(name: str, data: SessionDataModule, seed: int = 3, **options):
    L.seed_everything(seed, verbose=False)
    return MODELS[name](num_items=data.num_items, **SMALL[name], **options)


def _same(first, second) -> bool:
    """Equal state-dict entries (tensors bit for bit; the extra state, a dict, by value)."""
    if isinstance(first, torch.Tensor):
        return torch.equal(first, second)
    if isinstance(first, dict):
        return first.keys() == second.keys() and all(_same(first[k], second[k]) for k in first)
    return first == second


def _batch(model):
    batch = collate_sessions(
        SESSIONS,
        targets=TARGETS,
        max_len=model.hparams.max_session_length,
        with_session_graph=model.uses_session_graph,
    )
    return batch.to_device(model.device)


@pytest.fixture(scope="module")
def data():
    data = SessionDataModule(**TINY_DATA)
    data.setup("fit")
    return data


@pytest.mark.parametrize("name", ["DMIGNN", "GCEGNN"])
@pytest.mark.parametrize("repeat", ["bonus", "mixture"])
def test_fit_checkpoint_reload_recommends_the_same(name, repeat, data, tmp_path):
    model = _model(name, data, repeat=repeat)
    assert isinstance(model.repeat_layer, LAYERS[repeat])
    trainer = _trainer(tmp_path, fast_dev_run=True)
    trainer.fit(model, datamodule=data)
    before = model.recommend(SESSIONS, k=7)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    state = torch.load(path, weights_only=True)["state_dict"]
    layer_keys = {key for key in state if key.startswith("repeat_layer.")}
    assert layer_keys == {f"repeat_layer.{key}" for key in model.repeat_layer.state_dict()}
    restored = load_model(path)
    assert type(restored) is MODELS[name] and restored.hparams.repeat == repeat
    assert isinstance(restored.repeat_layer, LAYERS[repeat])
    for key, value in restored.repeat_layer.state_dict().items():
        torch.testing.assert_close(value, state[f"repeat_layer.{key}"], rtol=0, atol=0)
    after = restored.recommend(SESSIONS, k=7)
    for was, now in zip(before, after, strict=True):
        assert now.items == was.items and now.error is None and len(now.items) == 7
        np.testing.assert_array_equal(now.scores, was.scores)


@pytest.mark.parametrize("name", ["DMIGNN", "GCEGNN"])
def test_none_is_the_model_without_the_option(name, data):
    plain, none = _model(name, data), _model(name, data, repeat="none")
    assert none.repeat_layer is None and plain.repeat_layer is None
    plain_state, none_state = plain.state_dict(), none.state_dict()
    assert list(none_state) == list(plain_state)
    assert not any("repeat" in key for key in none_state)
    for key, value in plain_state.items():
        assert _same(none_state[key], value), key
    for model in (plain, none):
        model.set_global_graph(data.global_graph)
        model.eval()
    batch = _batch(plain)
    with torch.no_grad():
        assert torch.equal(none.scores(batch), plain.scores(batch))
        assert torch.equal(plain.scores(batch), _net_scores(plain, batch))


@pytest.mark.parametrize("name", ["DMIGNN", "GCEGNN"])
@pytest.mark.parametrize("repeat", ["bonus", "mixture"])
def test_switching_on_leaves_the_network_initialisation_alone(name, repeat, data):
    plain, switched = _model(name, data), _model(name, data, repeat=repeat)
    for key, value in plain.state_dict().items():
        assert _same(switched.state_dict()[key], value), key
    extra = set(switched.state_dict()) - set(plain.state_dict())
    assert extra and all(key.startswith("repeat_layer.") for key in extra)


@pytest.mark.parametrize("name", ["DMIGNN", "GCEGNN"])
def test_the_bonus_starts_as_the_identity(name, data):
    plain, bonus = _model(name, data), _model(name, data, repeat="bonus")
    for model in (plain, bonus):
        model.set_global_graph(data.global_graph)
        model.eval()
    batch = _batch(plain)
    with torch.no_grad():
        assert torch.equal(bonus.scores(batch), plain.scores(batch))
        assert bonus.recommend(SESSIONS, k=5) == plain.recommend(SESSIONS, k=5)


def _net_scores(model, batch):
    output = model.net(batch)
    return output if isinstance(output, torch.Tensor) else output.scores


@pytest.mark.parametrize("name", ["DMIGNN", "GCEGNN"])
def test_bonus_scores_are_the_layers_logits_everywhere(name, data, tmp_path):
    model = _model(name, data, repeat="bonus")
    _trainer(tmp_path, fast_dev_run=True).fit(model, datamodule=data)
    model.eval()
    batch = _batch(model)
    with torch.no_grad():
        logits = _net_scores(model, batch)
        expected = model.repeat_layer(logits, batch.items, batch.mask)
        scores = model.scores(batch)
        assert torch.equal(scores, expected)
        assert not torch.equal(scores, logits)  # one step trained the bonus's output layer
        # Only the prefix's items move.
        moved = (scores != logits).nonzero().tolist()
        for row, column in moved:
            assert column + 1 in SESSIONS[row]
        loss = model.training_loss(batch)["ce"]
        torch.testing.assert_close(loss, F.cross_entropy(expected, batch.targets - 1))
        ids, top = model.top_k_items(batch, 5)
        torch.testing.assert_close(top, expected.topk(5, dim=1).values)
        torch.testing.assert_close(ids, expected.topk(5, dim=1).indices + 1)


@pytest.mark.parametrize("name", ["DMIGNN", "GCEGNN"])
def test_mixture_scores_are_log_probabilities_and_ce_is_their_nll(name, data):
    model = _model(name, data, repeat="mixture", repeat_prior=0.45, repeat_explore="unseen")
    assert model.repeat_layer.explore == "unseen" and model.repeat_layer.repeat_prior == 0.45
    model.set_global_graph(data.global_graph)
    model.eval()
    batch = _batch(model)
    with torch.no_grad():
        scores = model.scores(batch)
        torch.testing.assert_close(scores.logsumexp(1), torch.zeros(len(SESSIONS)))
        nll = -scores[torch.arange(len(TARGETS)), batch.targets - 1].mean()
        torch.testing.assert_close(model.training_loss(batch)["ce"], nll)
        # Initial p_r = 0.45: the unseen items share 0.55 of the mass, the prefix's 0.45.
        for row, session in enumerate(SESSIONS):
            inside = torch.tensor(sorted(set(session))) - 1
            torch.testing.assert_close(scores[row, inside].exp().sum(), torch.tensor(0.45))


def test_a_network_with_its_own_training_loss_refuses_a_repeat_layer(data):
    model = _model("GCEGNN", data, repeat="bonus")
    model.net.training_loss = lambda batch: torch.zeros(())
    with pytest.raises(ValueError, match=r"repeat='bonus'.*own training_loss"):
        model.training_loss(_batch(model))


def test_a_bad_repeat_option_is_named(data):
    with pytest.raises(HyperparameterError, match="repeat"):
        _model("DMIGNN", data, repeat="both")
    with pytest.raises(HyperparameterError, match="repeat_positions"):
        _model("GCEGNN", data, repeat="bonus", repeat_positions=0)


def test_the_serving_adapter_refuses_a_repeat_model(data, tmp_path):
    from dmi_gnn.serving.adapter import load_model as load_servable

    model = _model("DMIGNN", data, repeat="bonus")
    trainer = _trainer(tmp_path, fast_dev_run=True)
    trainer.fit(model, datamodule=data)
    path = tmp_path / "bonus.ckpt"
    trainer.save_checkpoint(path)
    with pytest.raises(CheckpointError, match="repeat='bonus' cannot be served or exported"):
        load_servable(str(path))


@pytest.mark.parametrize("repeat", ["bonus", "mixture"])
def test_the_overlays_switch_the_layer_on_over_tmall(repeat, capsys):
    from dmi_gnn.cli import main

    overlay = ROOT / "experiments" / "ablations" / f"repeat_{repeat}.yaml"
    assert yaml.safe_load(overlay.read_text())["model"]["repeat"] == repeat
    argv = ["fit", "--config", str(ROOT / "experiments" / "tmall.yaml")]
    with pytest.raises(SystemExit) as done:
        main([*argv, "--config", str(overlay), "--print_config"])
    assert done.value.code == 0
    model = yaml.safe_load(capsys.readouterr().out)["model"]
    assert model["repeat"] == repeat and model["semantics"] == "reference"
    assert model["num_interests"] == 5  # the Tmall preset is kept
    with pytest.raises(SystemExit):
        main([*argv, "--print_config"])
    assert yaml.safe_load(capsys.readouterr().out)["model"]["repeat"] == "none"
