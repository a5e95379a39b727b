from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn.multi_level_attention import MultiLevelAttention
from tests.nn import naive_multi_interest as naive


def _layer(semantics):
    layer = MultiLevelAttention(8, heads=4, levels=3, semantics=semantics).eval()
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.uniform_(-0.8, 0.8)
    return layer


@pytest.mark.parametrize("semantics", ["corrected", "reference"])
def test_matches_naive_loop(batch, semantics):
    layer = _layer(semantics)
    queries = torch.randn(4, 3, 8, requires_grad=True)
    hidden = torch.randn((*batch.items.shape, 8)) * batch.mask.unsqueeze(-1)
    hidden.requires_grad_(True)
    summary, alpha = layer(queries, hidden, batch.mask)
    assert summary.shape == (4, 8) and alpha.shape == (4, 5, 4)
    expected, expected_alpha = naive.multi_level(layer, queries, hidden, batch.mask)
    torch.testing.assert_close(summary, expected)
    torch.testing.assert_close(alpha, expected_alpha)
    params = [queries, hidden, *layer.parameters()]
    ours = torch.autograd.grad((summary * torch.arange(8.0)).sum(), params)
    theirs = torch.autograd.grad((expected * torch.arange(8.0)).sum(), params)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b)


def test_reference_split_is_the_published_view(batch):
    layer = _layer("reference")
    x = torch.arange(2 * 5 * 8.0).view(2, 5, 8)
    # The published code: x.view(-1, rows, d / H), i.e. (B H, R, d_h) with batch-major blocks.
    published = x.view(-1, 5, 2).view(2, 4, 5, 2)
    torch.testing.assert_close(layer.split_heads(x), published)
    corrected = _layer("corrected").split_heads(x)
    torch.testing.assert_close(corrected[1, 2, 3], x[1, 3, 4:6])
    assert not torch.equal(corrected, published)


def test_corrected_ignores_padding_and_reference_does_not(batch):
    queries = torch.randn(4, 3, 8)
    hidden = torch.randn((*batch.items.shape, 8)) * batch.mask.unsqueeze(-1)
    wider_mask = torch.cat([batch.mask, torch.zeros(4, 3, dtype=torch.bool)], 1)
    wider = torch.cat([hidden, torch.zeros(4, 3, 8)], 1)
    corrected, reference = _layer("corrected"), _layer("reference")
    torch.testing.assert_close(
        corrected(queries, wider, wider_mask)[0], corrected(queries, hidden, batch.mask)[0]
    )
    assert not torch.allclose(
        reference(queries, wider, wider_mask)[0], reference(queries, hidden, batch.mask)[0]
    )


def test_attention_dropout_only_in_training(batch):
    layer = _layer("corrected").train()
    queries = torch.randn(4, 3, 8)
    hidden = torch.randn((*batch.items.shape, 8))
    assert not torch.equal(
        layer(queries, hidden, batch.mask)[1], layer(queries, hidden, batch.mask)[1]
    )
    layer.eval()
    torch.testing.assert_close(layer(queries, hidden, batch.mask)[1].sum(1), torch.ones(4, 4))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="divisible"):
        MultiLevelAttention(10, heads=4)
    with pytest.raises(ValueError, match="semantics"):
        MultiLevelAttention(8, heads=4, semantics="fixed")
    with pytest.raises(ValueError, match="queries"):
        MultiLevelAttention(8, heads=4, levels=3)(
            torch.randn(1, 2, 8), torch.randn(1, 4, 8), torch.ones(1, 4, dtype=torch.bool)
        )
