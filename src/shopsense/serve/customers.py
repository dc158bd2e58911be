"""Customer intelligence as the API and the CLI show it: one customer's segment, churn
risk with drivers, value and next purchase (scored live from their stored events with
the serving customer models), the segment overview, and the valuable customers at risk
with a retention action and a win-back list.

Both ``GET /v1/users/{id}`` and ``shopsense customers show`` build
:class:`~shopsense.serve.schemas.CustomerInsight` here, and both lists come from the
scores of every customer saved by the last training.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from shopsense.core.errors import NotFittedError
from shopsense.core.settings import CustomerSettings
from shopsense.features.customers import SECONDS_PER_DAY, repeat_purchases
from shopsense.models.customer.segments import (
    ABOUT_TO_SLEEP,
    AT_RISK,
    CANNOT_LOSE_THEM,
    HIBERNATING,
    LOST,
    NEED_ATTENTION,
    SEGMENTS,
)
from shopsense.serve.schemas import (
    AtRiskCustomer,
    AtRiskOut,
    ChurnDriver,
    ChurnRisk,
    ClusterSummary,
    CustomerInsight,
    CustomerValue,
    NextPurchase,
    RecommendedItem,
    RepeatItem,
    SegmentOut,
    SegmentsOut,
    SegmentSummary,
)
from shopsense.store.base import Store
from shopsense.training.customers import (
    LoadedCustomerModels,
    customer_events,
    item_categories,
    load_customer_models,
    read_customer_events,
)

WinBack = Callable[[str, int], list[RecommendedItem]]
"""``win_back(user_id, n)``: the items to win a customer back with."""

RISK_LEVELS: tuple[tuple[float, Literal["high", "medium"]], ...] = ((0.7, "high"), (0.4, "medium"))
"""Churn probability from which the risk is called high, then medium (else low)."""
REPEAT_ITEMS = 5


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _level(probability: float) -> Literal["low", "medium", "high"]:
    return next((name for floor, name in RISK_LEVELS if probability >= floor), "low")


class CustomerInsights:
    """The serving customer models of a store (reloaded after every training)."""

    def __init__(self, store: Store, settings: CustomerSettings) -> None:
        self.store = store
        self.settings = settings
        # One reference, swapped whole: a request reads the models and the categories
        # they were loaded with, never half of a reload.
        self._state: tuple[LoadedCustomerModels, pd.Series] | None = None

    def reload(self) -> bool:
        """Load the registry's serving customer models; False when none was trained."""
        try:
            loaded = load_customer_models(self.store)
        except NotFittedError:
            return False
        self._state = (loaded, item_categories(self.store.read_items()))
        return True

    def _snapshot(self) -> tuple[LoadedCustomerModels, pd.Series]:
        state = self._state
        if state is None:
            raise NotFittedError(
                "no customer models yet; run `shopsense customers train` (or POST /v1/models/train)"
            )
        return state

    @property
    def loaded(self) -> LoadedCustomerModels:
        return self._snapshot()[0]

    # -- one customer -----------------------------------------------------------------------

    def insight(
        self,
        user_id: str,
        *,
        now: int | None = None,
        titles: Callable[[str], str | None],
        events: pa.Table | None = None,
    ) -> CustomerInsight | None:
        """Score one customer from their stored events as of ``now`` (the shop's clock,
        its newest event; default: when the models were trained); None when they never
        bought. ``events``: their stored events when the caller has read them already."""
        loaded, categories = self._snapshot()
        # Features read events strictly before their cutoff: one second after the
        # newest event counts it (the rule of the training's clock).
        as_of = max(loaded.model.fitted_at_ or 0, (now or 0) + 1)
        history = (
            read_customer_events(self.store, user_id=user_id)
            if events is None
            else customer_events(events)
        )
        scored = loaded.model.score(history, as_of, item_categories=categories)
        if user_id not in scored.index:
            return None
        row = _row(scored, user_id)
        model = loaded.model
        segment = SEGMENTS[str(row["segment"])]
        waiting = _finite(float(row["next_purchase_days"]))
        repeats = repeat_purchases(history, as_of)[:REPEAT_ITEMS]
        return CustomerInsight(
            as_of=_time(as_of),
            model_version=loaded.version.version,
            segment=SegmentOut(
                name=segment.name,
                description=segment.description,
                action=segment.action,
                r_score=int(row["r_score"]),
                f_score=int(row["f_score"]),
                m_score=int(row["m_score"]),
                cluster=int(row["cluster"]),
                cluster_name=str(row["cluster_name"]),
            ),
            churn=ChurnRisk(
                probability=round(float(row["churn_probability"]), 4),
                level=_level(float(row["churn_probability"])),
                horizon_days=model.horizon_days,
                drivers=[ChurnDriver(**driver) for driver in json.loads(str(row["drivers"]))],
            ),
            value=CustomerValue(
                horizon_days=model.horizon_days,
                expected_purchases=round(float(row["expected_purchases"]), 4),
                expected_spend=_rounded(row["expected_spend"]),
                spend_model=model.spend_choice_,
                clv=_rounded(row["clv"]),
                clv_horizon_days=model.long_horizon_days,
                discount_rate=model.discount_rate,
            ),
            next_purchase=NextPurchase(
                # BG/NBD has no evidence of dropout before a repeat purchase (P = 1).
                p_alive=round(float(row["p_alive"]), 4) if row["frequency"] > 1 else None,
                purchase_probability=round(float(row["purchase_probability"]), 4),
                expected_in_days=None if waiting is None else round(waiting, 1),
                expected_date=None if waiting is None else _time(as_of + waiting * SECONDS_PER_DAY),
                repeat_items=[
                    RepeatItem(
                        item_id=repeat.item_id,
                        title=titles(repeat.item_id),
                        times=repeat.times,
                        every_days=round(repeat.every_days, 1),
                        last_bought=_time(repeat.last_ts),
                        expected_next=_time(repeat.expected_ts),
                    )
                    for repeat in repeats
                ],
            ),
        )

    # -- every customer -----------------------------------------------------------------------

    def segments(self) -> SegmentsOut:
        """Every RFM segment and learned cluster with its size and what it is worth."""
        loaded = self.loaded
        scores = loaded.scores
        total = max(len(scores), 1)
        rfm = []
        for name, group in scores.groupby("segment", sort=False):
            info = SEGMENTS[str(name)]
            rfm.append(
                SegmentSummary(
                    name=info.name,
                    description=info.description,
                    action=info.action,
                    customers=len(group),
                    share=round(len(group) / total, 4),
                    churn_probability=round(float(group["churn_probability"].mean()), 4),
                    expected_spend=_rounded(group["expected_spend"].mean()),
                    clv=_rounded(group["clv"].mean()),
                    recency_days=round(float(group["recency_days"].median()), 1),
                )
            )
        order = list(SEGMENTS)
        rfm.sort(key=lambda summary: order.index(summary.name))
        clusters = []
        model = loaded.model.clusters_
        if model is not None and model.descriptions_ is not None and model.names_ is not None:
            for cluster, group in scores.groupby("cluster"):
                code = int(str(cluster))
                clusters.append(
                    ClusterSummary(
                        cluster=code,
                        name=model.names_[code],
                        description=model.descriptions_[code],
                        customers=len(group),
                        share=round(len(group) / total, 4),
                        churn_probability=round(float(group["churn_probability"].mean()), 4),
                    )
                )
        return SegmentsOut(
            as_of=_time(loaded.model.fitted_at_ or 0),
            model_version=loaded.version.version,
            customers=len(scores),
            rfm=rfm,
            clusters=clusters,
        )

    def at_risk(self, top: int, *, win_back: WinBack | None = None) -> AtRiskOut:
        """The ``top`` valuable customers most likely to churn, by value at risk (churn
        probability x annual value so far): churn probability at least
        ``at_risk_probability``, annual value in the top ``valuable_share``. (Not CLV:
        a lapsing customer's CLV is already low because they lapse; what the shop
        stands to lose is what they have been worth.) Each gets a retention action
        (:func:`retention_action`) and, with ``win_back``, a personal list of items to
        win them back."""
        loaded = self.loaded
        scores = loaded.scores
        options = self.settings
        value = scores["annual_value"]
        threshold = float(np.quantile(value, 1.0 - options.valuable_share)) if len(value) else 0.0
        chosen = scores[
            (scores["churn_probability"] >= options.at_risk_probability) & (value >= threshold)
        ]
        exposure = chosen["churn_probability"] * value.loc[chosen.index]
        at_risk = exposure.sort_values(ascending=False)
        customers = []
        for user_id in at_risk.index[:top]:
            row = _row(scores, str(user_id))
            drivers = [d["text"] for d in json.loads(str(row["drivers"])) if d["risk"]]
            customers.append(
                AtRiskCustomer(
                    user_id=str(user_id),
                    churn_probability=round(float(row["churn_probability"]), 4),
                    clv=_rounded(row["clv"]),
                    annual_value=round(float(row["annual_value"]), 2),
                    value_at_risk=round(float(at_risk[user_id]), 2),
                    segment=str(row["segment"]),
                    drivers=drivers,
                    action=retention_action(str(row["segment"]), json.loads(str(row["drivers"]))),
                    win_back=[]
                    if win_back is None
                    else win_back(str(user_id), options.win_back_items),
                )
            )
        criteria = (
            f"churn probability >= {options.at_risk_probability:g} and annual value in the "
            f"top {options.valuable_share:.0%} (>= {threshold:,.2f}); by churn probability "
            "x annual value"
        )
        return AtRiskOut(
            as_of=_time(loaded.model.fitted_at_ or 0),
            model_version=loaded.version.version,
            criteria=criteria,
            customers=customers,
        )


