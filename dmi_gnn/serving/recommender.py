"""Raw item ids in, raw item ids and scores out, over any serving backend.

The conventions of ``dmi-gnn predict`` and :meth:`dmi_gnn.DMIGNN.recommend`: unknown raw ids are
skipped and listed in ``unknown``; a session with no known item gets an ``error`` instead of
items; a session with more known items than the model's ``max_session_length`` is read from its
most recent ones. ``exclude`` removes raw ids from the answer (unknown ones are ignored), so a
row may hold fewer than ``k`` items only when fewer remain.

A backend (:class:`Backend`) says how to turn sessions of model ids into interest vectors; the
scoring (eq. 6, max over interests) is a retrieval of :mod:`dmi_gnn.serving.retrieval`: the exact
blocked top-K of :mod:`dmi_gnn.serving.topk` by default, or ``U`` ANN searches merged by the max.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from dmi_gnn.serving.topk import top_k

if TYPE_CHECKING:
    from dmi_gnn.serving.retrieval import Retrieval

#: Sessions scored per pass: bounds the ``sessions x U x block`` transient of the top-K (a
#: call with 25,898 Tmall sessions at once would otherwise ask for about 20 GB).
SESSIONS_PER_PASS = 256


class Backend(Protocol):
    """What a serving backend provides (a checkpoint through PyTorch, or an ONNX export).

    Attributes:
        vocabulary: has ``encode(raw_session) -> (ids, unknown)`` and ``decode(ids) -> raw ids``.
        num_items: ``N``.
        max_session_length: the most recent clicks the model reads.
        table_t: the candidate table transposed, ``(d, N)`` float32; column ``j - 1`` is item j.
        description: one line for logs and ``GET /health``.
    """

    vocabulary: Any
    num_items: int
    max_session_length: int
    table_t: np.ndarray
    description: str

    def interests(self, sessions: Sequence[Sequence[int]]) -> np.ndarray:
        """Interest vectors ``(B, U, d)`` float32 of sessions of model ids (oldest first)."""
        ...


class Query(NamedTuple):
    """One session to answer: raw ids (oldest first), how many items, raw ids to leave out."""

    session: Sequence[Any]
    k: int
    exclude: Sequence[Any] = ()


class Answer(NamedTuple):
    """``items`` and ``scores`` best first, the session's ``unknown`` raw ids, or an ``error``."""

    items: list
    scores: list[float]
    unknown: list
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"unknown", "items", "scores"}`` or ``{"unknown", "error"}`` (``predict``'s keys)."""
        if self.error is not None:
            return {"unknown": self.unknown, "error": self.error}
        return {"unknown": self.unknown, "items": self.items, "scores": self.scores}


def recommend(
    backend: Backend, queries: Sequence[Query], retrieval: Retrieval | None = None
) -> list[Answer]:
    """Answer every query with one pass of the backend over the servable sessions.

    Args:
        backend: interest vectors and the candidate table.
        queries: the sessions to answer.
        retrieval: how the top items are found (:mod:`dmi_gnn.serving.retrieval`); None is
            exact scoring of every item.

    Raises:
        ValueError: a ``k`` outside ``1..N`` (callers validate it first).
    """
    vocabulary = backend.vocabulary
    answers: list[Answer | None] = []
    encoded: list[list[int]] = []
    excluded: list[set[int]] = []
    wanted: list[int] = []
    for query in queries:
        if not 1 <= query.k <= backend.num_items:
            raise ValueError(f"k must be in 1..{backend.num_items}, got {query.k}")
        ids, unknown = vocabulary.encode(query.session)
        if not ids:
            reason = "empty session" if len(query.session) == 0 else "no known item in the session"
            answers.append(Answer([], [], unknown, reason))
            continue
        answers.append(Answer([], [], unknown))
        encoded.append(ids[-backend.max_session_length :])
        excluded.append(set(vocabulary.encode(query.exclude)[0]))
        wanted.append(query.k)
    if encoded:
        found_ids: list[list[int]] = []
        found_scores: list[list[float]] = []
        for start in range(0, len(encoded), SESSIONS_PER_PASS):
            end = start + SESSIONS_PER_PASS
            pairs = zip(wanted[start:end], excluded[start:end], strict=True)
            depth = min(max(k + len(e) for k, e in pairs), backend.num_items)
            interests = backend.interests(encoded[start:end])
            if retrieval is None:
                ids, scores = top_k(interests, backend.table_t, depth)
            else:
                ids, scores = retrieval.top_k(interests, depth)
            found_ids.extend(ids.tolist())
            found_scores.extend(scores.tolist())
        rows = iter(zip(found_ids, found_scores, wanted, excluded, strict=True))
        for position, answer in enumerate(answers):
            if answer is None or answer.error is not None:
                continue
            row_ids, row_scores, k, leave_out = next(rows)
            if leave_out:
                kept = [
                    (i, s) for i, s in zip(row_ids, row_scores, strict=True) if i not in leave_out
                ]
                row_ids, row_scores = [i for i, _ in kept], [s for _, s in kept]
            answers[position] = Answer(
                vocabulary.decode(row_ids[:k]), row_scores[:k], answer.unknown
            )
    return answers  # type: ignore[return-value]
