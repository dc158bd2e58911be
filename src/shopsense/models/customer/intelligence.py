"""Everything the shop knows about each customer, from one fitted bundle: churn risk with
its drivers, purchase propensity, expected purchases and spend, CLV, the expected next
purchase, the RFM segment and the behavioural cluster.

:meth:`CustomerIntelligence.fit` learns from a shop's events up to ``now``:

1. features at ``now - horizon`` and what each customer did in the horizon after it
   label the churn classifier and the spend regressor;
2. a seeded 20% of those customers is held out first: the churn model is scored there
   against a recency-only score and BG/NBD, and the learned spend against BG/NBD x
   Gamma-Gamma, which picks the spend model that serves (``spend_choice_``);
3. both are refitted on every labelled customer; BG/NBD and Gamma-Gamma on all
   purchases before ``now``; the RFM cut points and the clusters on the customers at
   ``now``.

:meth:`CustomerIntelligence.score` applies the bundle at any ``now`` to any customers'
events: the whole shop in a batch, or one customer per API request, by the same code.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import spearmanr
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.features.customers import (
    SECONDS_PER_DAY,
    RFMSummary,
    customer_features,
    line_spend,
    purchase_labels,
    rfm_summary,
)
from shopsense.models.customer.bgnbd import BetaGeo
from shopsense.models.customer.churn import ChurnClassifier
from shopsense.models.customer.clv import customer_lifetime_value, expected_spend
from shopsense.models.customer.drivers import describe
from shopsense.models.customer.gamma_gamma import GammaGamma, average_repeat_spend
from shopsense.models.customer.segments import BehaviourClusters, RFMSegmenter
from shopsense.models.customer.spend import SpendRegressor

FloatArray = npt.NDArray[np.float64]
logger = logging.getLogger(__name__)

UNIT_DAYS = 7.0
"""BG/NBD and Gamma-Gamma count time in weeks, as the papers do."""
HOLDOUT_SHARE = 0.2
MAX_WAIT_DAYS = 3650
MIN_CUSTOMERS = 80
"""Labelled customers needed: 80% of them (the rest is held out) must reach the spend
model's minimum of 50 with room to spare."""
MANIFEST_FILE = "customers.json"
SPEND_FILE = "spend"

SpendChoice = Literal["learned", "probabilistic"]


