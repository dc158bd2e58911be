"""BG/NBD reproduces Fader, Hardie & Lee (2005) on the CDNOW sample, and its predictions
behave as the paper's equations say."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from shopsense.core.errors import NotFittedError
from shopsense.features.customers import RFMSummary, rfm_summary
from shopsense.models.customer.bgnbd import BetaGeo
from tests.conftest import dataset_path

PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_LOG_LIKELIHOOD = -9582.4
CALIBRATION_END = int(datetime(1997, 9, 30, tzinfo=UTC).timestamp())  # weeks 1-39


def cdnow_purchases() -> tuple[np.ndarray, np.ndarray]:
    """Customer ids and purchase times (Unix seconds) of the 1/10 CDNOW sample."""
    path = dataset_path("cdnow/CDNOW_sample.txt")
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    customers = np.array([row[0] for row in rows])
    stamps = np.array(
        [int(datetime.strptime(row[2], "%Y%m%d").replace(tzinfo=UTC).timestamp()) for row in rows]
    )
    return customers, stamps


def test_fit_reproduces_the_paper_on_cdnow() -> None:
    customers, stamps = cdnow_purchases()
    summary = rfm_summary(customers, stamps, observation_end=CALIBRATION_END)
    assert len(summary) == 2357
    model = BetaGeo().fit(summary)
    assert model.params_ is not None
    for fitted, (name, published) in zip(model.params_, PAPER.items(), strict=True):
        assert fitted == pytest.approx(published, rel=0.01), name
    assert model.log_likelihood_ == pytest.approx(PAPER_LOG_LIKELIHOOD, abs=0.5)


def test_summary_counts_days_and_ignores_what_follows_the_period() -> None:
    day = 86_400
    summary = rfm_summary(
        ["a", "a", "a", "b", "a"],
        [0, 3600, 7 * day, 14 * day, 100 * day],  # a buys twice on day 0; day 100 is later
        observation_end=28 * day,
    )
    assert summary.customer_ids.tolist() == ["a", "b"]
    assert summary.frequency.tolist() == [1.0, 0.0]
    assert summary.recency.tolist() == [1.0, 0.0]
    assert summary.T.tolist() == [4.0, 2.0]


def test_predictions_follow_the_model() -> None:
    model = BetaGeo()
    model.params_ = np.array([PAPER["r"], PAPER["alpha"], PAPER["a"], PAPER["b"]])
    summary = RFMSummary(
        customer_ids=np.array(["new", "recent", "lapsed"]),
        frequency=np.array([0.0, 5.0, 5.0]),
        recency=np.array([0.0, 38.0, 5.0]),
        T=np.array([39.0, 39.0, 39.0]),
    )
    alive = model.probability_alive(summary)
    assert alive[0] == 1.0 and alive[1] > 0.8 and alive[1] > 2 * alive[2]
    expected = model.expected_purchases(39.0, summary)
    assert expected[1] > expected[2] > 0 and expected[0] > 0
    assert np.all(model.expected_purchases(78.0, summary) > expected)


def test_using_an_unfitted_model_is_an_error() -> None:
    with pytest.raises(NotFittedError):
        BetaGeo().probability_alive(
            RFMSummary(np.array(["a"]), np.zeros(1), np.zeros(1), np.ones(1))
        )


def test_conditional_expectation_matches_the_reference_implementation() -> None:
    """lifetimes' documented value for the paper's parameters: a customer with x = 2,
    t_x = 30.43, T = 38.86 weeks is expected to make 1.226 purchases in the next 39."""
    model = BetaGeo()
    model.params_ = np.array([PAPER["r"], PAPER["alpha"], PAPER["a"], PAPER["b"]])
    customer = RFMSummary(
        customer_ids=np.array(["c"]),
        frequency=np.array([2.0]),
        recency=np.array([30.43]),
        T=np.array([38.86]),
    )
    assert model.expected_purchases(39, customer)[0] == pytest.approx(1.226, abs=5e-4)
