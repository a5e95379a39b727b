"""MIND, ComiRec-SA and ComiRec-DR: the network contract, both training modes, the options."""

from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn.networks import ComiRecDRNet, ComiRecSANet, MINDNet
from tests.nn import naive_multi_interest as naive
from tests.nn.helpers import make_batch

NETWORKS = [
    (MINDNet, {"routing_init": "fixed"}),
    (MINDNet, {"dynamic_interests": True, "relu_projection": True}),
    (ComiRecSANet, {}),
    (ComiRecDRNet, {}),
]
IDS = ["mind-fixed", "mind-dynamic", "comirec-sa", "comirec-dr"]


def _net(cls, options, **extra):
    return cls(num_items=10, embedding_dim=6, num_interests=3, max_length=5, **options, **extra)


@pytest.mark.parametrize(("cls", "options"), NETWORKS, ids=IDS)
@torch.no_grad()
def test_contract_and_max_over_interests(batch, cls, options):
    net = _net(cls, options).eval()
    assert net.FEATURES == frozenset()
    interests = net.encode(batch)
    candidates = net.candidate_embeddings()
    assert interests.shape == (4, 3, 6) and candidates.shape == (10, 6)
    torch.testing.assert_close(candidates, net.embedding.weight[1:])
    scores = net(batch)
    for b in range(4):
        for j in range(10):
            best = max(float(interests[b, k] @ candidates[j]) for k in range(3))
            assert abs(float(scores[b, j]) - best) < 1e-5
    torch.testing.assert_close(net.score(interests), scores)


@pytest.mark.parametrize(("cls", "options"), NETWORKS, ids=IDS)
def test_reference_loss_is_label_aware_sampled_softmax(batch, cls, options, monkeypatch):
    net = _net(cls, options, negative_sampler="popularity")
    if options.get("routing_init") != "fixed":
        net.eval()  # MIND's fresh per-batch logits would differ between the two computations
    net.set_item_counts(torch.tensor([0, 5, 1, 0, 9, 2, 2, 7, 3, 1, 4]))
    negatives = torch.tensor([4, 9, 1, 1, 10, 3])
    monkeypatch.setattr(net.sampled_softmax, "sample", lambda *args: negatives)
    loss = net.training_loss(batch)
    interests = net.encode(batch)
    targets = net.embedding(batch.targets)
    chosen = []
    for b in range(4):
        scores = [float((interests[b, k] @ targets[b]).detach()) for k in range(3)]
        chosen.append(interests[b, max(range(3), key=lambda k: (scores[k], -k))])
    expected = naive.sampled_softmax(
        torch.stack(chosen), batch.targets, net.candidate_embeddings(), negatives, net.proposal()
    )
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert net.embedding.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("cls", "options"), NETWORKS, ids=IDS)
def test_aligned_has_no_training_loss_and_the_same_evaluation(batch, cls, options):
    reference = _net(cls, options)
    aligned = _net(cls, options, training="aligned")
    assert hasattr(reference, "training_loss") and not hasattr(aligned, "training_loss")
    aligned.load_state_dict(reference.state_dict())
    torch.testing.assert_close(aligned.eval()(batch), reference.eval()(batch))


@pytest.mark.parametrize(("cls", "options"), NETWORKS, ids=IDS)
def test_only_the_most_recent_max_length_items_count(cls, options):
    net = cls(num_items=10, embedding_dim=6, num_interests=3, max_length=3, **options).eval()
    base = net(make_batch([[9, 2, 7, 3, 5]]))
    torch.testing.assert_close(net(make_batch([[1, 4, 7, 3, 5]])), base)  # items 4-5 back
    assert not torch.allclose(net(make_batch([[9, 2, 8, 3, 5]])), base)  # item 3 back


def test_mind_dynamic_interests_follow_the_prefix_length():
    net = MINDNet(num_items=10, embedding_dim=6, num_interests=4, dynamic_interests=True).eval()
    interests = net.encode(make_batch([[3], [1, 2, 3, 4], [1, 2, 3, 4, 5, 6, 7, 8]]))
    distinct = [len({tuple(v.tolist()) for v in interests[b].round(decimals=6)}) for b in range(3)]
    assert distinct == [1, 2, 3]


