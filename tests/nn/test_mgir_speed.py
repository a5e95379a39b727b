"""MGIR's training step against GCE-GNN's stand-in (DMIGNNNet, one interest) at Tmall size."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from datamodules.graph import build_global_graph, fill_neighbors_with_replacement
from datamodules.processed import Sessions
from datamodules.relation_graphs import build_relation_graphs
from dmi_gnn.nn import DMIGNNNet
from dmi_gnn.nn.networks import MGIRNet
from tests.nn.helpers import make_batch

TMALL_ITEMS = 40_727


def synthetic_sessions(num_sessions: int, num_items: int, seed: int = 0) -> list[list[int]]:
    """Zipf-popular items in sessions of Tmall-like lengths (mean about 6, at most 40)."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, num_items + 1) ** 0.9
    popularity /= popularity.sum()
    lengths = np.minimum(2 + rng.geometric(0.22, size=num_sessions), 40)
    clicks = rng.choice(num_items, size=int(lengths.sum()), p=popularity) + 1
    return [c.tolist() for c in np.split(clicks, np.cumsum(lengths)[:-1])]


def _step_seconds(net, batches, steps: int) -> float:
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-3)
    net.train()
    times = []
    for step in range(steps + 2):
        batch = batches[step % len(batches)]
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = F.cross_entropy(
            net(batch) if isinstance(net, MGIRNet) else net(batch).scores, batch.targets - 1
        )
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[2:]))


def measure(num_sessions: int = 10_000, steps: int = 10, batch_size: int = 100) -> dict:
    """Median seconds per training step of MGIRNet and DMIGNNNet(num_interests=1)."""
    torch.manual_seed(0)
    sessions = synthetic_sessions(num_sessions, TMALL_ITEMS)
    start = time.perf_counter()
    graphs = build_relation_graphs(sessions, TMALL_ITEMS)
    build_seconds = time.perf_counter() - start
    global_graph = fill_neighbors_with_replacement(
        build_global_graph(Sessions.from_lists(sessions), TMALL_ITEMS), seed=0
    )
    rng = np.random.default_rng(1)
    batches = []
    for _ in range(4):
        picks = rng.choice(len(sessions), size=batch_size)
        prefixes = [sessions[i][: rng.integers(1, len(sessions[i]))] for i in picks]
        targets = [sessions[i][len(p)] for i, p in zip(picks, prefixes, strict=True)]
        batches.append(make_batch(prefixes, targets))
    mgir = MGIRNet(num_items=TMALL_ITEMS)
    mgir.set_relation_graphs(**graphs.to_torch())
    gce = DMIGNNNet(num_items=TMALL_ITEMS, num_interests=1)
    gce.set_global_graph(
        torch.from_numpy(global_graph.neighbors), torch.from_numpy(global_graph.weights)
    )
    mgir_seconds = _step_seconds(mgir, batches, steps)
    gce_seconds = _step_seconds(gce, batches, steps)
    return {
        "edges": graphs.edge_counts(),
        "graph_build_s": build_seconds,
        "mgir_step_s": mgir_seconds,
        "gce_step_s": gce_seconds,
        "ratio": mgir_seconds / gce_seconds,
        "threads": torch.get_num_threads(),
    }


@pytest.mark.slow
def test_mgir_step_is_at_most_three_gce_steps():
    figures = measure()
    print(figures)
    assert min(figures["edges"].values()) > 0
    assert figures["ratio"] <= 3.0, figures


if __name__ == "__main__":
    print(measure())
