"""The DMI-GNN network in plain PyTorch (no Lightning): one layer per file."""

from dmi_gnn.nn.global_aggregator import GlobalAggregator
from dmi_gnn.nn.interest_extractor import MultiInterestExtractor
from dmi_gnn.nn.local_aggregator import LocalAggregator
from dmi_gnn.nn.network import DMIGNNNet, NetworkOutput
from dmi_gnn.nn.reference_weights import (
    load_reference_parameters,
    reference_gradients,
    reference_parameters,
)
from dmi_gnn.nn.repeat_bonus import RepeatBonus
from dmi_gnn.nn.repeat_mixture import RepeatMixture
from dmi_gnn.nn.scoring import InterestScorer, score_items
from dmi_gnn.nn.session_items import SessionItemFeatures, session_item_features

__all__ = [
    "DMIGNNNet",
    "GlobalAggregator",
    "InterestScorer",
    "LocalAggregator",
    "MultiInterestExtractor",
    "NetworkOutput",
    "RepeatBonus",
    "RepeatMixture",
    "SessionItemFeatures",
    "load_reference_parameters",
    "reference_gradients",
    "reference_parameters",
    "score_items",
    "session_item_features",
]
