"""Property tests of the batch builder: the vectorised batch equals a naive construction.

The naive construction below follows the conventions documented in ``datamodules/batch.py``
sample by sample, with Python lists and loops: prefixes cut to their ``max_len`` most recent
clicks and reversed, ``nodes`` the sorted unique items, ``alias`` their positions, and the
4-type adjacency built pair by pair. Hypothesis draws the sessions (repeats, length 1, long
sessions, ``max_len`` cuts); the runs are derandomised, so every run checks the same examples.
"""

from __future__ import annotations

import itertools
import os

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datamodules.batch import EDGE_IN, EDGE_IN_OUT, EDGE_NONE, EDGE_OUT, EDGE_SELF
from datamodules.batching import (
    collate_sessions,
    make_batch,
    split_batch,
    sub_batch_bounds,
    truncate_batch,
)

#: Fast, reproducible: ``HYPOTHESIS_MAX_EXAMPLES`` raises the count for a longer search.
PROPERTY = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "60")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def sessions(draw, max_sessions: int = 8) -> list[list[int]]:
    """Sessions over a small catalogue: repeats, immediate repeats, length 1, a long one."""
    vocabulary = draw(st.integers(1, 12))
    item = st.integers(1, vocabulary)
    short = st.lists(item, min_size=1, max_size=12)
    long = st.lists(item, min_size=60, max_size=200)
    drawn = draw(st.lists(st.one_of(short, short, short, long), min_size=1, max_size=max_sessions))
    return drawn


max_lens = st.one_of(st.none(), st.integers(1, 50))


def naive_sample(session: list[int], max_len: int | None, width: int) -> dict:
    """One sample built as ``datamodules/batch.py`` documents it, padded to ``width``."""
    kept = session if max_len is None else session[-max_len:]
    reversed_items = list(reversed(kept))
    nodes = sorted(set(kept))
    index = {item: position for position, item in enumerate(nodes)}
    alias = [index[item] for item in reversed_items]
    predecessor: set[tuple[int, int]] = set()  # (node, node of a click directly before it)
    for earlier, later in itertools.pairwise(kept):
        if earlier != later:  # immediate repeats add no edge
            predecessor.add((index[later], index[earlier]))
    adjacency = torch.full((width, width), EDGE_NONE, dtype=torch.int8)
    for i in range(len(nodes)):
        for j in range(len(nodes)):
            is_in, is_out = (i, j) in predecessor, (j, i) in predecessor
            if is_in and is_out:
                adjacency[i, j] = EDGE_IN_OUT
            elif is_in:
                adjacency[i, j] = EDGE_IN
            elif is_out:
                adjacency[i, j] = EDGE_OUT
        adjacency[i, i] = EDGE_SELF
    pad = width - len(kept)
    return {
        "items": reversed_items + [0] * pad,
        "mask": [True] * len(kept) + [False] * pad,
        "length": len(kept),
        "nodes": nodes + [0] * (width - len(nodes)),
        "node_mask": [True] * len(nodes) + [False] * (width - len(nodes)),
        "alias": alias + [0] * pad,
        "adjacency": adjacency,
    }


def assert_batch_is_naive(batch, drawn: list[list[int]], max_len: int | None, targets) -> None:
    width = max(len(s) if max_len is None else min(len(s), max_len) for s in drawn)
    assert batch.max_length == width  # padded to this batch's longest (cut) prefix
    for b, session in enumerate(drawn):
        expected = naive_sample(session, max_len, width)
        assert batch.items[b].tolist() == expected["items"]
        assert batch.mask[b].tolist() == expected["mask"]
        assert int(batch.lengths[b]) == expected["length"]
        assert batch.nodes[b].tolist() == expected["nodes"]
        assert batch.node_mask[b].tolist() == expected["node_mask"]
        assert batch.alias[b].tolist() == expected["alias"]
        assert torch.equal(batch.adjacency[b], expected["adjacency"])
    assert batch.targets.tolist() == list(targets)
    assert batch.adjacency.dtype == torch.int8


@PROPERTY
@given(drawn=sessions(), max_len=max_lens)
def test_collate_sessions_equals_the_naive_construction(drawn, max_len):
    targets = [len(session) for session in drawn]
    batch = collate_sessions(drawn, targets=targets, max_len=max_len)
    assert_batch_is_naive(batch, drawn, max_len, targets)


@PROPERTY
@given(drawn=sessions(), max_len=max_lens, data=st.data())
def test_make_batch_over_prefixes_equals_the_naive_construction(drawn, max_len, data):
    """Prefixes pointing into one flat array (as the datamodule stores them), any order."""
    flat = [item for session in drawn for item in session]
    offsets = [0]
    for session in drawn:
        offsets.append(offsets[-1] + len(session))
    chosen = data.draw(st.lists(st.integers(0, len(drawn) - 1), min_size=1, max_size=10))
    starts, lengths, prefixes = [], [], []
    for s in chosen:
        length = data.draw(st.integers(1, len(drawn[s])))
        starts.append(offsets[s])
        lengths.append(length)
        prefixes.append(drawn[s][:length])
    batch = make_batch(
        torch.tensor(flat),
        torch.tensor(starts),
        torch.tensor(lengths),
        torch.arange(len(chosen)),
        max_len,
    )
    assert_batch_is_naive(batch, prefixes, max_len, range(len(chosen)))


@PROPERTY
@given(drawn=sessions(), max_len=st.integers(1, 50))
def test_memory_is_bounded_by_max_len(drawn, max_len):
    batch = collate_sessions(drawn, max_len=max_len)
    assert batch.max_length <= max_len
    assert batch.adjacency.shape == (len(drawn), batch.max_length, batch.max_length)
    assert batch.adjacency.numel() <= len(drawn) * max_len**2


@PROPERTY
@given(drawn=sessions(), max_len=st.integers(1, 50))
def test_cutting_a_built_batch_equals_building_it_cut(drawn, max_len):
    whole = collate_sessions(drawn, targets=[1] * len(drawn))
    cut = truncate_batch(whole, max_len)
    expected = collate_sessions(drawn, targets=[1] * len(drawn), max_len=max_len)
    for got, want in zip(cut, expected, strict=True):
        assert torch.equal(got, want)


@PROPERTY
@given(drawn=sessions(max_sessions=12), max_cells=st.integers(1, 20_000))
def test_sub_batches_are_the_rows_of_the_batch_within_the_budget(drawn, max_cells):
    targets = list(range(len(drawn)))
    batch = collate_sessions(drawn, targets=targets)
    parts = split_batch(batch, max_cells)
    bounds = sub_batch_bounds(batch.lengths, max_cells)
    assert [b for part in bounds for b in range(*part)] == targets  # every row once, in order
    assert len(parts) == len(bounds)
    for part, (start, end) in zip(parts, bounds, strict=True):
        rows = part.batch_size
        assert rows == 1 or rows * part.max_length**2 <= max_cells
        assert_batch_is_naive(part, drawn[start:end], None, targets[start:end])
