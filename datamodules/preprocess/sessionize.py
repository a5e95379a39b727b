"""Sessionisation by inactivity gap: a user's clicks split where the pause is too long."""

from __future__ import annotations

import numpy as np


def stable_order(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Row order by ``primary``, then ``secondary``; ties keep their input order.

    Equivalent to ``np.lexsort((secondary, primary))``. When both keys are integral and
    their ranges fit, it sorts one combined int64 key instead, three to four times faster on
    tens of millions of rows.
    """
    if len(primary) == 0:
        return np.zeros(0, dtype=np.int64)
    p_low, p_high = int(primary.min()), int(primary.max())
    if np.issubdtype(secondary.dtype, np.integer):
        integral = True
    else:
        integral = bool(np.isfinite(secondary).all()) and bool(
            (secondary == np.floor(secondary)).all()
        )
    if integral:
        s_low, s_high = float(secondary.min()), float(secondary.max())
        span = int(s_high - s_low) + 1
        if (p_high - p_low + 1) * span < 2**62 and abs(s_low) < 2**52 and abs(s_high) < 2**52:
            key = (primary.astype(np.int64) - p_low) * span
            key += (secondary - s_low).astype(np.int64)
            return np.argsort(key, kind="stable")
    return np.lexsort((secondary, primary))


def sessionize_by_gap(
    user: np.ndarray,
    time: np.ndarray,
    gap: float,
    *,
    break_on_user: bool = True,
    absolute: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Order rows by user, then time, and number the sessions.

    A new session starts at the first row, at every user change (when ``break_on_user``), and
    wherever the time since the previous row exceeds ``gap`` (strictly greater, as LESSR's and
    session-rec's ``diff > threshold``).

    Args:
        user: ``(R,)`` user keys; rows are sorted by this key (stable), so pass
            first-appearance codes for LESSR's factorize order or raw ids for a numeric sort.
        time: ``(R,)`` times in seconds.
        gap: Largest pause inside a session, in seconds.
        break_on_user: Start a session at every user change. False reproduces MTD's
            RetailRocket script, which splits on time gaps only (a session may then run
            across two users whose clicks are within ``gap`` of each other).
        absolute: Compare ``|t_i - t_{i-1}|`` (MTD) instead of ``t_i - t_{i-1}``; they differ
            only across user changes.

    Returns:
        ``(perm, session)``: the row order (indices into the inputs) and ``(R,)`` session codes
        of the reordered rows, non-decreasing from 0.
    """
    n = len(user)
    perm = stable_order(user, time)
    sorted_time = time[perm]
    new = np.ones(n, dtype=bool)
    if n > 1:
        step = np.diff(sorted_time)
        if absolute:
            np.abs(step, out=step)
        new[1:] = step > gap
        del step
        if break_on_user:
            sorted_user = user[perm]
            new[1:] |= sorted_user[1:] != sorted_user[:-1]
    session = np.cumsum(new, dtype=np.int64) - 1
    return perm, session
