from __future__ import annotations

import pytest
import torch

from dmi_gnn.losses import interest_regularizer, item_cross_entropy
from dmi_gnn.nn import DMIGNNNet, NetworkOutput
from dmi_gnn.semantics import NETWORK_SEMANTICS_OPTIONS, resolve_semantics
from tests.nn import naive
from tests.nn.helpers import make_batch

NUM_ITEMS = 9


def _graph(num_items=NUM_ITEMS, k=4, empty=(5,)):
    generator = torch.Generator().manual_seed(1)
    neighbors = torch.randint(1, num_items + 1, (num_items + 1, k), generator=generator)
    weights = torch.randint(1, 8, (num_items + 1, k), generator=generator).float()
    neighbors[0] = 0
    weights[0] = 0
    neighbors[3, 2:] = 0  # a partly empty row
    weights[3, 2:] = 0
    for item in empty:  # items without neighbours
        neighbors[item] = 0
        weights[item] = 0
    return neighbors, weights


def _net(**kwargs) -> DMIGNNNet:
    options = {"num_items": NUM_ITEMS, "embedding_dim": 6, "num_neighbors": 4, **kwargs}
    net = DMIGNNNet(**options)
    net.set_global_graph(*_graph(k=options["num_neighbors"]))
    return net


@pytest.mark.parametrize(
    "options",
    [
        {**{k: resolve_semantics("reference")[k] for k in NETWORK_SEMANTICS_OPTIONS}},
        {**{k: resolve_semantics("paper")[k] for k in NETWORK_SEMANTICS_OPTIONS}},
        {"hop": 2, "num_interests": 2, "global_activation": "tanh"},
        {"hop": 2, "neighbor_padding": "masked", "scoring": "sum", "positional": "single"},
        {"use_global": False},
        {"use_local": False, "normalize_embeddings": False},
    ],
)
def test_matches_naive_loop(batch, options):
    net = _net(**options).eval()
    out = net(batch)
    assert isinstance(out, NetworkOutput)
    assert out.scores.shape == (4, NUM_ITEMS)
    assert out.interests.shape == (4, net.num_interests, 6)
    assert out.attention.shape == (4, 5, net.num_interests)
    expected_scores, expected_interests = naive.network_scores(net, batch)
    torch.testing.assert_close(out.interests, expected_interests)
    torch.testing.assert_close(out.scores, expected_scores)


def test_permuting_the_nodes_changes_nothing(batch):
    """The reference puts item 0 first (np.unique of the padded row); the contract sorts the
    real items first. Same math either way."""
    net = _net(hop=2).eval()
    reference_order = []
    for b in range(batch.items.shape[0]):
        count = int(batch.node_mask[b].sum())
        padded = count < batch.nodes.shape[1]
        # New order: [0 (padding node)] + real nodes + remaining padding.
        perm = list(range(count, count + 1)) + list(range(count)) if padded else list(range(count))
        perm += [i for i in range(batch.nodes.shape[1]) if i not in perm]
        reference_order.append(torch.tensor(perm))
    perm = torch.stack(reference_order)
    inverse = perm.argsort(1)
    permuted = batch._replace(
        nodes=batch.nodes.gather(1, perm),
        alias=inverse.gather(1, batch.alias),
        adjacency=torch.stack(
            [batch.adjacency[b][perm[b]][:, perm[b]] for b in range(perm.shape[0])]
        ),
    )
    assert (permuted.nodes[:3, 0] == 0).all()  # padded rows now start with item 0
    torch.testing.assert_close(net(permuted).scores, net(batch).scores)


@pytest.mark.parametrize(
    "options",
    [
        {"num_interests": 1},
        {"embedding_dim": 32},
        {"max_positions": 4},
        {"num_interests": 1, "attention": "softmax", "readout_bias": True, "hop": 2},
    ],
)
def test_edge_sizes_run_with_finite_outputs_and_gradients(options):
    batch = make_batch([[1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3], [4]], targets=[1, 2, 3])
    net = _net(dropout_global=0.3, dropout_gcn=0.2, dropout_local=0.1, **options).train()
    out = net(batch)
    assert torch.isfinite(out.scores).all() and torch.isfinite(out.attention).all()
    loss = item_cross_entropy(out.scores, batch.targets) + interest_regularizer(
        "dmi", out.attention, batch.mask, batch.lengths, 3.0, "sum"
    )
    assert torch.isfinite(loss)
    loss.backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name


