"""The spend regressor learns a zero-heavy spend that depends on the features, predicts
no negative spend, survives a save/load round trip and rejects what it cannot learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.models.customer.spend import SpendRegressor

COLUMNS = ["recency_days", "frequency", "spend_90d", "noise"]


def synthetic_spend(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers who buy again more often when recent and frequent, and then spend
    about what they spent in the last 90 days; most spend nothing."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0.0, 180.0, size=n)
    frequency = rng.poisson(3.0, size=n) + 1.0
    spend_90d = np.round(frequency * rng.gamma(2.0, 25.0, size=n), 2)
    noise = rng.normal(size=n)
    buys = rng.random(n) < 1.0 / (1.0 + np.exp((recency - 60.0) / 20.0 - 0.3 * frequency))
    spend = np.where(buys, spend_90d * rng.gamma(4.0, 0.25, size=n), 0.0)
    features = pd.DataFrame(
        {"recency_days": recency, "frequency": frequency, "spend_90d": spend_90d, "noise": noise},
        index=pd.Index([f"c{seed}-{k}" for k in range(n)], name="user_id"),
    )
    return features, spend


@pytest.fixture(scope="module")
def fitted() -> SpendRegressor:
    features, spend = synthetic_spend(2_000, seed=1)
    return SpendRegressor().fit(features, spend)


def test_learns_spend_that_depends_on_the_features(fitted: SpendRegressor) -> None:
    features, spend = synthetic_spend(2_000, seed=2)
    predicted = fitted.predict(features)
    assert predicted.shape == (len(features),)
    assert np.all(predicted >= 0)
    assert spearmanr(predicted, spend).statistic > 0.5
    # Tweedie predicts the mean: the totals are of the same size.
    assert 0.7 < predicted.sum() / spend.sum() < 1.3
    assert fitted.oof_predictions_ is not None
    assert fitted.oof_predictions_.shape == (2_000,)
    assert np.all(fitted.oof_predictions_ >= 0)


def test_save_and_load_give_identical_predictions(fitted: SpendRegressor, tmp_path: Path) -> None:
    fitted.save(tmp_path, "spend")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["spend.json", "spend.lgb.txt"]
    loaded = SpendRegressor.load(tmp_path, "spend")
    features, _ = synthetic_spend(500, seed=3)
    np.testing.assert_array_equal(loaded.predict(features), fitted.predict(features))
    assert loaded.feature_names_ == COLUMNS
    assert loaded.n_rounds_ == fitted.n_rounds_


def test_features_are_read_by_name(fitted: SpendRegressor) -> None:
    features, _ = synthetic_spend(50, seed=4)
    reordered = features[list(reversed(COLUMNS))]
    np.testing.assert_array_equal(fitted.predict(reordered), fitted.predict(features))
    with pytest.raises(ValidationFailedError, match="recency_days"):
        fitted.predict(features.drop(columns="recency_days"))
    assert fitted.predict(features.iloc[:0]).shape == (0,)


def test_an_unfitted_model_is_an_error(tmp_path: Path) -> None:
    features, _ = synthetic_spend(10, seed=5)
    with pytest.raises(NotFittedError):
        SpendRegressor().predict(features)
    with pytest.raises(NotFittedError):
        SpendRegressor().save(tmp_path, "spend")


def test_what_cannot_be_learned_is_rejected() -> None:
    features, spend = synthetic_spend(200, seed=6)
    with pytest.raises(ValidationFailedError, match="align"):
        SpendRegressor().fit(features, spend[:-1])
    with pytest.raises(ValidationFailedError, match="0 spent anything"):
        SpendRegressor().fit(features, np.zeros(len(features)))
    negative = spend.copy()
    negative[0] = -5.0
    with pytest.raises(ValidationFailedError, match=">= 0"):
        SpendRegressor().fit(features, negative)
    missing = spend.copy()
    missing[0] = np.nan
    with pytest.raises(ValidationFailedError, match="finite"):
        SpendRegressor().fit(features, missing)
    with pytest.raises(ValidationFailedError, match="50 customers"):
        SpendRegressor().fit(features.iloc[:49], spend[:49] + 1.0)


def test_a_spend_with_few_buyers_is_learned_or_rejected_cleanly() -> None:
    features, _ = synthetic_spend(60, seed=7)
    spend = np.zeros(len(features))
    spend[3] = 25.0  # one customer of 60 spent: too few for any fold to learn from
    with pytest.raises(ValidationFailedError, match="at least 5 who spent"):
        SpendRegressor().fit(features, spend)
    spend[[3, 10, 20, 30, 40]] = 25.0  # one spender per fold: every training fold has some
    model = SpendRegressor().fit(features, spend)
    assert np.all(model.predict(features) >= 0)
