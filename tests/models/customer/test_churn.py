"""The churn classifier ranks and calibrates a churn that depends on recency, explains
itself with contributions that add up, survives a save/load round trip and rejects
what it cannot learn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.metrics import roc_auc_score

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.models.customer.churn import ChurnClassifier

COLUMNS = ["recency_days", "frequency", "monetary", "noise"]


def synthetic_customers(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers whose churn odds grow with days since the last purchase (and fall a
    little with purchase days); ``noise`` means nothing. Label 1 = churned."""
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0.0, 180.0, size=n)
    frequency = rng.poisson(3.0, size=n) + 1.0
    monetary = np.round(frequency * rng.gamma(2.0, 20.0, size=n), 2)
    noise = rng.normal(size=n)
    recency[rng.random(n) < 0.05] = np.nan  # the booster routes missing values itself
    odds = (np.nan_to_num(recency, nan=90.0) - 70.0) / 15.0 - 0.3 * (frequency - 4.0)
    churned = (rng.random(n) < expit(odds)).astype(np.int64)
    features = pd.DataFrame(
        {"recency_days": recency, "frequency": frequency, "monetary": monetary, "noise": noise},
        index=pd.Index([f"c{seed}-{k}" for k in range(n)], name="user_id"),
    )
    return features, churned


@pytest.fixture(scope="module")
def fitted() -> ChurnClassifier:
    features, churned = synthetic_customers(2_000, seed=1)
    return ChurnClassifier().fit(features, churned)


@pytest.fixture(scope="module")
def fresh() -> tuple[pd.DataFrame, np.ndarray]:
    return synthetic_customers(2_000, seed=2)


def test_ranks_fresh_customers_well(
    fitted: ChurnClassifier, fresh: tuple[pd.DataFrame, np.ndarray]
) -> None:
    features, churned = fresh
    probability = fitted.predict_proba(features)
    assert probability.shape == (len(features),)
    assert np.all((probability > 0) & (probability < 1))
    assert roc_auc_score(churned, probability) > 0.8
    # Recency drives churn: the model must rank by it, not by noise.
    older = features["recency_days"] > 120
    newer = features["recency_days"] < 30
    assert probability[older.to_numpy()].mean() > probability[newer.to_numpy()].mean() + 0.5


def test_probabilities_are_calibrated(
    fitted: ChurnClassifier, fresh: tuple[pd.DataFrame, np.ndarray]
) -> None:
    features, churned = fresh
    probability = fitted.predict_proba(features)
    assert abs(probability.mean() - churned.mean()) < 0.05
    # Reliability: five bins of predicted probability, observed churn rising with them
    # and close to what was predicted.
    order = np.argsort(probability, kind="stable")
    bins = np.array_split(order, 5)
    predicted = np.array([probability[rows].mean() for rows in bins])
    observed = np.array([churned[rows].mean() for rows in bins])
    assert np.all(np.diff(observed) > -0.03), observed
    assert observed[-1] - observed[0] > 0.5
    assert np.max(np.abs(predicted - observed)) < 0.1, (predicted, observed)


def test_out_of_fold_scores_are_calibrated_probabilities(fitted: ChurnClassifier) -> None:
    _, churned = synthetic_customers(2_000, seed=1)
    assert fitted.oof_scores_ is not None
    assert fitted.oof_scores_.shape == (2_000,)
    assert abs(fitted.oof_scores_.mean() - churned.mean()) < 0.02
    assert roc_auc_score(churned, fitted.oof_scores_) > 0.8
    assert fitted.n_rounds_ is not None and fitted.n_rounds_ >= 1


def test_contributions_add_up_to_the_raw_log_odds(
    fitted: ChurnClassifier, fresh: tuple[pd.DataFrame, np.ndarray]
) -> None:
    features = fresh[0].iloc[:200]
    contributions = fitted.contributions(features)
    assert list(contributions.columns) == [*COLUMNS, "bias"]
    assert contributions.index.equals(features.index)
    raw = fitted.raw_scores(features)
    np.testing.assert_allclose(contributions.sum(axis=1).to_numpy(), logit(raw), atol=1e-6)
    # The bias is one number for everyone; recency explains more than the noise does.
    assert contributions["bias"].nunique() == 1
    assert contributions["recency_days"].abs().mean() > 3 * contributions["noise"].abs().mean()
    empty = fitted.contributions(features.iloc[:0])
    assert empty.empty and list(empty.columns) == [*COLUMNS, "bias"]


def test_features_are_read_by_name(
    fitted: ChurnClassifier, fresh: tuple[pd.DataFrame, np.ndarray]
) -> None:
    features = fresh[0].iloc[:50]
    shuffled = features[list(reversed(COLUMNS))].assign(extra=1.0)
    np.testing.assert_array_equal(fitted.predict_proba(shuffled), fitted.predict_proba(features))
    with pytest.raises(ValidationFailedError, match="noise"):
        fitted.predict_proba(features.drop(columns="noise"))
    assert fitted.predict_proba(features.iloc[:0]).shape == (0,)


def test_save_and_load_give_identical_predictions(
    fitted: ChurnClassifier, fresh: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    fitted.save(tmp_path / "churn")
    loaded = ChurnClassifier.load(tmp_path / "churn")
    features = fresh[0]
    np.testing.assert_array_equal(loaded.predict_proba(features), fitted.predict_proba(features))
    pd.testing.assert_frame_equal(
        loaded.contributions(features.iloc[:20]), fitted.contributions(features.iloc[:20])
    )
    assert loaded.feature_names_ == COLUMNS
    assert loaded.n_rounds_ == fitted.n_rounds_
    assert loaded.calibration_ == fitted.calibration_
    assert not list(tmp_path.glob("churn/*.pkl"))


def test_an_unfitted_model_is_an_error(tmp_path: Path) -> None:
    features, _ = synthetic_customers(10, seed=3)
    model = ChurnClassifier()
    for use in (model.predict_proba, model.raw_scores, model.contributions):
        with pytest.raises(NotFittedError):
            use(features)
    with pytest.raises(NotFittedError):
        model.save(tmp_path)


def test_labels_must_align_and_hold_both_classes() -> None:
    features, churned = synthetic_customers(200, seed=4)
    with pytest.raises(ValidationFailedError, match="align"):
        ChurnClassifier().fit(features, churned[:-1])
    with pytest.raises(ValidationFailedError, match="at least 10"):
        ChurnClassifier().fit(features, np.ones(len(features)))
    with pytest.raises(ValidationFailedError, match="0 churned"):
        ChurnClassifier().fit(features, np.zeros(len(features)))
    few = np.zeros(len(features))
    few[:9] = 1  # nine churned customers are too few
    with pytest.raises(ValidationFailedError):
        ChurnClassifier().fit(features, few)


def test_a_small_shop_still_gets_a_model() -> None:
    features, churned = synthetic_customers(80, seed=5)
    assert min(churned.sum(), len(churned) - churned.sum()) >= 10
    model = ChurnClassifier().fit(features, churned)
    probability = model.predict_proba(features)
    assert np.ptp(probability) > 0.2
    assert roc_auc_score(churned, probability) > 0.75


def test_fitting_is_deterministic() -> None:
    features, churned = synthetic_customers(300, seed=6)
    first = ChurnClassifier(random_state=3).fit(features, churned).predict_proba(features)
    second = ChurnClassifier(random_state=3).fit(features, churned).predict_proba(features)
    np.testing.assert_array_equal(first, second)
