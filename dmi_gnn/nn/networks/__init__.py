"""The baseline networks of the model family, pure torch (see the network contract).

Each takes ``num_items``, ``embedding_dim`` and its own options, and has ``FEATURES``,
``encode``, ``candidate_embeddings``, ``score`` and ``forward`` (and ``training_loss`` where
its published training differs from full cross-entropy on ``forward``).
"""

from dmi_gnn.nn.networks.atten_mixer import AttenMixerNet
from dmi_gnn.nn.networks.comirec_dr import ComiRecDRNet
from dmi_gnn.nn.networks.comirec_sa import ComiRecSANet
from dmi_gnn.nn.networks.mind import MINDNet

__all__ = ["AttenMixerNet", "ComiRecDRNet", "ComiRecSANet", "MINDNet"]