def test_mind_evaluation_is_deterministic_and_batch_independent(batch):
    net = MINDNet(num_items=10, embedding_dim=6, num_interests=3).eval()
    scores = net(batch)
    torch.testing.assert_close(net(batch), scores)
    alone = net(make_batch([[1, 8, 1, 8, 9]]))
    torch.testing.assert_close(alone, scores[3:4])
    net.train()
    assert not torch.allclose(net(batch), net(batch))  # fresh routing logits per batch


def test_item_counts_are_checked_and_saved():
    net = ComiRecSANet(num_items=4, negative_sampler="popularity")
    with pytest.raises(ValueError, match="set_item_counts"):
        net.proposal()
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        net.set_item_counts(torch.ones(4))
    with pytest.raises(ValueError, match=">= 0"):
        net.set_item_counts(torch.tensor([0.0, 1, -1, 2, 3]))
    net.set_item_counts(torch.tensor([7, 1, 0, 2, 3]))
    reloaded = ComiRecSANet(num_items=4, negative_sampler="popularity")
    reloaded.load_state_dict(net.state_dict())
    torch.testing.assert_close(reloaded.proposal(), torch.tensor([2.0, 1, 3, 4]).double() / 10)
    assert ComiRecSANet(num_items=4).proposal() is None


def test_bad_options_and_targets_are_named(batch):
    with pytest.raises(ValueError, match="training"):
        MINDNet(num_items=10, training="full")
    with pytest.raises(ValueError, match="negative_sampler"):
        ComiRecSANet(num_items=10, negative_sampler="log_uniform")
    with pytest.raises(ValueError, match="max_length"):
        ComiRecDRNet(num_items=10, max_length=0)
    with pytest.raises(ValueError, match="popularity_exponent"):
        MINDNet(num_items=10, popularity_exponent=-1.0)
    with pytest.raises(ValueError, match="routing_init"):
        MINDNet(num_items=10, routing_init="uniform")
    with pytest.raises(ValueError, match="targets"):
        MINDNet(num_items=10).training_loss(batch._replace(targets=torch.tensor([0, 1, 2, 3])))


def _synthetic(num_items=12, sessions=48, seed=0):
    """Target = a fixed function of the last item, sessions of 1-6 items."""
    generator = torch.Generator().manual_seed(seed)
    prefixes, targets = [], []
    for _ in range(sessions):
        length = int(torch.randint(1, 7, (1,), generator=generator))
        prefix = torch.randint(1, num_items + 1, (length,), generator=generator).tolist()
        prefixes.append(prefix)
        targets.append(prefix[-1] % num_items + 1)
    return make_batch(prefixes, targets)


@pytest.mark.parametrize("training", ["reference", "aligned"])
@pytest.mark.parametrize(("cls", "options"), NETWORKS, ids=IDS)
def test_loss_decreases_and_ranking_improves(cls, options, training):
    # Reference training need not lower the full CE of the max over interests (the interests it
    # never selects are not trained, THUDM/ComiRec#11); it must lower its own loss and rank better.
    batch = _synthetic()
    net = cls(
        num_items=12, embedding_dim=16, num_interests=3, max_length=6, training=training, **options
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)

    def objective():
        if training == "reference":
            return net.training_loss(batch)
        return torch.nn.functional.cross_entropy(net(batch), batch.targets - 1)

    def hit_rate_at_3():
        with torch.no_grad():
            top = net.eval()(batch).topk(3, dim=1).indices + 1
            net.train()
        return float((top == batch.targets.unsqueeze(1)).any(1).float().mean())

    before, hits_before = objective().item(), hit_rate_at_3()
    for _ in range(40):
        optimizer.zero_grad()
        objective().backward()
        optimizer.step()
    assert objective().item() < before - 0.5
    assert hit_rate_at_3() > hits_before + 0.2
