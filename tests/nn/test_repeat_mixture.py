from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dmi_gnn.nn import RepeatMixture
from tests.nn import naive_repeat, repeat_task


def _inputs(batch, dim=6, interests=2, items=10):
    logits = torch.randn(batch.batch_size, items, dtype=torch.float64, requires_grad=True)
    session = torch.randn(batch.batch_size, interests, dim, dtype=torch.float64)
    hidden = torch.randn(*batch.items.shape, dim, dtype=torch.float64)
    return logits, session.requires_grad_(), hidden.requires_grad_()


def _randomise(layer: RepeatMixture) -> RepeatMixture:
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.normal_(std=0.5)
    return layer.double()


@pytest.mark.parametrize(
    ("explore", "max_positions", "interests"), [("all", 32, 2), ("unseen", 2, 1), ("all", 3, 0)]
)
def test_matches_naive_loop(batch, explore, max_positions, interests):
    layer = _randomise(RepeatMixture(6, max_positions=max_positions, explore=explore))
    logits, session, hidden = _inputs(batch, interests=max(interests, 1))
    if interests == 0:  # a plain (B, d) session vector
        session = session[:, 0].detach().requires_grad_()
    out = layer(logits, batch.items, batch.mask, session, hidden)
    expected = naive_repeat.mixture_log_probs(
        layer, logits, batch.items, batch.mask, session, hidden
    )
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out.logsumexp(1), torch.zeros(4, dtype=torch.float64))
    # Gradients agree with the loop's.
    weights = torch.rand_like(out)
    (out * weights).sum().backward()
    leaves = [logits, session, hidden, *layer.parameters()]
    ours = [leaf.grad.clone() for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    (expected * weights).sum().backward()
    for leaf, mine in zip(leaves, ours, strict=True):
        torch.testing.assert_close(mine, leaf.grad)
    for name, parameter in layer.named_parameters():
        assert parameter.grad.abs().sum() > 0, name


def test_starts_at_the_prior_and_is_base_softmax_outside_the_session(batch):
    layer = RepeatMixture(6, repeat_prior=0.2)
    logits, session, hidden = _inputs(batch)
    layer = layer.double()
    gate = layer.gate_logit(session, batch.items, batch.mask)
    torch.testing.assert_close(torch.sigmoid(gate), torch.full((4,), 0.2, dtype=torch.float64))
    out = layer(logits, batch.items, batch.mask, session, hidden)
    unseen = torch.ones(4, 10, dtype=torch.bool)
    for b in range(4):
        for item in naive_repeat.prefix(batch.items, batch.mask, b):
            unseen[b, item - 1] = False
    expected = math.log(0.8) + torch.log_softmax(logits, 1)
    torch.testing.assert_close(out[unseen], expected[unseen])


def test_extreme_scores_stay_finite(batch):
    for explore in ("all", "unseen"):
        layer = RepeatMixture(6, explore=explore)
        logits = torch.randn(4, 10) * 1e4
        logits.requires_grad_()
        session, hidden = torch.randn(4, 6) * 100, torch.randn(*batch.items.shape, 6) * 100
        with torch.no_grad():
            layer.gate.weight.fill_(50.0)  # p_r saturates towards 0 or 1
        out = layer(logits, batch.items, batch.mask, session, hidden)
        assert torch.isfinite(out).all()
        F.cross_entropy(out, batch.targets - 1).backward()
        assert torch.isfinite(logits.grad).all()


def test_unseen_with_every_item_in_the_session_stays_finite():
    items = torch.tensor([[2, 1, 2]])
    mask = torch.ones_like(items, dtype=torch.bool)
    layer = RepeatMixture(3, explore="unseen")
    out = layer(torch.randn(1, 2), items, mask, torch.randn(1, 3), torch.randn(1, 3, 3))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.logsumexp(1), torch.zeros(1))


@pytest.mark.parametrize("explore", ["all", "unseen"])
def test_learns_the_repeat_pattern(explore):
    train, test = repeat_task.sessions(1024, seed=0), repeat_task.sessions(512, seed=1)
    # Frozen item embeddings stand for a trained base model's; trainable or wider ones let the
    # attention and gate memorise this small training set (test loss 2.7-3.6 at d = 8).
    dim = 4
    embedding = torch.nn.Embedding(41, dim, padding_idx=0).requires_grad_(False)

    def log_probs(model, mixture, data):
        logits = model(data)
        hidden = embedding(data.items)
        real = data.mask.unsqueeze(-1).to(hidden.dtype)
        session = (hidden * real).sum(1) / real.sum(1)
        return mixture(logits, data.items, data.mask, session, hidden)

    def nll(model, mixture, data):
        return F.nll_loss(log_probs(model, mixture, data), data.targets - 1)

    model, mixture = repeat_task.Popularity(40), RepeatMixture(dim, 8, explore=explore)
    params = [*model.parameters(), *mixture.parameters()]
    repeat_task.fit(lambda: nll(model, mixture, train), params)
    with torch.no_grad():
        loss = float(nll(model, mixture, test))
        # Cross-entropy on the log-probabilities is the same loss (they are normalised).
        out = log_probs(model, mixture, test)
        torch.testing.assert_close(
            F.cross_entropy(out, test.targets - 1), F.nll_loss(out, test.targets - 1)
        )
    base_loss = float(repeat_task.popularity_loss(train, test))
    # Popularity alone: ~3.1 nats; the mixture: ~2.25 with either explore distribution.
    assert loss < base_loss - 0.5, (base_loss, loss)


def test_bad_arguments_are_named(batch):
    for kwargs, message in [
        ({"dim": 0}, "dim"),
        ({"dim": 4, "max_positions": 0}, "max_positions"),
        ({"dim": 4, "explore": "some"}, "explore"),
        ({"dim": 4, "repeat_prior": 1.0}, "repeat_prior"),
    ]:
        with pytest.raises(ValueError, match=message):
            RepeatMixture(**kwargs)
    layer = RepeatMixture(4)
    logits = torch.zeros(4, 10)
    hidden = torch.zeros(*batch.items.shape, 4)
    with pytest.raises(ValueError, match="session must be"):
        layer(logits, batch.items, batch.mask, torch.zeros(4, 5), hidden)
    with pytest.raises(ValueError, match="hidden must be"):
        layer(logits, batch.items, batch.mask, torch.zeros(4, 4), hidden[:, :2])
    with pytest.raises(ValueError, match="at least one real position"):
        empty = torch.zeros_like(batch.mask)
        layer(logits, batch.items * 0, empty, torch.zeros(4, 4), hidden)
