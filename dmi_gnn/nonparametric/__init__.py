"""The non-neural floor: Pop, S-POP, SKNN and V-SKNN as pure numpy/scipy/torch indexes.

Every index has the same interface::

    index = VSKNN(num_items, k=100, ...)          # options validated here
    index.fit(train_sessions)                     # list of id arrays 1..N, chronological
    scores = index.scores(items, mask)            # (B, L) reversed prefixes -> (B, N) float32
    again = VSKNN.from_state(index.state(), index.options())
"""

from dmi_gnn.nonparametric.pop import Pop
from dmi_gnn.nonparametric.sknn import SKNN
from dmi_gnn.nonparametric.spop import SPop
from dmi_gnn.nonparametric.vsknn import VSKNN

__all__ = ["SKNN", "VSKNN", "Pop", "SPop"]
