"""The batch: the one contract between :mod:`datamodules` and :mod:`dmi_gnn`.

Everything the model needs for one step travels in a :class:`SessionBatch`. The datamodule
builds it (``datamodules.batching``), Lightning moves it to the device (it is a ``NamedTuple``,
so ``apply_to_collection`` handles it), and the network reads it. Nothing else crosses the
package boundary.

Conventions
-----------
* Item ids are contiguous ``1..N``; ``0`` is padding and is never a candidate.
* ``B`` is the batch size and ``L`` the longest prefix **in this batch** (after the optional
  ``max_len`` cut), never the split-wide maximum.
* Prefixes are **reversed**: position 0 is the most recent click (the reference's
  "reverse position embedding", reference-implementation.md section 3).
* The session graph is over the unique items of each prefix. ``nodes`` lists them (sorted by
  item id, then 0-padded to ``L``); ``alias[b, t]`` is the index in ``nodes[b]`` of the item at
  position ``t`` (0 at padded positions, which are masked everywhere).
* ``adjacency[b, i, j]`` is the edge type from node ``i`` (row) to node ``j`` (column), the
  GCE-GNN encoding: ``0`` none, ``1`` self (every real node), ``2`` in (``j`` is a direct
  predecessor of ``i`` in time), ``3`` out (``j`` is a direct successor of ``i``), ``4`` in-out
  (both). Immediate repeats add no edge. Rows of padding nodes are all 0.

Features
--------
The four session-graph fields are built only for a model that declares the feature
:data:`SESSION_GRAPH` (``FEATURES`` of the model, see :mod:`dmi_gnn.recommender`); otherwise
they are ``None`` and a batch costs ``O(B x L)`` instead of ``O(B x L x L)``. The global item
graph (feature :data:`GLOBAL_GRAPH`) is not part of a batch: the model holds it. Nor are MGIR's
item-relation graphs (feature :data:`RELATION_GRAPHS`): the model builds them from the fit
sessions (:func:`datamodules.relation_graphs.build_relation_graphs`) and keeps them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch

#: Edge-type codes of :attr:`SessionBatch.adjacency`.
EDGE_NONE, EDGE_SELF, EDGE_IN, EDGE_OUT, EDGE_IN_OUT = 0, 1, 2, 3, 4

#: Feature: the per-prefix session graph (``nodes``, ``node_mask``, ``alias``, ``adjacency``).
SESSION_GRAPH = "session_graph"
#: Feature: the global item graph of the fit sessions (installed in the model, not batched).
GLOBAL_GRAPH = "global_graph"
#: Feature: MGIR's relation graphs of the fit sessions (built and kept by the model, not batched).
RELATION_GRAPHS = "relation_graphs"
#: Every feature a model may declare.
KNOWN_FEATURES = frozenset({SESSION_GRAPH, GLOBAL_GRAPH, RELATION_GRAPHS})


def check_features(features: Iterable[str], owner: str = "a model") -> frozenset[str]:
    """``features`` as a frozenset, or a ValueError naming the unknown ones."""
    found = frozenset(features)
    unknown = sorted(found - KNOWN_FEATURES)
    if unknown:
        raise ValueError(
            f"{owner} declares unknown batch feature(s) {unknown}; known: {sorted(KNOWN_FEATURES)}"
        )
    return found


class SessionBatch(NamedTuple):
    """A padded batch of session prefixes, with their session graphs when asked for.

    Shapes:
        items: ``(B, L)`` int64, reversed prefixes (most recent first), 0-padded.
        mask: ``(B, L)`` bool, True at real positions.
        lengths: ``(B,)`` int64, prefix lengths (``mask.sum(1)``), all >= 1.
        targets: ``(B,)`` int64, the next item ``1..N``; ``0`` where unknown (prediction).
        nodes: ``(B, L)`` int64, unique items of each prefix, sorted, 0-padded; or None.
        node_mask: ``(B, L)`` bool, True where ``nodes`` holds a real item; or None.
        alias: ``(B, L)`` int64, ``nodes[b, alias[b, t]] == items[b, t]`` at real positions;
            or None.
        adjacency: ``(B, L, L)`` int8, edge types over ``nodes`` (see module docstring); or None.

    The four graph fields are all set or all None (:attr:`has_session_graph`).
    """

    items: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    nodes: torch.Tensor | None = None
    node_mask: torch.Tensor | None = None
    alias: torch.Tensor | None = None
    adjacency: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        """Number of prefixes ``B``."""
        return self.items.shape[0]

    @property
    def max_length(self) -> int:
        """Padded length ``L`` of this batch."""
        return self.items.shape[1]

    @property
    def has_session_graph(self) -> bool:
        """Whether the session-graph fields are built."""
        return self.adjacency is not None

    def to_device(self, device: torch.device | str) -> SessionBatch:
        """This batch with every tensor on ``device`` (None fields stay None)."""
        return SessionBatch(*(None if t is None else t.to(device) for t in self))
