"""Recommenders: one module per model, all following
:class:`~shopsense.models.recommend.base.Recommender`, listed in :data:`RECOMMENDERS`.

Importing this package is cheap: ``implicit`` is imported only when ALS is fitted,
torch and the text encoder only when SASRec or the content model is.
"""

from shopsense.models.recommend.als import ImplicitALS
from shopsense.models.recommend.base import Recommendations, Recommender
from shopsense.models.recommend.bought_together import BoughtTogether
from shopsense.models.recommend.buy_again import BuyAgain, PersonalTopFrequency
from shopsense.models.recommend.content import ContentRecommender
from shopsense.models.recommend.ease import EASE
from shopsense.models.recommend.item_knn import ItemKNN
from shopsense.models.recommend.popular import MostPopular
from shopsense.models.recommend.registry import (
    RECOMMENDERS,
    make_recommender,
    recommender_params,
)
from shopsense.models.recommend.reranker import LTRReranker
from shopsense.models.recommend.sasrec import SASRec

__all__ = [
    "EASE",
    "RECOMMENDERS",
    "BoughtTogether",
    "BuyAgain",
    "ContentRecommender",
    "ImplicitALS",
    "ItemKNN",
    "LTRReranker",
    "MostPopular",
    "PersonalTopFrequency",
    "Recommendations",
    "Recommender",
    "SASRec",
    "make_recommender",
    "recommender_params",
]
