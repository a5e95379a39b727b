"""Serving samples to a ``DataLoader`` a whole batch at a time.

:class:`SampleDataset` implements ``__getitems__``, so the ``DataLoader`` hands it the list of a
batch's indices and gets back a ready :class:`~datamodules.batch.SessionBatch` (built with tensor
ops by :func:`~datamodules.batching.make_batch`); :func:`keep_batch` is the matching
``collate_fn``. Samplers (random, sequential, or Lightning's distributed one) work unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from datamodules.batch import SessionBatch
from datamodules.batching import make_batch
from datamodules.samples import Samples


class SampleDataset(Dataset):
    """The samples of one split, batched on indexing.

    Args:
        samples: the split's flat arrays.
        max_len: keep only the ``max_len`` most recent clicks of longer prefixes.
        with_session_graph: build the session-graph fields of each batch (else None).
    """

    def __init__(
        self, samples: Samples, max_len: int | None = None, with_session_graph: bool = True
    ) -> None:
        self.flat = torch.from_numpy(samples.flat)
        self.starts = torch.from_numpy(samples.starts)
        self.lengths = torch.from_numpy(samples.lengths)
        self.targets = torch.from_numpy(samples.targets)
        self.max_len = max_len
        self.with_session_graph = with_session_graph

    def __len__(self) -> int:
        return len(self.targets)

    def count_longer(self, max_len: int) -> tuple[int, int]:
        """``(prefixes, sessions)`` longer than ``max_len`` (the ones a cut shortens).

        Prefixes of one session share its clicks in ``flat`` (and so their start), so the
        sessions are the distinct starts of those prefixes.
        """
        longer = self.lengths > max_len
        return int(longer.sum()), int(self.starts[longer].unique().numel())

    def __getitems__(self, indices: Sequence[int]) -> SessionBatch:
        """The batch of samples ``indices`` (in that order)."""
        index = torch.as_tensor(indices, dtype=torch.int64)
        return make_batch(
            self.flat,
            self.starts[index],
            self.lengths[index],
            self.targets[index],
            self.max_len,
            self.with_session_graph,
        )

    def __getitem__(self, index: int) -> SessionBatch:
        """A batch holding sample ``index`` alone (the DataLoader uses ``__getitems__``)."""
        return self.__getitems__([index])


def keep_batch(batch: SessionBatch) -> SessionBatch:
    """``collate_fn`` for :class:`SampleDataset`: the batch is already built."""
    return batch
