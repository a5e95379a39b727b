from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn import PositionalAttentionReadout
from tests.nn import naive_baselines as naive


@pytest.mark.parametrize("max_positions", [200, 3])
def test_matches_naive_loop(batch, max_positions):
    layer = PositionalAttentionReadout(5, max_positions=max_positions)
    hidden = torch.randn(*batch.items.shape, 5)
    session, attention = layer(hidden, batch.mask)
    assert session.shape == (4, 5)
    for b in range(hidden.shape[0]):
        length = int(batch.lengths[b])
        expected, weights = naive.positional_readout(layer, list(hidden[b, :length]))
        torch.testing.assert_close(session[b], expected)
        torch.testing.assert_close(attention[b, :length], torch.stack(weights))
        assert bool((attention[b, length:] == 0).all())


def test_gradients_match_naive_loop(batch):
    layer = PositionalAttentionReadout(4)
    hidden = torch.randn(*batch.items.shape, 4, requires_grad=True)
    layer(hidden, batch.mask)[0].square().sum().backward()
    ours = (hidden.grad.clone(), layer.mean_gate.weight.grad.clone())
    layer.zero_grad()
    hidden.grad = None
    sum(
        naive.positional_readout(layer, list(hidden[b, : int(batch.lengths[b])]))[0].square().sum()
        for b in range(4)
    ).backward()
    torch.testing.assert_close(ours[0], hidden.grad)
    torch.testing.assert_close(ours[1], layer.mean_gate.weight.grad)


def test_reset_repr_and_validation():
    layer = PositionalAttentionReadout(16, max_positions=50)
    assert repr(layer) == "PositionalAttentionReadout(16, max_positions=50)"
    assert layer.mean_gate.bias is None
    assert all(p.abs().max() <= 0.25 for p in layer.parameters())
    with pytest.raises(ValueError, match="max_positions"):
        PositionalAttentionReadout(4, max_positions=0)
