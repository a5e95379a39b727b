"""MGIR as a model: its relation graphs are the fit split's (no validation pair in them) and
live in the checkpoint; both GNN-weight modes fit; bad graph options are named."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from datamodules import SessionDataModule
from datamodules.relation_graphs import build_relation_graphs, ordered_pair_counts
from datamodules.sources import load_sessions
from dmi_gnn.models import MODELS, load_model
from dmi_gnn.nn.networks.mgir import RELATIONS

TINY_DATA = {
    "synthetic_num_items": 60,
    "synthetic_num_train_sessions": 150,
    "synthetic_num_test_sessions": 20,
    "synthetic_max_session_length": 10,
    "batch_size": 16,
}
#: Every pair of the fit sessions is an edge (sequential or co-occurrence).
ALL_PAIRS = {"embedding_dim": 8, "min_frequency": 0, "cold_ratio": 0.0}


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


def _installed(net) -> dict[str, set[tuple[int, int]]]:
    """The edges of each relation graph held in the network's buffers."""
    return {
        name: set(map(tuple, getattr(net, f"{name}_indices").t().tolist())) for name in RELATIONS
    }


def _edges(graphs) -> dict[str, set[tuple[int, int]]]:
    out = {}
    for name, matrix in graphs.as_dict().items():
        coo = matrix.tocoo()
        out[name] = set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))
    return out


def _related(edges: dict[str, set[tuple[int, int]]]) -> set[tuple[int, int]]:
    """Unordered pairs joined by a sequential or co-occurrence edge."""
    pairs = edges["sequential"] | edges["cooccurrence"]
    return pairs | {(b, a) for a, b in pairs}


def test_relation_graphs_come_from_the_fit_split_only(tmp_path):
    L.seed_everything(4, verbose=False)
    data = SessionDataModule(**TINY_DATA)
    model = MODELS["MGIR"](num_items=data.num_items, **ALL_PAIRS)
    _trainer(tmp_path).fit(model, datamodule=data)
    n, fit = data.num_items, data.fit_sessions
    options = {"min_frequency": 0, "cold_ratio": 0.0, "min_prefix_length": data.min_prefix_length}
    assert _installed(model.net) == _edges(build_relation_graphs(fit, n, **options))

    fit_pairs = ordered_pair_counts(fit, n)
    fit_pairs = fit_pairs + fit_pairs.T
    val = data._ensure_loaded().val
    held_out = {
        (int(val.prefix(i)[-1]), int(val.targets[i]))
        for i in range(len(val))
        if fit_pairs[int(val.prefix(i)[-1]), int(val.targets[i])] == 0
    }
    held_out = {(a, b) for a, b in held_out if a != b}
    assert held_out, "no validation pair is absent from the fit split: the test would be empty"
    assert not held_out & _related(_installed(model.net))
    # Control: graphs built from every train session (validation included) do hold them.
    raw = load_sessions(data.info, data.data_dir, False, data.synthetic_config)
    leaky = build_relation_graphs(raw.train_sessions.to_lists(), n, **options)
    assert held_out <= _related(_edges(leaky))


def test_relation_graphs_live_in_the_checkpoint(tmp_path):
    L.seed_everything(5, verbose=False)
    data = SessionDataModule(**TINY_DATA)
    model = MODELS["MGIR"](num_items=data.num_items, **ALL_PAIRS)
    trainer = _trainer(tmp_path)
    trainer.fit(model, datamodule=data)
    assert all(getattr(model.net, f"{r}_weights").numel() > 0 for r in RELATIONS)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    restored = load_model(path).eval()
    for name, tensor in model.net.state_dict().items():
        torch.testing.assert_close(restored.net.state_dict()[name], tensor, msg=name)
    for part in ("crow", "col", "values"):  # the normalised operators are rebuilt on load
        name = f"_sequential_in_{part}"
        torch.testing.assert_close(getattr(restored.net, name), getattr(model.net, name))
    sessions = [[1, 2, 3], [4, 4, 5, 6]]
    want = model.eval().recommend(sessions, k=5)
    got = restored.recommend(sessions, k=5)
    assert [r.items for r in got] == [r.items for r in want]


@pytest.mark.parametrize("gnn_weights", ["trained", "reference"])
def test_both_gnn_weight_modes_fit(gnn_weights, tmp_path):
    L.seed_everything(6, verbose=False)
    data = SessionDataModule(**TINY_DATA)
    model = MODELS["MGIR"](num_items=data.num_items, gnn_weights=gnn_weights, **ALL_PAIRS)
    trainable = {name for name, p in model.net.named_parameters() if p.requires_grad}
    gnn = {name for name, _ in model.net.named_parameters() if "_layers." in name}
    assert gnn and (gnn <= trainable) == (gnn_weights == "trained")
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    _trainer(tmp_path).fit(model, datamodule=data)
    after = model.net.state_dict()
    assert not torch.equal(before["embedding.weight"], after["embedding.weight"])
    assert model.net.gnn_weights == gnn_weights


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("min_frequency", -1),
        ("cold_ratio", 1.5),
        ("seq_ratio", float("nan")),
        ("graph_counting", "clicks"),
        ("gnn_weights", "fixed"),
    ],
)
def test_bad_options_are_named(option, value):
    with pytest.raises(ValueError, match=option):
        MODELS["MGIR"](num_items=10, **{option: value})


def test_graphs_over_another_catalogue_are_refused():
    model = MODELS["MGIR"](num_items=10, embedding_dim=4)
    graphs = build_relation_graphs([[1, 2, 3]], 12, min_frequency=0)
    with pytest.raises(ValueError, match="num_items=10"):
        model.set_relation_graphs(graphs)


def test_graph_counting_sessions_counts_each_fit_session_once(tmp_path):
    data = SessionDataModule(**TINY_DATA)
    model = MODELS["MGIR"](num_items=data.num_items, graph_counting="sessions", **ALL_PAIRS)
    _trainer(tmp_path).fit(model, datamodule=data)
    want = build_relation_graphs(
        data.fit_sessions, data.num_items, min_frequency=0, cold_ratio=0.0, counting="sessions"
    )
    assert _installed(model.net) == _edges(want)
    weights = np.sort(model.net.cooccurrence_weights.numpy())
    np.testing.assert_allclose(weights, np.sort(want.cooccurrence.tocoo().data))


def test_the_step_benchmark_times_both_models(capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
    import benchmark_mgir

    result = benchmark_mgir.main(["--dataset", "synthetic", "--steps", "2", "--rounds", "2"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result
    assert result["steps"] == 2 and set(result) >= {"MGIR", "GCEGNN", "step_ratio"}
    assert result["MGIR"]["batches_per_epoch"] == result["GCEGNN"]["batches_per_epoch"] > 0
    assert result["step_ratio"] == round(result["MGIR"]["step_s"] / result["GCEGNN"]["step_s"], 3)
