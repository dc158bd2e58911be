"""The customer-model protocols of BENCHMARKS.md, run end to end.

``retail-churn`` (UCI Online Retail, the retail-temporal cleaning): customers with a
purchase before 2011-09-01; label: a purchase in [2011-09-01, 2011-12-01); value: their
spend in that window. Models learn only from what is known before: features before
2011-06-01 and the same-length window after it (which ends before 2011-09-01).

:func:`evaluate_churn` fits :class:`~shopsense.models.customer.intelligence.
CustomerIntelligence` as of the test cutoff with the earlier training cutoff, scores the
test customers, and puts every model beside its baselines: a recency-only score
(isotonic in days since the last purchase, fitted on the training rows) and BG/NBD's
P(a purchase in the window) for churn; BG/NBD x Gamma-Gamma and "the last 90 days again"
for spend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from shopsense.core.errors import ValidationFailedError
from shopsense.evaluation.protocols import read_online_retail
from shopsense.features.customers import SECONDS_PER_DAY, customer_features, purchase_labels
from shopsense.models.customer.intelligence import (
    UNIT_DAYS,
    CustomerIntelligence,
    aligned,
    classification_metrics,
    purchase_summary,
    regression_metrics,
)


def _utc(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp())


@dataclass(frozen=True, slots=True)
class ChurnProtocol:
    """Purchase events (``user_id, item_id, ts, type, quantity, price``) and the cutoffs."""

    name: str
    events: pd.DataFrame
    training_cutoff: int
    test_cutoff: int
    test_end: int

    @property
    def horizon_days(self) -> int:
        return (self.test_end - self.test_cutoff) // SECONDS_PER_DAY


def retail_churn(path: Path) -> ChurnProtocol:
    """The ``retail-churn`` protocol on the Online Retail file at ``path``."""
    frame = read_online_retail(path).assign(type="purchase")
    return ChurnProtocol(
        name="retail-churn",
        events=frame,
        training_cutoff=_utc(2011, 6, 1),
        test_cutoff=_utc(2011, 9, 1),
        test_end=_utc(2011, 12, 1),
    )


CHURN_PROTOCOLS = {"retail-churn": retail_churn}


def load_churn_protocol(name: str, dataset: Path | str) -> ChurnProtocol:
    if name not in CHURN_PROTOCOLS:
        raise ValidationFailedError(
            f"unknown customer protocol {name!r}; known: {', '.join(CHURN_PROTOCOLS)}"
        )
    path = Path(dataset)
    if not path.exists():
        raise ValidationFailedError(f"dataset {path} not found")
    return CHURN_PROTOCOLS[name](path)


@dataclass(frozen=True, slots=True)
class ChurnEvaluation:
    """Per test customer predictions and truth, and the metrics of every model."""

    protocol: str
    predictions: pd.DataFrame
    churn: dict[str, dict[str, float]]
    spend: dict[str, dict[str, float]]
    spend_choice: str
    next_purchase: dict[str, dict[str, float]]
    fit_seconds: dict[str, float] = field(default_factory=dict)
    training_customers: int = 0

    def dump_records(self) -> list[dict[str, object]]:
        """One record per customer: id, churn probability, expected purchases, spend."""
        frame = self.predictions
        return [
            {
                "customer_id": str(customer),
                "churn_probability": round(churn, 6),
                "expected_purchases": round(purchases, 6),
                "spend_90d": round(spend, 4),
            }
            for customer, churn, purchases, spend in zip(
                frame.index,
                frame["churn_probability"].to_numpy(dtype=float).tolist(),
                frame["expected_purchases"].to_numpy(dtype=float).tolist(),
                frame["expected_spend"].to_numpy(dtype=float).tolist(),
                strict=True,
            )
        ]


def next_purchase_metrics(predictions: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Days to the next purchase against the customers who did buy in the window: MAE
    and median absolute error in days of what serves (a repeat customer's usual gap,
    else BG/NBD), of BG/NBD's median time (given alive) for all, and of the usual gap
    alone (repeat customers only), each on the customers it can predict."""
    bought = predictions[predictions["days_to_next"].notna()]
    naive = (bought["gap_mean_days"] - bought["recency_days"]).clip(lower=0.0)
    results = {}
    for name, guess in (
        ("served (usual gap, else BG/NBD)", bought["next_purchase_days"]),
        ("BG/NBD median for all", bought["next_purchase_days_bgnbd"]),
        ("usual gap only", naive),
    ):
        known = np.isfinite(guess.to_numpy(dtype=float))
        errors = (guess[known] - bought["days_to_next"][known]).abs()
        results[name] = {
            "customers": float(known.sum()),
            "mae_days": float(errors.mean()) if known.any() else float("nan"),
            "median_abs_error_days": float(errors.median()) if known.any() else float("nan"),
        }
    return results


