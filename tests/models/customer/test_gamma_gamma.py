"""Gamma-Gamma reproduces Fader & Hardie (2013) on the CDNOW sample, and CLV combines it
with BG/NBD as Fader, Hardie & Lee (2005) describe."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.features.customers import RFMSummary, rfm_summary
from shopsense.models.customer.bgnbd import BetaGeo
from shopsense.models.customer.clv import customer_lifetime_value, expected_spend
from shopsense.models.customer.gamma_gamma import GammaGamma, average_repeat_spend
from tests.conftest import dataset_path

PAPER = {"p": 6.25, "q": 3.74, "gamma": 15.44}
BGNBD_PAPER = np.array([0.243, 4.414, 0.793, 2.426])
CALIBRATION_END = int(datetime(1997, 9, 30, tzinfo=UTC).timestamp())  # weeks 1-39
DAY = 86_400


def cdnow_purchases() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customer ids, purchase times (Unix seconds) and values of the 1/10 CDNOW sample."""
    path = dataset_path("cdnow/CDNOW_sample.txt")
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    customers = np.array([row[0] for row in rows])
    stamps = np.array(
        [int(datetime.strptime(row[2], "%Y%m%d").replace(tzinfo=UTC).timestamp()) for row in rows]
    )
    amounts = np.array([float(row[4]) for row in rows])
    return customers, stamps, amounts


def fitted(params: list[float]) -> GammaGamma:
    model = GammaGamma()
    model.params_ = np.array(params)
    return model


def test_fit_reproduces_the_paper_on_cdnow() -> None:
    customers, stamps, amounts = cdnow_purchases()
    summary = rfm_summary(customers, stamps, observation_end=CALIBRATION_END)
    monetary = average_repeat_spend(
        customers,
        stamps,
        amounts,
        observation_end=CALIBRATION_END,
        customers=summary.customer_ids,
    )
    assert int(np.sum(summary.frequency > 0)) == 946
    assert np.all(monetary[summary.frequency == 0] == 0)
    assert np.all(monetary[summary.frequency > 0] > 0)
    model = GammaGamma().fit(summary.frequency, monetary)  # x == 0 customers are ignored
    assert model.params_ is not None
    for value, (name, published) in zip(model.params_, PAPER.items(), strict=True):
        assert value == pytest.approx(published, rel=0.01), name
    assert model.log_likelihood_ == pytest.approx(-4055.92, abs=0.5)


def test_average_repeat_spend_leaves_out_the_first_day_and_sums_each_day() -> None:
    monetary = average_repeat_spend(
        ["a", "a", "a", "a", "b", "a", "c", "c"],
        # a: day 0 (first, left out), day 7 twice (one 30 transaction), day 10, day 100
        # (after the end); b: one purchase; c: two purchases on the end day itself.
        [0, 7 * DAY, 7 * DAY + 60, 10 * DAY, 3 * DAY, 100 * DAY, 28 * DAY, 28 * DAY + 5],
        [100.0, 10.0, 20.0, 50.0, 9.0, 1000.0, 4.0, 6.0],
        observation_end=28 * DAY + 3600,
        customers=["c", "a", "missing", "b"],
    )
    assert monetary.tolist() == [0.0, 40.0, 0.0, 0.0]


def test_expected_average_spend_follows_the_formula() -> None:
    model = fitted([6.25, 3.74, 15.44])
    spend = model.expected_average_spend([2.0, 0.0, 5.0], [30.0, 99.0, 10.0])
    assert spend[0] == pytest.approx((15.44 + 2 * 30.0) * 6.25 / (2 * 6.25 + 3.74 - 1))
    assert spend[1] == pytest.approx(6.25 * 15.44 / (3.74 - 1))  # population mean
    assert spend[2] == pytest.approx((15.44 + 5 * 10.0) * 6.25 / (5 * 6.25 + 3.74 - 1))
    # Shrinkage: between the customer's own average and the population mean.
    assert 30.0 < spend[0] < spend[1] and 10.0 < spend[2] < spend[1]


