"""The named recipes of ``dmi-gnn prepare``, in the order ``--help`` lists them."""

from __future__ import annotations

from datamodules.preprocess.recipes.base import Recipe
from datamodules.preprocess.recipes.gcegnn import Nowplaying, Tmall
from datamodules.preprocess.recipes.generic import Generic
from datamodules.preprocess.recipes.lastfm import LastFM
from datamodules.preprocess.recipes.retailrocket import RetailRocket
from datamodules.preprocess.recipes.srgnn import Diginetica, Yoochoose

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Diginetica(),
        Yoochoose(),
        Tmall(),
        Nowplaying(),
        RetailRocket(),
        LastFM(),
        Generic(),
    )
}

__all__ = ["RECIPES", "Recipe"]
