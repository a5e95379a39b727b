"""ANN retrieval benchmark: recall@20 against exact top-20 and p50 latency per session.

A synthetic catalogue of ``--items`` (default 1,000,000) L2-normalised item vectors of
dimension ``--dim`` (100), built the way learned embeddings look: ``--topics`` random topic
directions, each item its topic plus isotropic noise (``--noise`` per coordinate; 1.0, the
default, is as large as the topic itself). A session draws 1 or 2 topics and 5 items of them;
each of its ``--interests`` (5) interest vectors is a softmax-weighted mix of the session's
items (as DMI-GNN's eq. 4 readout) plus noise, so interests lie near items. Random directions
as queries are the worst case of every ANN index and would measure no model.

For each session the exact top-20 of eq. 6 (the max over interests, every item scored) is the
reference; the ANN retrieval (``dmi_gnn.serving.retrieval``) answers one session per call, as
the server does for a lone request, single-threaded. Prints one JSON line per setting: recall@20,
p50/p99 ms per session (ANN and exact), the index build time and its memory, and the process's
peak RSS. Bounded: ``--sessions`` queries.

Usage::

    python experiments/benchmark_retrieval.py                       # IVF-PQ, nprobe 256/384/512/768
    python experiments/benchmark_retrieval.py --kind ivf --nprobe 64,256
    python experiments/benchmark_retrieval.py --kind hnsw --ef 64,128
    python experiments/benchmark_retrieval.py --items 20000 --sessions 50   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dmi_gnn.serving.ann_index import KINDS, AnnOptions  # noqa: E402
from dmi_gnn.serving.retrieval import AnnRetrieval, ExactRetrieval  # noqa: E402


def catalogue(items: int, dim: int, topics: int, noise: float, seed: int):
    """Unit item vectors ``(N, d)`` float32 and each item's topic ``(N,)``."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    topic = rng.integers(0, topics, items)
    table = np.empty((items, dim), dtype=np.float32)
    for start in range(0, items, 100_000):  # bounded transients
        end = min(start + 100_000, items)
        block = centres[topic[start:end]]
        block += noise * rng.standard_normal((end - start, dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        table[start:end] = block
    return table, topic


def sessions(table, topic, count: int, interests: int, seed: int) -> np.ndarray:
    """Interest vectors ``(count, U, d)``: softmax mixes of 5 items of 1-2 topics, plus noise."""
    rng = np.random.default_rng(seed + 1)
    by_topic = np.argsort(topic, kind="stable")
    starts = np.searchsorted(topic[by_topic], np.arange(topic.max() + 2))
    out = np.empty((count, interests, table.shape[1]), dtype=np.float32)
    for row in range(count):
        chosen = rng.choice(topic.max() + 1, rng.integers(1, 3), replace=False)
        items = []
        for _ in range(5):
            t = chosen[rng.integers(len(chosen))]
            items.append(by_topic[rng.integers(starts[t], max(starts[t + 1], starts[t] + 1))])
        vectors = table[np.array(items)]
        logits = 3.0 * rng.standard_normal((interests, len(items)))
        weights = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        out[row] = weights @ vectors + 0.05 * rng.standard_normal((interests, table.shape[1]))
    return out


def percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 3)


def run(args: argparse.Namespace) -> list[dict]:
    started = time.perf_counter()
    table, topic = catalogue(args.items, args.dim, args.topics, args.noise, args.seed)
    queries = sessions(table, topic, args.sessions, args.interests, args.seed)
    table_t = np.ascontiguousarray(table.T)
    del table
    made = time.perf_counter() - started
    exact = ExactRetrieval(table_t)
    reference, exact_times = [], []
    for row in range(args.sessions):
        tic = time.perf_counter()
        ids, _ = exact.top_k(queries[row : row + 1], args.k)
        exact_times.append(time.perf_counter() - tic)
        reference.append(set(ids[0].tolist()))
    results = []
    inverted = args.kind in ("ivf", "ivfpq")
    knobs = [int(v) for v in (args.nprobe if inverted else args.ef).split(",")]
    index = None
    for knob in knobs:
        options = AnnOptions(
            kind=args.kind,
            nprobe=knob if inverted else None,
            refine=args.refine,
            ef_search=knob if args.kind == "hnsw" else 128,
            hnsw_m=args.hnsw_m,
            seed=args.seed,
        )
        if index is None:
            index = AnnRetrieval(table_t, options)
        elif inverted:
            index.index.index.nprobe = knob
            index.index.options = options
        else:
            index.index.options = options
        for row in range(min(20, args.sessions)):  # warm-up
            index.top_k(queries[row : row + 1], args.k)
        times, recalls = [], []
        for row in range(args.sessions):
            tic = time.perf_counter()
            ids, _ = index.top_k(queries[row : row + 1], args.k)
            times.append(time.perf_counter() - tic)
            recalls.append(len(reference[row] & set(ids[0].tolist())) / args.k)
        results.append(
            {
                "benchmark": "retrieval",
                "items": args.items,
                "dim": args.dim,
                "interests": args.interests,
                "k": args.k,
                "sessions": args.sessions,
                "index": index.index.describe(),
                f"recall@{args.k}": round(float(np.mean(recalls)), 4),
                f"min_recall@{args.k}": round(float(np.min(recalls)), 4),
                "p50_ms": percentile_ms(times, 50),
                "p99_ms": percentile_ms(times, 99),
                "exact_p50_ms": percentile_ms(exact_times, 50),
                "build_s": round(index.index.build_seconds, 2),
                "index_mib": round(index.index.memory_bytes / 2**20, 1),
                "table_mib": round(table_t.nbytes / 2**20, 1),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "catalogue_s": round(made, 2),
                "threads": os.environ.get("OMP_NUM_THREADS"),
                "cpu": platform.processor() or platform.machine(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
        print(json.dumps(results[-1]), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--interests", type=int, default=5)
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--kind", choices=KINDS, default="ivfpq")
    parser.add_argument(
        "--nprobe", default="256,384,512,768", help="IVF/IVF-PQ: comma-separated nprobe values"
    )
    parser.add_argument("--refine", type=int, default=4, help="IVF-PQ: candidates per k rescored")
    parser.add_argument("--ef", default="128", help="HNSW: comma-separated ef_search values")
    parser.add_argument("--hnsw_m", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("items", "dim", "interests", "topics", "sessions", "k", "refine"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.k > args.items:
        parser.error("--k must be <= --items")
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
