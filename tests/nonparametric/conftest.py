"""Hand-built training sessions and prefixes with repeats, and the batch helper."""

from __future__ import annotations

import numpy as np
import pytest
import torch

NUM_ITEMS = 9

#: Chronological training sessions (index = recency), with immediate and distant repeats.
SESSIONS = [
    [1, 2, 3, 2],
    [2, 4, 4, 5],
    [3, 1, 6],
    [7, 8, 7, 8, 7],
    [2, 3, 9],
    [5, 6, 5, 1],
    [4, 2],
    [9, 9, 3, 1, 2],
    [8, 6],
    [1, 5, 2, 3, 4, 6],
    [2, 2],
]

#: Prefixes in time order (oldest first): repeats, a one-click prefix, one past 10 clicks.
PREFIXES = [
    [2],
    [2, 2],
    [1, 3, 2],
    [7, 8, 7],
    [4, 5, 4, 2, 9],
    [6, 1, 6, 3, 3],
    [9],
    [8, 8, 1, 2, 3, 4, 5, 6, 7, 9, 2, 8],
]


def reversed_batch(prefixes: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(items, mask)`` as ``datamodules`` builds them: most recent click first, 0-padded."""
    width = max(len(p) for p in prefixes) + pad
    items = torch.zeros(len(prefixes), width, dtype=torch.int64)
    for row, prefix in enumerate(prefixes):
        items[row, : len(prefix)] = torch.tensor(prefix[::-1])
    return items, items > 0


def random_data(seed: int, num_items: int = 15, num_sessions: int = 40, num_prefixes: int = 30):
    """Skewed random sessions (many repeats and ties) and prefixes, from ``seed``."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, num_items + 1)
    popularity /= popularity.sum()

    def draw(low, high):
        return [int(i) for i in rng.choice(num_items, rng.integers(low, high), p=popularity) + 1]

    return [draw(1, 9) for _ in range(num_sessions)], [draw(1, 15) for _ in range(num_prefixes)]


def priority_of(num_sessions: int, sampling: str, seed: int) -> np.ndarray:
    """Each training session's sampling priority, as the indexes define it."""
    if sampling == "recent":
        return np.arange(num_sessions)
    return np.argsort(np.random.default_rng(seed).permutation(num_sessions))


@pytest.fixture
def sessions():
    return [np.array(s) for s in SESSIONS]
