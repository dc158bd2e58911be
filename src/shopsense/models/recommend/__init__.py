"""Recommenders: one module per model, all following
:class:`~shopsense.models.recommend.base.Recommender`, listed in :data:`RECOMMENDERS`.

Importing this package is cheap: ``implicit`` is imported only when ALS is fitted.
"""

from shopsense.models.recommend.als import ImplicitALS
from shopsense.models.recommend.base import Recommendations, Recommender
from shopsense.models.recommend.ease import EASE
from shopsense.models.recommend.item_knn import ItemKNN
from shopsense.models.recommend.popular import MostPopular
from shopsense.models.recommend.registry import (
    RECOMMENDERS,
    make_recommender,
    recommender_params,
)
from shopsense.models.recommend.sasrec import SASRec

__all__ = [
    "EASE",
    "RECOMMENDERS",
    "ImplicitALS",
    "ItemKNN",
    "MostPopular",
    "Recommendations",
    "Recommender",
    "SASRec",
    "make_recommender",
    "recommender_params",
]
