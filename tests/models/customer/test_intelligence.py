"""The customer-model bundle fitted on a small simulated shop: its holdout metrics and
spend choice, every score column, a save/load round trip, one customer scored alone as
in the batch, and the errors a shop can run into; and BG/NBD's purchase probability
and median time to the next purchase."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.data.simulator import SimulationConfig, simulate_shop
from shopsense.features.customers import (
    FEATURE_NAMES,
    SECONDS_PER_DAY,
    RFMSummary,
    customer_features,
    events_frame,
)
from shopsense.models.customer.bgnbd import BetaGeo
from shopsense.models.customer.intelligence import (
    HOLDOUT_SHARE,
    CustomerIntelligence,
    PurchaseModels,
    classification_metrics,
    regression_metrics,
)
from shopsense.models.customer.segments import SEGMENTS
from shopsense.training.customers import item_categories, store_clock

DAY = SECONDS_PER_DAY
HORIZON_DAYS = 30
SHOP = SimulationConfig(users=400, items=150, days=120, seed=3)

SCORE_COLUMNS = [
    "churn_probability",
    "purchase_probability",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "expected_spend_learned",
    "expected_spend_probabilistic",
    "clv",
    "next_purchase_days",
    "next_purchase_days_bgnbd",
    "r_score",
    "f_score",
    "m_score",
    "segment",
    "cluster",
    "cluster_name",
    "drivers",
]


class Shop:
    """The simulated shop's events, catalog categories and clock."""

    def __init__(self) -> None:
        shop = simulate_shop(SHOP)
        self.events = events_frame(shop.events)
        self.categories = item_categories(shop.items)
        self.now = store_clock(self.events)


@pytest.fixture(scope="module")
def shop() -> Shop:
    return Shop()


@pytest.fixture(scope="module")
def model(shop: Shop) -> CustomerIntelligence:
    return CustomerIntelligence(horizon_days=HORIZON_DAYS).fit(
        shop.events, shop.now, item_categories=shop.categories
    )


@pytest.fixture(scope="module")
def scores(shop: Shop, model: CustomerIntelligence) -> pd.DataFrame:
    return model.score(shop.events, shop.now, item_categories=shop.categories)


def test_holdout_metrics_compare_every_model_with_its_baselines(
    model: CustomerIntelligence,
) -> None:
    metrics = model.metrics_
    assert metrics is not None
    assert metrics["horizon_days"] == HORIZON_DAYS
    assert set(metrics["churn"]) == {"learned", "recency", "bgnbd"}
    for name, values in metrics["churn"].items():
        assert set(values) == {"roc_auc", "pr_auc", "brier", "log_loss"}, name
        assert 0.0 <= values["roc_auc"] <= 1.0, name
        assert 0.0 <= values["brier"] <= 1.0, name
    assert "learned" in metrics["spend"]
    assert set(metrics["spend"]) <= {"learned", "probabilistic"}
    for name, values in metrics["spend"].items():
        assert values["mae"] >= 0 and values["rmse"] >= values["mae"], name
    best = min(metrics["spend"], key=lambda name: metrics["spend"][name]["mae"])
    assert model.spend_choice_ == best == metrics["spend_choice"]
    labelled = metrics["customers"]["labelled"]
    assert labelled >= 50
    # Stratified by churn: about the share of each class, so both are in the holdout.
    assert abs(metrics["customers"]["held_out"] - labelled * HOLDOUT_SHARE) <= 2
    for values in metrics["churn"].values():
        assert values["roc_auc"] is not None and 0 <= values["roc_auc"] <= 1
    assert set(metrics["fit_seconds"]) >= {"churn (LightGBM)", "spend (LightGBM)"}


