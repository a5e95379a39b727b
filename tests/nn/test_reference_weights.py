from __future__ import annotations

import numpy as np
import pytest
import torch

from dmi_gnn.nn import (
    DMIGNNNet,
    load_reference_parameters,
    reference_gradients,
    reference_parameters,
)


def _reference_params(num_items=7, d=4, u=2, hop=2, positions=200, seed=0):
    rng = np.random.default_rng(seed)
    shapes = {
        "embedding.weight": (num_items + 1, d),
        "pos_embedding.weight": (positions, d),
        "w_1": (2 * d, d),
        "w_2": (d, u),
        "glu1.weight": (u * d, d),
        "glu1.bias": (u * d,),
        "glu2.weight": (d, d),
        "linear_transform.weight": (d, d),
        "local_agg.bias": (d,),
        **{f"local_agg.a_{r}": (d, 1) for r in range(4)},
    }
    for i in range(hop):
        shapes |= {
            f"agg_gcn_{i}.w_1": (d + 1, d),
            f"agg_gcn_{i}.w_2": (d, 1),
            f"agg_gcn_{i}.w_3": (2 * d, d),
            f"agg_gcn_{i}.bias": (d,),
        }
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}


def _net(**kwargs):
    return DMIGNNNet(**{"num_items": 7, "embedding_dim": 4, "num_interests": 2, "hop": 2, **kwargs})


def test_round_trip_and_layout():
    params = _reference_params()
    net = _net()
    load_reference_parameters(net, params)
    exported = reference_parameters(net)
    unused = {"glu2.weight", "linear_transform.weight", "local_agg.bias"} | {
        f"agg_gcn_{i}.bias" for i in range(2)
    }
    assert set(exported) == set(params) - unused
    for name, value in exported.items():
        np.testing.assert_array_equal(value.numpy(), params[name], err_msg=name)
    # The layout the docs promise.
    np.testing.assert_array_equal(
        net.local_aggregator.edge_attention[2].detach().numpy(), params["local_agg.a_2"][:, 0]
    )
    np.testing.assert_array_equal(
        net.interest_extractor.readout_weight.detach().numpy(), params["w_1"]
    )
    np.testing.assert_array_equal(
        net.global_aggregators[1].attention_vector.detach().numpy(), params["agg_gcn_1.w_2"][:, 0]
    )


def test_readout_bias_is_zeroed_when_loading_into_a_paper_net():
    net = _net(readout_bias=True)
    load_reference_parameters(net, _reference_params())
    assert not net.interest_extractor.readout_bias.any()


def test_gradients_under_reference_names():
    net = _net(dropout_global=0.0)
    load_reference_parameters(net, {k: torch.as_tensor(v) for k, v in _reference_params().items()})
    assert reference_gradients(net) == {}
    net.embedding.weight.sum().backward()
    grads = reference_gradients(net)
    assert set(grads) == {"embedding.weight"}
    assert torch.equal(grads["embedding.weight"], torch.ones(8, 4))


def test_errors():
    params = _reference_params()
    with pytest.raises(KeyError, match="missing"):
        load_reference_parameters(_net(hop=3), params)
    with pytest.raises(KeyError, match="unknown"):
        load_reference_parameters(_net(), {**params, "w_9": np.zeros(1)})
    with pytest.raises(ValueError, match="w_2"):
        load_reference_parameters(_net(num_interests=3), params, strict=False)
    with pytest.raises(ValueError, match=r"glu1\.weight"):
        load_reference_parameters(_net(positional="single"), params)
    with pytest.raises(ValueError, match="pos_embedding"):
        load_reference_parameters(_net(max_positions=10), params)
