"""The baseline networks of the model family as plain PyTorch (no Lightning), one per file.

Each follows the network contract: ``FEATURES``, ``encode(batch) -> (B, U, d)``,
``candidate_embeddings() -> (N, d)``, ``score(interests) -> (B, N)``, ``forward(batch) ->
(B, N)`` and, where the published training is not full cross-entropy, ``training_loss``.
"""

from dmi_gnn.nn.networks.atten_mixer import AttenMixerNet
from dmi_gnn.nn.networks.comirec_dr import ComiRecDRNet
from dmi_gnn.nn.networks.comirec_sa import ComiRecSANet
from dmi_gnn.nn.networks.fpmc import FPMCNet
from dmi_gnn.nn.networks.gcegnn import GCEGNNNet
from dmi_gnn.nn.networks.gru4rec import GRU4RecNet
from dmi_gnn.nn.networks.mgir import MGIRNet
from dmi_gnn.nn.networks.mind import MINDNet
from dmi_gnn.nn.networks.narm import NARMNet
from dmi_gnn.nn.networks.srgnn import SRGNNNet

__all__ = [
    "AttenMixerNet",
    "ComiRecDRNet",
    "ComiRecSANet",
    "FPMCNet",
    "GCEGNNNet",
    "GRU4RecNet",
    "MGIRNet",
    "MINDNet",
    "NARMNet",
    "SRGNNNet",
]