def test_full_dropout_zero_is_pytorch_semantics(batch):
    net = _net(dropout_global=1.0, full_dropout="zero")
    local_only = _net(use_global=False)
    local_only.load_state_dict(net.state_dict(), strict=False)  # it has no global layers
    net.train()
    local_only.train()
    torch.testing.assert_close(net(batch).scores, local_only(batch).scores)
    net(batch).scores.sum().backward()
    grads = [p.grad for p in net.global_aggregators.parameters()]
    assert all(g is not None and not g.any() for g in grads)  # exactly zero, not None
    net.eval()
    local_only.eval()
    assert not torch.allclose(net(batch).scores, local_only(batch).scores)


@pytest.mark.parametrize("option", ["dropout_global", "dropout_gcn"])
def test_full_dropout_drop_branch_removes_the_global_branch(batch, option):
    net = _net(**{option: 1.0}, full_dropout="drop_branch")
    assert not net.global_active
    assert len(net.global_aggregators) == 0  # not built: DDP needs every parameter used
    local_only = _net(use_global=False)
    local_only.load_state_dict(net.state_dict())
    for mode in (True, False):
        net.train(mode)
        local_only.train(mode)
        torch.testing.assert_close(net(batch).scores, local_only(batch).scores)
    net(batch).scores.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_full_dropout_drop_branch_removes_the_local_branch(batch):
    net = _net(dropout_local=1.0, full_dropout="drop_branch").eval()
    global_only = _net(use_local=False).eval()
    global_only.load_state_dict(net.state_dict())
    torch.testing.assert_close(net(batch).scores, global_only(batch).scores)
    assert net.local_aggregator is None
    net(batch).scores.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_neighbor_padding_only_matters_where_slots_are_empty():
    resampled, masked = _net(), _net(neighbor_padding="masked")
    masked.load_state_dict(resampled.state_dict())
    resampled.eval()
    masked.eval()
    full = make_batch([[1, 2], [2, 4]])  # items 1, 2, 4 have full neighbour rows
    torch.testing.assert_close(resampled(full).scores, masked(full).scores)
    empty = make_batch([[3, 5]])  # 3 is partly empty, 5 has no neighbour
    assert not torch.allclose(resampled(empty).scores, masked(empty).scores)


def test_inspect(batch):
    net = _net().eval()
    with torch.no_grad():
        attention, similarity = net.inspect(batch)
        out = net(batch)
    torch.testing.assert_close(attention, out.attention)
    assert similarity.shape == (4, 3, 3)
    torch.testing.assert_close(similarity.diagonal(dim1=1, dim2=2), torch.ones(4, 3))
    unit = torch.nn.functional.normalize(out.interests, dim=-1)
    torch.testing.assert_close(similarity[:, 0, 2], (unit[:, 0] * unit[:, 2]).sum(-1))


def test_candidates_exclude_padding_and_follow_normalisation():
    net = _net()
    candidates = net.candidate_embeddings()
    assert candidates.shape == (NUM_ITEMS, 6)
    torch.testing.assert_close(candidates.norm(dim=-1), torch.ones(NUM_ITEMS))
    raw = _net(normalize_embeddings=False)
    torch.testing.assert_close(raw.candidate_embeddings(), raw.embedding.weight[1:])


def test_buffers_travel_in_the_state_dict():
    net = _net()
    state = net.state_dict()
    assert state["global_neighbors"].dtype == torch.int64
    assert state["global_weights"].dtype == torch.float32
    other = DMIGNNNet(num_items=NUM_ITEMS, embedding_dim=6, num_neighbors=4)
    assert not other.global_neighbors.any()
    other.load_state_dict(state)
    assert torch.equal(other.global_neighbors, net.global_neighbors)
    assert torch.equal(other.global_weights, net.global_weights)


