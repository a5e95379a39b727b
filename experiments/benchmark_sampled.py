"""Training throughput at a large catalogue: ``loss="sampled"`` against ``loss="full"``.

DMI-GNN with Tmall's hyper-parameters (d = 100, U = 5 as ``experiments/tmall.yaml``) on a
synthetic catalogue of ``--items`` (1,000,000) items with a random global graph; random
sessions of 2..10 clicks. Each loss trains ``--steps`` optimiser steps (Adam) after one
warm-up step, and the script prints one JSON line per loss with samples/s and the ratio.
The sampled loss runs twice: with row-sparse item-table gradients and LazyAdam
(``sparse_gradients=True``) and with dense ones (Adam). Full softmax scores every item with
autograd, so keep its ``--full_batch`` and ``--steps`` small (about 10 s per step of 32
sessions at 1M items on this CPU).

Usage::

    python experiments/benchmark_sampled.py                         # 1M items
    python experiments/benchmark_sampled.py --items 20000 --steps 2 # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamodules.batching import collate_sessions  # noqa: E402
from datamodules.graph import GlobalGraph  # noqa: E402
from dmi_gnn import DMIGNN  # noqa: E402


def model_for(items: int, loss: str, sampler: str, seed: int, sparse: bool = False) -> DMIGNN:
    torch.manual_seed(seed)
    model = DMIGNN(
        num_items=items,
        embedding_dim=100,
        num_interests=5,
        loss=loss,
        sampler=sampler,
        sparse_gradients=sparse,
    )
    rng = np.random.default_rng(seed)
    neighbors = rng.integers(1, items + 1, size=(items + 1, 12))
    weights = rng.random((items + 1, 12)).astype(np.float32)
    degree = np.full(items + 1, 12)
    neighbors[0], weights[0], degree[0] = 0, 0, 0
    model.set_global_graph(GlobalGraph(neighbors=neighbors, weights=weights, degree=degree))
    return model.train()


def batches(items: int, size: int, count: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        sessions = [rng.integers(1, items + 1, rng.integers(3, 11)).tolist() for _ in range(size)]
        batch = collate_sessions([s[:-1] for s in sessions], max_len=200)
        out.append(batch._replace(targets=torch.tensor([s[-1] for s in sessions])))
    return out


def throughput(model: DMIGNN, inputs) -> float:
    optimizer = model.build_optimizer(list(model.parameters()))  # LazyAdam when sparse

    def step(batch):
        optimizer.zero_grad(set_to_none=True)
        model.training_loss(batch)["loss"].backward()
        optimizer.step()

    sync = torch.cuda.synchronize if inputs[0].items.is_cuda else (lambda: None)
    step(inputs[0])  # warm-up
    sync()
    started = time.perf_counter()
    for batch in inputs[1:]:
        step(batch)
    sync()
    seconds = time.perf_counter() - started
    return sum(b.batch_size for b in inputs[1:]) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100, help="sampled: sessions per step")
    parser.add_argument("--full_batch", type=int, default=32, help="full: sessions per step")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--sampler", default="uniform", choices=("uniform", "in_batch"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    args = parser.parse_args(argv)
    if min(args.items, args.batch, args.full_batch, args.steps) < 1:
        parser.error("--items, --batch, --full_batch and --steps must be >= 1")
    rates = {}
    runs = [
        ("sampled", True, args.batch),
        ("sampled", False, args.batch),
        ("full", False, args.full_batch),
    ]
    for loss, sparse, size in runs:
        device = torch.device(args.device)
        model = model_for(args.items, loss, args.sampler, args.seed, sparse).to(device)
        inputs = [b.to_device(device) for b in batches(args.items, size, args.steps + 1, 0)]
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        name = f"{loss}{'-sparse' if sparse else ''}"
        rates[name] = throughput(model, inputs)
        line = {
            "benchmark": "training_loss",
            "loss": loss,
            "sparse_gradients": sparse,
            "sampler": args.sampler if loss == "sampled" else None,
            "items": args.items,
            "batch": size,
            "steps": args.steps,
            "samples_per_s": round(rates[name], 2),
            "device": args.device,
            "peak_gpu_mib": round(torch.cuda.max_memory_allocated(device) / 2**20)
            if device.type == "cuda"
            else None,
            "threads": torch.get_num_threads(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(line), flush=True)
        del model
    ratios = {
        "sampled_sparse_over_full": round(rates["sampled-sparse"] / rates["full"], 1),
        "sampled_dense_over_full": round(rates["sampled"] / rates["full"], 1),
    }
    print(json.dumps(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
