"""Ranking metrics against brute-force numpy (ties, K > N, merged Coverage states)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dmi_gnn.metrics import (
    MRR,
    NDCG,
    Coverage,
    HitRate,
    RankingMetrics,
    SampleCount,
    pessimistic_rank,
)


def brute_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    ranks = []
    for row, target in zip(scores, targets, strict=True):
        t = target - 1
        higher = sum(1 for j, s in enumerate(row) if s > row[t])
        tied_others = sum(1 for j, s in enumerate(row) if s == row[t] and j != t)
        ranks.append(1 + higher + tied_others)
    return np.array(ranks)


def brute_metrics(scores: np.ndarray, targets: np.ndarray, k: int) -> dict[str, float]:
    ranks = brute_ranks(scores, targets)
    hit = ranks <= k
    return {
        "HR": hit.mean(),
        "MRR": np.where(hit, 1.0 / ranks, 0.0).mean(),
        "NDCG": np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0).mean(),
    }


def brute_coverage(scores: np.ndarray, k: int) -> float:
    covered = set()
    for row in scores:
        covered.update(np.argsort(-row)[:k].tolist())
    return len(covered) / scores.shape[1]


def _tied_scores(rng, batch=40, items=12):
    return rng.integers(0, 4, size=(batch, items)).astype(np.float32)  # many ties


def test_pessimistic_rank_by_hand():
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0], [0.0, 0.2, 0.3, 0.4]])
    targets = torch.tensor([1, 2, 4])
    # Row 0: one higher (0.9), one tied (item 3) -> 3. Row 1: all tied -> 4. Row 2: best -> 1.
    assert pessimistic_rank(scores, targets).tolist() == [3, 4, 1]
    nan_row = torch.tensor([[float("nan"), 1.0]])
    assert pessimistic_rank(nan_row, torch.tensor([1])).item() > 10**18


@pytest.mark.parametrize("k", [1, 3, 5, 12, 50])
def test_rank_metrics_match_brute_force_with_ties(k):
    rng = np.random.default_rng(k)
    scores = _tied_scores(rng)
    targets = rng.integers(1, 13, size=40)
    expected = brute_metrics(scores, targets, k)
    for name, metric in (("HR", HitRate(k)), ("MRR", MRR(k)), ("NDCG", NDCG(k))):
        for start in range(0, 40, 15):  # several updates
            metric.update(
                torch.from_numpy(scores[start : start + 15]),
                torch.from_numpy(targets[start : start + 15]),
            )
        assert metric.compute().item() == pytest.approx(expected[name], abs=1e-6), name
    if k >= 12:
        assert expected["HR"] == 1.0  # K >= N: every target is a hit


def test_constant_scores_rank_every_target_last():
    scores = torch.zeros(3, 10)
    metric = HitRate(9)
    metric.update(scores, torch.tensor([1, 5, 10]))
    assert metric.compute().item() == 0.0


def brute_coverage_bounds(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Items that every valid top-K list holds (score above the row's K-th best) and items
    that one may hold (at or above it): ties at the K-th place may go either way."""
    kth = -np.sort(-scores, axis=1)[:, min(k, scores.shape[1]) - 1 : min(k, scores.shape[1])]
    return (scores > kth).any(axis=0), (scores >= kth).any(axis=0)


@pytest.mark.parametrize("k", [1, 3, 5, 12])
def test_coverage_with_ties_lies_between_independent_bounds(k):
    """With ties Cov@K depends on which tied item fills the list; whatever the rule, the
    covered items lie between bounds computed without torch.topk, and each batch's lists add
    exactly K items per row before the union (checked on single rows)."""
    rng = np.random.default_rng(100 + k)
    scores = _tied_scores(rng)
    must, may = brute_coverage_bounds(scores, k)
    for metrics in (Coverage(k, 12), RankingMetrics((k,), num_items=12, prefix="")):
        for start in range(0, 40, 15):
            part = torch.from_numpy(scores[start : start + 15])
            metrics.update(part, torch.ones(len(part), dtype=torch.long))
        coverage = metrics if isinstance(metrics, Coverage) else metrics.metrics[f"Cov@{k}"]
        covered = coverage.recommended.numpy()
        assert (covered >= must).all() and (covered <= may).all()
    for row in scores[:10]:
        single = Coverage(k, 12)
        single.update(torch.from_numpy(row[None]))
        assert single.recommended.sum().item() == min(k, 12)
        row_must, row_may = brute_coverage_bounds(row[None], k)
        assert (single.recommended.numpy() >= row_must).all()
        assert (single.recommended.numpy() <= row_may).all()