def test_scores_have_every_column_in_range(
    shop: Shop, model: CustomerIntelligence, scores: pd.DataFrame
) -> None:
    past = shop.events[shop.events["ts"] < shop.now]
    buyers = sorted(set(past.loc[past["type"] == "purchase", "user_id"]))
    assert scores.index.tolist() == buyers
    assert list(scores.columns[: len(FEATURE_NAMES)]) == list(FEATURE_NAMES)
    assert set(SCORE_COLUMNS) <= set(scores.columns)
    for column in ("churn_probability", "purchase_probability", "p_alive"):
        values = scores[column].to_numpy(dtype=float)
        assert np.all((values >= 0) & (values <= 1)), column
    np.testing.assert_allclose(
        scores["purchase_probability"], 1.0 - scores["churn_probability"], rtol=0, atol=1e-15
    )
    assert scores["churn_probability"].nunique() > 10
    assert (scores["expected_purchases"] >= 0).all()
    assert (scores["expected_spend_learned"] >= 0).all()
    chosen = f"expected_spend_{model.spend_choice_}"
    pd.testing.assert_series_equal(scores["expected_spend"], scores[chosen], check_names=False)
    assert (scores["next_purchase_days"] >= 0).all()
    assert np.isfinite(scores["next_purchase_days_bgnbd"]).all()
    assert set(scores["segment"]) <= set(SEGMENTS)
    for column in ("r_score", "f_score", "m_score"):
        assert scores[column].between(1, 5).all(), column
    assert (scores["cluster"] >= 0).all()
    assert (scores["cluster_name"] != "").all()


def test_next_purchase_follows_the_customers_own_rhythm(scores: pd.DataFrame) -> None:
    repeat = scores["gap_mean_days"].notna()
    assert repeat.any() and (~repeat).any()
    own = (scores["gap_mean_days"] - scores["recency_days"]).clip(lower=0.0)
    np.testing.assert_allclose(scores.loc[repeat, "next_purchase_days"], own[repeat])
    np.testing.assert_allclose(
        scores.loc[~repeat, "next_purchase_days"],
        scores.loc[~repeat, "next_purchase_days_bgnbd"],
    )


def test_drivers_are_json_in_words(scores: pd.DataFrame) -> None:
    described = 0
    for text in scores["drivers"]:
        drivers = json.loads(text)
        assert isinstance(drivers, list) and len(drivers) <= 3
        for driver in drivers:
            assert set(driver) == {"feature", "contribution", "text", "risk"}
            assert driver["feature"] in FEATURE_NAMES
            assert driver["risk"] == (driver["contribution"] > 0)
            assert driver["text"] and "nan" not in driver["text"]
        contributions = [abs(driver["contribution"]) for driver in drivers]
        assert contributions == sorted(contributions, reverse=True)
        described += bool(drivers)
    assert described > len(scores) // 2


def test_fewer_drivers_on_request(shop: Shop, model: CustomerIntelligence) -> None:
    scores = model.score(shop.events, shop.now, item_categories=shop.categories, drivers=1)
    assert all(len(json.loads(text)) <= 1 for text in scores["drivers"])


def test_one_customer_alone_scores_as_in_the_batch(
    shop: Shop, model: CustomerIntelligence, scores: pd.DataFrame
) -> None:
    customer = scores["frequency"].idxmax()
    alone = model.score(
        shop.events[shop.events["user_id"] == customer],
        shop.now,
        item_categories=shop.categories,
    )
    pd.testing.assert_frame_equal(alone, scores.loc[[customer]])


def test_save_and_load_score_identically(
    shop: Shop, model: CustomerIntelligence, scores: pd.DataFrame, tmp_path: Path
) -> None:
    model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl"))
    loaded = CustomerIntelligence.load(tmp_path)
    assert loaded.spend_choice_ == model.spend_choice_
    assert loaded.fitted_at_ == model.fitted_at_ == shop.now
    assert loaded.horizon_days == HORIZON_DAYS
    assert loaded.metrics_ is not None and model.metrics_ is not None
    assert loaded.metrics_["churn"] == model.metrics_["churn"]
    again = loaded.score(shop.events, shop.now, item_categories=shop.categories)
    pd.testing.assert_frame_equal(again, scores)


