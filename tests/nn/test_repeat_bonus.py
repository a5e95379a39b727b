from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dmi_gnn.nn import RepeatBonus
from tests.nn import naive_repeat, repeat_task


def _randomise(layer: RepeatBonus) -> RepeatBonus:
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.normal_()
    return layer


@pytest.mark.parametrize(
    ("hidden", "first_position", "max_positions"), [(16, False, 32), (0, True, 2), (5, True, 3)]
)
def test_matches_naive_loop(batch, hidden, first_position, max_positions):
    layer = _randomise(
        RepeatBonus(max_positions, position_dim=3, hidden=hidden, first_position=first_position)
    ).double()
    logits = torch.randn(batch.batch_size, 10, dtype=torch.float64, requires_grad=True)
    out = layer(logits, batch.items, batch.mask)
    expected = naive_repeat.bonus_logits(layer, logits, batch.items, batch.mask)
    torch.testing.assert_close(out, expected)
    # Only the prefix's items moved.
    moved = (out != logits).nonzero().tolist()
    in_prefix = {
        (b, i - 1) for b in range(4) for i in naive_repeat.prefix(batch.items, batch.mask, b)
    }
    assert moved and {tuple(m) for m in moved} <= in_prefix
    # Gradients agree with the loop's, for the logits and every parameter.
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    ours = [logits.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    logits.grad = None
    (expected * weights).sum().backward()
    theirs = [logits.grad] + [p.grad for p in layer.parameters()]
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("hidden", [0, 16])
def test_starts_as_identity_and_gradients_flow(batch, hidden):
    layer = RepeatBonus(hidden=hidden, first_position=True)
    logits = torch.randn(batch.batch_size, 10, requires_grad=True)
    out = layer(logits, batch.items, batch.mask)
    assert torch.equal(out, logits)
    F.cross_entropy(out, batch.targets - 1).backward()
    assert logits.grad.abs().sum() > 0
    output = layer.mlp[-1]
    assert output.weight.grad.abs().sum() > 0 and output.bias.grad.abs().sum() > 0
    # One step later the bonus is live and every parameter gets a gradient.
    with torch.no_grad():
        output.weight.normal_()
    layer.zero_grad()
    F.cross_entropy(layer(logits, batch.items, batch.mask), batch.targets - 1).backward()
    for name, parameter in layer.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_learns_the_repeat_pattern():
    train, test = repeat_task.sessions(512, seed=0), repeat_task.sessions(512, seed=1)

    def nll(model, bonus, data):
        logits = bonus(model(data), data.items, data.mask)
        return F.cross_entropy(logits, data.targets - 1)

    with_bonus = repeat_task.Popularity(40)
    bonus = RepeatBonus(max_positions=8)
    params = [*with_bonus.parameters(), *bonus.parameters()]
    repeat_task.fit(lambda: nll(with_bonus, bonus, train), params)
    with torch.no_grad():
        bonus_loss = nll(with_bonus, bonus, test)
    base_loss = repeat_task.popularity_loss(train, test)
    # Popularity alone: ~3.1 nats; the bonus learns count and recency: ~2.3.
    assert bonus_loss < base_loss - 0.5, (float(base_loss), float(bonus_loss))
    # A more recent click gets a larger bonus, all else equal.
    items = torch.tensor([[1, 2, 3, 4]])
    bonuses = bonus.bonus(items, torch.ones_like(items, dtype=torch.bool))
    assert bool((bonuses[0, :-1] > bonuses[0, 1:]).all()), bonuses


def test_bad_options_are_named():
    for kwargs, message in [
        ({"max_positions": 0}, "max_positions"),
        ({"position_dim": 0}, "position_dim"),
        ({"hidden": -1}, "hidden"),
    ]:
        with pytest.raises(ValueError, match=message):
            RepeatBonus(**kwargs)
    with pytest.raises(ValueError, match=r"1\.\.N"):
        RepeatBonus()(torch.zeros(1, 3), torch.tensor([[4]]), torch.tensor([[True]]))
