"""The networks in plain PyTorch (no Lightning): one layer per file; baselines in ``networks``."""

from dmi_gnn.nn.gated_graph import GatedGraphLayer
from dmi_gnn.nn.global_aggregator import GlobalAggregator
from dmi_gnn.nn.global_graph import check_global_graph, global_pyramid
from dmi_gnn.nn.gru_encoder import GRUEncoder, reverse_prefixes
from dmi_gnn.nn.interest_extractor import MultiInterestExtractor
from dmi_gnn.nn.last_item_attention import LastItemAttention
from dmi_gnn.nn.local_aggregator import LocalAggregator
from dmi_gnn.nn.network import DMIGNNNet, NetworkOutput
from dmi_gnn.nn.normalized_graph import NormalizedSessionGraph, normalized_session_graph
from dmi_gnn.nn.positional_readout import PositionalAttentionReadout
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
    "GRUEncoder",
    "GatedGraphLayer",
    "GlobalAggregator",
    "InterestScorer",
    "LastItemAttention",
    "LocalAggregator",
    "MultiInterestExtractor",
    "NetworkOutput",
    "NormalizedSessionGraph",
    "PositionalAttentionReadout",
    "RepeatBonus",
    "RepeatMixture",
    "SessionItemFeatures",
    "check_global_graph",
    "global_pyramid",
    "load_reference_parameters",
    "normalized_session_graph",
    "reference_gradients",
    "reference_parameters",
    "reverse_prefixes",
    "score_items",
    "session_item_features",
]
