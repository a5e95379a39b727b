"""Prefix augmentation (reference order) and the chronological validation split."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.errors import DataError
from datamodules.processed import Sessions
from datamodules.samples import prefix_samples, split_last_sessions, validation_session_count


def _reference_augmentation(sessions, m):
    """The preprocessing scripts' loop, transcribed."""
    prefixes, targets = [], []
    for s in sessions:
        for i in range(1, len(s) - m + 1):
            prefixes.append(s[:-i])
            targets.append(s[-i])
    return prefixes, targets


@pytest.mark.parametrize("m", [1, 2])
def test_prefixes_follow_the_reference_order(m):
    rng = np.random.default_rng(0)
    sessions = [rng.integers(1, 50, size=n).tolist() for n in rng.integers(1, 12, size=200)]
    samples = prefix_samples(Sessions.from_lists(sessions), m)
    prefixes, targets = _reference_augmentation(sessions, m)
    assert len(samples) == len(prefixes)
    assert [samples.prefix(i).tolist() for i in range(len(samples))] == prefixes
    assert samples.targets.tolist() == targets
    assert samples.lengths.min() >= m


def test_no_sessions_give_no_samples():
    samples = prefix_samples(Sessions.from_lists([]), 1)
    assert len(samples) == 0


def test_validation_is_the_last_whole_sessions():
    sessions = Sessions.from_lists([[i, i + 1] for i in range(1, 21)])
    fit, val = split_last_sessions(sessions, 0.1)
    assert fit.to_lists() == [[i, i + 1] for i in range(1, 19)]
    assert val.to_lists() == [[19, 20], [20, 21]]


@pytest.mark.parametrize(
    ("sessions", "fraction", "expected"),
    [(65_286, 0.1, 6_529), (10, 0.0, 0), (10, 0.01, 1), (10, 0.25, 3), (10, 0.24, 2)],
)
def test_validation_session_count(sessions, fraction, expected):
    assert validation_session_count(sessions, fraction) == expected


def test_split_that_leaves_nothing_to_fit_is_an_error():
    with pytest.raises(DataError, match="leaves no session"):
        split_last_sessions(Sessions.from_lists([[1, 2]]), 0.5)
