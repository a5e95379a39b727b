"""Vectorised batches against a naive transcription of the reference ``Data.__getitem__``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datamodules.batch import SessionBatch
from datamodules.batching import collate_sessions, gather_reversed_prefixes, make_batch


def _reference_sample(prefix, max_len):
    """``handle_data`` + ``Data.__getitem__`` of the reference ``utils.py``, transcribed."""
    u_input = list(reversed(prefix)) + [0] * (max_len - len(prefix))
    node = np.unique(u_input)
    adj = np.zeros((max_len, max_len))
    for i in np.arange(len(u_input) - 1):
        u = np.where(node == u_input[i])[0][0]
        adj[u][u] = 1
        if u_input[i + 1] == 0:
            break
        v = np.where(node == u_input[i + 1])[0][0]
        if u == v or adj[u][v] == 4:
            continue
        adj[v][v] = 1
        if adj[v][u] == 2:
            adj[u][v] = 4
            adj[v][u] = 4
        else:
            adj[u][v] = 2
            adj[v][u] = 3
    alias = [np.where(node == i)[0][0] for i in u_input]
    return u_input, node, alias, adj


def _random_sessions(rng, count, max_length, vocabulary):
    sessions = []
    for _ in range(count):
        session = rng.integers(1, vocabulary + 1, size=rng.integers(1, max_length + 1)).tolist()
        for t in range(1, len(session)):  # plenty of immediate and non-immediate repeats
            if rng.random() < 0.2:
                session[t] = session[t - 1]
            elif rng.random() < 0.2:
                session[t] = session[rng.integers(0, t)]
        sessions.append(session)
    return sessions


def _check_against_reference(batch: SessionBatch, sessions):
    width = batch.max_length
    assert width == max(len(s) for s in sessions)  # padded to this batch's maximum
    for b, prefix in enumerate(sessions):
        # One extra padding slot: without any padding the reference never marks a lone item's
        # self edge; the convention here is self = 1 for every real node.
        u_input, node, alias, adj = _reference_sample(prefix, width + 1)
        n = len(prefix)
        assert batch.items[b].tolist() == u_input[:width]
        assert batch.mask[b].tolist() == [t < n for t in range(width)]
        assert int(batch.lengths[b]) == n
        real_nodes = [int(v) for v in node if v != 0]
        num_nodes = len(real_nodes)
        assert batch.nodes[b].tolist() == real_nodes + [0] * (width - num_nodes)
        assert batch.node_mask[b].tolist() == [i < num_nodes for i in range(width)]
        # The reference puts item 0 first when the row is padded: shift its node indices.
        shift = 1 if node[0] == 0 else 0
        assert batch.alias[b, :n].tolist() == [a - shift for a in alias[:n]]
        assert batch.alias[b, n:].eq(0).all()
        reference = adj[shift : shift + num_nodes, shift : shift + num_nodes]
        ours = batch.adjacency[b].numpy()
        np.testing.assert_array_equal(ours[:num_nodes, :num_nodes], reference)
        assert not ours[num_nodes:].any() and not ours[:, num_nodes:].any()


@pytest.mark.parametrize("seed", range(5))
def test_matches_the_reference_loop_on_random_sessions(seed):
    rng = np.random.default_rng(seed)
    sessions = _random_sessions(rng, count=64, max_length=30, vocabulary=12)
    batch = collate_sessions(sessions, targets=list(range(1, 65)))
    _check_against_reference(batch, sessions)
    assert batch.targets.tolist() == list(range(1, 65))
    assert batch.adjacency.dtype == torch.int8
    assert batch.items.dtype == batch.nodes.dtype == batch.alias.dtype == torch.int64


def test_alias_points_at_the_items():
    rng = np.random.default_rng(7)
    batch = collate_sessions(_random_sessions(rng, count=50, max_length=30, vocabulary=8))
    gathered = torch.gather(batch.nodes, 1, batch.alias)
    assert torch.equal(gathered[batch.mask], batch.items[batch.mask])


def test_hand_built_session():
    batch = collate_sessions([[5, 3, 5, 7]])
    assert batch.items.tolist() == [[7, 5, 3, 5]]
    assert batch.nodes.tolist() == [[3, 5, 7, 0]]
    # 5 -> 3 -> 5 -> 7: 3 and 5 precede and follow each other (4); 7 follows 5.
    assert batch.adjacency[0].tolist() == [
        [1, 4, 0, 0],
        [4, 1, 3, 0],
        [0, 2, 1, 0],
        [0, 0, 0, 0],
    ]


def test_max_len_keeps_the_most_recent_clicks():
    batch = collate_sessions([[1, 2, 3, 4, 5], [6, 7]], max_len=3)
    assert batch.items.tolist() == [[5, 4, 3], [7, 6, 0]]
    assert batch.lengths.tolist() == [3, 2]
    assert batch.nodes.tolist() == [[3, 4, 5], [6, 7, 0]]


def test_gather_from_flat_arrays():
    flat = torch.tensor([9, 1, 2, 3, 4, 8])
    items, mask = gather_reversed_prefixes(flat, torch.tensor([1, 2]), torch.tensor([3, 1]))
    assert items.tolist() == [[3, 2, 1], [2, 0, 0]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]
    batch = make_batch(flat, torch.tensor([1, 2]), torch.tensor([3, 1]), torch.tensor([4, 3]))
    assert batch.targets.tolist() == [4, 3] and batch.lengths.tolist() == [3, 1]


@pytest.mark.parametrize(
    ("sessions", "targets", "message"),
    [
        ([], None, "at least one session"),
        ([[1], []], None, "session 1 is empty"),
        ([[1], [2, 0]], None, "session 1 holds item id 0"),
        ([[1], [2]], [3], "1 targets for 2 sessions"),
    ],
)
def test_collate_rejects_bad_input(sessions, targets, message):
    with pytest.raises(ValueError, match=message):
        collate_sessions(sessions, targets)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_batch_on_the_gpu():
    rng = np.random.default_rng(3)
    sessions = _random_sessions(rng, count=64, max_length=30, vocabulary=12)
    lengths = torch.tensor([len(s) for s in sessions])
    flat = torch.tensor([item for s in sessions for item in s])
    starts = lengths.cumsum(0) - lengths
    targets = torch.arange(1, 65)
    on_cpu = make_batch(flat, starts, lengths, targets, max_len=20)
    on_gpu = make_batch(*(t.cuda() for t in (flat, starts, lengths, targets)), max_len=20)
    for cpu_field, gpu_field in zip(on_cpu, on_gpu, strict=True):
        assert gpu_field.is_cuda
        assert torch.equal(cpu_field, gpu_field.cpu())
