"""A tiny synthetic task where the next click is often an item of the prefix.

Items ``1..N`` have Zipf popularity. A prefix draws its clicks from the popularity, re-clicking
an earlier item with probability ``reclick``; its target is, with probability ``repeat``, an item
of the prefix picked with weight ``0.5 ** t`` by reversed position ``t`` (recency), otherwise a
popularity draw. A popularity model (one learned bias per item) cannot see the repeats.
"""

from __future__ import annotations

import random

import torch
from torch import Tensor, nn

from datamodules.batch import SessionBatch
from tests.nn.helpers import make_batch


def sessions(
    count: int, num_items: int = 40, repeat: float = 0.6, reclick: float = 0.3, seed: int = 0
) -> SessionBatch:
    rng = random.Random(seed)
    items = list(range(1, num_items + 1))
    popularity = [1.0 / rank for rank in items]
    prefixes, targets = [], []
    for _ in range(count):
        clicks: list[int] = []
        for _ in range(rng.randint(2, 8)):
            if clicks and rng.random() < reclick:
                clicks.append(rng.choice(clicks))
            else:
                clicks.append(rng.choices(items, popularity)[0])
        if rng.random() < repeat:
            recent_first = clicks[::-1]
            weights = [0.5**t for t in range(len(recent_first))]
            targets.append(rng.choices(recent_first, weights)[0])
        else:
            targets.append(rng.choices(items, popularity)[0])
        prefixes.append(clicks)
    return make_batch(prefixes, targets)


class Popularity(nn.Module):
    """The base model of the task: one learned logit per item, the same for every session."""

    def __init__(self, num_items: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_items))

    def forward(self, batch: SessionBatch) -> Tensor:
        return self.bias.expand(batch.batch_size, -1)


def popularity_loss(train: SessionBatch, test: SessionBatch, num_items: int = 40) -> Tensor:
    """Test cross-entropy of the best popularity model: the training-set log-frequencies (the
    optimum of :class:`Popularity` on ``train``; add-one smoothed so that no test item is 0)."""
    counts = torch.bincount(train.targets - 1, minlength=num_items).to(torch.float32) + 1.0
    logits = counts.log().expand(test.batch_size, -1)
    return torch.nn.functional.cross_entropy(logits, test.targets - 1)


def fit(loss_of, parameters, steps: int = 100, lr: float = 0.05) -> None:
    """Full-batch Adam on ``loss_of()``."""
    optimiser = torch.optim.Adam(parameters, lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = loss_of()
        loss.backward()
        optimiser.step()
