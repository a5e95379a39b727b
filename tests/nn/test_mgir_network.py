"""MGIRNet: the network contract, its graphs, both GNN-weight modes, and learning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from datamodules.relation_graphs import build_relation_graphs
from dmi_gnn.nn.networks import MGIRNet
from tests.nn.helpers import make_batch

N = 9
FIT = [[1, 2, 1, 3], [2, 2, 4], [5], [1, 2, 3, 4, 2], [3, 1, 2], [4, 2, 1], [6, 2, 1, 4], [7, 8, 9]]
PREFIXES = [[7, 3, 5, 3], [2, 2, 4], [6], [1, 8, 1, 8, 9]]


def _net(**kwargs) -> MGIRNet:
    net = MGIRNet(num_items=N, embedding_dim=8, **kwargs)
    graphs = build_relation_graphs(FIT, N, min_frequency=1, cold_ratio=0.0)
    net.set_relation_graphs(**graphs.to_torch())
    return net


@pytest.fixture
def batch():
    return make_batch(PREFIXES, targets=[4, 9, 2, 5])


def test_contract_shapes_and_features(batch):
    net = _net()
    assert MGIRNet.FEATURES == frozenset({"relation_graphs"})
    interests = net.encode(batch)
    assert interests.shape == (4, 2, 8)
    assert net.candidate_embeddings().shape == (N, 8)
    assert net(batch).shape == (4, N)


@torch.no_grad()
def test_score_is_positive_minus_leaky_negative_in_any_chunking(batch):
    net = _net(leaky_relu_slope=0.3, scoring_chunk_size=4).eval()
    interests = net.encode(batch)
    e = net.embedding.weight[1:]
    for b in range(4):
        for j in range(N):
            neg = float(interests[b, 1] @ e[j])
            expected = float(interests[b, 0] @ e[j]) - (neg if neg > 0 else 0.3 * neg)
            assert abs(float(net.score(interests)[b, j]) - expected) < 1e-5


def test_batch_rows_equal_full_propagation():
    net = _net().eval()
    items = torch.tensor([3, 1, 0, 2, 9])
    rows = net.relation_embeddings(items)
    full = net.relation_embeddings(None)
    for got, table in zip(rows, full, strict=True):
        torch.testing.assert_close(got, table[items])


def test_several_layers_propagate_every_item(batch):
    net = _net(gnn_layers=2).eval()
    assert net(batch).shape == (4, N)
    one = _net(gnn_layers=1)
    assert len(net.sequential_layers) == 2 and len(one.sequential_layers) == 1


def test_evaluation_is_deterministic_and_training_uses_dropout(batch):
    net = _net(dropout_gcn=0.5, dropout_local=0.5)
    net.eval()
    torch.testing.assert_close(net(batch), net(batch))
    net.train()
    assert not torch.equal(net(batch), net(batch))


def test_trained_mode_learns_the_gnn_weights(batch):
    net = _net()
    F.cross_entropy(net(batch), batch.targets - 1).backward()
    assert net.sequential_layers[0].in_score.weight.grad is not None
    assert net.cooccurrence_layers[0].fuse_weight.grad.abs().sum() > 0


def test_reference_mode_redraws_the_gnn_weights_every_training_forward(batch):
    net = _net(gnn_weights="reference")
    layer = net.sequential_layers[0]
    assert not layer.in_score.weight.requires_grad
    before = layer.in_score.weight.clone()
    net(batch)
    drawn = layer.in_score.weight.clone()
    assert not torch.equal(before, drawn)
    net(batch)
    assert not torch.equal(drawn, layer.in_score.weight)
    net.eval()
    kept = layer.in_score.weight.clone()
    net(batch)
    assert torch.equal(kept, layer.in_score.weight)
    bound = 1 / 8**0.5
    assert layer.in_score.weight.abs().max() <= bound


def test_graphs_travel_in_the_state_dict(batch):
    net = _net().eval()
    fresh = MGIRNet(num_items=N, embedding_dim=8).eval()
    assert fresh.incompatible_weights.numel() == 0
    fresh.load_state_dict(net.state_dict())
    assert fresh.incompatible_weights.numel() == net.incompatible_weights.numel() > 0
    torch.testing.assert_close(fresh(batch), net(batch))


def test_the_graphs_change_the_scores(batch):
    torch.manual_seed(0)
    with_graphs = _net().eval()
    without = MGIRNet(num_items=N, embedding_dim=8).eval()
    without.load_state_dict(
        {
            k: v
            for k, v in with_graphs.state_dict().items()
            if "_indices" not in k and "_weights" not in k
        },
        strict=False,
    )
    assert not torch.allclose(with_graphs(batch), without(batch))


def test_loss_decreases(batch):
    torch.manual_seed(0)
    net = _net(dropout_gcn=0.0, dropout_local=0.0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.cross_entropy(net(batch), batch.targets - 1)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_items": 0}, "num_items"),
        ({"num_items": N, "gnn_layers": 0}, "gnn_layers"),
        ({"num_items": N, "dropout_gcn": 1.5}, "dropout_gcn"),
        ({"num_items": N, "gnn_weights": "random"}, "gnn_weights"),
        ({"num_items": N, "scoring_chunk_size": 0}, "scoring_chunk_size"),
        ({"num_items": N, "leaky_relu_slope": float("inf")}, "leaky_relu_slope"),
    ],
)
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MGIRNet(**kwargs)


def test_bad_graphs_are_refused():
    net = MGIRNet(num_items=N, embedding_dim=8)
    good = build_relation_graphs(FIT, N, min_frequency=1, cold_ratio=0.0).to_torch()
    with pytest.raises(ValueError, match="sparse"):
        net.set_relation_graphs(**{**good, "sequential": good["sequential"].to_dense()})
    with pytest.raises(ValueError, match="shape"):
        small = torch.sparse_coo_tensor(torch.tensor([[1], [2]]), torch.tensor([1.0]), (3, 3))
        net.set_relation_graphs(**{**good, "cooccurrence": small})
    with pytest.raises(ValueError, match="item 0"):
        padding = torch.sparse_coo_tensor(torch.tensor([[0], [2]]), torch.tensor([1.0]), (10, 10))
        net.set_relation_graphs(**{**good, "incompatible": padding})
    with pytest.raises(ValueError, match="positive"):
        negative = torch.sparse_coo_tensor(torch.tensor([[1], [2]]), torch.tensor([-1.0]), (10, 10))
        net.set_relation_graphs(**{**good, "incompatible": negative})