def evaluate_churn(protocol: ChurnProtocol, *, random_state: int = 0) -> ChurnEvaluation:
    """Fit as of the test cutoff, score the test customers, and compare (module doc)."""
    events, now = protocol.events, protocol.test_cutoff
    horizon = protocol.horizon_days
    started = time.perf_counter()
    model = CustomerIntelligence(horizon_days=horizon, random_state=random_state).fit(
        events, now, training_cutoff=protocol.training_cutoff
    )
    fit_total = time.perf_counter() - started
    scores = model.score(events[events["ts"].to_numpy() < now], now)
    truth = purchase_labels(events, now, horizon_days=horizon, customers=scores.index)
    churned = (~truth["purchased"]).to_numpy()
    # Baselines, fitted on what is known before the test cutoff only.
    training = customer_features(events, protocol.training_cutoff)
    training_labels = purchase_labels(
        events, protocol.training_cutoff, horizon_days=horizon, customers=training.index
    )
    timer = time.perf_counter()
    recency = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
        training["recency_days"].to_numpy(), (~training_labels["purchased"]).to_numpy()
    )
    recency_seconds = time.perf_counter() - timer
    # The bundle's own BG/NBD, fitted on every purchase before the test cutoff.
    assert model.purchases_ is not None
    summary, _ = purchase_summary(events, now)
    buys = aligned(
        model.purchases_.transactions.probability_of_purchase(horizon / UNIT_DAYS, summary),
        summary,
        scores.index,
    )
    predictions = pd.DataFrame(
        {
            "churn_probability": scores["churn_probability"],
            "churn_recency": recency.predict(scores["recency_days"].to_numpy()),
            "churn_bgnbd": 1.0 - buys,
            "expected_purchases": scores["expected_purchases"],
            "expected_spend": scores["expected_spend"],
            "spend_learned": scores["expected_spend_learned"],
            "spend_probabilistic": scores["expected_spend_probabilistic"],
            "spend_last_90d": scores["spend_90d"],
            "next_purchase_days": scores["next_purchase_days"],
            "next_purchase_days_bgnbd": scores["next_purchase_days_bgnbd"],
            "gap_mean_days": scores["gap_mean_days"],
            "recency_days": scores["recency_days"],
            "churned": churned,
            "spend": truth["spend"],
            "days_to_next": truth["days_to_next"],
        },
        index=scores.index,
    )
    if predictions[["churn_bgnbd", "spend_probabilistic"]].isna().any().any():
        raise ValidationFailedError("BG/NBD did not score every test customer")
    churn = {
        "learned (LightGBM, calibrated)": classification_metrics(
            churned, predictions["churn_probability"]
        ),
        "recency only": classification_metrics(churned, predictions["churn_recency"]),
        "BG/NBD": classification_metrics(churned, predictions["churn_bgnbd"]),
    }
    spend = {
        "learned (LightGBM, Tweedie)": regression_metrics(
            truth["spend"], predictions["spend_learned"]
        ),
        "BG/NBD x Gamma-Gamma": regression_metrics(
            truth["spend"], predictions["spend_probabilistic"]
        ),
        "last 90 days again": regression_metrics(truth["spend"], predictions["spend_last_90d"]),
    }
    return ChurnEvaluation(
        protocol=protocol.name,
        next_purchase=next_purchase_metrics(predictions),
        predictions=predictions,
        churn=churn,
        spend=spend,
        spend_choice=model.spend_choice_ or "probabilistic",
        fit_seconds={
            **(model.metrics_ or {}).get("fit_seconds", {}),
            "all customer models, with the holdout refits": fit_total,
            "recency only": recency_seconds,
        },
        training_customers=len(training),
    )


__all__ = [
    "CHURN_PROTOCOLS",
    "ChurnEvaluation",
    "ChurnProtocol",
    "evaluate_churn",
    "load_churn_protocol",
    "retail_churn",
]
