"""Samples (prefix -> next item) stored flat, the prefix augmentation and the validation split.

A split's samples are four aligned numpy arrays: sample ``i`` is the prefix
``flat[starts[i] : starts[i] + lengths[i]]`` (in time order) with next item ``targets[i]``.
Prefixes of one session share the session's clicks in ``flat``, so augmentation copies nothing.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from datamodules.errors import DataError
from datamodules.processed import Sessions

logger = logging.getLogger(__name__)


@dataclass
class Samples:
    """Prefix/target samples of one split.

    Shapes:
        flat: ``(total_clicks,)`` int64, the clicks the prefixes point into.
        starts: ``(S,)`` int64, where each prefix starts in ``flat``.
        lengths: ``(S,)`` int64, prefix lengths, all >= 1.
        targets: ``(S,)`` int64, next items ``1..N``.
    """

    flat: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    @classmethod
    def empty(cls) -> Samples:
        """A split without samples."""
        nothing = np.zeros(0, dtype=np.int64)
        return cls(flat=nothing, starts=nothing, lengths=nothing, targets=nothing)

    def prefix(self, index: int) -> np.ndarray:
        """The prefix of sample ``index`` in time order (for tests and debugging)."""
        start = int(self.starts[index])
        return self.flat[start : start + int(self.lengths[index])]

    def arrays(self) -> dict[str, np.ndarray]:
        """The four arrays by name (for caching)."""
        return {
            "flat": self.flat,
            "starts": self.starts,
            "lengths": self.lengths,
            "targets": self.targets,
        }


def prefix_samples(sessions: Sessions, min_prefix_length: int) -> Samples:
    """Augment full sessions into prefix samples, in the reference order.

    For each session ``s`` (in order) and ``i = 1 .. len(s) - min_prefix_length``, the sample is
    ``(s[:-i], s[-i])``: the longest prefix first, as the GCE-GNN/DMI-GNN preprocessing writes
    ``train.txt``/``test.txt``. Sessions shorter than ``min_prefix_length + 1`` give none (their
    number is logged).

    Args:
        sessions: full sessions, flat.
        min_prefix_length: 1 for every prefix, 2 for prefixes of length >= 2.

    Returns:
        Samples whose ``flat`` is ``sessions.items`` itself (no copy).
    """
    if min_prefix_length < 1:
        raise ValueError(f"min_prefix_length must be >= 1, got {min_prefix_length}")
    session_lengths = sessions.lengths
    per_session = np.maximum(session_lengths - min_prefix_length, 0)
    too_short = int((per_session == 0).sum())
    if too_short:
        logger.info(
            "%d of %d sessions are shorter than %d clicks and give no sample",
            too_short,
            len(sessions),
            min_prefix_length + 1,
        )
    total = int(per_session.sum())
    session_of_sample = np.repeat(np.arange(len(sessions)), per_session)
    first_sample = np.cumsum(per_session) - per_session
    rank_in_session = np.arange(total, dtype=np.int64) - first_sample[session_of_sample]
    lengths = session_lengths[session_of_sample] - 1 - rank_in_session
    starts = sessions.offsets[:-1][session_of_sample]
    return Samples(
        flat=sessions.items,
        starts=starts.astype(np.int64),
        lengths=lengths.astype(np.int64),
        targets=sessions.items[starts + lengths],
    )


def sessions_slice(sessions: Sessions, start: int, stop: int) -> Sessions:
    """Sessions ``start .. stop - 1`` as a new :class:`Sessions` (items copied)."""
    offsets = sessions.offsets[start : stop + 1]
    return Sessions(
        items=sessions.items[offsets[0] : offsets[-1]].copy(), offsets=offsets - offsets[0]
    )


def validation_session_count(num_sessions: int, val_fraction: float) -> int:
    """How many sessions the last ``val_fraction`` is: ``round(val_fraction * S)``, >= 1 if > 0."""
    if val_fraction <= 0:
        return 0
    return max(1, math.floor(val_fraction * num_sessions + 0.5))


def split_last_sessions(sessions: Sessions, val_fraction: float) -> tuple[Sessions, Sessions]:
    """Split chronological sessions into (fit, validation): validation is the last fraction.

    Whole sessions move, never single prefixes, so no prefix of a validation session is trained
    on, and (the global graph being built from the fit sessions) none adds a graph edge.

    Raises:
        DataError: the split would leave no fit session.
    """
    num_val = validation_session_count(len(sessions), val_fraction)
    num_fit = len(sessions) - num_val
    if num_fit < 1:
        raise DataError(
            f"val_fraction={val_fraction} of {len(sessions)} train sessions leaves no session "
            "to train on"
        )
    return sessions_slice(sessions, 0, num_fit), sessions_slice(sessions, num_fit, len(sessions))
