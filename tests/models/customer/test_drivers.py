"""Churn drivers read as words about the customer's own values: the strongest first,
negligible or undefined ones skipped, and features that say the same thing merged."""

from __future__ import annotations

import math

import pytest

from shopsense.features.customers import FEATURE_NAMES
from shopsense.models.customer.drivers import MIN_CONTRIBUTION, WORDS, Driver, describe

TYPICAL: dict[str, float] = {
    "recency_days": 94.0,
    "tenure_days": 400.0,
    "frequency": 4.0,
    "monetary": 1234.5,
    "average_order_value": 308.6,
    "distinct_items": 12.0,
    "categories": 3.0,
    "gap_mean_days": 31.0,
    "gap_median_days": 28.0,
    "gap_std_days": 9.4,
    "gap_last_days": 40.0,
    "recency_gap_ratio": 94.0 / 31.0,
    "purchases_30d": 0.0,
    "purchases_90d": 1.0,
    "spend_90d": 80.0,
    "returns": 2.0,
    "return_rate": 0.25,
    "views_30d": 7.0,
    "carts_30d": 1.0,
    "searches_30d": 0.0,
    "sessions_30d": 3.0,
    "sessions_90d": 11.0,
    "days_since_last_event": 12.0,
}


def test_recency_reads_against_the_usual_gap() -> None:
    drivers = describe(TYPICAL, {"recency_days": 0.8, "bias": 2.0})
    assert drivers == [
        Driver(
            feature="recency_days",
            contribution=0.8,
            text="no purchase for 94 days, 3.0x their usual gap of 31 days",
        )
    ]
    assert drivers[0].risk


def test_recency_without_a_usual_gap_reads_alone() -> None:
    one_purchase = {**TYPICAL, "gap_mean_days": math.nan, "recency_gap_ratio": math.nan}
    [driver] = describe(one_purchase, {"recency_days": 0.5})
    assert driver.text == "no purchase for 94 days"
    same_day_gap = {**TYPICAL, "recency_days": 1.0, "gap_mean_days": 0.0}
    assert describe(same_day_gap, {"recency_days": 0.5})[0].text == "no purchase for 1 day"


def test_recency_and_its_ratio_to_the_gap_make_one_driver() -> None:
    contributions = {
        "recency_gap_ratio": 0.9,
        "recency_days": 0.7,
        "frequency": -0.3,
        "views_30d": -0.1,
    }
    drivers = describe(TYPICAL, contributions)
    assert [driver.feature for driver in drivers] == [
        "recency_gap_ratio",
        "frequency",
        "views_30d",
    ]
    assert drivers[0].text == "no purchase for 94 days, 3.0x their usual gap of 31 days"
    assert drivers[1].text == "4 purchase days"
    assert drivers[2].text == "7 product views in the last 30 days"


def test_strongest_first_with_the_sign_telling_risk_from_reasons_to_stay() -> None:
    contributions = {
        "bias": 5.0,  # never a driver
        "sessions_30d": -0.6,
        "monetary": 0.2,
        "recency_days": 0.4,
        "returns": -0.05,
    }
    drivers = describe(TYPICAL, contributions, top=10)
    assert [driver.feature for driver in drivers] == [
        "sessions_30d",
        "recency_days",
        "monetary",
        "returns",
    ]
    assert [driver.risk for driver in drivers] == [False, True, True, False]
    assert drivers[0].text == "3 visits in the last 30 days"
    assert drivers[2].text == "spent 1,234 in total"  # rounded: 1234.5 -> 1,234
    assert drivers[3].text == "returned 2 items"


def test_top_is_respected() -> None:
    contributions = {name: 0.1 * (k + 1) for k, name in enumerate(FEATURE_NAMES)}
    assert len(describe(TYPICAL, contributions)) == 3
    assert len(describe(TYPICAL, contributions, top=1)) == 1
    assert [driver.feature for driver in describe(TYPICAL, contributions, top=2)] == [
        "days_since_last_event",
        "sessions_90d",
    ]


def test_undefined_and_negligible_features_are_skipped() -> None:
    features = {**TYPICAL, "gap_std_days": math.nan, "categories": math.nan}
    contributions = {
        "gap_std_days": 1.5,  # NaN for this customer: nothing to say
        "categories": -1.0,
        "tenure_days": MIN_CONTRIBUTION / 2,
        "monetary": -MIN_CONTRIBUTION / 2,
        "frequency": MIN_CONTRIBUTION,
        "unknown_feature": 0.9,  # not among the customer's features
    }
    drivers = describe(features, contributions)
    assert [driver.feature for driver in drivers] == ["frequency"]
    assert describe(TYPICAL, {"monetary": 0.001, "bias": 1.0}) == []
    assert describe(TYPICAL, {}) == []


def test_a_feature_without_words_reads_as_its_value() -> None:
    [driver] = describe({"loyalty_points": 1500.0}, {"loyalty_points": -0.4})
    assert driver.text == "loyalty_points = 1500"
    assert not driver.risk


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_every_feature_has_words_that_render(name: str) -> None:
    assert name in WORDS
    text = WORDS[name](TYPICAL)
    assert text and "nan" not in text.lower()
    [driver] = describe(TYPICAL, {name: 0.5})
    assert driver.text == text


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("frequency", 1.0, "only one purchase so far"),
        ("frequency", 2.0, "2 purchase days"),
        ("distinct_items", 1.0, "bought a single product"),
        ("distinct_items", 5.0, "bought 5 different products"),
        ("categories", 1.0, "buys from 1 category"),
        ("categories", 4.0, "buys from 4 categories"),
        ("purchases_30d", 0.0, "no purchase days in the last 30 days"),
        ("purchases_90d", 1.0, "1 purchase day in the last 90 days"),
        ("sessions_90d", 0.0, "no visits in the last 90 days"),
        ("carts_30d", 2.0, "2 add-to-carts in the last 30 days"),
        ("searches_30d", 1.0, "1 search in the last 30 days"),
        ("days_since_last_event", 1.0, "last seen 1 day ago"),
        ("tenure_days", 365.4, "first bought 365 days ago"),
        ("return_rate", 0.125, "returns 12% of what they buy"),
        ("gap_std_days", 9.4, "irregular rhythm (gaps vary by 9 days)"),
        ("gap_last_days", 40.0, "40 days between their last two purchases"),
        ("gap_mean_days", 31.0, "buys about every 31 days"),
        ("average_order_value", 12_345.6, "average order 12,346"),
        ("spend_90d", 0.0, "spent 0 in the last 90 days"),
    ],
)
def test_words_for_particular_values(name: str, value: float, text: str) -> None:
    assert WORDS[name]({**TYPICAL, name: value}) == text
