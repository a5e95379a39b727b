"""Raw click logs to processed session datasets (``dmi-gnn prepare``).

Named recipes reproduce published splits (SR-GNN Diginetica/YOOCHOOSE, GCE-GNN Tmall and
Nowplaying, MTD RetailRocket, LESSR Last.fm); ``generic`` exposes the same building blocks for
any log. See :mod:`datamodules.preprocess.cli`.
"""

from datamodules.preprocess.cli import prepare_main
from datamodules.preprocess.errors import PrepareError

__all__ = ["PrepareError", "prepare_main"]
