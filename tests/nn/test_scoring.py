from __future__ import annotations

import pytest
import torch

from dmi_gnn.nn import InterestScorer, score_items
from tests.nn import naive


@pytest.mark.parametrize("scoring", ["max", "sum"])
def test_matches_naive_loop(scoring):
    interests = torch.randn(3, 4, 5)
    candidates = torch.randn(7, 5)
    out = InterestScorer(scoring)(interests, candidates)
    assert out.shape == (3, 7)
    torch.testing.assert_close(out, naive.scores(interests, candidates, scoring))


@pytest.mark.parametrize("scoring", ["max", "sum"])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 100])
def test_chunked_equals_unchunked(scoring, chunk_size):
    interests = torch.randn(3, 4, 5, requires_grad=True)
    candidates = torch.randn(7, 5, requires_grad=True)
    weights = torch.randn(3, 7)
    full = score_items(interests, candidates, scoring)
    (full * weights).sum().backward()
    grads = interests.grad.clone(), candidates.grad.clone()
    interests.grad = candidates.grad = None
    chunked = score_items(interests, candidates, scoring, chunk_size=chunk_size)
    (chunked * weights).sum().backward()
    torch.testing.assert_close(chunked, full)
    torch.testing.assert_close(interests.grad, grads[0])
    torch.testing.assert_close(candidates.grad, grads[1])


def test_max_gradient_flows_to_the_best_interest_only():
    interests = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], requires_grad=True)
    candidates = torch.tensor([[2.0, 1.0]])  # head 0 scores 2, head 1 scores 1
    score_items(interests, candidates).sum().backward()
    torch.testing.assert_close(interests.grad, torch.tensor([[[2.0, 1.0], [0.0, 0.0]]]))


def test_repr_and_validation():
    assert repr(InterestScorer("sum", 64)) == "InterestScorer(scoring='sum', chunk_size=64)"
    with pytest.raises(ValueError, match="scoring"):
        InterestScorer("mean")
    with pytest.raises(ValueError, match="chunk_size"):
        InterestScorer("max", chunk_size=0)


def test_auto_chunking_is_blocks_on_cpu_and_exact():
    from dmi_gnn.nn.scoring import CPU_CHUNK_SIZE, resolve_chunk_size

    assert resolve_chunk_size("auto", torch.device("cpu")) == CPU_CHUNK_SIZE
    assert resolve_chunk_size("auto", torch.device("cuda")) is None
    assert resolve_chunk_size(5, torch.device("cuda")) == 5
    torch.manual_seed(0)
    interests = torch.randn(3, 4, 6)
    candidates = torch.randn(CPU_CHUNK_SIZE + 100, 6)  # two blocks
    torch.testing.assert_close(
        score_items(interests, candidates, "max", chunk_size="auto"),
        score_items(interests, candidates, "max", chunk_size=None),
    )
    assert InterestScorer().chunk_size == "auto"
