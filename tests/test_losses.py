"""Losses against direct transcriptions of the published code (model.py, compute_scores)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dmi_gnn.losses import (
    dmi_regularizer,
    interest_regularizer,
    item_cross_entropy,
    pairwise_abs_cosine,
    similarity_regularizer,
)


def reference_similarity(beta: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """model.py lines 95-119, transcribed (loops over interests and interest pairs)."""
    interests = beta.shape[2]
    mask = mask.float().unsqueeze(-1).expand(-1, -1, interests)
    beta = beta * mask
    normalized_beta = torch.empty_like(beta)
    for i in range(interests):
        normalized_beta[:, :, i] = F.normalize(beta[:, :, i], p=2, dim=1)
    sim_loss = torch.zeros(beta.shape[0])
    for i in range(interests - 1):
        for j in range(i + 1, interests):
            temp_sim = torch.sum(normalized_beta[:, :, i] * normalized_beta[:, :, j], dim=1)
            sim_loss += torch.abs(temp_sim)
    return sim_loss * 2 / (interests * (interests - 1))


def reference_dmi(beta: torch.Tensor, mask: torch.Tensor, length: float) -> torch.Tensor:
    """model.py lines 99-122: sum over the batch of sigmoid(sim * (l - eta))."""
    sumask = mask.float().sum(1)
    lens = sumask - length
    return torch.sigmoid(reference_similarity(beta, mask) * lens).sum(dim=-1)


def _inputs(heads: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([1, 3, 7, 7, 2, 5])
    mask = torch.arange(7) < lengths.unsqueeze(1)
    attention = torch.randn(6, 7, heads, generator=generator) * mask.unsqueeze(-1)
    attention[4, :, 0] = 0.0  # an all-zero column (normalize's eps path)
    return attention.requires_grad_(), mask, lengths


@pytest.mark.parametrize("heads", [2, 3, 5])
def test_dmi_and_similarity_match_the_reference_transcription(heads):
    attention, mask, lengths = _inputs(heads)
    eta = 3.0
    ours = dmi_regularizer(attention, mask, lengths, eta, "sum")
    theirs = reference_dmi(attention, mask, eta)
    torch.testing.assert_close(ours, theirs)
    (grad_ours,) = torch.autograd.grad(ours, attention)
    (grad_theirs,) = torch.autograd.grad(theirs, attention)
    torch.testing.assert_close(grad_ours, grad_theirs)
    torch.testing.assert_close(dmi_regularizer(attention, mask, lengths, eta, "mean"), theirs / 6)
    similarity = reference_similarity(attention, mask)
    torch.testing.assert_close(pairwise_abs_cosine(attention, mask), similarity)
    torch.testing.assert_close(similarity_regularizer(attention, mask, "sum"), similarity.sum())
    torch.testing.assert_close(similarity_regularizer(attention, mask, "mean"), similarity.mean())
    for kind, expected in (("dmi", theirs), ("similarity", similarity.sum()), ("none", 0.0)):
        value = interest_regularizer(kind, attention, mask, lengths, eta, "sum")
        torch.testing.assert_close(value, torch.as_tensor(expected))


def test_padding_values_are_ignored():
    attention, mask, _lengths = _inputs(3)
    noisy = attention.detach() + 5.0 * (~mask).unsqueeze(-1)
    torch.testing.assert_close(
        pairwise_abs_cosine(noisy, mask), pairwise_abs_cosine(attention, mask)
    )


def test_one_interest_is_zero_not_nan():
    attention, mask, lengths = _inputs(1)
    assert torch.isnan(reference_dmi(attention, mask, 3.0))  # the published code (quirk 7)
    assert torch.equal(pairwise_abs_cosine(attention, mask), torch.zeros(6))
    for kind in ("none", "similarity", "dmi"):
        for reduction in ("sum", "mean"):
            value = interest_regularizer(kind, attention, mask, lengths, 3.0, reduction)
            assert value.shape == () and value.item() == 0.0
    assert dmi_regularizer(attention, mask, lengths, 3.0, "sum").item() == 0.0


def test_identical_heads_have_similarity_one_and_sign_of_dmi_follows_length():
    column = torch.tensor([[0.5, -1.0, 2.0], [1.0, 1.0, 0.0]])
    attention = torch.stack([column, -column, 2 * column], dim=-1)  # |cos| = 1 for every pair
    mask = torch.tensor([[True, True, True], [True, True, False]])
    torch.testing.assert_close(pairwise_abs_cosine(attention, mask), torch.ones(2))
    lengths = torch.tensor([3, 2])
    value = dmi_regularizer(attention, mask, lengths, 2.0, "sum")
    torch.testing.assert_close(value, torch.tensor(1 / (1 + math.exp(-1)) + 0.5))


def test_item_cross_entropy_is_over_items_one_to_n():
    scores = torch.randn(4, 6)
    targets = torch.tensor([1, 6, 3, 3])
    expected = torch.stack(
        [-(scores[b, t - 1] - scores[b].exp().sum().log()) for b, t in enumerate(targets)]
    )
    torch.testing.assert_close(item_cross_entropy(scores, targets), expected.mean())
    torch.testing.assert_close(item_cross_entropy(scores, targets, "none"), expected)


def test_validation():
    attention, mask, lengths = _inputs(2)
    with pytest.raises(ValueError, match="regularizer"):
        interest_regularizer("orthogonal", attention, mask, lengths, 3.0, "sum")
    with pytest.raises(ValueError, match="reduction"):
        interest_regularizer("dmi", attention, mask, lengths, 3.0, "max")
