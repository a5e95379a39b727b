"""The networks of the model family, one per file (pure torch; see the network contract)."""

from dmi_gnn.nn.networks.mgir import MGIRNet

__all__ = ["MGIRNet"]
