"""Compatibility shim: ``DMIGNN`` now lives in :mod:`dmi_gnn.models.dmignn`.

``from dmi_gnn.module import DMIGNN, Recommendation`` keeps working.
"""

from __future__ import annotations

from dmi_gnn.models.dmignn import DMIGNN
from dmi_gnn.recommender import Recommendation

__all__ = ["DMIGNN", "Recommendation"]
