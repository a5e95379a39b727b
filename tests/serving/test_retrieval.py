"""ANN retrieval: flat index equals exact top-K; IVF/HNSW recall on a clustered catalogue; the
max-over-interests merge against a naive loop; option validation."""

from __future__ import annotations

import numpy as np
import pytest

from dmi_gnn.serving.ann_index import AnnOptions, augment_items, augment_queries
from dmi_gnn.serving.retrieval import (
    AnnRetrieval,
    ExactRetrieval,
    make_retrieval,
    merge_by_max,
)


def _table(items: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((items, dim)).astype(np.float32)


def _clustered(items: int, dim: int, topics: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    table = centres[rng.integers(0, topics, items)] + 0.5 * rng.standard_normal(
        (items, dim), dtype=np.float32
    )
    return table / np.linalg.norm(table, axis=1, keepdims=True)


def test_flat_ann_equals_exact_top_k():
    table = _table(3000, 12) * np.linspace(0.5, 2.0, 3000, dtype=np.float32)[:, None]
    table_t = np.ascontiguousarray(table.T)
    interests = np.random.default_rng(1).standard_normal((9, 3, 12)).astype(np.float32)
    exact_ids, exact_scores = ExactRetrieval(table_t).top_k(interests, 25)
    ann_ids, ann_scores = AnnRetrieval(table_t, AnnOptions(kind="flat")).top_k(interests, 25)
    np.testing.assert_array_equal(ann_ids, exact_ids)
    np.testing.assert_allclose(ann_scores, exact_scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["ivfpq", "ivf", pytest.param("hnsw", marks=pytest.mark.slow)])
def test_ann_recall_on_a_mid_size_clustered_catalogue(kind):
    table = _clustered(30_000, 32, topics=300)
    table_t = np.ascontiguousarray(table.T)
    rng = np.random.default_rng(2)
    picks = table[rng.integers(0, len(table), (40, 3))]
    interests = (picks + 0.05 * rng.standard_normal(picks.shape)).astype(np.float32)
    exact_ids, _ = ExactRetrieval(table_t).top_k(interests, 20)
    ann_ids, ann_scores = AnnRetrieval(table_t, AnnOptions(kind=kind)).top_k(interests, 20)
    recall = np.mean([len(set(a) & set(e)) / 20 for a, e in zip(ann_ids, exact_ids, strict=True)])
    assert recall >= 0.99
    assert np.all(np.diff(ann_scores, axis=1) <= 0)  # best first


def test_ivfpq_rescores_its_candidates_exactly():
    """Compressed codes choose the candidates; the scores returned are the exact eq. 6 scores,
    and more candidates per k (``refine``) can only add true top items (d = 32: 33 augmented
    dimensions, padded to 34 for two-dimensional sub-quantisers)."""
    table = _clustered(20_000, 32, topics=200, seed=11)
    table_t = np.ascontiguousarray(table.T)
    rng = np.random.default_rng(12)
    interests = table[rng.integers(0, len(table), (30, 2))] + 0.05 * rng.standard_normal(
        (30, 2, 32)
    )
    interests = interests.astype(np.float32)
    exact_ids, _ = ExactRetrieval(table_t).top_k(interests, 20)
    recalls = []
    for refine in (1, 8):
        retrieval = AnnRetrieval(table_t, AnnOptions(kind="ivfpq", nprobe=8, refine=refine))
        ids, scores = retrieval.top_k(interests, 20)
        naive = np.array(
            [
                [max(float(u @ table[j - 1]) for u in interests[b]) for j in ids[b]]
                for b in range(30)
            ]
        )
        np.testing.assert_allclose(scores, naive, rtol=1e-4, atol=1e-5)
        recalls.append([len(set(a) & set(e)) for a, e in zip(ids, exact_ids, strict=True)])
    assert retrieval.index.width == 34 and "pq=17x4" in retrieval.description
    assert np.all(np.array(recalls[1]) >= np.array(recalls[0]))
    assert np.mean(recalls[1]) / 20 >= 0.95


def test_merge_is_the_max_over_interests_of_a_naive_loop():
    table = _table(50, 4, seed=3)
    table_t = np.ascontiguousarray(table.T)
    interests = np.random.default_rng(4).standard_normal((2, 3, 4)).astype(np.float32)
    found = np.array([[5, 9, 9, 1, 0, 33], [2, 2, 2, 7, 8, 0]])  # repeats and "none"
    ids, scores, short = merge_by_max(interests, table_t, found, 3)
    for row in range(2):
        candidates = sorted({int(j) for j in found[row] if j != 0})
        naive = []
        for item in candidates:
            best = max(float(interests[row, u] @ table[item - 1]) for u in range(3))
            naive.append((-best, item))
        naive.sort()
        assert ids[row].tolist() == [item for _, item in naive[:3]]
        np.testing.assert_allclose(scores[row], [-s for s, _ in naive[:3]], rtol=1e-5)
    assert short.tolist() == [False, False]
    _, _, short = merge_by_max(interests, table_t, found, 4)
    assert short.tolist() == [False, True]  # row 0 has 4 distinct items, row 1 has 3


def test_too_few_candidates_are_redone_exactly():
    table_t = np.ascontiguousarray(_table(40, 6, seed=5).T)
    interests = np.random.default_rng(6).standard_normal((3, 2, 6)).astype(np.float32)
    # one cell probed out of many: some queries find fewer than k items
    retrieval = AnnRetrieval(table_t, AnnOptions(kind="ivf", nlist=1, nprobe=1))
    retrieval.index.index.nprobe = 1
    ids, _ = retrieval.top_k(interests, 40)
    exact, _ = ExactRetrieval(table_t).top_k(interests, 40)
    assert sorted(ids[0].tolist()) == sorted(exact[0].tolist()) == list(range(1, 41))


def test_augmentation_turns_inner_products_into_l2_order():
    table = _table(200, 5, seed=7) * np.random.default_rng(8).uniform(0.1, 3, (200, 1))
    query = np.random.default_rng(9).standard_normal((1, 5)).astype(np.float32)
    items, queries = augment_items(table.astype(np.float32)), augment_queries(query)
    by_l2 = np.argsort(((items - queries) ** 2).sum(1))
    by_ip = np.argsort(-(table @ query[0]))
    assert by_l2[:10].tolist() == by_ip[:10].tolist()


def test_auto_switches_at_the_threshold():
    table_t = np.ascontiguousarray(_table(500, 4).T)
    assert isinstance(make_retrieval(table_t, "auto", threshold=501), ExactRetrieval)
    ann = make_retrieval(table_t, "auto", AnnOptions(kind="flat"), threshold=500)
    assert isinstance(ann, AnnRetrieval)
    assert isinstance(make_retrieval(table_t, "exact", threshold=1), ExactRetrieval)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: make_retrieval(t, "fuzzy"), "retrieval must be one of"),
        (lambda t: make_retrieval(t, "auto", threshold=0), "threshold"),
        (lambda t: AnnOptions(kind="lsh"), "kind must be one of"),
        (lambda t: AnnOptions(nprobe=0), "nprobe"),
        (lambda t: AnnOptions(refine=0), "refine"),
        (lambda t: AnnRetrieval(t), "ivfpq needs at least 256 items"),
        (lambda t: AnnOptions(nlist=2.5), "nlist"),
        (lambda t: AnnOptions(ef_search=True), "ef_search"),
        (lambda t: AnnOptions(seed=-1), "seed"),
        (
            lambda t: AnnRetrieval(t, AnnOptions(kind="flat")).top_k(np.ones((1, 1, 4), "f4"), 0),
            "k must",
        ),
    ],
)
def test_bad_options_are_named(call, message):
    table_t = np.ascontiguousarray(_table(100, 4).T)
    with pytest.raises(ValueError, match=message):
        call(table_t)
