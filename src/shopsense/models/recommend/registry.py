"""The recommenders shopsense knows, by name: one explicit dict, no import magic."""

from __future__ import annotations

import inspect
from typing import Any

from shopsense.core.errors import ConfigurationError
from shopsense.models.recommend.als import ImplicitALS
from shopsense.models.recommend.base import Recommender
from shopsense.models.recommend.bought_together import BoughtTogether
from shopsense.models.recommend.buy_again import BuyAgain, PersonalTopFrequency
from shopsense.models.recommend.content import ContentRecommender
from shopsense.models.recommend.ease import EASE
from shopsense.models.recommend.item_knn import ItemKNN
from shopsense.models.recommend.popular import MostPopular
from shopsense.models.recommend.reranker import LTRReranker
from shopsense.models.recommend.sasrec import SASRec

RECOMMENDERS: dict[str, type[Recommender]] = {
    MostPopular.name: MostPopular,
    ItemKNN.name: ItemKNN,
    EASE.name: EASE,
    ImplicitALS.name: ImplicitALS,
    SASRec.name: SASRec,
    PersonalTopFrequency.name: PersonalTopFrequency,
    BuyAgain.name: BuyAgain,
    BoughtTogether.name: BoughtTogether,
    ContentRecommender.name: ContentRecommender,
    LTRReranker.name: LTRReranker,
}


def recommender_params(name: str) -> list[str]:
    """The hyper-parameter names that recommender ``name`` accepts, sorted."""
    model = _recommender_class(name)
    signature = inspect.signature(model.__init__)
    return sorted(
        parameter.name
        for parameter in signature.parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    )


def make_recommender(name: str, **params: Any) -> Recommender:
    """An unfitted recommender ``name`` with hyper-parameters ``params``.

    Raises :class:`ConfigurationError` for an unknown name (listing the known ones) or
    an unknown parameter (listing the valid ones).
    """
    model = _recommender_class(name)
    valid = recommender_params(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigurationError(
            f"recommender {name!r} has no parameter(s) {', '.join(unknown)}; "
            f"valid parameters: {', '.join(valid)}",
            details={"unknown": unknown, "valid": valid},
        )
    return model(**params)


def _recommender_class(name: str) -> type[Recommender]:
    try:
        return RECOMMENDERS[name]
    except KeyError:
        known = sorted(RECOMMENDERS)
        raise ConfigurationError(
            f"unknown recommender {name!r}; known: {', '.join(known)}",
            details={"known": known},
        ) from None