def test_an_unfitted_bundle_is_an_error(shop: Shop, tmp_path: Path) -> None:
    with pytest.raises(NotFittedError, match="customers train"):
        CustomerIntelligence().score(shop.events, shop.now)
    with pytest.raises(NotFittedError, match="customers train"):
        CustomerIntelligence.load(tmp_path)


def test_the_label_window_must_end_by_now(shop: Shop) -> None:
    late = shop.now - (HORIZON_DAYS - 1) * DAY
    with pytest.raises(ValidationFailedError, match="must end by now"):
        CustomerIntelligence(horizon_days=HORIZON_DAYS).fit(
            shop.events, shop.now, training_cutoff=late
        )


def test_too_few_customers_are_rejected_with_what_to_do(shop: Shop) -> None:
    few = sorted(set(shop.events["user_id"]))[:40]
    events = shop.events[shop.events["user_id"].isin(few)]
    with pytest.raises(ValidationFailedError, match="at least 80") as raised:
        CustomerIntelligence(horizon_days=HORIZON_DAYS).fit(events, shop.now)
    message = str(raised.value)
    assert "import more history" in message and "horizon_days" in message


def test_the_minimum_number_of_customers_is_enough_or_explained(shop: Shop) -> None:
    labelled = customer_features(shop.events, shop.now - HORIZON_DAYS * DAY).index
    for size in (79, 80, 100):
        events = shop.events[shop.events["user_id"].isin(labelled[:size])]
        try:
            CustomerIntelligence(horizon_days=HORIZON_DAYS).fit(events, shop.now)
        except ValidationFailedError as error:  # too few, or too few who spent: explained
            assert "history" in str(error), str(error)
        else:
            assert size >= 80


def test_fit_reads_nothing_at_or_after_now(shop: Shop) -> None:
    """Only what happened before ``now`` is learned from: a shop with ten more days of
    events fits the same models when ``now`` is the same."""
    now = shop.now - 10 * DAY
    past = shop.events[shop.events["ts"] < now]
    kwargs = {"item_categories": shop.categories}
    with_future = CustomerIntelligence(horizon_days=HORIZON_DAYS).fit(shop.events, now, **kwargs)
    without = CustomerIntelligence(horizon_days=HORIZON_DAYS).fit(past, now, **kwargs)
    assert with_future.metrics_ is not None and without.metrics_ is not None
    assert with_future.metrics_["churn"] == without.metrics_["churn"]
    assert with_future.metrics_["spend"] == without.metrics_["spend"]
    pd.testing.assert_frame_equal(
        with_future.score(past, now, **kwargs), without.score(past, now, **kwargs)
    )


# -- the metrics -------------------------------------------------------------------------------


