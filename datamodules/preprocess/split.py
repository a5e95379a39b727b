"""Time-based train/test split, chronological ordering, item renumbering, test cleaning.

Conventions of the published scripts reproduced here:

* Sessions are ordered by their time with a stable sort, so ties keep the session code order
  (first appearance in the raw file, the insertion order of SR-GNN's ``sess_date`` dict).
* Items are renumbered ``1..N`` in order of first appearance, either in the chronologically
  sorted train sessions (SR-GNN, GCE-GNN, MTD) or in the train rows as read (LESSR's
  ``pd.factorize`` on the user/time-sorted frame).
* Test clicks on items unseen in train are removed, then short test sessions are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamodules.preprocess.clicks import ClickLog
from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.report import utc_iso


@dataclass
class SplitSessions:
    """Which session codes go to train and test (ascending code order)."""

    train: np.ndarray
    test: np.ndarray
    info: dict


def split_by_time(
    dates: np.ndarray, present: np.ndarray, test_seconds: float, boundary: str = "drop"
) -> SplitSessions:
    """Sessions whose time is within ``test_seconds`` of the latest one are test.

    ``split = max(date) - test_seconds``; ``date < split`` is train; ``date > split`` is test;
    ``date == split`` is dropped (``boundary="drop"``, SR-GNN/GCE-GNN/MTD, whose filters are
    ``<`` and ``>``) or test (``boundary="test"``, session-rec's ``>=``).
    """
    if boundary not in ("drop", "test"):
        raise ValueError(f"boundary must be 'drop' or 'test', not {boundary!r}")
    codes = np.flatnonzero(present)
    if not len(codes):
        raise PrepareError("no session is left to split: the filters removed everything")
    session_dates = dates[codes]
    latest = float(session_dates.max())
    split = latest - test_seconds
    train = codes[session_dates < split]
    test = codes[session_dates > split] if boundary == "drop" else codes[session_dates >= split]
    dropped = len(codes) - len(train) - len(test)
    info = {
        "method": "time",
        "test_seconds": test_seconds,
        "max_time": latest,
        "split_time": split,
        "split_date": utc_iso(split),
        "boundary": boundary,
        "boundary_sessions_dropped": dropped,
        "train_sessions": len(train),
        "test_sessions": len(test),
    }
    return SplitSessions(train=train, test=test, info=info)


def split_by_fraction(dates: np.ndarray, present: np.ndarray, fraction: float) -> SplitSessions:
    """The last ``int(n * fraction)`` sessions by time are test (LESSR ``train_test_split``)."""
    if not 0 < fraction < 1:
        raise PrepareError(f"the test fraction must be between 0 and 1, not {fraction}")
    codes = np.flatnonzero(present)
    order = codes[np.argsort(dates[codes], kind="stable")]
    num_test = int(len(order) * fraction)
    if num_test == 0:
        raise PrepareError(
            f"a test fraction of {fraction} of {len(order)} sessions selects no test session"
        )
    test = np.sort(order[-num_test:])
    train = np.sort(order[:-num_test])
    first_test = float(dates[order[-num_test]])
    info = {
        "method": "fraction",
        "test_fraction": fraction,
        "split_time": first_test,
        "split_date": utc_iso(first_test),
        "train_sessions": len(train),
        "test_sessions": len(test),
    }
    return SplitSessions(train=train, test=test, info=info)


def chronological(codes: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """``codes`` (ascending) reordered by date; ties keep code order."""
    return codes[np.argsort(dates[codes], kind="stable")]


def gather(log: ClickLog, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The item codes of sessions ``codes``, concatenated in that order, and their lengths."""
    lengths = log.session_lengths()
    starts = np.zeros(log.num_sessions, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    chosen = lengths[codes]
    total = int(chosen.sum())
    shift = starts[codes] - (np.cumsum(chosen) - chosen)
    index = np.arange(total, dtype=np.int64) + np.repeat(shift, chosen)
    return log.item[index], chosen


def first_appearance(codes: np.ndarray) -> np.ndarray:
    """Distinct values of ``codes`` in order of first appearance."""
    encoded = pc.dictionary_encode(pa.array(codes))
    return encoded.dictionary.to_numpy(zero_copy_only=False).astype(np.int64)