WIN_BACK_SEGMENTS = frozenset(
    {AT_RISK, CANNOT_LOSE_THEM, HIBERNATING, LOST, ABOUT_TO_SLEEP, NEED_ATTENTION}
)
"""Segments whose own action already is a retention action."""
SLIPPING_ACTION = (
    "check in personally before they drift: a win-back message with their picks and a "
    "loyalty reward (good customers by history, slipping by behaviour)"
)


def retention_action(segment: str, drivers: list[dict[str, Any]]) -> str:
    """What to do for a valuable customer at risk: their segment's action where it is
    about winning back, else a personal check-in (a Champion or Loyal customer the
    model sees slipping needs that, not an upsell); returns as a risk driver come
    first, since an offer does not fix a bad experience."""
    action = SEGMENTS[segment].action if segment in WIN_BACK_SEGMENTS else SLIPPING_ACTION
    if any(driver["risk"] and driver["feature"].startswith("return") for driver in drivers):
        action = "follow up on their returns first; then " + action
    return action


def _row(frame: pd.DataFrame, user_id: str) -> dict[str, Any]:
    return {str(name): value for name, value in frame.loc[user_id].items()}


def _rounded(value: object) -> float | None:
    number = _finite(float(value))  # type: ignore[arg-type]
    return None if number is None else round(number, 2)


__all__ = ["CustomerInsights", "WinBack", "retention_action"]
