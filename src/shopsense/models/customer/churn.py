"""Churn (and its complement, purchase propensity) as a calibrated gradient-boosted
classifier on per-customer features, with per-customer drivers.

The label is "no purchase in the window after the cutoff" (churned = 1). LightGBM learns
it from :func:`~shopsense.features.customers.customer_features`; the probabilities are
calibrated by cross-fitting: K folds give every training customer an out-of-fold score
(and the number of boosting rounds, by early stopping on each held-out fold), Platt
scaling (a logistic regression on the out-of-fold log-odds) maps scores to
probabilities, and the final model is refitted on all rows with the folds' mean number
of rounds. The map is monotone, so the ranking is untouched. Isotonic regression was
tried too: on the few thousand customers of Online Retail its steps over-fit (Brier
0.2078 against 0.2069 for Platt, log loss worse still from 0/1 ends), see
``benchmarks/results/customers.md``.

``contributions`` are LightGBM's exact per-feature SHAP values (``pred_contrib``) in
log-odds of churn; :mod:`shopsense.models.customer.drivers` turns them into words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.models.customer._boosting import (
    cross_fit,
    feature_matrix,
    load_booster,
    predict,
    save_booster,
    train_booster,
    tree_params,
)

FloatArray = npt.NDArray[np.float64]

MODEL_FILE = "churn.lgb.txt"
CALIBRATION_FILE = "churn.calibration.json"
MIN_CLASS_ROWS = 10
"""Fewer churned (or retained) training customers than this cannot be learned from."""


def _logit(probabilities: FloatArray) -> FloatArray:
    return np.asarray(logit(np.clip(probabilities, 1e-6, 1.0 - 1e-6)), dtype=np.float64)


def _sigmoid(log_odds: FloatArray) -> FloatArray:
    return np.asarray(expit(log_odds), dtype=np.float64)


class ChurnClassifier:
    """P(churn) = P(no purchase in the label window | features before the cutoff).

    Parameters follow scikit-learn's rules (``__init__`` only stores them).

    Parameters
    ----------
    num_leaves, learning_rate, min_child_samples, feature_fraction, lambda_l2:
        LightGBM tree settings; small trees and strong regularisation suit the few
        thousand customers of a typical shop.
    max_rounds:
        Upper bound on boosting rounds; early stopping on each fold picks fewer.
    n_folds:
        Folds for early stopping and the out-of-fold scores the calibration learns from.
    random_state:
        Seed of the folds and of LightGBM.
    """

    booster_: lgb.Booster | None = None
    calibration_: tuple[float, float] | None = None
    feature_names_: list[str] | None = None
    n_rounds_: int | None = None
    oof_scores_: FloatArray | None = None

    def __init__(
        self,
        *,
        num_leaves: int = 4,
        learning_rate: float = 0.01,
        min_child_samples: int = 50,
        feature_fraction: float = 0.8,
        lambda_l2: float = 1.0,
        max_rounds: int = 2000,
        n_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.lambda_l2 = lambda_l2
        self.max_rounds = max_rounds
        self.n_folds = n_folds
        self.random_state = random_state

    def _lgb_params(self, n_rows: int) -> dict[str, Any]:
        return {
            "objective": "binary",
            **tree_params(
                num_leaves=self.num_leaves,
                learning_rate=self.learning_rate,
                min_child_samples=self.min_child_samples,
                feature_fraction=self.feature_fraction,
                lambda_l2=self.lambda_l2,
                seed=self.random_state,
                n_rows=n_rows,
            ),
        }

    def fit(self, features: pd.DataFrame, churned: npt.ArrayLike) -> Self:
        """Learn from one row per customer and its label (1 = churned)."""
        labels = np.asarray(churned, dtype=np.float64)
        if len(labels) != len(features):
            raise ValidationFailedError(
                f"{len(features)} feature rows but {len(labels)} labels; they must align"
            )
        n_churned = int(labels.sum())
        if min(n_churned, len(labels) - n_churned) < max(MIN_CLASS_ROWS, self.n_folds):
            raise ValidationFailedError(
                f"cannot learn churn from {n_churned} churned and {len(labels) - n_churned} "
                f"retained customers; it needs at least {max(MIN_CLASS_ROWS, self.n_folds)} "
                "of each (a longer history or a shorter label window gives more)"
            )
        columns = [str(name) for name in features.columns]
        matrix = feature_matrix(features, columns)
        params = self._lgb_params(len(matrix))
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        oof, self.n_rounds_ = cross_fit(
            params,
            matrix,
            labels,
            folds.split(matrix, labels),
            columns=columns,
            max_rounds=self.max_rounds,
        )
        platt = LogisticRegression(C=1e6).fit(_logit(oof)[:, None], labels)
        self.booster_ = train_booster(
            params, matrix, labels, columns=columns, rounds=self.n_rounds_
        )
        self.calibration_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        self.feature_names_ = columns
        self.oof_scores_ = _sigmoid(self.calibration_[0] * _logit(oof) + self.calibration_[1])
        return self

    def _fitted(self) -> tuple[lgb.Booster, tuple[float, float], list[str]]:
        if self.booster_ is None or self.calibration_ is None or self.feature_names_ is None:
            raise NotFittedError("ChurnClassifier is not fitted yet; call fit() or load()")
        return self.booster_, self.calibration_, self.feature_names_

    def raw_scores(self, features: pd.DataFrame) -> FloatArray:
        """The boosted model's uncalibrated P(churn)."""
        booster, _, columns = self._fitted()
        if len(features) == 0:
            return np.zeros(0)
        return predict(booster, feature_matrix(features, columns))

    def predict_proba(self, features: pd.DataFrame) -> FloatArray:
        """Calibrated P(churn) per row, shape ``(n_customers,)``."""
        _, (slope, intercept), _ = self._fitted()
        return _sigmoid(slope * _logit(self.raw_scores(features)) + intercept)

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per-feature SHAP contributions to the log-odds of churn, one row per customer
        (columns: the features, then ``bias``); each row sums to the raw log-odds."""
        booster, _, columns = self._fitted()
        if len(features) == 0:
            return pd.DataFrame(columns=[*columns, "bias"], index=features.index)
        values = predict(booster, feature_matrix(features, columns), pred_contrib=True)
        return pd.DataFrame(
            np.asarray(values, dtype=np.float64), index=features.index, columns=[*columns, "bias"]
        )

    def save(self, directory: Path) -> None:
        """LightGBM's text model plus the calibration's two numbers as JSON (no pickle)."""
        booster, (slope, intercept), columns = self._fitted()
        manifest = {
            "feature_names": columns,
            "n_rounds": self.n_rounds_,
            "calibration": {"slope": slope, "intercept": intercept},
        }
        save_booster(
            directory,
            booster,
            model_file=MODEL_FILE,
            manifest_file=CALIBRATION_FILE,
            manifest=manifest,
        )

    @classmethod
    def load(cls, directory: Path) -> ChurnClassifier:
        model = cls()
        model.booster_, manifest = load_booster(
            directory, model_file=MODEL_FILE, manifest_file=CALIBRATION_FILE
        )
        calibration = manifest["calibration"]
        model.calibration_ = (float(calibration["slope"]), float(calibration["intercept"]))
        model.feature_names_ = list(manifest["feature_names"])
        model.n_rounds_ = manifest["n_rounds"]
        return model


__all__ = ["ChurnClassifier"]
