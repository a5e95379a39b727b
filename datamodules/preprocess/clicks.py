"""The click table every recipe builds and every filter transforms: flat numpy columns.

A :class:`ClickLog` holds one row per click, grouped by session: the rows of session ``s``
are contiguous, sessions follow their code order ``0..num_sessions-1`` (the order of their
first appearance in the raw file, or of their creation by sessionisation), and within a
session rows are in click order. Filters only drop rows, so the grouping survives every step
and session-level quantities are plain ``np.bincount`` / ``reduceat`` calls.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from datamodules.preprocess.sessionize import stable_order


@dataclass(frozen=True)
class Counts:
    """Rows, distinct sessions and distinct items of a click table."""

    rows: int
    sessions: int
    items: int


@dataclass
class ClickLog:
    """Clicks grouped by session.

    Shapes:
        session: ``(R,)`` int64, non-decreasing codes in ``0..num_sessions-1``.
        item: ``(R,)`` int64 codes into ``item_values``.
        time: ``(R,)`` float64 unix seconds (or the log's own time unit).
        item_values: ``(I,)`` raw item ids (int64 or str objects).
        session_date: ``(num_sessions,)`` float64 or None: a session time fixed when the log
            was read (the SR-GNN family's "time of the session's last raw row"), used by
            splits with ``session_time="raw_last"``.
    """

    session: np.ndarray
    item: np.ndarray
    time: np.ndarray
    item_values: np.ndarray
    num_sessions: int
    session_date: np.ndarray | None = None

    @classmethod
    def from_rows(
        cls,
        session: np.ndarray,
        item: np.ndarray,
        time: np.ndarray,
        item_values: np.ndarray,
        *,
        order: np.ndarray | None = None,
        date: np.ndarray | None = None,
    ) -> ClickLog:
        """Group file-order rows by session.

        Args:
            session: ``(R,)`` session codes numbered by first appearance (``0..S-1``).
            item: ``(R,)`` item codes.
            time: ``(R,)`` times.
            item_values: Raw ids of the item codes.
            order: Optional ``(R,)`` key ordering clicks within a session (stable: ties keep
                file order). None keeps file order.
            date: Optional ``(R,)`` per-row date; the date of each session's last row in file
                order becomes :attr:`session_date`.
        """
        num_sessions = int(session.max()) + 1 if len(session) else 0
        session_date = None
        if date is not None:
            last = np.full(num_sessions, -1, dtype=np.int64)
            np.maximum.at(last, session, np.arange(len(session), dtype=np.int64))
            session_date = date[last].astype(np.float64)
        if order is None:
            perm = np.argsort(session, kind="stable")
        else:
            perm = stable_order(session, order)
        return cls(
            session=session[perm].astype(np.int64, copy=False),
            item=item[perm].astype(np.int64, copy=False),
            time=time[perm].astype(np.float64, copy=False),
            item_values=item_values,
            num_sessions=num_sessions,
            session_date=session_date,
        )

    def __len__(self) -> int:
        return len(self.session)

    def select(self, keep: np.ndarray) -> ClickLog:
        """The rows where ``keep`` is True (grouping and session codes unchanged)."""
        return replace(self, session=self.session[keep], item=self.item[keep], time=self.time[keep])

    def session_lengths(self) -> np.ndarray:
        """``(num_sessions,)`` clicks per session code (0 for dropped sessions)."""
        return np.bincount(self.session, minlength=self.num_sessions)

    def item_counts(self) -> np.ndarray:
        """``(len(item_values),)`` clicks per item code."""
        return np.bincount(self.item, minlength=len(self.item_values))

    def counts(self) -> Counts:
        """Rows, distinct sessions and distinct items."""
        return Counts(
            rows=len(self.session),
            sessions=int(np.count_nonzero(self.session_lengths())),
            items=int(np.count_nonzero(self.item_counts())),
        )

    def run_starts(self) -> np.ndarray:
        """Row index where each present session's block starts (ascending)."""
        if not len(self.session):
            return np.zeros(0, dtype=np.int64)
        change = np.flatnonzero(self.session[1:] != self.session[:-1]) + 1
        return np.concatenate(([0], change)).astype(np.int64)

    def position_in_session(self) -> np.ndarray:
        """``(R,)`` 0-based position of each row within its session."""
        starts = self.run_starts()
        run = np.zeros(len(self.session), dtype=np.int64)
        run[starts[1:]] = 1
        np.cumsum(run, out=run)
        return np.arange(len(self.session), dtype=np.int64) - starts[run]

    def session_end_times(self) -> np.ndarray:
        """``(num_sessions,)`` latest click time per session (NaN for dropped sessions)."""
        end = np.full(self.num_sessions, np.nan)
        starts = self.run_starts()
        if len(starts):
            end[self.session[starts]] = np.maximum.reduceat(self.time, starts)
        return end
