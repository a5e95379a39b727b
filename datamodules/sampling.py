"""Samplers that make training reproducible across resumes and evaluation exact under DDP."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch
import torch.distributed as dist
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DistributedSampler, Sampler, SequentialSampler


class EpochShuffleSampler(Sampler[int]):
    """A random permutation of ``range(num_samples)`` drawn from ``(seed, epoch)`` alone.

    Lightning calls :meth:`set_epoch` before every training epoch, so epoch ``e`` always sees
    the same order whatever ran before it: a run resumed from a checkpoint shuffles exactly
    like the uninterrupted run. Under DDP :func:`training_sampler` uses a
    ``DistributedSampler`` instead (seeded by ``(seed, epoch)`` the same way).

    Args:
        num_samples: size of the dataset.
        seed: base seed.
    """

    def __init__(self, num_samples: int, seed: int = 0) -> None:
        self.num_samples = num_samples
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch``."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.num_samples, generator=generator).tolist())

    def __len__(self) -> int:
        return self.num_samples


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def training_sampler(dataset: Sized, seed: int) -> Sampler[int]:
    """Shuffled by ``(seed, epoch)``; under DDP a ``DistributedSampler`` with the same seed.

    Giving Lightning a ``DistributedSampler`` ourselves means it wraps nothing: older Lightning
    releases' wrapper did not pass ``set_epoch`` on, repeating epoch 0's order every epoch.
    """
    if _distributed():
        return DistributedSampler(dataset, shuffle=True, seed=seed)
    return EpochShuffleSampler(len(dataset), seed)


def evaluation_sampler(dataset: Sized) -> Sampler[int]:
    """In-order sampler; under DDP each rank takes a disjoint share, with NO padding.

    Lightning's default ``DistributedSampler`` repeats samples so every rank gets as many; that
    would count some samples twice in the metrics. Ranks may then see different numbers of
    batches, which evaluation (no gradient sync) allows.
    """
    if _distributed():
        return UnrepeatedDistributedSampler(dataset, shuffle=False)
    return SequentialSampler(dataset)
