"""Training sessions in, validated and flat; the session x item matrix the kNN indexes search."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import sparse

__all__ = ["flat_sessions", "session_item_matrix", "sessions_from_state", "sessions_state"]


def flat_sessions(
    sessions: Sequence[Sequence[int] | np.ndarray], num_items: int, owner: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check the training sessions and concatenate them.

    Args:
        sessions: training sessions in chronological order, each a 1-D sequence of ids
            ``1..num_items`` with at least one click.
        num_items: catalogue size ``N``.
        owner: the index's name, for error messages.

    Returns:
        ``(flat, offsets)``: session ``s`` is ``flat[offsets[s]:offsets[s + 1]]``.

    Raises:
        ValueError: no session, an empty or non-1-D session, or an id outside ``1..N``.
        TypeError: a session holds non-integers.
    """
    if len(sessions) == 0:
        raise ValueError(f"{owner}.fit: no training session")
    arrays = []
    for index, session in enumerate(sessions):
        array = np.asarray(session)
        if array.ndim != 1 or array.size == 0:
            raise ValueError(
                f"{owner}.fit: session {index} must be a non-empty 1-D sequence of item ids, "
                f"got shape {array.shape}"
            )
        if not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"{owner}.fit: session {index} holds {array.dtype}, not integer ids")
        low, high = int(array.min()), int(array.max())
        if low < 1 or high > num_items:
            bad = low if low < 1 else high
            raise ValueError(
                f"{owner}.fit: session {index} holds item id {bad}, outside 1..{num_items}"
            )
        arrays.append(array.astype(np.int64, copy=False))
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return np.concatenate(arrays), offsets


def session_item_matrix(
    flat: np.ndarray, offsets: np.ndarray, num_items: int, order: np.ndarray | None = None
) -> sparse.csr_matrix:
    """The binary session x item matrix: ``X[r, i - 1] = 1`` iff item ``i`` is in session ``r``.

    Args:
        flat, offsets: sessions as from :func:`flat_sessions`.
        num_items: ``N``.
        order: optional permutation; row ``r`` is then session ``order[r]``.

    Shapes:
        flat: ``(T,)``; offsets: ``(S + 1,)``; order: ``(S,)``; result: ``(S, N)`` float64 CSR
        with sorted indices and no duplicate entries (repeats count once).
    """
    num_sessions = len(offsets) - 1
    session_of_click = np.repeat(np.arange(num_sessions), np.diff(offsets))
    row = session_of_click if order is None else np.argsort(order)[session_of_click]
    key = np.unique(row * num_items + (flat - 1))
    rows, cols = np.divmod(key, num_items)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=num_sessions))])
    return sparse.csr_matrix((np.ones(len(cols)), cols, indptr), shape=(num_sessions, num_items))


def sessions_state(flat: np.ndarray, offsets: np.ndarray, num_items: int) -> dict:
    """The training sessions as tensors (the kNN indexes' whole fitted state)."""
    return {
        "num_items": torch.tensor(num_items, dtype=torch.int64),
        "session_items": torch.from_numpy(flat.copy()),
        "session_offsets": torch.from_numpy(offsets.copy()),
    }


def sessions_from_state(state: dict, owner: str) -> tuple[int, list[np.ndarray]]:
    """Inverse of :func:`sessions_state`: ``(num_items, sessions)``."""
    missing = {"num_items", "session_items", "session_offsets"} - set(state)
    if missing:
        raise KeyError(f"{owner}.from_state: state lacks {', '.join(sorted(missing))}")
    flat = state["session_items"].cpu().numpy()
    offsets = state["session_offsets"].cpu().numpy()
    return int(state["num_items"]), np.split(flat, offsets[1:-1])