def test_a_heavy_tailed_fit_has_no_population_mean() -> None:
    with pytest.raises(ValidationFailedError, match="q"):
        fitted([6.25, 0.8, 15.44]).expected_average_spend([0.0], [0.0])


def test_using_an_unfitted_model_is_an_error() -> None:
    with pytest.raises(NotFittedError):
        GammaGamma().expected_average_spend([1.0], [10.0])


@pytest.mark.parametrize(
    ("frequency", "monetary", "message"),
    [
        ([1.0, 2.0], [10.0, -5.0], "monetary"),
        ([0.0, 0.0], [0.0, 0.0], "repeat"),
        ([1.0, 2.0], [10.0], "same order"),
        ([-1.0, 2.0], [10.0, 5.0], "frequency"),
        ([1.0, 2.0], [0.0, 5.0], "positive spend"),
    ],
)
def test_bad_input_is_rejected(frequency: list[float], monetary: list[float], message: str) -> None:
    with pytest.raises(ValidationFailedError, match=message):
        GammaGamma().fit(frequency, monetary)


def clv_inputs() -> tuple[BetaGeo, GammaGamma, RFMSummary, np.ndarray]:
    transactions = BetaGeo()
    transactions.params_ = BGNBD_PAPER
    summary = RFMSummary(
        customer_ids=np.array(["new", "recent", "lapsed"]),
        frequency=np.array([0.0, 5.0, 5.0]),
        recency=np.array([0.0, 38.0, 5.0]),
        T=np.array([39.0, 39.0, 39.0]),
    )
    return transactions, fitted([6.25, 3.74, 15.44]), summary, np.array([0.0, 40.0, 40.0])


def test_undiscounted_clv_is_the_expected_spend() -> None:
    transactions, spend, summary, monetary = clv_inputs()
    for horizon in (90.0, 45.0, 365.0):  # 45 days: one full step and a partial one
        clv = customer_lifetime_value(
            transactions, spend, summary, monetary, horizon_days=horizon, discount_rate=0.0
        )
        total = expected_spend(transactions, spend, summary, monetary, horizon_days=horizon)
        np.testing.assert_allclose(clv, total, rtol=1e-12)
    assert np.all(np.isfinite(clv)) and np.all(clv > 0)  # x = 0 included


def test_clv_falls_as_the_discount_rate_grows() -> None:
    transactions, spend, summary, monetary = clv_inputs()
    values = [
        customer_lifetime_value(
            transactions, spend, summary, monetary, horizon_days=730.0, discount_rate=rate
        )
        for rate in (0.0, 0.05, 0.1, 0.3)
    ]
    for richer, poorer in itertools.pairwise(values):
        assert np.all(poorer < richer)


def test_one_step_is_discounted_at_its_end() -> None:
    transactions, spend, summary, monetary = clv_inputs()
    clv = customer_lifetime_value(
        transactions,
        spend,
        summary,
        monetary,
        horizon_days=73.0,
        discount_rate=0.1,
        step_days=73.0,
    )
    total = expected_spend(transactions, spend, summary, monetary, horizon_days=73.0)
    np.testing.assert_allclose(clv, total / 1.1**0.2, rtol=1e-12)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"horizon_days": 0.0}, "horizon_days"),
        ({"horizon_days": 90.0, "discount_rate": -0.1}, "discount_rate"),
        ({"horizon_days": 90.0, "step_days": 0.0}, "step_days"),
    ],
)
def test_bad_clv_arguments_are_rejected(arguments: dict[str, float], message: str) -> None:
    transactions, spend, summary, monetary = clv_inputs()
    with pytest.raises(ValidationFailedError, match=message):
        customer_lifetime_value(transactions, spend, summary, monetary, **arguments)


def test_clv_needs_one_average_spend_per_customer() -> None:
    transactions, spend, summary, monetary = clv_inputs()
    with pytest.raises(ValidationFailedError, match="align"):
        customer_lifetime_value(transactions, spend, summary, monetary[:2], horizon_days=90.0)
