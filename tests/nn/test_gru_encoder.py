from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn import GRUEncoder, reverse_prefixes
from tests.nn import naive_baselines as naive


def test_reverse_prefixes_is_a_per_row_reversal(batch):
    out = reverse_prefixes(batch.items, batch.lengths)
    for b in range(4):
        length = int(batch.lengths[b])
        assert out[b, :length].tolist() == batch.items[b, :length].tolist()[::-1]
        assert out[b, length:].tolist() == [0] * (batch.items.shape[1] - length)
    vectors = torch.randn(*batch.items.shape, 3) * batch.mask.unsqueeze(-1)
    twice = reverse_prefixes(reverse_prefixes(vectors, batch.lengths), batch.lengths)
    torch.testing.assert_close(twice, vectors)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_matches_naive_loop(batch, num_layers):
    encoder = GRUEncoder(4, 3, num_layers=num_layers)
    inputs = torch.randn(*batch.items.shape, 4)
    states = encoder(inputs, batch.lengths)
    assert states.shape == (*batch.items.shape, 3)
    for b in range(4):
        length = int(batch.lengths[b])
        chronological = list(inputs[b, :length].flip(0))
        expected = naive.gru_states(encoder.gru, chronological)[::-1]
        torch.testing.assert_close(states[b, :length], torch.stack(expected))
        assert bool((states[b, length:] == 0).all())


def test_padding_content_is_ignored(batch):
    encoder = GRUEncoder(4, 3)
    inputs = torch.randn(*batch.items.shape, 4)
    noisy = inputs.masked_fill(~batch.mask.unsqueeze(-1), 7.0)
    torch.testing.assert_close(encoder(inputs, batch.lengths), encoder(noisy, batch.lengths))


def test_repr_and_validation(batch):
    encoder = GRUEncoder(4, 9, num_layers=2, dropout=0.1)
    assert repr(encoder) == "GRUEncoder(4, 9, num_layers=2, dropout=0.1)"
    assert all(p.abs().max() <= 1 / 3 for p in encoder.parameters())
    with pytest.raises(ValueError, match="hidden_dim"):
        GRUEncoder(4, 0)
    with pytest.raises(ValueError, match="dropout"):
        GRUEncoder(4, 4, dropout=1.5)
    with pytest.raises(ValueError, match="lengths"):
        GRUEncoder(4, 3)(torch.randn(4, 5, 4), torch.tensor([1, 2, 6, 1]))
