"""The model family: one file per model, one line per model in :data:`REGISTRY`.

Importing this package is light (no torch): :data:`REGISTRY` maps each short name to its class
path, so the command line can resolve ``--model NAME`` and its cached help without importing
any model. :data:`MODELS` (name -> class) and :func:`load_model` import on first use.

Adding a model: write ``dmi_gnn/models/<model>.py`` with a subclass of
:class:`~dmi_gnn.recommender.SessionRecommender` (usually
:class:`~dmi_gnn.neural_recommender.NeuralRecommender` or
:class:`~dmi_gnn.nonparametric_recommender.NonparametricRecommender`), add its line here, and
its configs under ``experiments/models/`` and ``experiments/presets/``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dmi_gnn.recommender import SessionRecommender

#: Short name -> ``module.Class`` of every model of the family (the first is the default).
REGISTRY: dict[str, str] = {
    "DMIGNN": "dmi_gnn.models.dmignn.DMIGNN",
    "GCEGNN": "dmi_gnn.models.gcegnn.GCEGNN",
    "SRGNN": "dmi_gnn.models.srgnn.SRGNN",
    "NARM": "dmi_gnn.models.narm.NARM",
    "GRU4Rec": "dmi_gnn.models.gru4rec.GRU4Rec",
    "FPMC": "dmi_gnn.models.fpmc.FPMC",
    "Pop": "dmi_gnn.models.pop.Pop",
    "SPop": "dmi_gnn.models.spop.SPop",
    "SKNN": "dmi_gnn.models.sknn.SKNN",
    "VSKNN": "dmi_gnn.models.vsknn.VSKNN",
    "MIND": "dmi_gnn.models.mind.MIND",
    "ComiRecSA": "dmi_gnn.models.comirec_sa.ComiRecSA",
    "ComiRecDR": "dmi_gnn.models.comirec_dr.ComiRecDR",
    "AttenMixer": "dmi_gnn.models.atten_mixer.AttenMixer",
    "MGIR": "dmi_gnn.models.mgir.MGIR",
}

#: The model of ``dmi-gnn fit`` without ``--model``.
DEFAULT_MODEL = "DMIGNN"

__all__ = ["DEFAULT_MODEL", "MODELS", "REGISTRY", "load_model", "model_class", "resolve_name"]


def resolve_name(name: str) -> str:
    """The registered short name of ``name`` (a short name, any case, or a class path).

    Raises:
        ValueError: not a registered model (the message lists them).
    """
    if name in REGISTRY:
        return name
    for short, path in REGISTRY.items():
        if name == path or name.lower() == short.lower():
            return short
    import difflib

    close = difflib.get_close_matches(name, list(REGISTRY), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}? " if close else ""
    raise ValueError(f"unknown model {name!r}; {hint}models: {', '.join(REGISTRY)}")


def model_class(name: str) -> type[SessionRecommender]:
    """The class of a registered model (short name or class path)."""
    module, _, attribute = REGISTRY[resolve_name(name)].rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def load_model(path: Any, map_location: Any = "cpu") -> SessionRecommender:
    """Restore a model from its checkpoint alone, whatever its class (weights-only).

    The class is the one the checkpoint records (:data:`~dmi_gnn.recommender.MODEL_CLASS_KEY`;
    checkpoints written before the model family have none and are DMI-GNN's). Only registered
    classes are imported.

    Raises:
        CheckpointError: the checkpoint names a class that is not registered.
        UnsafeCheckpointError, CorruptCheckpointError: as
            :func:`dmi_gnn.checkpoints.load_checkpoint`.
    """
    from dmi_gnn.checkpoints import load_checkpoint
    from dmi_gnn.errors import CheckpointError
    from dmi_gnn.recommender import MODEL_CLASS_KEY

    checkpoint = load_checkpoint(path, map_location="cpu")
    recorded = checkpoint.get(MODEL_CLASS_KEY, REGISTRY[DEFAULT_MODEL])
    try:
        cls = model_class(str(recorded))
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}") from None
    if hasattr(path, "seek"):
        path.seek(0)
    return cls.load_from_checkpoint(path, map_location=map_location)


def checkpoint_model_name(checkpoint: dict[str, Any]) -> str:
    """The registered short name of a loaded checkpoint's model (DMIGNN if not recorded)."""
    from dmi_gnn.recommender import MODEL_CLASS_KEY

    return resolve_name(str(checkpoint.get(MODEL_CLASS_KEY, REGISTRY[DEFAULT_MODEL])))


def __getattr__(name: str) -> Any:
    if name == "MODELS":
        return {short: model_class(short) for short in REGISTRY}
    if name in REGISTRY:
        return model_class(name)
    raise AttributeError(f"module 'dmi_gnn.models' has no attribute {name!r}")