def test_initialisation_is_uniform_in_the_reference_range():
    net = DMIGNNNet(num_items=50, embedding_dim=16, readout_bias=True)
    for name, parameter in net.named_parameters():
        assert parameter.abs().max() <= 0.25, name
        assert parameter.abs().max() > 0.15, name  # not PyTorch's default init


def test_set_global_graph_validates():
    net = DMIGNNNet(num_items=4, embedding_dim=3, num_neighbors=2)
    good = torch.zeros(5, 2, dtype=torch.int64)
    with pytest.raises(ValueError, match="shape"):
        net.set_global_graph(torch.zeros(4, 2, dtype=torch.int64), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"0\.\.4"):
        net.set_global_graph(good + 5, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="integer"):
        net.set_global_graph(good.float(), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="finite"):
        net.set_global_graph(good, torch.full((5, 2), float("nan")))
    net.set_global_graph(good + 1, torch.ones(5, 2, dtype=torch.int64))
    assert net.global_weights.dtype == torch.float32 and net.global_neighbors.max() == 1


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"num_items": 0}, "num_items"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"num_interests": 0}, "num_interests"),
        ({"hop": 0}, "hop"),
        ({"dropout_local": 1.2}, "dropout_local"),
        ({"dropout_gcn": -0.1}, "dropout_gcn"),
        ({"scoring": "mean"}, "scoring"),
        ({"attention": "sparse"}, "attention"),
        ({"global_activation": "gelu"}, "global_activation"),
        ({"use_local": False, "use_global": False}, "no item representation"),
        (
            {"use_local": False, "dropout_global": 1.0, "full_dropout": "drop_branch"},
            "no item representation",
        ),
        ({"normalize_embeddings": "yes"}, "normalize_embeddings"),
    ],
)
def test_constructor_validation(options, match):
    with pytest.raises(ValueError, match=match):
        DMIGNNNet(**{"num_items": 5, **options})


@pytest.mark.slow
def test_no_lightning_and_no_cuda_in_the_network_package():
    import subprocess
    import sys
    from pathlib import Path

    import dmi_gnn.nn

    code = "import sys, dmi_gnn.nn; print(any('lightning' in m for m in sys.modules))"
    root = Path(dmi_gnn.nn.__file__).parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False
    )
    assert result.stdout.strip() == "False", result.stderr
    for path in Path(dmi_gnn.nn.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert ".cuda(" not in text and "'cuda'" not in text and '"cuda"' not in text, path


def test_cached_candidates_follow_weight_updates():
    net = DMIGNNNet(num_items=20, embedding_dim=8)
    with torch.no_grad():
        first = net.candidate_embeddings()
        assert net.candidate_embeddings() is first  # cached while the weights do not change
        net.embedding.weight.add_(1.0)
        second = net.candidate_embeddings()
    expected = torch.nn.functional.normalize(net.embedding.weight[1:], dim=-1)
    torch.testing.assert_close(second, expected)
    assert not torch.allclose(first, second)
    assert net.candidate_embeddings().requires_grad  # with autograd: never the cache


def test_evaluation_scores_are_float32_under_bf16_autocast(batch):
    net = _net().eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        scores = net(batch).scores
    assert scores.dtype == torch.float32


@pytest.mark.parametrize(
    "edit",
    [
        lambda weight: weight.data.copy_(torch.randn_like(weight)),
        lambda weight: weight.data.__setitem__(3, 5.0),
        lambda weight: torch.no_grad()(weight.copy_)(torch.randn_like(weight)),
    ],
    ids=["data.copy_", "data[3] = 5", "no_grad copy_"],
)
def test_cached_candidates_see_in_place_edits_that_keep_the_version(edit):
    """``weight.data`` edits do not bump ``weight._version``: the cache must still see them."""
    net = DMIGNNNet(num_items=20, embedding_dim=8)
    with torch.no_grad():
        stale = net.candidate_embeddings().clone()
    edit(net.embedding.weight)
    with torch.no_grad():
        fresh = net.candidate_embeddings()
    expected = torch.nn.functional.normalize(net.embedding.weight.detach()[1:], dim=-1)
    torch.testing.assert_close(fresh, expected, rtol=0, atol=0)
    assert not torch.equal(fresh, stale)
