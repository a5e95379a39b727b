"""AttenMixerNet: the network contract, level queries, order, normalisation, semantics, learning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dmi_gnn.nn.networks import AttenMixerNet
from dmi_gnn.nn.networks.atten_mixer import chronological
from tests.nn.helpers import make_batch


def _net(**options):
    return AttenMixerNet(num_items=10, embedding_dim=8, heads=4, levels=3, **options)


def test_chronological_reverses_real_positions_only(batch):
    hidden = batch.items.unsqueeze(-1).float()
    out = chronological(hidden, batch.lengths).squeeze(-1).long()
    for b, session in enumerate([[7, 3, 5, 3], [2, 2, 4], [6], [1, 8, 1, 8, 9]]):
        assert out[b].tolist() == session + [0] * (5 - len(session))


def test_level_queries_match_naive_loop(batch):
    net = _net().eval()
    hidden = torch.randn((*batch.items.shape, 8)) * batch.mask.unsqueeze(-1)
    queries = net.queries(hidden)
    raw = []
    for b in range(4):
        row = []
        for i, layer in enumerate(net.level_queries, start=1):
            parts = [
                hidden[b, j] if j < hidden.shape[1] else torch.zeros(8) for j in range(i)
            ]  # most recent first; zeros past the start of the session
            row.append(layer.weight @ torch.cat(parts) + layer.bias)
        raw.append(torch.stack(row))
    raw = torch.stack(raw)  # (B, k, d)
    for b in range(4):
        for c in range(8):
            norm = torch.sqrt(sum(raw[b, i, c] ** 2 for i in range(3)))
            torch.testing.assert_close(queries[b, :, c], raw[b, :, c] / norm)
    # A batch narrower than k levels reads zeros past its last column.
    cut = hidden.clone()
    cut[:, 2:] = 0
    torch.testing.assert_close(net.queries(hidden[:, :2]), net.queries(cut))


@torch.no_grad()
def test_contract_scale_and_normalised_candidates(batch):
    net = _net().eval()
    assert net.FEATURES == frozenset() and not hasattr(net, "training_loss")
    interests = net.encode(batch)
    assert interests.shape == (4, 1, 8)
    torch.testing.assert_close(interests.norm(dim=-1), torch.full((4, 1), 16.0))
    candidates = net.candidate_embeddings()
    torch.testing.assert_close(candidates, F.normalize(net.embedding.weight[1:], dim=-1))
    torch.testing.assert_close(net(batch), interests[:, 0] @ candidates.t())
    assert net(batch).abs().max() <= 16.0 + 1e-4


@torch.no_grad()
def test_session_vector_matches_naive_composition(batch):
    net = _net().eval()
    e = F.normalize(net.embedding(batch.items), dim=-1) * batch.mask.unsqueeze(-1)
    expected = []
    for b, length in enumerate(batch.lengths.tolist()):
        rows = e[b : b + 1]
        chrono = torch.cat([rows[:, :length].flip(1), rows[:, length:]], 1)
        summary, _ = net.attention(net.queries(rows), chrono, batch.mask[b : b + 1])
        s = net.output(torch.cat([summary[0], e[b, 0]]))
        expected.append(16 * s / s.norm())
    torch.testing.assert_close(net.encode(batch)[:, 0], torch.stack(expected))


@torch.no_grad()
def test_semantics_differ_and_padding_width_matters_only_for_reference(batch):
    corrected = _net().eval()
    reference = _net(semantics="reference").eval()
    reference.load_state_dict(corrected.state_dict())
    assert reference.semantics == "reference"
    assert not torch.allclose(corrected(batch), reference(batch))
    sessions = [[7, 3, 5, 3], [2, 2, 4], [6], [1, 8, 1, 8, 9]]
    wide = make_batch(sessions, length=8)
    torch.testing.assert_close(corrected(wide), corrected(batch))
    assert not torch.allclose(reference(wide), reference(batch))


def test_batch_of_one_and_determinism_in_eval():
    net = _net().eval()
    single = make_batch([[4]])
    assert net(single).shape == (1, 10)
    torch.testing.assert_close(net(single), net(single))
    net.train()
    assert not torch.equal(net(single), net(single))  # dropout in training


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="divisible"):
        AttenMixerNet(num_items=10, embedding_dim=10, heads=4)
    with pytest.raises(ValueError, match="semantics"):
        AttenMixerNet(num_items=10, semantics="published")
    with pytest.raises(ValueError, match="scale"):
        AttenMixerNet(num_items=10, scale=0.0)
    with pytest.raises(ValueError, match="dropout"):
        AttenMixerNet(num_items=10, dropout=1.0)


@pytest.mark.parametrize("semantics", ["corrected", "reference"])
def test_loss_decreases(semantics):
    generator = torch.Generator().manual_seed(0)
    prefixes, targets = [], []
    for _ in range(48):
        length = int(torch.randint(1, 7, (1,), generator=generator))
        prefix = torch.randint(1, 13, (length,), generator=generator).tolist()
        prefixes.append(prefix)
        targets.append(prefix[-1] % 12 + 1)
    batch = make_batch(prefixes, targets)
    net = AttenMixerNet(num_items=12, embedding_dim=16, heads=4, levels=3, semantics=semantics)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)

    def loss():
        return F.cross_entropy(net(batch), batch.targets - 1)

    net.eval()
    before = loss().item()
    net.train()
    for _ in range(40):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    net.eval()
    assert loss().item() < before - 0.5
