from __future__ import annotations

import inspect

import pytest

from dmi_gnn.nn import DMIGNNNet
from dmi_gnn.semantics import (
    NETWORK_SEMANTICS_OPTIONS,
    SEMANTICS_OPTION_CHOICES,
    SEMANTICS_PRESETS,
    resolve_semantics,
)


def test_presets_define_every_option_and_differ_in_each():
    reference, paper = SEMANTICS_PRESETS["reference"], SEMANTICS_PRESETS["paper"]
    assert set(reference) == set(paper) == set(SEMANTICS_OPTION_CHOICES)
    assert all(reference[name] != paper[name] for name in reference)
    assert reference == {
        "normalize_embeddings": True,
        "attention": "raw",
        "readout_bias": False,
        "regularizer_reduction": "sum",
        "full_dropout": "zero",
        "neighbor_padding": "resampled",
    }


def test_network_options_are_network_arguments_with_reference_defaults():
    parameters = inspect.signature(DMIGNNNet).parameters
    for name in NETWORK_SEMANTICS_OPTIONS:
        assert parameters[name].default == SEMANTICS_PRESETS["reference"][name]
    assert "regularizer_reduction" not in parameters


def test_overrides():
    resolved = resolve_semantics("paper", attention="raw", readout_bias=None)
    assert resolved["attention"] == "raw" and resolved["readout_bias"] is True
    assert resolve_semantics("reference") == SEMANTICS_PRESETS["reference"]
    assert resolve_semantics("reference") is not SEMANTICS_PRESETS["reference"]
    with pytest.raises(ValueError, match="unknown semantics 'gce'"):
        resolve_semantics("gce")
    with pytest.raises(ValueError, match="unknown semantics option"):
        resolve_semantics("paper", temperature=1.0)
    with pytest.raises(ValueError, match="attention"):
        resolve_semantics("paper", attention="sparsemax")
    with pytest.raises(ValueError, match="normalize_embeddings"):
        resolve_semantics("paper", normalize_embeddings=1)
