"""Every hyper-parameter of DMIGNN has its range checked (issue 11.12: ``eta -3`` was accepted)."""

from __future__ import annotations

import math

import pytest

from dmi_gnn import DMIGNN
from dmi_gnn.errors import HyperparameterError
from dmi_gnn.hparams import RULES, validate_hyperparameters

BAD = {
    "num_items": [0, -1, 2.5],
    "embedding_dim": [0, 1.5, True],
    "num_interests": [0, -2],
    "beta": [-0.01, math.nan, math.inf, "0.1"],
    "eta": [-3, 0, math.nan],
    "hop": [0],
    "num_neighbors": [0],
    "dropout_local": [-0.1, 1.5, math.nan],
    "dropout_global": [2],
    "dropout_gcn": [-1],
    "leaky_relu_slope": [-0.2, math.inf],
    "max_positions": [0],
    "lr": [0, -1e-3, math.nan],
    "weight_decay": [-1e-5],
    "lr_step": [-1],
    "lr_gamma": [0, 1.5],
    "top_k": [0],
    "metric_ks": [[], [0, 20], "20", [2.5]],
    "neighbor_seed": [-1],
    "scoring_chunk_size": [0, "big"],
    "semantics": ["papers"],
    "regularizer": ["DMI"],
    "regularizer_reduction": ["median"],
    "scoring": ["min"],
    "positional": ["double"],
    "global_activation": ["gelu"],
    "attention": ["linear"],
    "full_dropout": ["half"],
    "neighbor_padding": ["zero"],
    "normalize_embeddings": ["yes"],
    "readout_bias": [1],
    "use_global": [None],
    "optimizer": ["sgd"],
    "max_session_length": [0, 2.5],
    "max_batch_cells": [0, True],
    "repeat": ["both", None],
    "repeat_positions": [0, 1.5],
    "repeat_explore": ["seen"],
    "repeat_prior": [0.0, 1.5, "half"],
    "loss": ["partial"],
    "sampler": ["log_uniform"],
    "num_negatives": [0, 2.5, True],
}


def test_every_rule_has_bad_values_here():
    assert set(BAD) == set(RULES)


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name, values in BAD.items() for value in values]
)
def test_a_value_out_of_range_is_refused_naming_it(name, value):
    with pytest.raises(HyperparameterError) as error:
        validate_hyperparameters({name: value})
    assert error.value.name == name and str(error.value).startswith(f"{name} must be")
    assert repr(value) in str(error.value)


def test_the_model_refuses_them_too():
    with pytest.raises(HyperparameterError, match=r"eta must be > 0, got -3"):
        DMIGNN(num_items=10, eta=-3)
    with pytest.raises(ValueError, match=r"dropout_gcn must be in \[0, 1\], got 1.5"):
        DMIGNN(num_items=10, dropout_gcn=1.5)


def test_the_defaults_and_edge_values_are_accepted():
    DMIGNN(num_items=10, beta=0, eta=0.5, dropout_local=1.0, lr_gamma=1.0, lr_step=0)
    validate_hyperparameters(
        {"scoring_chunk_size": None, "attention": None, "metric_ks": (5, 10), "unknown": -1}
    )
