"""The model family: every registered model fits, checkpoints, reloads and recommends the same;
every config parses and the per-dataset files equal their composition; batches and caches carry
only the features a model declares; a non-parametric index sees only the fit sessions."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import yaml

from datamodules import SessionDataModule
from datamodules.batch import GLOBAL_GRAPH, KNOWN_FEATURES, SESSION_GRAPH
from dmi_gnn.cli_models import choose_model
from dmi_gnn.models import MODELS, REGISTRY, load_model
from dmi_gnn.nonparametric_recommender import NonparametricRecommender
from dmi_gnn.recommender import MODEL_CLASS_KEY, SessionRecommender
from tests.small_models import SMALL_OPTIONS

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
TINY_DATA = {
    "synthetic_num_items": 120,
    "synthetic_num_train_sessions": 300,
    "synthetic_num_test_sessions": 40,
    "synthetic_max_session_length": 12,
    "batch_size": 32,
}
#: Small options per model so a fit takes a fraction of a second (others: their defaults).
SESSIONS = [[1, 2, 3, 2], [7], [5, 9, 11, 5, 9]]


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


@pytest.mark.parametrize("name", list(REGISTRY))
def test_fit_checkpoint_reload_recommends_the_same(name, tmp_path):
    L.seed_everything(3, verbose=False)
    data = SessionDataModule(**TINY_DATA)
    model = MODELS[name](num_items=data.num_items, **SMALL_OPTIONS.get(name, {}))
    trainer = _trainer(tmp_path, fast_dev_run=True)
    trainer.fit(model, datamodule=data)
    before = model.recommend(SESSIONS, k=7)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    assert torch.load(path, weights_only=True)[MODEL_CLASS_KEY] == REGISTRY[name]
    restored = load_model(path)
    assert type(restored) is MODELS[name]
    after = restored.recommend(SESSIONS, k=7)
    for was, now in zip(before, after, strict=True):
        assert now.items == was.items and now.error is None and len(now.items) == 7
        np.testing.assert_allclose(now.scores, was.scores, rtol=1e-5, atol=1e-6)


def test_registry_names_subclasses_with_known_features():
    for name, cls in MODELS.items():
        assert issubclass(cls, SessionRecommender), name
        assert cls.FEATURES <= KNOWN_FEATURES, name


def test_batches_and_cache_carry_only_the_declared_features(tmp_path):
    data = SessionDataModule(cache_dir=str(tmp_path), **TINY_DATA)
    data.use_features(frozenset())
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch.nodes is None and batch.adjacency is None and batch.items.shape[0] == 32
    (cache,) = tmp_path.glob("*.npz")
    assert not any(name.startswith("graph_") for name in np.load(cache).files)
    graphed = SessionDataModule(cache_dir=str(tmp_path), **TINY_DATA)
    graphed.use_features({SESSION_GRAPH, GLOBAL_GRAPH})
    graphed.setup("fit")
    assert next(iter(graphed.train_dataloader())).adjacency is not None
    assert graphed.global_graph.neighbors.shape == (121, 12)  # built on demand, then cached
    assert any(name.startswith("graph_") for name in np.load(cache).files)
    assert graphed.dataset_hash == data.dataset_hash  # the same content either way
    with pytest.raises(ValueError, match="unknown batch feature"):
        data.use_features({"sesion_graph"})


@pytest.mark.parametrize(
    "name", [n for n, cls in MODELS.items() if issubclass(cls, NonparametricRecommender)]
)
def test_a_nonparametric_index_holds_no_validation_or_test_session(name, tmp_path, monkeypatch):
    data = SessionDataModule(**TINY_DATA)
    seen = []
    cls = MODELS[name]
    original = cls.build_index
    monkeypatch.setattr(cls, "build_index", lambda self, s: seen.append(s) or original(self, s))
    model = cls(num_items=data.num_items)
    _trainer(tmp_path, fast_dev_run=True).fit(model, datamodule=data)
    (sessions,) = seen
    fit = data.fit_sessions
    assert np.array_equal(sessions.items, fit.items)
    assert np.array_equal(sessions.offsets, fit.offsets)
    counts = data.counts
    assert len(sessions) == counts["fit_sessions"] and counts["val_sessions"] > 0
    val_clicks = data._ensure_loaded().val.flat
    assert len(sessions.items) + len(val_clicks) == sum(len(s) for s in _all_train(data))


def _all_train(data: SessionDataModule) -> list[list[int]]:
    from datamodules.sources import load_sessions

    raw = load_sessions(data.info, data.data_dir, False, data.synthetic_config)
    return raw.train_sessions.to_lists()


def test_pop_counts_exactly_the_fit_clicks(tmp_path):
    data = SessionDataModule(**TINY_DATA)
    model = MODELS["Pop"](num_items=data.num_items)
    _trainer(tmp_path, fast_dev_run=True).fit(model, datamodule=data)
    want = np.bincount(data.fit_sessions.items, minlength=data.num_items + 1)[1:]
    assert np.array_equal(model.clicks.numpy(), want)
    assert not any(p.requires_grad for p in model.parameters())


# ------------------------------------------------------------------------------------ configs
def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _composed(paths: list[Path]) -> tuple[str, dict]:
    """The model and the merged, flattened config of ``--config`` files, as the CLI sees them."""
    argv = [arg for path in paths for arg in ("--config", str(path))]
    choice = choose_model(argv)
    merged: dict = {}
    for value in choice.argv[1::2]:
        # A flattened config is YAML text, maybe longer than a file name may be.
        text = value if "\n" in value else Path(value).read_text()
        loaded = yaml.safe_load(text)
        merged = _merge(merged, loaded)
    return choice.name, merged


@pytest.mark.parametrize("dataset", ["tmall", "diginetica", "nowplaying", "retailrocket", "lastfm"])
def test_each_dataset_config_equals_its_composition(dataset):
    parts = [
        EXPERIMENTS / "data" / f"{dataset}.yaml",
        EXPERIMENTS / "models" / "dmignn.yaml",
        EXPERIMENTS / "presets" / "dmignn" / f"{dataset}.yaml",
    ]
    name, composed = _composed(parts)
    assert name == "DMIGNN"
    assert composed == yaml.safe_load((EXPERIMENTS / f"{dataset}.yaml").read_text())


def _compositions() -> list[list[Path]]:
    out = []
    for preset in sorted((EXPERIMENTS / "presets").glob("*/*.yaml")):
        model, dataset = preset.parent.name, preset.stem
        out.append(
            [
                EXPERIMENTS / "data" / f"{dataset}.yaml",
                EXPERIMENTS / "models" / f"{model}.yaml",
                preset,
            ]
        )
    return out


@pytest.mark.parametrize("parts", _compositions(), ids=lambda p: f"{p[2].parent.name}-{p[2].stem}")
def test_every_composition_names_a_registered_model_and_existing_files(parts):
    assert all(path.is_file() for path in parts), parts
    name, composed = _composed(parts)
    assert REGISTRY[name].rsplit(".", 1)[-1].lower() == parts[2].parent.name
    assert Path(composed["data"]["dataset"]).name == parts[2].stem


@pytest.mark.slow
@pytest.mark.parametrize("parts", _compositions(), ids=lambda p: f"{p[2].parent.name}-{p[2].stem}")
def test_every_composition_parses(parts, capsys):
    from dmi_gnn.cli import main

    argv = [arg for path in parts for arg in ("--config", str(path))]
    with pytest.raises(SystemExit) as done:
        main(["fit", *argv, "--print_config"])
    assert done.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert Path(printed["data"]["dataset"]).name == parts[2].stem


def test_tmall_config_and_its_composition_print_the_same_config(capsys):
    from dmi_gnn.cli import main

    def printed(argv: list[str]) -> dict:
        with pytest.raises(SystemExit):
            main(["fit", *argv, "--print_config"])
        return yaml.safe_load(capsys.readouterr().out)

    parts = ["data/tmall.yaml", "models/dmignn.yaml", "presets/dmignn/tmall.yaml"]
    composed = printed([a for p in parts for a in ("--config", str(EXPERIMENTS / p))])
    assert composed == printed(["--config", str(EXPERIMENTS / "tmall.yaml")])


#: The synthetic task of the "learns" test: 200 items, multi-interest sessions with repeats.
LEARN_DATA = {
    "synthetic_num_items": 200,
    "synthetic_num_train_sessions": 1500,
    "synthetic_num_test_sessions": 200,
    "synthetic_max_session_length": 15,
    "batch_size": 64,
    "val_fraction": 0,
}
#: Options for a short fit (a higher learning rate than the published 1e-3 for 3 small epochs).
LEARNING_MODELS = ["DMIGNN", "GCEGNN", "SRGNN", "NARM", "GRU4Rec", "FPMC", "MIND"]
LEARNING_MODELS += ["ComiRecSA", "ComiRecDR", "AttenMixer", "MGIR"]
LEARN_OPTIONS: dict[str, dict] = {
    name: {**SMALL_OPTIONS.get(name, {"embedding_dim": 16}), "lr": 0.01} for name in LEARNING_MODELS
}
#: Absolute HR@20 margin over Pop that every learning model must clear.
MARGIN = 0.05


def _test_hr(model, data, root: Path, epochs: int) -> float:
    trainer = _trainer(root, max_epochs=epochs, enable_checkpointing=False)
    trainer.fit(model, datamodule=data)
    return trainer.test(model, datamodule=data, verbose=False)[0]["test/HR@20"]


@pytest.fixture(scope="module")
def pop_hr(tmp_path_factory) -> float:
    data = SessionDataModule(**LEARN_DATA)
    model = MODELS["Pop"](num_items=data.num_items)
    return _test_hr(model, data, tmp_path_factory.mktemp("pop"), 1)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LEARN_OPTIONS))
def test_every_learning_model_beats_popularity_after_a_short_fit(name, pop_hr, tmp_path):
    assert set(LEARN_OPTIONS) == {
        n for n, cls in MODELS.items() if not issubclass(cls, NonparametricRecommender)
    }
    L.seed_everything(0, verbose=False)
    data = SessionDataModule(**LEARN_DATA)
    model = MODELS[name](num_items=data.num_items, **LEARN_OPTIONS[name])
    hr = _test_hr(model, data, tmp_path, 3)
    assert hr > pop_hr + MARGIN, f"{name}: HR@20 {hr:.3f} vs Pop {pop_hr:.3f}"