def test_classification_metrics() -> None:
    perfect = classification_metrics([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert perfect["roc_auc"] == 1.0 and perfect["pr_auc"] == 1.0
    assert perfect["brier"] == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)
    assert perfect["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.8, 0.9])))
    certain = classification_metrics([0, 1], [0.0, 1.0])  # clipped: finite log loss
    assert math.isfinite(certain["log_loss"]) and certain["log_loss"] < 1e-5


def test_regression_metrics() -> None:
    metrics = regression_metrics([0.0, 10.0, 20.0], [1.0, 12.0, 17.0])
    assert metrics["mae"] == pytest.approx(2.0)
    assert metrics["rmse"] == pytest.approx(math.sqrt((1 + 4 + 9) / 3))
    assert metrics["spearman"] == pytest.approx(1.0)
    assert metrics["predicted_total"] == pytest.approx(30.0)
    assert metrics["actual_total"] == pytest.approx(30.0)
    assert regression_metrics([0.0, 10.0, 20.0], [5.0, 5.0, 5.0])["spearman"] == 0.0


# -- BG/NBD's purchase probability and time to the next purchase -------------------------------

PARAMS = np.array([0.243, 4.414, 0.793, 2.426])  # Fader, Hardie & Lee (2005) on CDNOW


def bgnbd() -> BetaGeo:
    model = BetaGeo()
    model.params_ = PARAMS.copy()
    return model


def customers() -> RFMSummary:
    return RFMSummary(
        customer_ids=np.array(["new", "once", "recent", "lapsed", "loyal"]),
        frequency=np.array([0.0, 1.0, 5.0, 5.0, 20.0]),
        recency=np.array([0.0, 10.0, 38.0, 5.0, 38.5]),
        T=np.array([2.0, 39.0, 39.0, 39.0, 39.0]),
    )


def test_probability_of_purchase_is_below_p_alive_and_grows_with_time() -> None:
    model, summary = bgnbd(), customers()
    alive = model.probability_alive(summary)
    previous = np.zeros(len(summary))
    for weeks in (0.5, 1.0, 4.0, 13.0, 52.0, 520.0):
        buys = model.probability_of_purchase(weeks, summary)
        assert np.all(buys >= 0) and np.all(buys <= alive)
        assert np.all(buys > previous)
        previous = buys
    np.testing.assert_allclose(model.probability_of_purchase(0.0, summary), 0.0)
    # In the long run every customer alive buys again (slowly: the rate's prior is wide).
    np.testing.assert_allclose(model.probability_of_purchase(1e40, summary), alive, rtol=1e-6)
    # More and more recent purchases make a purchase in the next quarter likelier.
    quarter = model.probability_of_purchase(13.0, summary)
    assert quarter[4] > quarter[2] > quarter[3]


def test_median_time_to_purchase_halves_the_chance_of_silence() -> None:
    model, summary = bgnbd(), customers()
    median = model.median_time_to_purchase(summary)
    assert np.all(np.isfinite(median)) and np.all(median > 0)
    # r + x <= 1 (a new customer): the mean wait is infinite, the median is not.
    assert PARAMS[0] + summary.frequency[0] <= 1
    alive = model.probability_alive(summary)
    for k in range(len(summary)):
        single = RFMSummary(
            summary.customer_ids[k : k + 1],
            summary.frequency[k : k + 1],
            summary.recency[k : k + 1],
            summary.T[k : k + 1],
        )
        buys = model.probability_of_purchase(float(median[k]), single)[0]
        assert buys == pytest.approx(alive[k] / 2, rel=1e-9), summary.customer_ids[k]
    # Frequent buyers come back sooner.
    assert median[4] < median[2] < median[1]


def test_unfitted_bgnbd_predictions_are_an_error() -> None:
    with pytest.raises(NotFittedError):
        BetaGeo().probability_of_purchase(1.0, customers())
    with pytest.raises(NotFittedError):
        BetaGeo().median_time_to_purchase(customers())


def test_spend_with_an_infinite_mean_has_no_gamma_gamma_model() -> None:
    """Heavy-tailed spend fits Gamma-Gamma with q <= 1 (no finite mean): the
    probabilistic spend is left out instead of failing the whole training."""
    rng = np.random.default_rng(2)
    rows = []
    for customer in range(400):
        rate = rng.gamma(0.7, 1 / 20.0)
        for day in np.sort(rng.choice(np.arange(399), size=rng.integers(1, 8), replace=False)):
            price = float(rng.gamma(3, 1 / rate))
            rows.append((f"u{customer:03d}", "purchase", "I1", int(day * DAY + 3600), 1.0, price))
    events = pd.DataFrame(rows, columns=["user_id", "type", "item_id", "ts", "quantity", "price"])
    assert PurchaseModels.fit(events, 400 * DAY).spend is None
    model = CustomerIntelligence().fit(events, 400 * DAY)
    assert model.spend_choice_ == "learned"
    assert model.score(events, 400 * DAY)["expected_spend"].notna().all()
