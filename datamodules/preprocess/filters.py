"""Row filters on a :class:`~datamodules.preprocess.clicks.ClickLog`: each returns a keep-mask.

These are the only filter implementations; every recipe composes them (see
:mod:`datamodules.preprocess.pipeline`), and the pipeline records what each removed.
"""

from __future__ import annotations

import numpy as np

from datamodules.preprocess.clicks import ClickLog


def session_length_mask(
    log: ClickLog, min_length: int = 1, max_length: int | None = None
) -> np.ndarray:
    """Keep rows of sessions with ``min_length <= len <= max_length`` (no upper bound if None)."""
    lengths = log.session_lengths()
    ok = lengths >= min_length
    if max_length is not None:
        ok &= lengths <= max_length
    return ok[log.session]


def item_counts(log: ClickLog, counted: np.ndarray | None = None) -> np.ndarray:
    """``(len(item_values),)`` clicks per item code, over the rows where ``counted`` holds
    (every row when None)."""
    if counted is None:
        return log.item_counts()
    return np.bincount(log.item[counted], minlength=len(log.item_values))


def item_support_mask(
    log: ClickLog, min_support: int, counted: np.ndarray | None = None
) -> np.ndarray:
    """Keep rows of items clicked at least ``min_support`` times.

    Args:
        log: The clicks.
        min_support: Fewest clicks an item needs.
        counted: ``(R,)`` bool, the rows that count (e.g. the training period's); None counts
            every row. Rows outside it are kept or dropped with their item all the same.
    """
    return (item_counts(log, counted) >= min_support)[log.item]


def immediate_repeat_mask(log: ClickLog) -> np.ndarray:
    """Keep rows that do not repeat the previous click's item in the same session."""
    keep = np.ones(len(log), dtype=bool)
    if len(log) > 1:
        keep[1:] = (log.session[1:] != log.session[:-1]) | (log.item[1:] != log.item[:-1])
    return keep


def truncate_mask(log: ClickLog, max_length: int) -> np.ndarray:
    """Keep the first ``max_length`` clicks of every session."""
    return log.position_in_session() < max_length


def top_items_mask(log: ClickLog, n: int, counted: np.ndarray | None = None) -> np.ndarray:
    """Keep rows of the ``n`` most clicked items (clicks counted over the ``counted`` rows, or
    every row when None).

    Ties at the cut are broken like pandas' ``nlargest(keep="first")`` on a
    ``groupby(sort=False).size()``: the item that appears first in the (counted) log wins.
    """
    counts = item_counts(log, counted)
    present = np.count_nonzero(counts)
    if n >= present:
        return np.ones(len(log), dtype=bool)
    threshold = np.partition(counts, len(counts) - n)[len(counts) - n]
    keep_item = counts > threshold
    room = n - int(np.count_nonzero(keep_item))
    if room > 0:
        tied = counts[log.item] == threshold
        if counted is not None:
            tied &= counted
        tied_rows = np.flatnonzero(tied)
        tied_items, first_row = np.unique(log.item[tied_rows], return_index=True)
        by_appearance = tied_items[np.argsort(tied_rows[first_row], kind="stable")]
        keep_item[by_appearance[:room]] = True
    return keep_item[log.item]
