from __future__ import annotations

import math

import pytest
import torch

from dmi_gnn.nn.capsule_routing import CapsuleRouting, dynamic_interest_count, squash
from tests.nn import naive_multi_interest as naive


def _grads(outputs, inputs):
    loss = sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in outputs)
    return torch.autograd.grad(loss, inputs)


@pytest.mark.parametrize(
    ("bilinear", "logit_init", "stop_gradient", "iterations"),
    [
        ("shared", "fixed", True, 3),
        ("shared", "normal", False, 2),  # eval mode: reads fixed_logits
        ("per_position", "zeros", True, 3),
        ("per_position", "fixed", False, 1),
    ],
)
def test_matches_naive_loop(batch, bilinear, logit_init, stop_gradient, iterations):
    layer = CapsuleRouting(
        5,
        3,
        max_positions=6,
        bilinear=bilinear,
        iterations=iterations,
        logit_init=logit_init,
        stop_gradient=stop_gradient,
    ).eval()
    hidden = torch.randn((*batch.items.shape, 5), requires_grad=True)
    interests, weights = layer(hidden, batch.mask)
    assert interests.shape == (4, 3, 5) and weights.shape == (4, 5, 3)
    length = batch.items.shape[1]
    if logit_init == "zeros":
        start = torch.zeros(4, 3, length)
    else:
        start = layer.fixed_logits[:length].t().expand(4, 3, length)
    expected, expected_weights = naive.routing(layer, hidden, batch.mask, start)
    torch.testing.assert_close(interests, expected)
    torch.testing.assert_close(weights, expected_weights)
    params = [hidden, layer.weight]
    for ours, theirs in zip(_grads([interests], params), _grads([expected], params), strict=True):
        torch.testing.assert_close(ours, theirs)


def test_interest_mask_matches_naive_loop_and_copies_interest_zero(batch):
    layer = CapsuleRouting(4, 3, max_positions=5, logit_init="fixed")
    hidden = torch.randn((*batch.items.shape, 4))
    active = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 0, 1]], dtype=torch.bool)
    interests, weights = layer(hidden, batch.mask, active)
    start = layer.fixed_logits[:5].t().expand(4, 3, 5)
    expected, expected_weights = naive.routing(layer, hidden, batch.mask, start, active)
    torch.testing.assert_close(interests, expected)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(interests[1, 1], interests[1, 0])
    assert (weights.transpose(1, 2)[~active] == 0).all()


def test_weights_sum_to_one_over_interests_and_vanish_at_padding(batch):
    layer = CapsuleRouting(4, 3, max_positions=5)
    _, weights = layer(torch.randn((*batch.items.shape, 4)), batch.mask)
    torch.testing.assert_close(weights.sum(-1), batch.mask.float())


def test_normal_init_is_fresh_in_training_and_fixed_in_eval(batch):
    layer = CapsuleRouting(4, 3, max_positions=5, logit_init="normal")
    hidden = torch.randn((*batch.items.shape, 4))
    first, second = layer(hidden, batch.mask)[0], layer(hidden, batch.mask)[0]
    assert not torch.allclose(first, second)
    start = layer.initial_logits(64, 5, hidden)
    assert start.abs().max() <= 2.0 and start.std() > 0.5
    layer.eval()
    torch.testing.assert_close(layer(hidden, batch.mask)[0], layer(hidden, batch.mask)[0])
    # Batch-independent in eval: a session alone gives the same interests as in the batch.
    alone = layer(hidden[2:3], batch.mask[2:3])[0]
    torch.testing.assert_close(alone, layer(hidden, batch.mask)[0][2:3])


def test_squash_keeps_direction_and_maps_norm_below_one():
    z = torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.3, 0.4]])
    out = squash(z)
    torch.testing.assert_close(out[0], z[0] / 5 * 25 / 26)
    torch.testing.assert_close(out[1], torch.zeros(2))
    torch.testing.assert_close(out[2].norm(), torch.tensor(0.25 / 1.25))
    for row in z:
        torch.testing.assert_close(squash(row), naive.squash_one(row))


def test_dynamic_interest_count_matches_the_formula():
    lengths = torch.arange(1, 200)
    for cap in (1, 3, 4, 9):
        expected = [max(1, min(cap, math.floor(math.log2(n)))) for n in range(1, 200)]
        assert dynamic_interest_count(lengths, cap).tolist() == expected


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="bilinear"):
        CapsuleRouting(4, 2, bilinear="diagonal")
    with pytest.raises(ValueError, match="logit_init"):
        CapsuleRouting(4, 2, logit_init="ones")
    with pytest.raises(ValueError, match="iterations"):
        CapsuleRouting(4, 2, iterations=0)
    layer = CapsuleRouting(4, 2, max_positions=3)
    with pytest.raises(ValueError, match="max_positions=3"):
        layer(torch.randn(1, 4, 4), torch.ones(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="interest 0"):
        layer(torch.randn(1, 2, 4), torch.ones(1, 2, dtype=torch.bool), torch.tensor([[0, 1]]))