@pytest.mark.parametrize("k", [1, 4, 20])
def test_coverage_matches_brute_force_and_merges(k):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((30, 15)).astype(np.float32)  # no ties
    first, second = Coverage(k, 15), Coverage(k, 15)
    first.update(torch.from_numpy(scores[:10]))
    second.update(torch.from_numpy(scores[10:]))
    assert second.compute().item() == pytest.approx(brute_coverage(scores[10:], k))
    # Simulated DDP reduce, by hand with the declared reduce function ("max") ...
    union = torch.stack([first.recommended, second.recommended]).max(0).values
    assert union.sum().item() / 15 == pytest.approx(brute_coverage(scores, k))
    # ... and through torchmetrics' own state merge.
    first.merge_state(second)
    assert torch.equal(first.recommended, union)
    assert first.compute().item() == pytest.approx(brute_coverage(scores, k))
    if k >= 15:
        assert first.compute().item() == 1.0


def test_rank_metric_states_merge_as_sums():
    rng = np.random.default_rng(3)
    scores = _tied_scores(rng, batch=20)
    targets = rng.integers(1, 13, size=20)
    first, second = MRR(5), MRR(5)
    first.update(torch.from_numpy(scores[:7]), torch.from_numpy(targets[:7]))
    second.update(torch.from_numpy(scores[7:]), torch.from_numpy(targets[7:]))
    first.merge_state(second)
    assert first.count.item() == 20
    assert first.compute().item() == pytest.approx(brute_metrics(scores, targets, 5)["MRR"])


def test_collection_matches_brute_force_and_names():
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 6, size=(50, 16)).astype(np.float32)
    targets = rng.integers(1, 17, size=50)
    metrics = RankingMetrics((10, 20), num_items=16, prefix="val/")
    for start in (0, 25):
        metrics.update(
            torch.from_numpy(scores[start : start + 25]),
            torch.from_numpy(targets[start : start + 25]),
        )
    values = metrics.compute()
    assert set(values) == {
        f"val/{name}@{k}" for name in ("HR", "MRR", "NDCG", "Cov") for k in (10, 20)
    } | {"val/count"}
    assert values["val/count"].item() == 50
    for k in (10, 20):
        expected = brute_metrics(scores, targets, k)
        for name in ("HR", "MRR", "NDCG"):
            assert values[f"val/{name}@{k}"].item() == pytest.approx(expected[name], abs=1e-6)
    assert values["val/Cov@20"].item() == 1.0  # K > N
    # Cov@10 equals a standalone Coverage fed the same scores (same torch.topk tie rule).
    coverage = Coverage(10, 16)
    coverage.update(torch.from_numpy(scores))
    assert values["val/Cov@10"].item() == pytest.approx(coverage.compute().item())
    metrics.reset()
    metrics.update(torch.from_numpy(scores[:3]), torch.from_numpy(targets[:3]))
    assert metrics.compute()["val/count"].item() == 3


def test_collection_coverage_matches_brute_force_without_ties():
    rng = np.random.default_rng(11)
    scores = rng.standard_normal((40, 30)).astype(np.float32)
    targets = rng.integers(1, 31, size=40)
    metrics = RankingMetrics((1, 5), num_items=30, prefix="test/")
    metrics.update(torch.from_numpy(scores), torch.from_numpy(targets))
    values = metrics.compute()
    for k in (1, 5):
        assert values[f"test/Cov@{k}"].item() == pytest.approx(brute_coverage(scores, k))


def test_validation():
    with pytest.raises(ValueError, match="k must be"):
        HitRate(0)
    with pytest.raises(ValueError, match="num_items"):
        Coverage(5, 0)
    with pytest.raises(ValueError, match="distinct"):
        RankingMetrics((10, 10), num_items=5)
    metrics = RankingMetrics((3,), num_items=5)
    with pytest.raises(ValueError, match=r"1\.\.5"):
        metrics.update(torch.zeros(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="expected 5"):
        metrics.update(torch.zeros(2, 6), torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="targets must be"):
        HitRate(3).update(torch.zeros(2, 5), torch.tensor([1, 2, 3]))


def test_sample_count_and_metrics_are_submodules():
    count = SampleCount()
    count.update(torch.zeros(7, 3))
    count.update(torch.zeros(2, 3))
    assert count.compute().item() == 9
    parent = torch.nn.Module()
    parent.metrics = RankingMetrics((5,), num_items=4)
    # Children of the parent, so .to(device) and Lightning move their states.
    names = {name for name, _ in parent.named_modules()}
    assert {"metrics.metrics.HR@5", "metrics.metrics.Cov@5", "metrics.metrics.count"} <= names
