"""The baseline networks against naive per-session loops, the network contract, and training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dmi_gnn.nn.networks import FPMCNet, GCEGNNNet, GRU4RecNet, NARMNet, SRGNNNet
from tests.nn import naive_baselines as naive
from tests.nn.conftest import SESSIONS
from tests.nn.helpers import make_batch

NUM_ITEMS = 9


def _graph(num_items=NUM_ITEMS, k=4):
    generator = torch.Generator().manual_seed(1)
    neighbors = torch.randint(1, num_items + 1, (num_items + 1, k), generator=generator)
    weights = torch.randint(1, 8, (num_items + 1, k), generator=generator).float()
    neighbors[0] = 0
    weights[0] = 0
    neighbors[3, 2:] = 0  # a partly empty row
    weights[3, 2:] = 0
    neighbors[5] = 0  # an item without neighbours
    weights[5] = 0
    return neighbors, weights


def _net(cls, num_items=NUM_ITEMS, **options):
    if cls is GCEGNNNet:
        options = {"num_neighbors": 4, **options}
    net = cls(num_items=num_items, embedding_dim=6, **options)
    if cls is GCEGNNNet:
        net.set_global_graph(*_graph(num_items, k=options["num_neighbors"]))
    return net


NAIVE = {
    GCEGNNNet: naive.gcegnn_scores,
    SRGNNNet: naive.srgnn_scores,
    NARMNet: naive.narm_scores,
    GRU4RecNet: naive.gru4rec_scores,
    FPMCNet: naive.fpmc_scores,
}

CASES = [
    (GCEGNNNet, {}),
    (GCEGNNNet, {"neighbor_padding": "masked", "global_activation": "tanh"}),
    (SRGNNNet, {}),
    (SRGNNNet, {"steps": 2, "hybrid": False}),
    (NARMNet, {}),
    (NARMNet, {"hidden_size": 5, "num_layers": 2}),
    (GRU4RecNet, {}),
    (GRU4RecNet, {"hidden_size": 4, "num_layers": 2}),
    (FPMCNet, {}),
]


def _id(case):
    return case[0].__name__ + "".join(f"-{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matches_naive_loop(batch, case):
    cls, options = case
    net = _net(cls, **options).eval()
    scores = net(batch)
    assert scores.shape == (4, NUM_ITEMS)
    torch.testing.assert_close(scores, NAIVE[cls](net, batch))


@pytest.mark.parametrize("cls", list(NAIVE))
def test_contract(batch, cls):
    net = _net(cls).eval()
    interests = net.encode(batch)
    assert interests.shape == (4, 1, net.representation_dim)
    candidates = net.candidate_embeddings()
    assert candidates.shape == (NUM_ITEMS, net.representation_dim)
    torch.testing.assert_close(net.score(interests), interests[:, 0] @ candidates.t())
    torch.testing.assert_close(net(batch), net.score(interests))
    assert isinstance(cls.FEATURES, frozenset)
    expected = {"session_graph", "global_graph"} if cls is GCEGNNNet else set()
    assert cls.FEATURES == expected


@pytest.mark.parametrize("cls", list(NAIVE))
def test_padding_changes_nothing(cls):
    net = _net(cls).eval()
    tight = make_batch(SESSIONS)
    loose = make_batch(SESSIONS, length=9)
    torch.testing.assert_close(net(tight), net(loose))


@pytest.mark.parametrize("cls", list(NAIVE))
def test_state_dict_round_trip(batch, cls):
    net = _net(cls).eval()
    copy = _net(cls)
    copy.reset_parameters()
    copy.load_state_dict(net.state_dict())
    torch.testing.assert_close(copy.eval()(batch), net(batch))


@pytest.mark.parametrize("cls", [GCEGNNNet, NARMNet, GRU4RecNet])
def test_dropout_only_in_training(batch, cls):
    net = _net(cls)
    torch.testing.assert_close(net.eval()(batch), net(batch))
    assert not torch.allclose(net.train()(batch), net.eval()(batch))


@pytest.mark.parametrize(
    ("cls", "options", "message"),
    [
        (GCEGNNNet, {"hop": 0}, "hop"),
        (GCEGNNNet, {"dropout_gcn": 1.5}, "dropout_gcn"),
        (GCEGNNNet, {"neighbor_padding": "zeros"}, "neighbor_padding"),
        (SRGNNNet, {"steps": 0}, "steps"),
        (SRGNNNet, {"hybrid": 1}, "hybrid"),
        (NARMNet, {"hidden_size": 0}, "hidden_size"),
        (NARMNet, {"dropout_context": -0.1}, "dropout_context"),
        (GRU4RecNet, {"num_layers": 1.5}, "num_layers"),
        (GRU4RecNet, {"dropout_hidden": True}, "dropout_hidden"),
        (FPMCNet, {"loss": "top1"}, "loss"),
        (FPMCNet, {"init_std": 0}, "init_std"),
    ],
)
def test_bad_options_are_named(cls, options, message):
    with pytest.raises(ValueError, match=message):
        cls(num_items=NUM_ITEMS, embedding_dim=4, **options)
    with pytest.raises(ValueError, match="num_items"):
        cls(num_items=0)
    with pytest.raises(ValueError, match="scoring_chunk_size"):
        cls(num_items=NUM_ITEMS, scoring_chunk_size=0)


def test_gcegnn_global_graph_checks():
    net = _net(GCEGNNNet)
    neighbors, weights = _graph()
    with pytest.raises(ValueError, match="shape"):
        net.set_global_graph(neighbors[:, :2], weights[:, :2])
    with pytest.raises(ValueError, match="ids must lie"):
        net.set_global_graph(neighbors + NUM_ITEMS, weights)
    with pytest.raises(ValueError, match="finite"):
        net.set_global_graph(neighbors, weights / 0)
    torch.testing.assert_close(net.global_neighbors, neighbors)


def test_gcegnn_defaults_are_the_published_tmall_setting():
    net = GCEGNNNet(num_items=NUM_ITEMS)
    assert (net.embedding_dim, net.hop, net.num_neighbors) == (100, 1, 12)
    assert (net.dropout_local, net.dropout_global, net.dropout_gcn) == (0.5, 0.5, 0.6)
    assert all(p.abs().max() <= 0.1 for p in net.parameters())


def test_fpmc_ce_training_loss_is_cross_entropy(batch):
    net = _net(FPMCNet)
    expected = F.cross_entropy(net(batch), batch.targets - 1)
    torch.testing.assert_close(net.training_loss(batch), expected)


def test_fpmc_bpr_loss_and_negatives(batch):
    net = _net(FPMCNet, loss="bpr")
    torch.manual_seed(5)
    loss = net.training_loss(batch)
    torch.manual_seed(5)
    negatives = torch.randint(1, NUM_ITEMS, (4,))
    negatives = negatives + (negatives >= batch.targets).long()
    full = naive.fpmc_scores(net, batch)
    rows = torch.arange(4)
    margin = full[rows, batch.targets - 1] - full[rows, negatives - 1]
    torch.testing.assert_close(loss, -F.logsigmoid(margin).mean())
    # The negatives are uniform over the items other than the target, never the target.
    targets = torch.full((20000,), 4)
    draws = torch.randint(1, NUM_ITEMS, targets.shape)
    draws = draws + (draws >= targets).long()
    counts = torch.bincount(draws, minlength=NUM_ITEMS + 1)
    assert counts[0] == 0 and counts[4] == 0
    assert counts[[1, 2, 3, 5, 6, 7, 8, 9]].min() > 2000
    with pytest.raises(ValueError, match="targets"):
        net.training_loss(make_batch(SESSIONS, targets=[0, 1, 2, 3]))


def _task(num_items=12, sessions=64, seed=0):
    """Prefixes whose next item is a fixed function of the last click (learnable quickly)."""
    generator = torch.Generator().manual_seed(seed)
    prefixes, targets = [], []
    for _ in range(sessions):
        length = int(torch.randint(1, 6, (1,), generator=generator))
        prefix = torch.randint(1, num_items + 1, (length,), generator=generator).tolist()
        prefixes.append(prefix)
        targets.append(prefix[-1] % num_items + 1)
    return make_batch(prefixes, targets=targets)


TRAINING = [
    (GCEGNNNet, {}),
    (SRGNNNet, {}),
    (NARMNet, {}),
    (GRU4RecNet, {}),
    (FPMCNet, {}),
    (FPMCNet, {"loss": "bpr"}),
]


@pytest.mark.parametrize("case", TRAINING, ids=[_id(c) for c in TRAINING])
def test_loss_decreases_on_a_tiny_task(case):
    cls, options = case
    num_items = 12
    batch = _task(num_items)
    net = _net(cls, num_items=num_items, **options).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)

    def loss_of():
        if hasattr(net, "training_loss"):
            return net.training_loss(batch)
        return F.cross_entropy(net(batch), batch.targets - 1)

    torch.manual_seed(1)
    with torch.no_grad():
        first = float(loss_of())
    for _ in range(30):
        optimizer.zero_grad()
        loss = loss_of()
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        hits = (net(batch).argmax(1) + 1 == batch.targets).float().mean()
        last = float(loss_of())
    assert last < 0.6 * first, (first, last)
    assert hits > 0.5


@pytest.mark.parametrize("cls", [c for c in NAIVE if "session_graph" not in c.FEATURES])
def test_networks_without_the_graph_feature_never_read_the_graph(batch, cls):
    net = _net(cls).eval()
    bare = batch._replace(nodes=None, node_mask=None, alias=None, adjacency=None)
    torch.testing.assert_close(net(bare), net(batch))


@pytest.mark.parametrize("cls", list(NAIVE))
def test_evaluation_scores_stay_float32_under_autocast(batch, cls):
    net = _net(cls).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        scores = net(batch)
    assert scores.dtype == torch.float32
    assert scores.shape == (4, NUM_ITEMS)


@pytest.mark.parametrize("cls", list(NAIVE))
def test_chunked_scoring_gives_the_same_scores(batch, cls):
    whole = _net(cls, scoring_chunk_size=None).eval()
    chunked = _net(cls, scoring_chunk_size=4).eval()
    chunked.load_state_dict(whole.state_dict())
    torch.testing.assert_close(chunked(batch), whole(batch))
