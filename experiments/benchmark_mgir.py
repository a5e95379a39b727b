"""MGIR's training step against GCE-GNN's on real data, without training an epoch.

Both models of the family are built from the same datamodule settings (the fit split of the
validation protocol, batch 100), their fit-split graphs installed as a fit would
(``adopt_data``: MGIR's three relation graphs, GCE-GNN's global graph; each build timed), then
``--steps`` optimiser steps (forward, backward, Adam) of each are timed on the same shuffled
training batches, **interleaved** in rounds (MGIR block, GCE-GNN block, ...) so that a change in
the machine's load hits both alike. Collation (batch building, the session graph for GCE-GNN) is
timed separately. Prints ONE JSON line: median seconds per step and per collation, the step
ratio, and the estimated epoch ratio ``batches * (step + collate) + graph build``::

    OMP_NUM_THREADS=1 python experiments/benchmark_mgir.py \\
        --data-dir ../shared/data/tmall-gcegnn --cache-dir /tmp/mgir-bench
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamodules import SessionDataModule  # noqa: E402
from dmi_gnn.models import model_class  # noqa: E402
from dmi_gnn.nn.networks.mgir import RELATIONS  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="tmall")
    parser.add_argument("--data-dir", default="data/tmall")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per model")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved blocks per model")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.rounds < 1 or args.steps % args.rounds:
        parser.error("--steps must be a positive multiple of --rounds")
    return args


def _datamodule(args: argparse.Namespace, features: frozenset[str]) -> SessionDataModule:
    data = SessionDataModule(
        dataset=args.dataset,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        batch_size=args.batch_size,
        download=False,
        seed=args.seed,
    )
    data.use_features(features)
    data.setup("fit")
    return data


class Contender:
    """One model, its datamodule, its batches and its optimiser."""

    def __init__(self, name: str, args: argparse.Namespace) -> None:
        cls = model_class(name)
        self.name = name
        self.data = _datamodule(args, cls.FEATURES)
        torch.manual_seed(args.seed)
        self.model = cls(num_items=self.data.num_items)
        self.data.use_model_max_len(self.model.hparams.max_session_length)
        start = time.perf_counter()
        self.model.adopt_data(self.data)  # what a fit does first: the fit split's graphs
        self.graph_build_s = time.perf_counter() - start
        loader = self.data.train_dataloader()
        self.batches_per_epoch = len(loader)
        self.batches, self.collate_s = [], []
        iterator = iter(loader)
        for _ in range(args.warmup + args.steps):
            start = time.perf_counter()
            self.batches.append(next(iterator))
            self.collate_s.append(time.perf_counter() - start)
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=1e-3, weight_decay=1e-5)
        self.step_s: list[float] = []
        self.next = 0

    def run(self, count: int, timed: bool = True) -> None:
        for _ in range(count):
            batch = self.batches[self.next]
            self.next += 1
            start = time.perf_counter()
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.model.training_loss(batch)
            (loss["loss"] if isinstance(loss, dict) else loss).backward()
            self.optimizer.step()
            if timed:
                self.step_s.append(time.perf_counter() - start)

    def summary(self) -> dict:
        step = statistics.median(self.step_s)
        collate = statistics.median(self.collate_s)
        return {
            "step_s": round(step, 5),
            "collate_s": round(collate, 5),
            "graph_build_s": round(self.graph_build_s, 3),
            "batches_per_epoch": self.batches_per_epoch,
            "epoch_estimate_s": round(
                self.batches_per_epoch * (step + collate) + self.graph_build_s, 1
            ),
        }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    mgir, gce = Contender("MGIR", args), Contender("GCEGNN", args)
    edges = {r: int(getattr(mgir.model.net, f"{r}_weights").numel()) for r in RELATIONS}
    for contender in (mgir, gce):
        contender.run(args.warmup, timed=False)
    block = args.steps // args.rounds
    for _ in range(args.rounds):
        mgir.run(block)
        gce.run(block)
    result = {
        "dataset": args.dataset,
        "num_items": mgir.data.num_items,
        "fit_sessions": mgir.data.train_sessions_count,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "threads": torch.get_num_threads(),
        "mgir_edges": edges,
        "MGIR": mgir.summary(),
        "GCEGNN": gce.summary(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    result["step_ratio"] = round(result["MGIR"]["step_s"] / result["GCEGNN"]["step_s"], 3)
    result["epoch_ratio"] = round(
        result["MGIR"]["epoch_estimate_s"] / result["GCEGNN"]["epoch_estimate_s"], 3
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
