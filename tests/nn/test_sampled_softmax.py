from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn.label_aware import label_aware_interest
from dmi_gnn.nn.sampled_softmax import SampledSoftmaxLoss, popularity_proposal
from tests.nn import naive_multi_interest as naive


@pytest.mark.parametrize("proposal_kind", ["uniform", "popularity"])
def test_matches_naive_loop_with_accidental_hits(proposal_kind):
    user = torch.randn(3, 4, requires_grad=True)
    candidates = torch.randn(6, 4, requires_grad=True)
    targets = torch.tensor([2, 5, 2])
    negatives = torch.tensor([2, 1, 6, 6, 5, 3, 1])  # hits of targets 2 and 5, repeats
    proposal = None
    if proposal_kind == "popularity":
        proposal = popularity_proposal(torch.tensor([9.0, 0.0, 3.0, 1.0, 20.0, 2.0]), 0.75)
    loss = SampledSoftmaxLoss()(user, targets, candidates, proposal, negatives)
    expected = naive.sampled_softmax(user, targets, candidates, negatives, proposal)
    torch.testing.assert_close(loss, expected)
    ours = torch.autograd.grad(loss, [user, candidates])
    theirs = torch.autograd.grad(expected, [user, candidates])
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)
    kept = SampledSoftmaxLoss(remove_accidental_hits=False)(
        user, targets, candidates, proposal, negatives
    )
    torch.testing.assert_close(
        kept, naive.sampled_softmax(user, targets, candidates, negatives, proposal, False)
    )
    assert not torch.allclose(kept, loss)


def test_sampler_draws_ten_per_example_from_the_proposal():
    torch.manual_seed(1)
    loss = SampledSoftmaxLoss()
    uniform = loss.sample(7, 5, None, "cpu")
    assert uniform.shape == (70,) and uniform.min() >= 1 and uniform.max() <= 5
    proposal = popularity_proposal(torch.tensor([0.0, 1.0, 8.0]))  # (1, 2, 9) / 12
    draws = SampledSoftmaxLoss(num_negatives=60000).sample(1, 3, proposal, "cpu")
    frequencies = torch.bincount(draws, minlength=4)[1:].double() / draws.numel()
    torch.testing.assert_close(
        frequencies, torch.tensor([1, 2, 9], dtype=torch.float64) / 12, atol=0.01, rtol=0
    )


def test_logq_correction_makes_the_gradient_approach_the_full_softmax_one():
    # With many popularity negatives, sampled softmax + logQ has (about) the gradient of the full
    # softmax cross-entropy (Jean et al. 2015); without the correction it is biased to popular
    # items.
    torch.manual_seed(0)
    user = torch.randn(4, 3, requires_grad=True)
    candidates = torch.randn(50, 3)
    targets = torch.tensor([1, 7, 20, 49])
    proposal = popularity_proposal(torch.arange(50.0) ** 2)
    full = torch.nn.functional.cross_entropy(user @ candidates.t(), targets - 1)
    (expected,) = torch.autograd.grad(full, user)
    layer = SampledSoftmaxLoss(num_negatives=50000, remove_accidental_hits=False)
    negatives = layer.sample(4, 50, proposal, "cpu")
    (corrected,) = torch.autograd.grad(layer(user, targets, candidates, proposal, negatives), user)
    (uncorrected,) = torch.autograd.grad(layer(user, targets, candidates, None, negatives), user)
    assert (corrected - expected).abs().max() < 0.02
    assert (uncorrected - expected).abs().max() > 0.06


def test_bad_input_is_named():
    layer = SampledSoftmaxLoss()
    with pytest.raises(ValueError, match="targets"):
        layer(torch.randn(2, 3), torch.tensor([0, 1]), torch.randn(4, 3))
    with pytest.raises(ValueError, match="proposal"):
        layer(torch.randn(2, 3), torch.tensor([1, 1]), torch.randn(4, 3), torch.ones(3) / 3)
    with pytest.raises(ValueError, match="num_negatives"):
        SampledSoftmaxLoss(num_negatives=0)


def test_label_aware_interest_matches_naive_loop_and_breaks_ties_low():
    interests = torch.randn(3, 4, 5, requires_grad=True)
    interests_copy = interests.detach().clone()
    interests_copy[2, 3] = interests_copy[2, 1]  # a duplicated interest
    targets = torch.randn(3, 5)
    chosen = label_aware_interest(interests_copy, targets)
    for b in range(3):
        scores = [float(interests_copy[b, k] @ targets[b]) for k in range(4)]
        best = max(range(4), key=lambda k: (scores[k], -k))
        torch.testing.assert_close(chosen[b], interests_copy[b, best])
    label_aware_interest(interests, targets).sum().backward()
    assert (interests.grad.abs().sum(-1) > 0).sum() == 3  # one interest per example
    with pytest.raises(ValueError, match="target_embeddings"):
        label_aware_interest(interests, targets[:, :2])