def classification_metrics(label: npt.ArrayLike, probability: npt.ArrayLike) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier score and log loss of probabilities of a binary label."""
    truth = np.asarray(label, dtype=np.int64)
    clipped = np.clip(np.asarray(probability, dtype=np.float64), 1e-6, 1.0 - 1e-6)
    return {
        "roc_auc": float(roc_auc_score(truth, clipped)),
        "pr_auc": float(average_precision_score(truth, clipped)),
        "brier": float(brier_score_loss(truth, clipped)),
        "log_loss": float(log_loss(truth, clipped, labels=[0, 1])),
    }


def regression_metrics(actual: npt.ArrayLike, predicted: npt.ArrayLike) -> dict[str, float]:
    """MAE, RMSE and Spearman rank correlation of predicted against actual values."""
    truth = np.asarray(actual, dtype=np.float64)
    guess = np.asarray(predicted, dtype=np.float64)
    errors = guess - truth
    # A constant prediction (or truth) ranks nothing: no rank correlation, not NaN.
    ranked = np.ptp(guess) > 0 and np.ptp(truth) > 0
    return {
        "mae": float(np.mean(np.abs(errors))),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "spearman": float(spearmanr(guess, truth).statistic) if ranked else 0.0,
        "predicted_total": float(guess.sum()),
        "actual_total": float(truth.sum()),
    }


@dataclass(frozen=True, slots=True)
class PurchaseModels:
    """BG/NBD and Gamma-Gamma fitted on the purchases before one time."""

    transactions: BetaGeo
    spend: GammaGamma | None  # None: too few repeat customers to fit it

    @classmethod
    def fit(cls, events: pd.DataFrame, end: int) -> PurchaseModels:
        summary, average = purchase_summary(events, end)
        transactions = BetaGeo().fit(summary)
        repeat = (summary.frequency > 0) & (average > 0)
        spend = None
        if int(repeat.sum()) >= 10:
            try:
                spend = GammaGamma().fit(summary.frequency[repeat], average[repeat])
            except ValidationFailedError:
                spend = None
        if spend is not None and spend.params_ is not None and spend.params_[1] <= 1.0:
            spend = None  # q <= 1: spend so heavy-tailed that its mean is infinite
        return cls(transactions, spend)

    def expected_spend(
        self, summary: RFMSummary, average: FloatArray, horizon_days: float
    ) -> FloatArray:
        if self.spend is None:
            return np.full(len(summary), np.nan)
        return expected_spend(
            self.transactions,
            self.spend,
            summary,
            average,
            horizon_days=horizon_days,
            unit_days=UNIT_DAYS,
        )


def purchase_summary(events: pd.DataFrame, end: int) -> tuple[RFMSummary, FloatArray]:
    """The BG/NBD summary (in weeks) and the average repeat-transaction value of every
    customer with a purchase strictly before ``end`` (Unix seconds)."""
    stamps = events["ts"].to_numpy()
    purchases = events[(events["type"].to_numpy() == "purchase") & (stamps < end)]
    ids = purchases["user_id"].to_numpy().astype(str)
    times = purchases["ts"].to_numpy()
    summary = rfm_summary(ids, times, observation_end=end - 1, unit_days=UNIT_DAYS)
    average = average_repeat_spend(
        ids,
        times,
        line_spend(purchases).to_numpy(),
        observation_end=end - 1,
        customers=summary.customer_ids,
    )
    return summary, np.asarray(average, dtype=np.float64)


def aligned(values: FloatArray, summary: RFMSummary, index: pd.Index) -> FloatArray:
    """Per-customer ``values`` in ``summary``'s order, re-ordered to ``index`` (NaN
    for customers the summary lacks)."""
    series = pd.Series(values, index=pd.Index(summary.customer_ids))
    return np.asarray(series.reindex(index.astype(str)).to_numpy(), dtype=np.float64)


class CustomerIntelligence:
    """The fitted customer models (see the module docstring); scikit-learn rules.

    Parameters
    ----------
    horizon_days:
        Churn is no purchase in this many days; spend is predicted over it.
    long_horizon_days, discount_rate:
        The long CLV: BG/NBD x Gamma-Gamma over this horizon, discounted at this
        annual rate.
    random_state:
        Seed of the holdout and the models.
    """

    churn_: ChurnClassifier | None = None
    spend_: SpendRegressor | None = None
    purchases_: PurchaseModels | None = None
    segmenter_: RFMSegmenter | None = None
    clusters_: BehaviourClusters | None = None
    spend_choice_: SpendChoice | None = None
    metrics_: dict[str, Any] | None = None
    fitted_at_: int | None = None

    def __init__(
        self,
        *,
        horizon_days: int = 90,
        long_horizon_days: int = 365,
        discount_rate: float = 0.1,
        random_state: int = 0,
    ) -> None:
        self.horizon_days = horizon_days
        self.long_horizon_days = long_horizon_days
        self.discount_rate = discount_rate
        self.random_state = random_state

    # -- fit ------------------------------------------------------------------------------

    def fit(
        self,
        events: pd.DataFrame,
        now: int,
        *,
        item_categories: pd.Series | None = None,
        training_cutoff: int | None = None,
    ) -> Self:
        """Learn from ``events`` (:data:`~shopsense.features.customers.EVENT_COLUMNS`,
        ``ts`` in Unix seconds) before ``now``. The churn and spend models learn from
        features before ``training_cutoff`` (default: ``now - horizon_days``) and the
        horizon after it, which must end by ``now``; nothing at or after ``now`` is read."""
        events = events[events["ts"].to_numpy() < now]
        latest = now - self.horizon_days * SECONDS_PER_DAY
        cutoff = latest if training_cutoff is None else training_cutoff
        if cutoff > latest:
            raise ValidationFailedError(
                f"the label window of {self.horizon_days} days after the training cutoff "
                "must end by now; move the training cutoff earlier"
            )
        features = customer_features(events, cutoff, item_categories=item_categories)
        if len(features) < MIN_CUSTOMERS:
            raise ValidationFailedError(
                f"only {len(features)} customers bought before {self.horizon_days} days ago; "
                f"customer models need at least {MIN_CUSTOMERS} (import more history, or "
                "lower customers.horizon_days)"
            )
        labels = purchase_labels(
            events, cutoff, horizon_days=self.horizon_days, customers=features.index
        )
        churned = (~labels["purchased"]).to_numpy()
        spend = labels["spend"].to_numpy(dtype=np.float64)
        held = _stratified_holdout(churned, HOLDOUT_SHARE, self.random_state)
        self.metrics_ = self._holdout_metrics(
            events, cutoff, features=features, churned=churned, spend=spend, held=held
        )
        self.metrics_["customers"] = {"labelled": len(features), "held_out": int(held.sum())}
        timings: dict[str, float] = {}
        with _timed(timings, "churn (LightGBM)"):
            self.churn_ = ChurnClassifier(random_state=self.random_state).fit(features, churned)
        with _timed(timings, "spend (LightGBM)"):
            self.spend_ = _fit_spend(features, spend, self.random_state)
        with _timed(timings, "BG/NBD + Gamma-Gamma"):
            self.purchases_ = PurchaseModels.fit(events, now)
        current = customer_features(events, now, item_categories=item_categories)
        with _timed(timings, "RFM segments"):
            self.segmenter_ = RFMSegmenter().fit(current)
        with _timed(timings, "behaviour clusters"):
            self.clusters_ = (
                BehaviourClusters(random_state=self.random_state).fit(current)
                if len(current) >= 3
                else None
            )
        self.metrics_["fit_seconds"] = timings
        self.fitted_at_ = now
        return self

    def _holdout_metrics(
        self,
        events: pd.DataFrame,
        cutoff: int,
        *,
        features: pd.DataFrame,
        churned: npt.NDArray[np.bool_],
        spend: FloatArray,
        held: npt.NDArray[np.bool_],
    ) -> dict[str, Any]:
        """Each model and its baselines on the held-out customers; picks the spend model."""
        train, test = features[~held], features[held]
        churn = ChurnClassifier(random_state=self.random_state).fit(train, churned[~held])
        recency = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
            train["recency_days"].to_numpy(), churned[~held]
        )
        purchases = PurchaseModels.fit(events, cutoff)
        summary, average = purchase_summary(events, cutoff)
        bgnbd_buys = purchases.transactions.probability_of_purchase(
            self.horizon_days / UNIT_DAYS, summary
        )
        churn_metrics = {
            "learned": classification_metrics(churned[held], churn.predict_proba(test)),
            "recency": classification_metrics(
                churned[held], recency.predict(test["recency_days"].to_numpy())
            ),
            "bgnbd": classification_metrics(
                churned[held], 1.0 - aligned(bgnbd_buys, summary, test.index)
            ),
        }
        learned = _fit_spend(train, spend[~held], self.random_state)
        probabilistic = aligned(
            purchases.expected_spend(summary, average, self.horizon_days), summary, test.index
        )
        spend_metrics = {}
        if learned is not None:
            spend_metrics["learned"] = regression_metrics(spend[held], learned.predict(test))
        if not np.isnan(probabilistic).any():
            spend_metrics["probabilistic"] = regression_metrics(spend[held], probabilistic)
        best = min(spend_metrics, key=lambda name: spend_metrics[name]["mae"], default=None)
        self.spend_choice_ = (
            None if best is None else ("learned" if best == "learned" else "probabilistic")
        )
        return {
            "horizon_days": self.horizon_days,
            "churn": churn_metrics,
            "spend": spend_metrics,
            "spend_choice": self.spend_choice_,
        }

    # -- score ----------------------------------------------------------------------------

    def _fitted(
        self,
    ) -> tuple[ChurnClassifier, SpendRegressor | None, PurchaseModels, RFMSegmenter]:
        if self.churn_ is None or self.purchases_ is None or self.segmenter_ is None:
            raise NotFittedError(
                "customer models are not trained yet; run `shopsense customers train`"
            )
        return self.churn_, self.spend_, self.purchases_, self.segmenter_

    def score(
        self,
        events: pd.DataFrame,
        now: int,
        *,
        item_categories: pd.Series | None = None,
        drivers: int = 3,
    ) -> pd.DataFrame:
        """One row per customer in ``events`` with a purchase before ``now``, indexed by
        ``user_id``: the features, ``annual_value`` (spend per year so far),
        ``churn_probability``, ``purchase_probability``,
        ``p_alive``, ``expected_purchases``, ``expected_spend`` (the serving model's,
        over ``horizon_days``), ``expected_spend_learned``,
        ``expected_spend_probabilistic``, ``clv`` (discounted, over
        ``long_horizon_days``), ``next_purchase_days`` (days from ``now`` to the next
        purchase if they stay: a repeat customer's mean gap after their last purchase,
        0 when overdue; else BG/NBD's median, ``next_purchase_days_bgnbd``),
        ``r_score``, ``f_score``, ``m_score``, ``segment``, ``cluster``,
        ``cluster_name`` and ``drivers`` (JSON list of ``{"feature", "contribution",
        "text", "risk"}``)."""
        churn, spend, purchases, segmenter = self._fitted()
        features = customer_features(events, now, item_categories=item_categories)
        scores = features.copy()
        if len(features) == 0:
            return scores
        # What a customer has been worth a year, so far: the value a churn would lose
        # (forward CLV already discounts it by the risk; tenure floored at the horizon
        # so that a first order is not annualised into a fortune).
        tenure = features["tenure_days"].clip(lower=float(self.horizon_days))
        scores["annual_value"] = features["monetary"] * 365.0 / tenure
        scores["churn_probability"] = churn.predict_proba(features)
        scores["purchase_probability"] = 1.0 - scores["churn_probability"]
        summary, average = purchase_summary(events, now)
        weeks = self.horizon_days / UNIT_DAYS
        model = purchases.transactions
        scores["p_alive"] = aligned(model.probability_alive(summary), summary, features.index)
        scores["expected_purchases"] = aligned(
            model.expected_purchases(weeks, summary), summary, features.index
        )
        scores["expected_spend_learned"] = (
            spend.predict(features) if spend is not None else np.full(len(features), np.nan)
        )
        scores["expected_spend_probabilistic"] = aligned(
            purchases.expected_spend(summary, average, self.horizon_days), summary, features.index
        )
        # NaN when neither spend model could be fitted (a shop that sends no prices).
        chosen = self.spend_choice_ or "probabilistic"
        scores["expected_spend"] = scores[f"expected_spend_{chosen}"]
        if purchases.spend is not None:
            clv = customer_lifetime_value(
                model,
                purchases.spend,
                summary,
                average,
                horizon_days=self.long_horizon_days,
                discount_rate=self.discount_rate,
                unit_days=UNIT_DAYS,
            )
            scores["clv"] = aligned(clv, summary, features.index)
        else:
            scores["clv"] = np.nan
        waiting = model.median_time_to_purchase(summary) * UNIT_DAYS
        # Beyond ten years a "date" says nothing but "not expected": unknown (inf).
        waiting = np.where(waiting > MAX_WAIT_DAYS, np.inf, waiting)
        scores["next_purchase_days_bgnbd"] = aligned(waiting, summary, features.index)
        # A repeat customer's own rhythm dates their next purchase better than BG/NBD's
        # shared rate (benchmarks/results/customers.md); one-time buyers have no rhythm.
        own = (features["gap_mean_days"] - features["recency_days"]).clip(lower=0.0)
        scores["next_purchase_days"] = own.where(
            features["gap_mean_days"].notna(), scores["next_purchase_days_bgnbd"]
        )
        segments = segmenter.score(features)
        for column in ("r_score", "f_score", "m_score", "segment"):
            scores[column] = segments[column].to_numpy()
        if self.clusters_ is not None and self.clusters_.names_ is not None:
            clusters = self.clusters_.predict(features)
            scores["cluster"] = clusters
            scores["cluster_name"] = [self.clusters_.names_[int(code)] for code in clusters]
        else:
            scores["cluster"], scores["cluster_name"] = -1, ""
        scores["drivers"] = self._drivers(churn, features, top=drivers)
        return scores

    @staticmethod
    def _drivers(churn: ChurnClassifier, features: pd.DataFrame, *, top: int) -> list[str]:
        frame = churn.contributions(features)
        contributions = frame.to_numpy()
        columns = [str(name) for name in features.columns]
        names = [str(name) for name in frame.columns]
        texts = []
        for values, contribution in zip(features.to_numpy(), contributions, strict=True):
            described = describe(
                dict(zip(columns, map(float, values), strict=True)),
                dict(zip(names, map(float, contribution), strict=True)),
                top=top,
            )
            texts.append(
                json.dumps(
                    [
                        {
                            "feature": driver.feature,
                            "contribution": round(driver.contribution, 4),
                            "text": driver.text,
                            "risk": driver.risk,
                        }
                        for driver in described
                    ]
                )
            )
        return texts

    # -- persistence ------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """The LightGBM text models and one JSON manifest (no pickle)."""
        churn, spend, purchases, segmenter = self._fitted()
        directory.mkdir(parents=True, exist_ok=True)
        churn.save(directory)
        if spend is not None:
            spend.save(directory, SPEND_FILE)
        manifest = {
            "params": {
                "horizon_days": self.horizon_days,
                "long_horizon_days": self.long_horizon_days,
                "discount_rate": self.discount_rate,
                "random_state": self.random_state,
            },
            "bgnbd": [float(value) for value in _params(purchases.transactions.params_)],
            "gamma_gamma": (
                None
                if purchases.spend is None
                else [float(value) for value in _params(purchases.spend.params_)]
            ),
            "segmenter": segmenter.to_dict(),
            "clusters": None if self.clusters_ is None else self.clusters_.to_dict(),
            "spend_choice": self.spend_choice_,
            "metrics": self.metrics_,
            "fitted_at": self.fitted_at_,
        }
        text = json.dumps(_without_nan(manifest), indent=1, default=_json, allow_nan=False)
        (directory / MANIFEST_FILE).write_text(text)

    @classmethod
    def load(cls, directory: Path) -> CustomerIntelligence:
        path = directory / MANIFEST_FILE
        if not path.exists():
            raise NotFittedError(
                f"no customer models in {directory}; run `shopsense customers train`"
            )
        manifest = json.loads(path.read_text())
        model = cls(**manifest["params"])
        model.churn_ = ChurnClassifier.load(directory)
        if (directory / f"{SPEND_FILE}.json").exists():
            model.spend_ = SpendRegressor.load(directory, SPEND_FILE)
        transactions = BetaGeo()
        transactions.params_ = np.asarray(manifest["bgnbd"], dtype=np.float64)
        spend = None
        if manifest["gamma_gamma"] is not None:
            spend = GammaGamma()
            spend.params_ = np.asarray(manifest["gamma_gamma"], dtype=np.float64)
        model.purchases_ = PurchaseModels(transactions, spend)
        model.segmenter_ = RFMSegmenter.from_dict(manifest["segmenter"])
        if manifest["clusters"] is not None:
            model.clusters_ = BehaviourClusters.from_dict(manifest["clusters"])
        model.spend_choice_ = manifest["spend_choice"]
        model.metrics_ = manifest["metrics"]
        model.fitted_at_ = manifest["fitted_at"]
        return model


def _stratified_holdout(
    labels: npt.NDArray[np.bool_], share: float, seed: int
) -> npt.NDArray[np.bool_]:
    """A seeded ``share`` of the rows of each class (both classes in the holdout)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    for value in (False, True):
        rows = rng.permutation(np.flatnonzero(labels == value))
        held[rows[: max(1, round(len(rows) * share))]] = True
    return held


def _fit_spend(features: pd.DataFrame, spend: FloatArray, seed: int) -> SpendRegressor | None:
    """The learned spend model, or None when the spend cannot be learned (too few
    customers spent anything, or the shop sends no prices): churn, segments and the
    probabilistic models do not depend on it."""
    try:
        return SpendRegressor(random_state=seed).fit(features, spend)
    except ValidationFailedError as error:
        logger.warning("no learned spend model: %s", error)
        return None


def _without_nan(value: Any) -> Any:
    """JSON has no NaN: undefined metrics (a ROC-AUC of one class) become null."""
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nan(item) for item in value]
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    return value


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - started


def _params(values: FloatArray | None) -> FloatArray:
    if values is None:
        raise NotFittedError("a purchase model is not fitted")
    return values


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


__all__ = [
    "CustomerIntelligence",
    "PurchaseModels",
    "aligned",
    "classification_metrics",
    "purchase_summary",
    "regression_metrics",
]
